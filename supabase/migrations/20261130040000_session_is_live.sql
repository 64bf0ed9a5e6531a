-- When a session is live, said once for every query that asks: it is active and its end has not come.
-- A session past its end may still read 'active' until something ends it (the next request that finds
-- it, as 'expired', or the sweeper); it is not live all the same, so nothing is accepted for it.
-- Invoker's rights, no SET clause: the planner inlines it into each query, with the caller's RLS.
create or replace function private.session_is_live(s public.streaming_sessions)
returns boolean
language sql stable as $$
  select s.status = 'active' and s.expires_at > pg_catalog.now()
$$;

revoke execute on function private.session_is_live(public.streaming_sessions) from public;
grant execute on function private.session_is_live(public.streaming_sessions) to authenticated, service_role;
