-- Avatars, streaming sessions, their messages and events, and per-owner usage limits.
-- Every table enables RLS and writes its policies here: one policy per operation, `to authenticated`,
-- `(select auth.uid())`, policy columns indexed. `anon` gets no policy, so it reads nothing.

create schema if not exists private;
grant usage on schema private to authenticated, service_role;

-- avatars ------------------------------------------------------------------------------------------

create table public.avatars (
  id uuid primary key default gen_random_uuid(),
  owner_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  public_id text not null unique default ('av_' || substr(md5(gen_random_uuid()::text), 1, 20)),
  name text not null check (char_length(name) between 1 and 120),
  provider text not null default 'local'
    check (provider in ('local', 'heygen', 'liveavatar', 'simli', 'tavus')),
  provider_avatar_id text check (char_length(provider_avatar_id) <= 200),
  voice jsonb not null default '{}' check (jsonb_typeof(voice) = 'object'),
  persona text not null default '' check (char_length(persona) <= 8000),
  greeting text not null default '' check (char_length(greeting) <= 1000),
  quality text not null default 'medium' check (quality in ('low', 'medium', 'high')),
  language text not null default 'en' check (char_length(language) between 2 and 16),
  max_session_seconds integer not null default 600 check (max_session_seconds between 30 and 7200),
  allowed_origins text[] not null default '{}',
  grounded_only boolean not null default false,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create index avatars_owner_id_idx on public.avatars (owner_id);

alter table public.avatars enable row level security;

create policy "Owners can read their avatars" on public.avatars
  for select to authenticated using (owner_id = (select auth.uid()));
create policy "Users can create avatars they own" on public.avatars
  for insert to authenticated with check (owner_id = (select auth.uid()));
create policy "Owners can update their avatars" on public.avatars
  for update to authenticated
  using (owner_id = (select auth.uid())) with check (owner_id = (select auth.uid()));
create policy "Owners can delete their avatars" on public.avatars
  for delete to authenticated using (owner_id = (select auth.uid()));

create function private.touch_updated_at() returns trigger
language plpgsql set search_path = '' as $$
begin
  new.updated_at := now();
  return new;
end;
$$;

create trigger avatars_touch_updated_at before update on public.avatars
  for each row execute function private.touch_updated_at();

-- Whether the caller may hold a session with an avatar: its owner, or a visitor whose token is bound
-- to it (claim `avatar_id`). Security definer because a visitor cannot read the avatar row itself.
create function private.can_use_avatar(p_avatar_id uuid) returns boolean
language sql stable security definer set search_path = '' as $$
  select exists (
    select 1 from public.avatars a
    where a.id = p_avatar_id
      and (a.owner_id = (select auth.uid()) or a.id::text = (select auth.jwt() ->> 'avatar_id'))
  )
$$;

-- The avatar settings a session needs, for its owner or a visitor bound to it.
create function private.session_avatar(p_avatar_id uuid)
returns table (
  id uuid, owner_id uuid, name text, provider text, provider_avatar_id text, voice jsonb, persona text,
  greeting text, quality text, language text, max_session_seconds integer, grounded_only boolean
)
language sql stable security definer set search_path = '' as $$
  select a.id, a.owner_id, a.name, a.provider, a.provider_avatar_id, a.voice, a.persona, a.greeting,
         a.quality, a.language, a.max_session_seconds, a.grounded_only
  from public.avatars a
  where a.id = p_avatar_id and private.can_use_avatar(a.id)
$$;

-- streaming sessions -------------------------------------------------------------------------------

create table public.streaming_sessions (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  -- Kept (as null) when the avatar is deleted: the session still counts toward its owner's usage.
  avatar_id uuid references public.avatars (id) on delete set null,
  owner_id uuid not null references auth.users (id) on delete cascade,
  status text not null default 'active' check (status in ('active', 'ended', 'error')),
  end_reason text check (char_length(end_reason) <= 500),
  provider text not null,
  provider_session_id text,
  quality text check (quality in ('low', 'medium', 'high')),
  started_at timestamptz not null default now(),
  ended_at timestamptz,
  expires_at timestamptz not null,
  last_activity_at timestamptz not null default now(),
  duration_seconds integer,
  message_count integer not null default 0,
  check ((status = 'active') = (ended_at is null))
);

create index streaming_sessions_user_id_started_idx on public.streaming_sessions (user_id, started_at desc);
create index streaming_sessions_owner_id_started_idx on public.streaming_sessions (owner_id, started_at desc);
create index streaming_sessions_avatar_id_idx on public.streaming_sessions (avatar_id);
create index streaming_sessions_active_expiry_idx on public.streaming_sessions (expires_at)
  where status = 'active';
create index streaming_sessions_active_activity_idx on public.streaming_sessions (last_activity_at)
  where status = 'active';

alter table public.streaming_sessions enable row level security;

create policy "Users and avatar owners can read sessions" on public.streaming_sessions
  for select to authenticated
  using (user_id = (select auth.uid()) or owner_id = (select auth.uid()));
create policy "Users can start sessions with avatars they may use" on public.streaming_sessions
  for insert to authenticated
  with check (user_id = (select auth.uid()) and private.can_use_avatar(avatar_id));
create policy "Users can update their own sessions" on public.streaming_sessions
  for update to authenticated
  using (user_id = (select auth.uid())) with check (user_id = (select auth.uid()));
-- Only sessions of past months: this month's count toward the owner's usage (private.owner_usage), and a
-- visitor or owner deleting them would hand the used seconds back.
create policy "Users can delete their own finished sessions" on public.streaming_sessions
  for delete to authenticated
  using (
    user_id = (select auth.uid()) and status <> 'active'
    and started_at < date_trunc('month', now() at time zone 'utc') at time zone 'utc'
  );

-- Columns a client may never set: the server derives them, so usage stays truthful.
revoke insert, update on public.streaming_sessions from anon, authenticated;
grant insert (avatar_id, quality) on public.streaming_sessions to authenticated;
grant update (status, end_reason, provider_session_id, last_activity_at) on public.streaming_sessions
  to authenticated;

create function private.prepare_streaming_session() returns trigger
language plpgsql security definer set search_path = '' as $$
declare
  v_avatar public.avatars%rowtype;
begin
  select * into v_avatar from public.avatars where id = new.avatar_id;
  if not found then
    raise exception 'avatar % does not exist', new.avatar_id using errcode = 'foreign_key_violation';
  end if;
  new.owner_id := v_avatar.owner_id;
  new.provider := v_avatar.provider;
  new.quality := coalesce(new.quality, v_avatar.quality);
  new.status := 'active';
  new.started_at := now();
  new.last_activity_at := now();
  new.expires_at := now() + make_interval(secs => v_avatar.max_session_seconds);
  new.ended_at := null;
  new.duration_seconds := null;
  new.message_count := 0;
  return new;
end;
$$;

create trigger streaming_sessions_prepare before insert on public.streaming_sessions
  for each row execute function private.prepare_streaming_session();

-- Sessions only move forward: active -> ended | error, once. The end time and the duration that
-- counts toward usage are set here, never by a client.
create function private.guard_streaming_session() returns trigger
language plpgsql set search_path = '' as $$
begin
  if old.status <> 'active' then
    if new.status is distinct from old.status or new.end_reason is distinct from old.end_reason then
      raise exception 'session % has already ended', old.id using errcode = 'check_violation';
    end if;
    return new;
  end if;
  if new.status <> 'active' then
    new.ended_at := least(now(), old.expires_at);
    new.duration_seconds := greatest(0, ceil(extract(epoch from new.ended_at - old.started_at)))::integer;
    new.end_reason := coalesce(new.end_reason, 'ended');
  end if;
  return new;
end;
$$;

create trigger streaming_sessions_guard before update on public.streaming_sessions
  for each row execute function private.guard_streaming_session();

-- streaming messages -------------------------------------------------------------------------------

create table public.streaming_messages (
  id uuid primary key default gen_random_uuid(),
  session_id uuid not null references public.streaming_sessions (id) on delete cascade,
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  owner_id uuid not null references auth.users (id) on delete cascade,
  role text not null check (role in ('user', 'assistant')),
  content text not null check (char_length(content) <= 20000),
  audio_duration_ms integer check (audio_duration_ms >= 0),
  created_at timestamptz not null default now()
);

create index streaming_messages_session_id_created_idx on public.streaming_messages (session_id, created_at);
create index streaming_messages_user_id_idx on public.streaming_messages (user_id);
create index streaming_messages_owner_id_idx on public.streaming_messages (owner_id);

alter table public.streaming_messages enable row level security;

create policy "Users and avatar owners can read messages" on public.streaming_messages
  for select to authenticated
  using (user_id = (select auth.uid()) or owner_id = (select auth.uid()));
create policy "Users can add messages to their active sessions" on public.streaming_messages
  for insert to authenticated
  with check (
    user_id = (select auth.uid())
    and exists (
      select 1 from public.streaming_sessions s
      where s.id = session_id and s.user_id = (select auth.uid()) and s.status = 'active'
    )
  );
create policy "Users can update their own messages" on public.streaming_messages
  for update to authenticated
  using (user_id = (select auth.uid())) with check (user_id = (select auth.uid()));
create policy "Users can delete their own messages" on public.streaming_messages
  for delete to authenticated using (user_id = (select auth.uid()));

revoke insert, update on public.streaming_messages from anon, authenticated;
grant insert (session_id, role, content, audio_duration_ms) on public.streaming_messages to authenticated;
grant update (audio_duration_ms) on public.streaming_messages to authenticated;

-- A new message stamps its owner and counts toward its session's activity.
create function private.record_streaming_message() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  update public.streaming_sessions
     set message_count = message_count + 1, last_activity_at = now()
   where id = new.session_id
  returning owner_id into new.owner_id;
  new.created_at := clock_timestamp();
  return new;
end;
$$;

create trigger streaming_messages_record before insert on public.streaming_messages
  for each row execute function private.record_streaming_message();

-- session events -----------------------------------------------------------------------------------

create table public.avatar_session_events (
  id bigint generated always as identity primary key,
  session_id uuid not null references public.streaming_sessions (id) on delete cascade,
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  owner_id uuid not null references auth.users (id) on delete cascade,
  event_type text not null check (event_type in ('started', 'speaking', 'listening', 'idle', 'ended', 'error')),
  data jsonb not null default '{}' check (jsonb_typeof(data) = 'object'),
  created_at timestamptz not null default now()
);

create index avatar_session_events_session_id_idx on public.avatar_session_events (session_id, id);
create index avatar_session_events_user_id_idx on public.avatar_session_events (user_id);
create index avatar_session_events_owner_id_idx on public.avatar_session_events (owner_id);

alter table public.avatar_session_events enable row level security;

create policy "Users and avatar owners can read session events" on public.avatar_session_events
  for select to authenticated
  using (user_id = (select auth.uid()) or owner_id = (select auth.uid()));
create policy "Users can record events of their own sessions" on public.avatar_session_events
  for insert to authenticated
  with check (
    user_id = (select auth.uid())
    and exists (
      select 1 from public.streaming_sessions s
      where s.id = session_id and s.user_id = (select auth.uid())
    )
  );
-- Events are an append-only log: no update or delete policy, so both are denied.

revoke insert, update on public.avatar_session_events from anon, authenticated;
grant insert (session_id, event_type, data) on public.avatar_session_events to authenticated;

create function private.stamp_session_event() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  select s.owner_id, s.user_id into new.owner_id, new.user_id
    from public.streaming_sessions s where s.id = new.session_id;
  return new;
end;
$$;

create trigger avatar_session_events_stamp before insert on public.avatar_session_events
  for each row execute function private.stamp_session_event();

-- usage limits -------------------------------------------------------------------------------------

create table public.usage_limits (
  owner_id uuid primary key references auth.users (id) on delete cascade,
  monthly_streaming_seconds integer not null check (monthly_streaming_seconds >= 0),
  concurrent_sessions integer not null check (concurrent_sessions >= 0),
  updated_at timestamptz not null default now()
);

alter table public.usage_limits enable row level security;

create policy "Owners can read their usage limits" on public.usage_limits
  for select to authenticated using (owner_id = (select auth.uid()));
-- Limits are set by the operator (service role); owners cannot raise their own.

-- An owner's usage this calendar month (UTC) and their limits (null where no row overrides the
-- deployment's defaults). With p_lock, serialises session starts per owner until the transaction ends.
-- Security definer: a visitor's start counts against the avatar owner's sessions, which the visitor
-- cannot read. Only the caller's own figures or those of an avatar they may use are returned.
create function private.owner_usage(p_owner_id uuid, p_lock boolean default false)
returns table (
  month_start timestamptz, used_seconds bigint, active_sessions integer,
  monthly_limit integer, concurrent_limit integer
)
language plpgsql volatile security definer set search_path = '' as $$
declare
  v_month timestamptz := date_trunc('month', now() at time zone 'utc') at time zone 'utc';
begin
  if p_owner_id is distinct from (select auth.uid()) and not exists (
    select 1 from public.avatars a where a.owner_id = p_owner_id and private.can_use_avatar(a.id)
  ) then
    return;
  end if;
  if p_lock then
    perform pg_advisory_xact_lock(hashtextextended('owner_usage:' || p_owner_id::text, 0));
  end if;
  return query
  select v_month,
         coalesce(sum(
           case when s.status = 'active'
                then greatest(0, ceil(extract(epoch from least(now(), s.expires_at) - s.started_at)))
                else s.duration_seconds end
         ), 0)::bigint,
         (count(*) filter (where s.status = 'active' and s.expires_at > now()))::integer,
         l.monthly_streaming_seconds,
         l.concurrent_sessions
    from (select 1) one
    left join public.streaming_sessions s on s.owner_id = p_owner_id and s.started_at >= v_month
    left join public.usage_limits l on l.owner_id = p_owner_id
   group by l.monthly_streaming_seconds, l.concurrent_sessions;
end;
$$;

revoke execute on all functions in schema private from public, anon;
grant execute on function private.can_use_avatar(uuid) to authenticated;
grant execute on function private.session_avatar(uuid) to authenticated;
grant execute on function private.owner_usage(uuid, boolean) to authenticated;
