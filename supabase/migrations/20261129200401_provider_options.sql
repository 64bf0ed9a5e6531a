-- Each avatar's provider options get a column of their own, typed by the provider's options model in the
-- functions (functions/core/providers/avatar/*.py `Options`), instead of hiding in `voice.settings` beside the
-- voice (LiveAvatar's `mode`, HeyGen's `server_speech`, Tavus's `persona_id`, ...). Existing avatars' options
-- move over; what stays in `voice.settings` is the voice's own (ElevenLabs `model_id`, stability, ...).

alter table public.avatars
  add column provider_options jsonb not null default '{}' check (jsonb_typeof(provider_options) = 'object');

-- Owners set it when they create or change an avatar (Supabase grants nothing by default).
grant update (provider_options) on public.avatars to authenticated;

with moved (provider, keys) as (
  values
    ('heygen', array['rate', 'emotion', 'elevenlabs_settings', 'video_encoding', 'server_speech']),
    ('liveavatar', array['mode', 'sandbox', 'video_encoding', 'voice_settings', 'stt_config',
                         'interactivity_type', 'llm_model']),
    ('simli', array['model']),
    ('tavus', array['persona_id', 'pal_id', 'face_id', 'language', 'participant_left_timeout',
                    'enable_closed_captions', 'apply_greenscreen', 'test_mode'])
)
update public.avatars a
   set provider_options = coalesce(
         (select jsonb_object_agg(e.key, e.value)
            from jsonb_each(a.voice -> 'settings') e
           where e.key = any (m.keys)),
         '{}'::jsonb),
       voice = jsonb_set(a.voice, '{settings}', (a.voice -> 'settings') - m.keys)
  from moved m
 where a.provider = m.provider
   and jsonb_typeof(a.voice -> 'settings') = 'object';

-- The avatar settings a session needs now include its provider options.
drop function private.session_avatar(uuid);
create function private.session_avatar(p_avatar_id uuid)
returns table (
  id uuid, owner_id uuid, name text, provider text, provider_avatar_id text, voice jsonb, persona text,
  greeting text, quality text, language text, max_session_seconds integer, grounded_only boolean,
  provider_options jsonb
)
language sql stable security definer set search_path = '' as $$
  select a.id, a.owner_id, a.name, a.provider, a.provider_avatar_id, a.voice, a.persona, a.greeting,
         a.quality, a.language, a.max_session_seconds, a.grounded_only, a.provider_options
  from public.avatars a
  where a.id = p_avatar_id and private.can_use_avatar(a.id)
$$;
revoke execute on function private.session_avatar(uuid) from public, anon;
grant execute on function private.session_avatar(uuid) to authenticated;
