-- What the server creates at an avatar provider beside a session, so it can be deleted when the session ends
-- (LiveAvatar FULL: the secret holding the session's callback credential, the LLM configuration and the
-- context), and what it imports once and reuses (LiveAvatar: an ElevenLabs voice imported as a LiveAvatar
-- voice). Only the server (service_role) reads or writes them; clients never see provider resource ids.

create table private.provider_resources (
  id bigint generated always as identity primary key,
  session_id uuid not null references public.streaming_sessions (id) on delete cascade,
  provider text not null check (char_length(provider) between 1 and 40),
  resources jsonb not null check (jsonb_typeof(resources) = 'object'),
  created_at timestamptz not null default now()
);

create index provider_resources_session_id_idx on private.provider_resources (session_id);

alter table private.provider_resources enable row level security;
revoke all on private.provider_resources from public, anon, authenticated;
grant select, insert, update, delete on private.provider_resources to service_role;

create table private.provider_assets (
  provider text not null check (char_length(provider) between 1 and 40),
  kind text not null check (char_length(kind) between 1 and 40),
  source_id text not null check (char_length(source_id) between 1 and 200),
  asset_id text not null check (char_length(asset_id) between 1 and 200),
  created_at timestamptz not null default now(),
  primary key (provider, kind, source_id)
);

alter table private.provider_assets enable row level security;
revoke all on private.provider_assets from public, anon, authenticated;
grant select, insert on private.provider_assets to service_role;
