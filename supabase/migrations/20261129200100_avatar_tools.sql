-- Tools an avatar can use during a turn, the secrets their requests carry, and the contacts visitors leave.
-- Same rules as the core schema: RLS on every table, one policy per operation `to authenticated`,
-- `(select auth.uid())`, policy columns indexed, and explicit grants (Supabase grants nothing by default).

-- tools --------------------------------------------------------------------------------------------

-- An owner-defined HTTP tool, or one of the built-in tools switched on for an avatar. `parameters` is the
-- JSON Schema the LLM's arguments are validated against before any call. The signing secret is written
-- once and never selectable by a client (no column grant); the server reads it through session_tools.
create table public.avatar_tools (
  id uuid primary key default gen_random_uuid(),
  owner_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  avatar_id uuid not null references public.avatars (id) on delete cascade,
  kind text not null check (kind in ('http', 'capture_contact', 'handoff_to_human', 'end_conversation')),
  name text not null check (name ~ '^[a-zA-Z][a-zA-Z0-9_-]{0,63}$'),
  description text not null default '' check (char_length(description) <= 1000),
  parameters jsonb not null default '{"type": "object", "properties": {}}'
    check (jsonb_typeof(parameters) = 'object' and octet_length(parameters::text) <= 16384),
  method text check (method in ('GET', 'POST', 'PUT', 'PATCH', 'DELETE')),
  url text check (char_length(url) <= 2000 and url ~ '^https?://'),
  timeout_ms integer not null default 5000 check (timeout_ms between 100 and 30000),
  -- The key of the HMAC signature every request of the tool carries; shown to the owner once, at creation.
  signing_secret text not null check (char_length(signing_secret) between 32 and 128),
  enabled boolean not null default true,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (avatar_id, name),
  -- An http tool calls its URL with its method; handoff_to_human posts to its URL (the owner's webhook).
  check (case kind
    when 'http' then method is not null and url is not null
    when 'handoff_to_human' then method = 'POST' and url is not null
    else method is null and url is null end)
);

create index avatar_tools_owner_id_idx on public.avatar_tools (owner_id);

alter table public.avatar_tools enable row level security;

create policy "Owners can read their avatars' tools" on public.avatar_tools
  for select to authenticated using (owner_id = (select auth.uid()));
create policy "Owners can add tools to their avatars" on public.avatar_tools
  for insert to authenticated
  with check (
    owner_id = (select auth.uid())
    and exists (select 1 from public.avatars a where a.id = avatar_id and a.owner_id = (select auth.uid()))
  );
create policy "Owners can change their avatars' tools" on public.avatar_tools
  for update to authenticated
  using (owner_id = (select auth.uid())) with check (owner_id = (select auth.uid()));
create policy "Owners can remove their avatars' tools" on public.avatar_tools
  for delete to authenticated using (owner_id = (select auth.uid()));

-- Revoked first: a project whose default privileges still grant everything must not expose the secret.
revoke all on public.avatar_tools from anon, authenticated, service_role;
grant select (
  id, owner_id, avatar_id, kind, name, description, parameters, method, url, timeout_ms, enabled, created_at,
  updated_at
), delete on public.avatar_tools to authenticated;
grant insert (avatar_id, kind, name, description, parameters, method, url, timeout_ms, signing_secret, enabled)
  on public.avatar_tools to authenticated;
grant update (description, parameters, method, url, timeout_ms, enabled)
  on public.avatar_tools to authenticated;

create trigger avatar_tools_touch_updated_at before update on public.avatar_tools
  for each row execute function private.touch_updated_at();

-- tool secrets -------------------------------------------------------------------------------------

-- Header values an HTTP tool's requests carry (an API key of the owner's own system). Written by the
-- owner, never read back by anyone through the API: only the header names are selectable, and the values
-- reach the server through private.session_tools when a turn calls the tool.
create table public.avatar_tool_headers (
  tool_id uuid not null references public.avatar_tools (id) on delete cascade,
  owner_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  name text not null check (name ~ '^[A-Za-z0-9-]{1,100}$'),
  value text not null check (char_length(value) between 1 and 4000),
  created_at timestamptz not null default now(),
  primary key (tool_id, name)
);

