-- Conversation turns, avatar API keys for /v1/chat/completions, and widget visitors.
-- Same rules as the core schema: RLS on every table, one policy per operation `to authenticated`,
-- `(select auth.uid())`, policy columns indexed, helpers in schema `private` with an empty search_path.

-- turns --------------------------------------------------------------------------------------------

-- A turn is a user message and the assistant's reply, tied by the client's turn_id so a retried
-- request finds what the first attempt stored. Sources are copied onto the reply (title, heading path,
-- excerpt) so history still shows them after a document is deleted.
alter table public.streaming_messages
  add column turn_id text check (char_length(turn_id) between 1 and 100),
  add column sources jsonb not null default '[]' check (jsonb_typeof(sources) = 'array'),
  add column source_chunk_ids uuid[] not null default '{}',
  add column timings jsonb not null default '{}' check (jsonb_typeof(timings) = 'object'),
  add column interrupted boolean not null default false,
  add column heard_content text check (char_length(heard_content) <= 20000);

create unique index streaming_messages_session_turn_role_key
  on public.streaming_messages (session_id, turn_id, role) where turn_id is not null;

grant insert (turn_id, sources, source_chunk_ids, timings, interrupted)
  on public.streaming_messages to authenticated;
grant update (interrupted, heard_content) on public.streaming_messages to authenticated;

-- 'api' sessions record conversations held through /v1/chat/completions, with no avatar stream.
alter table public.streaming_sessions
  add column channel text not null default 'avatar' check (channel in ('avatar', 'api'));

grant insert (channel) on public.streaming_sessions to authenticated;

-- Usage counts avatar streams only: an 'api' session holds no provider stream and costs no seconds.
create or replace function private.owner_usage(p_owner_id uuid, p_lock boolean default false)
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
    left join public.streaming_sessions s
      on s.owner_id = p_owner_id and s.started_at >= v_month and s.channel = 'avatar'
    left join public.usage_limits l on l.owner_id = p_owner_id
   group by l.monthly_streaming_seconds, l.concurrent_sessions;
end;
$$;

-- avatar API keys ----------------------------------------------------------------------------------

-- Keys an owner creates for one avatar, for OpenAI-compatible clients and providers' custom-LLM
-- modes. Only the SHA-256 of a key is stored; the key itself is shown once, at creation.
create table public.avatar_api_keys (
  id uuid primary key default gen_random_uuid(),
  owner_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  avatar_id uuid not null references public.avatars (id) on delete cascade,
  name text not null default '' check (char_length(name) <= 120),
  key_prefix text not null check (char_length(key_prefix) between 4 and 32),
  key_hash text not null unique check (key_hash ~ '^[0-9a-f]{64}$'),
  created_at timestamptz not null default now(),
  last_used_at timestamptz,
  revoked_at timestamptz
);

create index avatar_api_keys_owner_id_idx on public.avatar_api_keys (owner_id);
create index avatar_api_keys_avatar_id_idx on public.avatar_api_keys (avatar_id);

alter table public.avatar_api_keys enable row level security;

create policy "Owners can read their avatar API keys" on public.avatar_api_keys
  for select to authenticated using (owner_id = (select auth.uid()));
create policy "Owners can create API keys for their avatars" on public.avatar_api_keys
  for insert to authenticated
  with check (
    owner_id = (select auth.uid())
    and exists (
      select 1 from public.avatars a
      where a.id = avatar_api_keys.avatar_id and a.owner_id = (select auth.uid())
    )
  );
create policy "Owners can revoke their avatar API keys" on public.avatar_api_keys
  for update to authenticated
  using (owner_id = (select auth.uid())) with check (owner_id = (select auth.uid()));
create policy "Owners can delete their avatar API keys" on public.avatar_api_keys
  for delete to authenticated using (owner_id = (select auth.uid()));

revoke insert, update on public.avatar_api_keys from anon, authenticated;
grant insert (avatar_id, name, key_prefix, key_hash) on public.avatar_api_keys to authenticated;
grant update (revoked_at) on public.avatar_api_keys to authenticated;

-- The avatar and owner a live key stands for. Security definer: the caller holds only the key, not
-- a user token; knowing the hash requires knowing the key. Marks the key used at most once a minute.
create function private.avatar_api_key(p_key_hash text)
returns table (key_id uuid, avatar_id uuid, owner_id uuid)
language plpgsql volatile security definer set search_path = '' as $$
begin
  update public.avatar_api_keys k set last_used_at = now()
   where k.key_hash = p_key_hash and k.revoked_at is null
     and (k.last_used_at is null or k.last_used_at < now() - interval '1 minute');
  return query
  select k.id, k.avatar_id, k.owner_id from public.avatar_api_keys k
   where k.key_hash = p_key_hash and k.revoked_at is null;
end;
$$;

revoke execute on function private.avatar_api_key(text) from public, anon, authenticated;
grant execute on function private.avatar_api_key(text) to service_role;

-- widget visitors ----------------------------------------------------------------------------------

-- Each widget visitor is a user of its own, so RLS keeps visitors apart exactly as it keeps owners
-- apart. Security definer: only this function, run by the token endpoint, may add such a user.
create function private.create_visitor(p_avatar_id uuid) returns uuid
language plpgsql volatile security definer set search_path = '' as $$
declare
  v_id uuid := gen_random_uuid();
begin
  insert into auth.users (id, raw_app_meta_data)
  values (v_id, jsonb_build_object('provider', 'widget', 'avatar_id', p_avatar_id));
  return v_id;
end;
$$;

revoke execute on function private.create_visitor(uuid) from public, anon, authenticated;
grant execute on function private.create_visitor(uuid) to service_role;

-- Fixed-window counters for rate limits that hold across stateless function instances.
create table private.rate_limits (
  bucket text not null check (char_length(bucket) between 1 and 300),
  window_start timestamptz not null,
  hits integer not null default 0,
  primary key (bucket, window_start)
);

alter table private.rate_limits enable row level security;

-- Counts one hit in the bucket's current window; true while the window has room.
create function private.rate_limit_hit(p_bucket text, p_window_seconds integer, p_limit integer)
returns boolean
language plpgsql volatile security definer set search_path = '' as $$
declare
  v_window timestamptz := to_timestamp(
    floor(extract(epoch from now()) / p_window_seconds) * p_window_seconds
  );
  v_hits integer;
begin
  insert into private.rate_limits as r (bucket, window_start, hits)
  values (p_bucket, v_window, 1)
  on conflict (bucket, window_start) do update set hits = r.hits + 1
  returning r.hits into v_hits;
  delete from private.rate_limits where bucket = p_bucket and window_start < v_window;
  return v_hits <= p_limit;
end;
$$;

revoke all on table private.rate_limits from public, anon, authenticated;
revoke execute on function private.rate_limit_hit(text, integer, integer) from public, anon, authenticated;
grant execute on function private.rate_limit_hit(text, integer, integer) to service_role;
