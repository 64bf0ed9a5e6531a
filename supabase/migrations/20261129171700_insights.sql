-- Owner insights: feedback on answers, what each turn used and how soon it was heard, who came back and
-- from which page, questions an owner has answered, an owner-editable price table, and the Insights
-- queries as functions that run as the caller (RLS decides; each also keeps to the caller's own avatars).
-- Today's Supabase grants nothing by default on new tables, so every grant is written out here.

-- sessions: the widget's stored visitor id (returning visitors) and the page it was on ----------------

alter table public.streaming_sessions
  add column visitor_key text check (visitor_key ~ '^[A-Za-z0-9_-]{8,64}$'),
  add column page_url text check (char_length(page_url) <= 2000);

grant insert (visitor_key, page_url) on public.streaming_sessions to authenticated;

create index streaming_sessions_owner_visitor_idx on public.streaming_sessions (owner_id, visitor_key, started_at)
  where visitor_key is not null;

-- messages: LLM tokens the stream reported, and the first audible sound the client reported ------------

alter table public.streaming_messages
  add column prompt_tokens integer check (prompt_tokens >= 0),
  add column completion_tokens integer check (completion_tokens >= 0),
  add column first_audible_ms integer check (first_audible_ms between 0 and 600000);

grant insert (prompt_tokens, completion_tokens) on public.streaming_messages to authenticated;
grant update (first_audible_ms) on public.streaming_messages to authenticated;

-- Range scans of one owner's replies (latency, usage) and of the replies that had no source.
create index streaming_messages_owner_replies_idx on public.streaming_messages (owner_id, created_at)
  where role = 'assistant';
create index streaming_messages_owner_unsourced_idx on public.streaming_messages (owner_id, created_at)
  where role = 'assistant' and source_chunk_ids = '{}';
create index avatar_session_events_owner_disconnected_idx on public.avatar_session_events (owner_id, created_at)
  where event_type = 'disconnected';

-- feedback ---------------------------------------------------------------------------------------------

-- One rating per answer, by whoever held the conversation; the avatar's owner reads it.
create table public.message_feedback (
  id uuid primary key default gen_random_uuid(),
  message_id uuid not null unique references public.streaming_messages (id) on delete cascade,
  session_id uuid not null references public.streaming_sessions (id) on delete cascade,
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  owner_id uuid not null references auth.users (id) on delete cascade,
  rating smallint not null check (rating in (-1, 1)),
  comment text not null default '' check (char_length(comment) <= 2000),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create index message_feedback_user_id_idx on public.message_feedback (user_id);
create index message_feedback_owner_created_idx on public.message_feedback (owner_id, created_at);
create index message_feedback_session_id_idx on public.message_feedback (session_id);

alter table public.message_feedback enable row level security;

create policy "Users and avatar owners can read feedback" on public.message_feedback
  for select to authenticated
  using (user_id = (select auth.uid()) or owner_id = (select auth.uid()));
create policy "Users can rate answers of their own conversations" on public.message_feedback
  for insert to authenticated
  with check (
    user_id = (select auth.uid())
    and exists (
      select 1 from public.streaming_messages m
        join public.streaming_sessions s on s.id = m.session_id
       where m.id = message_id and m.role = 'assistant' and s.user_id = (select auth.uid())
    )
  );
create policy "Users can change their own feedback" on public.message_feedback
  for update to authenticated
  using (user_id = (select auth.uid())) with check (user_id = (select auth.uid()));
create policy "Users can withdraw their own feedback" on public.message_feedback
  for delete to authenticated using (user_id = (select auth.uid()));

revoke all on public.message_feedback from anon, authenticated;
grant select, delete on public.message_feedback to authenticated;
grant insert (message_id, rating, comment) on public.message_feedback to authenticated;
grant update (rating, comment) on public.message_feedback to authenticated;
grant all on public.message_feedback to service_role;

-- Feedback takes its session and owner from the message, never from the client.
create function private.stamp_message_feedback() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  if tg_op = 'INSERT' then
    select m.session_id, m.owner_id into new.session_id, new.owner_id
      from public.streaming_messages m where m.id = new.message_id;
  end if;
  new.updated_at := now();
  return new;
end;
$$;

create trigger message_feedback_stamp before insert or update on public.message_feedback
  for each row execute function private.stamp_message_feedback();

-- answered questions ----------------------------------------------------------------------------------

-- A question an owner answered with a knowledge entry: asked again before `created_at`, it no longer
-- counts as unanswered; asked again after, it does (the new entry did not help).
create table public.answered_questions (
  id uuid primary key default gen_random_uuid(),
  owner_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  avatar_id uuid not null references public.avatars (id) on delete cascade,
  question_key text not null check (char_length(question_key) between 1 and 500),
  question text not null check (char_length(question) between 1 and 4000),
  document_id uuid references public.knowledge_documents (id) on delete set null,
  created_at timestamptz not null default now(),
  unique (avatar_id, question_key)
);

create index answered_questions_owner_id_idx on public.answered_questions (owner_id);
create index answered_questions_document_id_idx on public.answered_questions (document_id);

alter table public.answered_questions enable row level security;

create policy "Owners can read their answered questions" on public.answered_questions
  for select to authenticated using (owner_id = (select auth.uid()));
create policy "Owners can mark questions to their avatars answered" on public.answered_questions
  for insert to authenticated
  with check (
    owner_id = (select auth.uid())
    and exists (
      select 1 from public.avatars a where a.id = avatar_id and a.owner_id = (select auth.uid())
    )
  );
create policy "Owners can update their answered questions" on public.answered_questions
  for update to authenticated
  using (owner_id = (select auth.uid())) with check (owner_id = (select auth.uid()));
create policy "Owners can unmark their answered questions" on public.answered_questions
  for delete to authenticated using (owner_id = (select auth.uid()));

revoke all on public.answered_questions from anon, authenticated;
grant select, delete on public.answered_questions to authenticated;
grant insert (avatar_id, question_key, question, document_id) on public.answered_questions to authenticated;
grant update (question, document_id, created_at) on public.answered_questions to authenticated;
grant all on public.answered_questions to service_role;

-- prices ----------------------------------------------------------------------------------------------

-- An owner's own prices for the cost estimate; absent keys fall back to the published defaults.
create table public.insight_prices (
  owner_id uuid primary key default auth.uid() references auth.users (id) on delete cascade,
  prices jsonb not null check (jsonb_typeof(prices) = 'object'),
  updated_at timestamptz not null default now()
);

alter table public.insight_prices enable row level security;

create policy "Owners can read their prices" on public.insight_prices
  for select to authenticated using (owner_id = (select auth.uid()));
create policy "Owners can set their prices" on public.insight_prices
  for insert to authenticated with check (owner_id = (select auth.uid()));
create policy "Owners can change their prices" on public.insight_prices
  for update to authenticated
  using (owner_id = (select auth.uid())) with check (owner_id = (select auth.uid()));

revoke all on public.insight_prices from anon, authenticated;
grant select on public.insight_prices to authenticated;
grant insert (owner_id, prices), update (prices, updated_at) on public.insight_prices to authenticated;
grant all on public.insight_prices to service_role;

-- Insights queries ------------------------------------------------------------------------------------
-- Security invoker: RLS applies, and each keeps to sessions of the caller's own avatars (a user who
-- visited someone else's avatar sees that session in History, never in their Insights). Days are UTC.

-- Conversations per day by how they ended, seconds streamed per provider, messages.
create function public.insights_days(p_from timestamptz, p_to timestamptz, p_avatar_id uuid default null)
returns table (
  day date, provider text, conversations bigint, active bigint, by_user bigint, idle bigint,
  expired bigint, failed bigint, reconnected bigint, seconds bigint, messages bigint
)
language sql stable set search_path = '' as $$
  with s as (
    select s.id, s.started_at, s.provider, s.status, s.end_reason, s.channel, s.duration_seconds,
           s.message_count
      from public.streaming_sessions s
     where s.owner_id = (select auth.uid()) and s.started_at >= p_from and s.started_at < p_to
       and (p_avatar_id is null or s.avatar_id = p_avatar_id)
  ),
  dropped as (
    select distinct e.session_id from public.avatar_session_events e
     where e.owner_id = (select auth.uid()) and e.event_type = 'disconnected'
       and e.created_at >= p_from and e.created_at < p_to + interval '1 day'
  )
  select (s.started_at at time zone 'utc')::date, s.provider, count(*),
         count(*) filter (where s.status = 'active'),
         count(*) filter (where s.status = 'ended' and s.end_reason not in ('expired', 'idle_timeout')),
         count(*) filter (where s.status = 'ended' and s.end_reason = 'idle_timeout'),
         count(*) filter (where s.status = 'ended' and s.end_reason = 'expired'),
         count(*) filter (where s.status = 'error'),
         count(d.session_id),
         coalesce(sum(s.duration_seconds) filter (where s.channel = 'avatar'), 0)::bigint,
         coalesce(sum(s.message_count), 0)::bigint
    from s left join dropped d on d.session_id = s.id
   group by 1, 2
   order by 1, 2
$$;

-- Latency per stage per day, p50 and p90, over the replies of the range (milliseconds).
create function public.insights_latency(p_from timestamptz, p_to timestamptz, p_avatar_id uuid default null)
returns table (
  day date, turns bigint,
  retrieval_p50 double precision, retrieval_p90 double precision,
  first_token_p50 double precision, first_token_p90 double precision,
  first_sentence_p50 double precision, first_sentence_p90 double precision,
  first_audible_p50 double precision, first_audible_p90 double precision
)
language sql stable set search_path = '' as $$
  with m as (
    select (m.created_at at time zone 'utc')::date as day,
           (m.timings ->> 'retrieval_ms')::double precision as retrieval,
           (m.timings ->> 'llm_first_token_ms')::double precision as first_token,
           (m.timings ->> 'first_sentence_ms')::double precision as first_sentence,
           m.first_audible_ms::double precision as first_audible
      from public.streaming_messages m
     where m.owner_id = (select auth.uid()) and m.role = 'assistant'
       and m.created_at >= p_from and m.created_at < p_to
       and (p_avatar_id is null or exists (
         select 1 from public.streaming_sessions s where s.id = m.session_id and s.avatar_id = p_avatar_id
       ))
  )
  select day, count(*),
         percentile_cont(0.5) within group (order by retrieval),
         percentile_cont(0.9) within group (order by retrieval),
         percentile_cont(0.5) within group (order by first_token),
         percentile_cont(0.9) within group (order by first_token),
         percentile_cont(0.5) within group (order by first_sentence),
         percentile_cont(0.9) within group (order by first_sentence),
         percentile_cont(0.5) within group (order by first_audible),
         percentile_cont(0.9) within group (order by first_audible)
    from m group by day order by day
$$;

-- The range in one row: conversations, lengths, visitors, usage, ratings, and the p90 a visitor waited.
create function public.insights_summary(p_from timestamptz, p_to timestamptz, p_avatar_id uuid default null)
returns table (
  conversations bigint, completed bigint, avg_seconds double precision, avg_messages double precision,
  visitors bigint, returning_visitors bigint, turns bigint, prompt_tokens bigint, completion_tokens bigint,
  tts_characters bigint, stt_seconds double precision, rated_up bigint, rated_down bigint,
  response_p90_ms double precision
)
language sql stable set search_path = '' as $$
  with s as (
    select s.id, s.status, s.duration_seconds, s.message_count, s.visitor_key, s.channel
      from public.streaming_sessions s
     where s.owner_id = (select auth.uid()) and s.started_at >= p_from and s.started_at < p_to
       and (p_avatar_id is null or s.avatar_id = p_avatar_id)
  ),
  sessions as (
    select count(*) as conversations,
           count(*) filter (where status = 'ended') as completed,
           avg(duration_seconds)::double precision as avg_seconds,
           avg(message_count)::double precision as avg_messages
      from s
  ),
  visits as (
    select s.visitor_key, count(*) as visits,
           exists (
             select 1 from public.streaming_sessions e
              where e.owner_id = (select auth.uid()) and e.visitor_key = s.visitor_key
                and e.started_at < p_from
           ) as came_before
      from s where s.visitor_key is not null group by s.visitor_key
  ),
  m as (
    select m.role, m.content, m.prompt_tokens, m.completion_tokens, m.audio_duration_ms, m.timings,
           m.first_audible_ms, m.session_id, m.id, m.interrupted, s.channel
      from public.streaming_messages m join s on s.id = m.session_id
     where m.owner_id = (select auth.uid()) and m.created_at >= p_from
  ),
  turns as (
    select count(*) filter (where role = 'assistant') as turns,
           coalesce(sum(prompt_tokens), 0)::bigint as prompt_tokens,
           coalesce(sum(completion_tokens), 0)::bigint as completion_tokens,
           coalesce(sum(char_length(content)) filter (where role = 'assistant' and channel = 'avatar'), 0)::bigint
             as tts_characters,
           coalesce(sum(audio_duration_ms) filter (where role = 'user'), 0)::double precision / 1000
             as stt_seconds,
           percentile_cont(0.9) within group (
             order by coalesce(first_audible_ms::double precision,
                               (timings ->> 'first_sentence_ms')::double precision)
           ) filter (where role = 'assistant') as response_p90_ms
      from m
  ),
  ratings as (
    select count(*) filter (where f.rating = 1) as rated_up, count(*) filter (where f.rating = -1) as rated_down
      from public.message_feedback f join s on s.id = f.session_id
     where f.owner_id = (select auth.uid())
  )
  select sessions.conversations, sessions.completed, sessions.avg_seconds, sessions.avg_messages,
         (select count(*) from visits),
         (select count(*) from visits where visits > 1 or came_before),
         turns.turns, turns.prompt_tokens, turns.completion_tokens, turns.tts_characters, turns.stt_seconds,
         ratings.rated_up, ratings.rated_down, turns.response_p90_ms
    from sessions, turns, ratings
$$;

-- Replies that had no source, or that their visitor rated down, newest first, with the question asked.
create function public.insights_unanswered(
  p_from timestamptz, p_to timestamptz, p_avatar_id uuid default null, p_limit integer default 500
)
returns table (
  question_id uuid, answer_id uuid, session_id uuid, avatar_id uuid, question text, answer text,
  no_sources boolean, rating smallint, comment text, asked_at timestamptz
)
language sql stable set search_path = '' as $$
  with candidates as (
    (select a.id from public.streaming_messages a
      where a.owner_id = (select auth.uid()) and a.role = 'assistant' and a.source_chunk_ids = '{}'
        and a.created_at >= p_from and a.created_at < p_to
      order by a.created_at desc limit p_limit)
    union
    (select f.message_id from public.message_feedback f
      where f.owner_id = (select auth.uid()) and f.rating = -1
        and f.created_at >= p_from and f.created_at < p_to + interval '1 day'
      order by f.created_at desc limit p_limit)
  )
  select q.id, a.id, a.session_id, s.avatar_id, q.content, a.content, a.source_chunk_ids = '{}',
         f.rating, f.comment, q.created_at
    from candidates c
    join public.streaming_messages a on a.id = c.id
    join public.streaming_sessions s on s.id = a.session_id
    join public.streaming_messages q
      on q.session_id = a.session_id and q.turn_id = a.turn_id and q.role = 'user'
    left join public.message_feedback f on f.message_id = a.id
   where s.owner_id = (select auth.uid()) and (p_avatar_id is null or s.avatar_id = p_avatar_id)
     and a.created_at >= p_from and a.created_at < p_to
   order by q.created_at desc
   limit p_limit
$$;

revoke execute on function public.insights_days(timestamptz, timestamptz, uuid) from public, anon;
revoke execute on function public.insights_latency(timestamptz, timestamptz, uuid) from public, anon;
revoke execute on function public.insights_summary(timestamptz, timestamptz, uuid) from public, anon;
revoke execute on function public.insights_unanswered(timestamptz, timestamptz, uuid, integer)
  from public, anon;
grant execute on function public.insights_days(timestamptz, timestamptz, uuid) to authenticated, service_role;
grant execute on function public.insights_latency(timestamptz, timestamptz, uuid) to authenticated, service_role;
grant execute on function public.insights_summary(timestamptz, timestamptz, uuid) to authenticated, service_role;
grant execute on function public.insights_unanswered(timestamptz, timestamptz, uuid, integer)
  to authenticated, service_role;
revoke execute on function private.stamp_message_feedback() from public, anon, authenticated;
