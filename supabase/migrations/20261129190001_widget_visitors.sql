-- Widget visitors get identities of our own instead of rows in auth.users.
--
-- Visitors used to be inserted into auth.users (private.create_visitor) with no email and NULL token
-- columns, which GoTrue's own user listing cannot read (supabase/auth#1940), and auth.users is
-- GoTrue's table to write. A visitor is now a row of public.widget_visitors, bound to one avatar; its
-- id is the `sub` of the visitor token, so RLS keeps visitors apart exactly as before.
--
-- user_id on sessions, messages and events is then either a Supabase user or a widget visitor, so it
-- no longer references auth.users. Nothing is lost on deletion: a signed-in user can only use avatars
-- they own (private.can_use_avatar), so their rows also carry owner_id = user_id, which still cascades.
-- A swept visitor's sessions stay: they count toward the avatar owner's usage.

create table public.widget_visitors (
  id uuid primary key default gen_random_uuid(),
  avatar_id uuid not null references public.avatars (id) on delete cascade,
  created_at timestamptz not null default now(),
  last_seen_at timestamptz not null default now()
);

create index widget_visitors_avatar_id_idx on public.widget_visitors (avatar_id);
create index widget_visitors_last_seen_at_idx on public.widget_visitors (last_seen_at);

alter table public.widget_visitors enable row level security;

-- A visitor reads their own row; an owner reads the visitors of their avatars. Rows are written only
-- by the token endpoint and the sweeper, as service_role: no insert, update or delete policy.
create policy "Visitors and avatar owners can read widget visitors" on public.widget_visitors
  for select to authenticated
  using (
    id = (select auth.uid())
    or exists (
      select 1 from public.avatars a
      where a.id = widget_visitors.avatar_id and a.owner_id = (select auth.uid())
    )
  );

-- Nothing but the grants below, even where a self-hosted project still has the old default privileges.
revoke all on table public.widget_visitors from anon, authenticated, service_role;
grant select on public.widget_visitors to authenticated;
-- The token endpoint adds a visitor and marks a returning one seen; the sweeper removes stale ones.
grant select, insert (avatar_id), update (last_seen_at), delete on public.widget_visitors to service_role;

alter table public.streaming_sessions drop constraint streaming_sessions_user_id_fkey;
alter table public.streaming_messages drop constraint streaming_messages_user_id_fkey;
alter table public.avatar_session_events drop constraint avatar_session_events_user_id_fkey;

-- Visitors made before this migration move over with their ids, so their tokens stay valid.
insert into public.widget_visitors (id, avatar_id, created_at, last_seen_at)
select u.id, a.id, u.created_at, u.created_at
  from auth.users u
  join public.avatars a on a.id::text = u.raw_app_meta_data ->> 'avatar_id'
 where u.raw_app_meta_data ->> 'provider' = 'widget';

delete from auth.users u where u.raw_app_meta_data ->> 'provider' = 'widget';

drop function private.create_visitor(uuid);
