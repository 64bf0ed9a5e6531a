-- Counts one hit in the window that starts at p_window_start, as the caller's clock places it (the widget
-- token route reckons its window and its Retry-After on one clock, which its tests set); true while the
-- window has room. Earlier windows of the bucket are dropped, as private.rate_limit_hit does (which stays
-- for the code deployed before this migration; the application now calls this one).
create function private.rate_limit_hit_in(p_bucket text, p_window_start timestamptz, p_limit integer)
returns boolean
language plpgsql volatile security definer set search_path = '' as $$
declare
  v_hits integer;
begin
  insert into private.rate_limits as r (bucket, window_start, hits)
  values (p_bucket, p_window_start, 1)
  on conflict (bucket, window_start) do update set hits = r.hits + 1
  returning r.hits into v_hits;
  delete from private.rate_limits where bucket = p_bucket and window_start < p_window_start;
  return v_hits <= p_limit;
end;
$$;

revoke execute on function private.rate_limit_hit_in(text, timestamptz, integer) from public, anon, authenticated;
grant execute on function private.rate_limit_hit_in(text, timestamptz, integer) to service_role;
