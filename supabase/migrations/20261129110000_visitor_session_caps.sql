-- Widget visitors may not starve an avatar owner: the session start caps the live sessions of one
-- visitor, and keeps some of the owner's concurrent sessions for the owner alone. Both need counts a
-- visitor cannot read through RLS (the other visitors' sessions), hence this function.

-- The owner's live avatar sessions held by anyone but the owner (widget visitors), and those of the
-- caller. Security definer, with the guard of private.owner_usage: only the owner or a caller who may
-- use one of the owner's avatars gets a row. Called after private.owner_usage(owner, true) in the same
-- transaction, so the per-owner lock already serialises concurrent starts.
create function private.session_counts(p_owner_id uuid)
returns table (visitor_sessions integer, caller_sessions integer)
language plpgsql stable security definer set search_path = '' as $$
begin
  if p_owner_id is distinct from (select auth.uid()) and not exists (
    select 1 from public.avatars a where a.owner_id = p_owner_id and private.can_use_avatar(a.id)
  ) then
    return;
  end if;
  return query
  select (count(*) filter (where s.user_id <> p_owner_id))::integer,
         (count(*) filter (where s.user_id = (select auth.uid())))::integer
    from public.streaming_sessions s
   where s.owner_id = p_owner_id and s.status = 'active' and s.expires_at > now()
     and s.channel = 'avatar';
end;
$$;

revoke execute on function private.session_counts(uuid) from public, anon;
grant execute on function private.session_counts(uuid) to authenticated;
