-- Explicit, least-privilege grants on every table.
--
-- Supabase no longer grants select, insert, update and delete on new tables in schema public to anon,
-- authenticated and service_role (changelog "New tables in the public schema will no longer be
-- exposed to the Data API automatically": the default for new projects since 2026-05-30, for every
-- project since 2026-10-30). The functions SET ROLE to authenticated (every request) or service_role
-- (the cleanup job, widget tokens, CORS origins), so each role is granted here exactly what those
-- requests need and what the RLS policies allow; everything else stays denied.
--
-- Each table first loses whatever older defaults granted it (a project created before the change still
-- has ALL on these tables), which also drops the column grants of earlier migrations; they are granted
-- again below, so this migration alone states every table's grants. tests/db/test_grant_catalogue.py
-- compares the catalogue with the same list.
--
-- Later migrations grant on their own tables, next to the table and its policies.

revoke all on table
  public.avatars, public.streaming_sessions, public.streaming_messages, public.avatar_session_events,
  public.usage_limits, public.knowledge_documents, public.knowledge_chunks, public.avatar_api_keys
  from anon, authenticated, service_role;
revoke all on table private.rate_limits from public, anon, authenticated, service_role;

-- anon: nothing. Every route verifies a token before it touches the database.

-- avatars: owners manage their own (policies pin owner_id); the service role reads the public id and
-- allowed origins for widget tokens and CORS. The generated columns (id, public_id, owner_id,
-- timestamps) are not the client's to change.
grant select, insert, delete on public.avatars to authenticated;
grant update (
  name, provider, provider_avatar_id, voice, persona, greeting, quality, language, max_session_seconds,
  allowed_origins, grounded_only
) on public.avatars to authenticated;
grant select on public.avatars to service_role;

-- streaming sessions: the server derives owner, provider, timing and usage (triggers), so clients
-- write only these columns. The sweeper reads due sessions and ends them.
grant select, delete on public.streaming_sessions to authenticated;
grant insert (avatar_id, quality, channel) on public.streaming_sessions to authenticated;
grant update (status, end_reason, provider_session_id, last_activity_at) on public.streaming_sessions
  to authenticated;
grant select on public.streaming_sessions to service_role;
grant update (status, end_reason) on public.streaming_sessions to service_role;

-- streaming messages: a turn's user message and reply, and what the listener heard of an interrupted one.
grant select, delete on public.streaming_messages to authenticated;
grant insert (
  session_id, role, content, audio_duration_ms, turn_id, sources, source_chunk_ids, timings, interrupted
) on public.streaming_messages to authenticated;
grant update (audio_duration_ms, interrupted, heard_content) on public.streaming_messages to authenticated;

-- session events: an append-only log. The sweeper records `ended` and orphan stops.
grant select on public.avatar_session_events to authenticated, service_role;
grant insert (session_id, event_type, data) on public.avatar_session_events to authenticated, service_role;

-- usage limits: set by the operator; owners read theirs.
grant select on public.usage_limits to authenticated;

-- knowledge base: owners upload, index and delete; visitors read chunks through public.match_chunks.
grant select, insert, delete on public.knowledge_documents to authenticated;
grant update (title, source_name, status, error, chunks_done, chunks_total)
  on public.knowledge_documents to authenticated;
grant select, insert, delete on public.knowledge_chunks to authenticated;
grant update (heading_path, content, embedding, embedding_model, token_count)
  on public.knowledge_chunks to authenticated;

-- avatar API keys: created (hash only) and revoked by their owner; resolved by private.avatar_api_key.
grant select, delete on public.avatar_api_keys to authenticated;
grant insert (avatar_id, name, key_prefix, key_hash) on public.avatar_api_keys to authenticated;
grant update (revoked_at) on public.avatar_api_keys to authenticated;

-- private.rate_limits: only through private.rate_limit_hit (security definer); no role reads it.