create index avatar_tool_headers_owner_id_idx on public.avatar_tool_headers (owner_id);

alter table public.avatar_tool_headers enable row level security;

create policy "Owners can see which headers their tools carry" on public.avatar_tool_headers
  for select to authenticated using (owner_id = (select auth.uid()));
create policy "Owners can add headers to their tools" on public.avatar_tool_headers
  for insert to authenticated
  with check (
    owner_id = (select auth.uid())
    and exists (select 1 from public.avatar_tools t where t.id = tool_id and t.owner_id = (select auth.uid()))
  );
create policy "Owners can remove their tools' headers" on public.avatar_tool_headers
  for delete to authenticated using (owner_id = (select auth.uid()));

revoke all on public.avatar_tool_headers from anon, authenticated, service_role;
grant select (tool_id, name, created_at), delete on public.avatar_tool_headers to authenticated;
grant insert (tool_id, name, value) on public.avatar_tool_headers to authenticated;

-- The enabled tools of an avatar the caller may use (its owner, or a visitor bound to it, who cannot read
-- the tables), with what the server needs to call them: the signing secret and the header values.
create function private.session_tools(p_avatar_id uuid)
returns table (
  id uuid, kind text, name text, description text, parameters jsonb, method text, url text,
  timeout_ms integer, signing_secret text, headers jsonb
)
language sql stable security definer set search_path = '' as $$
  select t.id, t.kind, t.name, t.description, t.parameters, t.method, t.url, t.timeout_ms, t.signing_secret,
         coalesce((select jsonb_object_agg(h.name, h.value) from public.avatar_tool_headers h
                    where h.tool_id = t.id), '{}')
  from public.avatar_tools t
  where t.avatar_id = p_avatar_id and t.enabled and private.can_use_avatar(p_avatar_id)
  order by t.name
$$;

grant execute on function private.session_tools(uuid) to authenticated;

-- contacts -----------------------------------------------------------------------------------------

-- Contact details a visitor leaves through the capture_contact tool (or the widget's form), for the
-- avatar's owner. The visitor may add them to their own session, never read anyone's.
create table public.contacts (
  id uuid primary key default gen_random_uuid(),
  owner_id uuid not null references auth.users (id) on delete cascade,
  avatar_id uuid references public.avatars (id) on delete set null,
  session_id uuid references public.streaming_sessions (id) on delete set null,
  name text not null default '' check (char_length(name) <= 200),
  email text check (char_length(email) <= 320 and email ~ '^[^@\s]+@[^@\s]+$'),
  phone text check (char_length(phone) <= 40 and phone ~ '^[0-9 +().-]+$'),
  note text not null default '' check (char_length(note) <= 2000),
  created_at timestamptz not null default now(),
  check (email is not null or phone is not null)
);

create index contacts_owner_id_created_idx on public.contacts (owner_id, created_at desc);
create index contacts_session_id_idx on public.contacts (session_id);

alter table public.contacts enable row level security;

create policy "Owners can read their avatars' contacts" on public.contacts
  for select to authenticated using (owner_id = (select auth.uid()));
create policy "Users can leave contacts in their own live sessions" on public.contacts
  for insert to authenticated
  with check (
    exists (
      select 1 from public.streaming_sessions s
      where s.id = session_id and s.user_id = (select auth.uid()) and s.status = 'active'
    )
  );
create policy "Owners can delete their avatars' contacts" on public.contacts
  for delete to authenticated using (owner_id = (select auth.uid()));

revoke all on public.contacts from anon, authenticated, service_role;
grant select, delete on public.contacts to authenticated;
grant insert (id, session_id, name, email, phone, note) on public.contacts to authenticated;

-- The owner and avatar come from the session, so a visitor cannot file a contact under someone else.
create function private.prepare_contact() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  select s.owner_id, s.avatar_id into new.owner_id, new.avatar_id
    from public.streaming_sessions s where s.id = new.session_id;
  return new;
end;
$$;

create trigger contacts_prepare before insert on public.contacts
  for each row execute function private.prepare_contact();
