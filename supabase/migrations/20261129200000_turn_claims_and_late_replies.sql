-- Turns that outlive their session's end, one generation per turn, and knowledge documents whose
-- indexer died. Same rules as the core schema: one policy per operation `to authenticated`,
-- `(select auth.uid())`, least-privilege column grants.

-- A turn's reply may be stored after its session ended (the user ended the session while the reply
-- streamed): an assistant message is accepted on an ended session only for a turn whose question was
-- stored while the session was live, and the unique (session_id, turn_id, role) index keeps it to one.
-- Whether the caller asked this turn's question in this session. Security definer: a policy of
-- streaming_messages cannot read streaming_messages itself (Postgres refuses the recursion).
create function private.asked_turn(p_session_id uuid, p_turn_id text) returns boolean
language sql stable security definer set search_path = '' as $$
  select exists (
    select 1 from public.streaming_messages m
    where m.session_id = p_session_id and m.turn_id = p_turn_id and m.role = 'user'
      and m.user_id = (select auth.uid())
  )
$$;

revoke execute on function private.asked_turn(uuid, text) from public, anon;
grant execute on function private.asked_turn(uuid, text) to authenticated;

drop policy "Users can add messages to their active sessions" on public.streaming_messages;
create policy "Users can add messages to their active sessions, and a begun turn's reply"
  on public.streaming_messages
  for insert to authenticated
  with check (
    user_id = (select auth.uid())
    and exists (
      select 1 from public.streaming_sessions s
      where s.id = session_id and s.user_id = (select auth.uid())
        and (
          s.status = 'active'
          or (role = 'assistant' and turn_id is not null and private.asked_turn(s.id, turn_id))
        )
    )
  );

-- One generation per turn: the request that claims the turn's question generates the reply until the
-- claim lapses (it is renewed while the reply streams); a concurrent duplicate waits for the reply.
alter table public.streaming_messages add column reply_claimed_until timestamptz;

grant update (reply_claimed_until) on public.streaming_messages to authenticated;

-- Knowledge documents: the uploaded bytes live only in the indexing process, so a document whose
-- indexer stopped (no progress for a while) is failed by the cleanup sweep with the reason, and
-- uploading the file again retries it. This index finds those candidates without a scan.
create index knowledge_documents_unfinished_idx on public.knowledge_documents (updated_at)
  where status in ('queued', 'indexing');

-- The cleanup sweep (service_role) fails stuck documents and removes their partial chunks.
grant select, update (status, error, chunks_done) on public.knowledge_documents to service_role;
grant select, delete on public.knowledge_chunks to service_role;
