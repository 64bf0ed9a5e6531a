-- Owner insights: feedback on answers, what each turn used and how soon it was heard, who came back and
-- from which page, questions an owner has answered, an owner-editable price table, per-day totals kept
-- by triggers, and the Insights queries as functions that run as the caller (RLS decides; each also
-- keeps to the caller's own avatars).
-- Today's Supabase grants nothing by default on new tables, so every grant is written out here.

-- sessions: the widget's stored visitor id (returning visitors) and the page it was on ----------------

alter table public.streaming_sessions
  add column visitor_key text check (visitor_key ~ '^[A-Za-z0-9_-]{8,64}$'),
  add column page_url text check (char_length(page_url) <= 2000);

grant insert (visitor_key, page_url) on public.streaming_sessions to authenticated;

-- Whether the visitor had come before, to any of the owner's avatars and to this one: set as the session
-- starts, so counting returning visitors needs no look back past the range.
alter table public.streaming_sessions
  add column returning_to_owner boolean not null default false,
  add column returning_to_avatar boolean not null default false;

create index streaming_sessions_owner_visitor_idx on public.streaming_sessions (owner_id, visitor_key, avatar_id)
  where visitor_key is not null;
-- Visitors of a range in one index-only scan (user_id is for the RLS policy).
create index streaming_sessions_owner_started_visitor_idx on public.streaming_sessions (owner_id, started_at)
  include (visitor_key, avatar_id, user_id, returning_to_owner, returning_to_avatar) where visitor_key is not null;

create function private.mark_returning_visitor() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  if new.visitor_key is not null then
    select true, coalesce(bool_or(s.avatar_id = new.avatar_id), false)
      into new.returning_to_owner, new.returning_to_avatar
      from public.streaming_sessions s
     where s.owner_id = new.owner_id and s.visitor_key = new.visitor_key
    having count(*) > 0;
    new.returning_to_owner := coalesce(new.returning_to_owner, false);
    new.returning_to_avatar := coalesce(new.returning_to_avatar, false);
  end if;
  return new;
end;
$$;

-- Named to run after streaming_sessions_prepare, which sets the owner.
create trigger streaming_sessions_visitor before insert on public.streaming_sessions
  for each row execute function private.mark_returning_visitor();

-- messages: LLM tokens the stream reported, and the first audible sound the client reported ------------

alter table public.streaming_messages
  add column prompt_tokens integer check (prompt_tokens >= 0),
  add column completion_tokens integer check (completion_tokens >= 0),
  add column first_audible_ms integer check (first_audible_ms between 0 and 600000);

grant insert (prompt_tokens, completion_tokens) on public.streaming_messages to authenticated;
grant update (first_audible_ms) on public.streaming_messages to authenticated;

-- Range scans of the replies that had no source (unanswered questions).
create index streaming_messages_owner_unsourced_idx on public.streaming_messages (owner_id, created_at)
  where role = 'assistant' and source_chunk_ids = '{}';
create index avatar_session_events_session_disconnected_idx on public.avatar_session_events (session_id)
  where event_type = 'disconnected';

-- feedback ---------------------------------------------------------------------------------------------

-- One rating per answer, by whoever held the conversation; the avatar's owner reads it.
create table public.message_feedback (
  id uuid primary key default gen_random_uuid(),
  message_id uuid not null unique references public.streaming_messages (id) on delete cascade,
  session_id uuid not null references public.streaming_sessions (id) on delete cascade,
  -- A Supabase user or a widget visitor (public.widget_visitors), as on sessions and messages: no foreign
  -- key to auth.users. The rating goes with its message, which goes with its session.
  user_id uuid not null default auth.uid(),
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

revoke all on public.message_feedback from anon, authenticated, service_role;
grant select, delete on public.message_feedback to authenticated;
grant insert (message_id, rating, comment) on public.message_feedback to authenticated;
grant update (rating, comment) on public.message_feedback to authenticated;

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

revoke all on public.answered_questions from anon, authenticated, service_role;
grant select, delete on public.answered_questions to authenticated;
grant insert (avatar_id, question_key, question, document_id) on public.answered_questions to authenticated;
grant update (question, document_id, created_at) on public.answered_questions to authenticated;

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

revoke all on public.insight_prices from anon, authenticated, service_role;
grant select on public.insight_prices to authenticated;
grant insert (owner_id, prices), update (prices, updated_at) on public.insight_prices to authenticated;

-- per-day totals -----------------------------------------------------------------------------------
-- A dashboard over months of a busy avatar cannot scan every message per request, so triggers keep
-- totals per owner, UTC day of the session's start, avatar and provider, and latency as histograms
-- (buckets 10 % wide, so a percentile read from them is within 5 % of the exact one). Everything a
-- session did counts on the day it started. Owners read their own rows; only the triggers write.

create table private.insights_daily (
  owner_id uuid not null references auth.users (id) on delete cascade,
  day date not null,
  avatar_id uuid not null, -- kept when the avatar is deleted, like the sessions' usage
  provider text not null,
  conversations integer not null default 0,
  active integer not null default 0,
  by_user integer not null default 0,
  idle integer not null default 0,
  expired integer not null default 0,
  failed integer not null default 0,
  reconnected integer not null default 0,
  seconds bigint not null default 0,
  messages integer not null default 0,
  turns integer not null default 0,
  prompt_tokens bigint not null default 0,
  completion_tokens bigint not null default 0,
  tts_characters bigint not null default 0,
  stt_ms bigint not null default 0,
  rated_up integer not null default 0,
  rated_down integer not null default 0,
  primary key (owner_id, day, avatar_id, provider)
);

-- stage: 1 retrieval, 2 first token, 3 first sentence, 4 first audible (reported by the client).
create table private.insights_latency (
  owner_id uuid not null references auth.users (id) on delete cascade,
  day date not null,
  avatar_id uuid not null,
  stage smallint not null check (stage between 1 and 4),
  bucket smallint not null check (bucket between 0 and 127),
  turns integer not null default 0,
  primary key (owner_id, day, avatar_id, stage, bucket)
);

alter table private.insights_daily enable row level security;
alter table private.insights_latency enable row level security;

create policy "Owners can read their daily totals" on private.insights_daily
  for select to authenticated using (owner_id = (select auth.uid()));
create policy "Owners can read their latency histograms" on private.insights_latency
  for select to authenticated using (owner_id = (select auth.uid()));

revoke all on private.insights_daily, private.insights_latency from public, anon, authenticated, service_role;
grant select on private.insights_daily, private.insights_latency to authenticated;

create function private.latency_bucket(p_ms double precision) returns smallint
language sql immutable set search_path = '' as $$
  select least(127, greatest(0, floor(ln(greatest(p_ms, 1)) / ln(1.1))))::smallint
$$;

-- The middle of a bucket (geometric), the value a percentile falling in it is read as.
create function private.latency_of_bucket(p_bucket smallint) returns double precision
language sql immutable set search_path = '' as $$
  select round(exp((p_bucket + 0.5) * ln(1.1))::numeric, 1)::double precision
$$;

create function private.add_to_daily(
  p_session_id uuid,
  p_conversations integer default 0, p_active integer default 0, p_by_user integer default 0,
  p_idle integer default 0, p_expired integer default 0, p_failed integer default 0,
  p_reconnected integer default 0, p_seconds bigint default 0, p_messages integer default 0,
  p_turns integer default 0, p_prompt_tokens bigint default 0, p_completion_tokens bigint default 0,
  p_tts_characters bigint default 0, p_stt_ms bigint default 0, p_rated_up integer default 0,
  p_rated_down integer default 0
) returns void
language sql volatile security definer set search_path = '' as $$
  insert into private.insights_daily as d (
    owner_id, day, avatar_id, provider, conversations, active, by_user, idle, expired, failed, reconnected,
    seconds, messages, turns, prompt_tokens, completion_tokens, tts_characters, stt_ms, rated_up, rated_down
  )
  select s.owner_id, (s.started_at at time zone 'utc')::date,
         coalesce(s.avatar_id, '00000000-0000-0000-0000-000000000000'::uuid), s.provider,
         p_conversations, p_active, p_by_user, p_idle, p_expired, p_failed, p_reconnected, p_seconds,
         p_messages, p_turns, p_prompt_tokens, p_completion_tokens, p_tts_characters, p_stt_ms, p_rated_up,
         p_rated_down
    from public.streaming_sessions s where s.id = p_session_id
  on conflict (owner_id, day, avatar_id, provider) do update set
    conversations = d.conversations + excluded.conversations, active = d.active + excluded.active,
    by_user = d.by_user + excluded.by_user, idle = d.idle + excluded.idle,
    expired = d.expired + excluded.expired, failed = d.failed + excluded.failed,
    reconnected = d.reconnected + excluded.reconnected, seconds = d.seconds + excluded.seconds,
    messages = d.messages + excluded.messages, turns = d.turns + excluded.turns,
    prompt_tokens = d.prompt_tokens + excluded.prompt_tokens,
    completion_tokens = d.completion_tokens + excluded.completion_tokens,
    tts_characters = d.tts_characters + excluded.tts_characters, stt_ms = d.stt_ms + excluded.stt_ms,
    rated_up = d.rated_up + excluded.rated_up, rated_down = d.rated_down + excluded.rated_down
$$;

create function private.add_latency(p_session_id uuid, p_stage smallint, p_ms double precision, p_turns integer)
returns void
language sql volatile security definer set search_path = '' as $$
  insert into private.insights_latency as l (owner_id, day, avatar_id, stage, bucket, turns)
  select s.owner_id, (s.started_at at time zone 'utc')::date,
         coalesce(s.avatar_id, '00000000-0000-0000-0000-000000000000'::uuid), p_stage,
         private.latency_bucket(p_ms), p_turns
    from public.streaming_sessions s where s.id = p_session_id and p_ms is not null
  on conflict (owner_id, day, avatar_id, stage, bucket) do update set turns = l.turns + excluded.turns
$$;

create function private.count_session() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  if tg_op = 'INSERT' then
    perform private.add_to_daily(new.id, p_conversations => 1, p_active => 1);
  else
    perform private.add_to_daily(
      new.id,
      p_active => -1,
      p_failed => (new.status = 'error')::integer,
      p_expired => (new.status = 'ended' and new.end_reason = 'expired')::integer,
      p_idle => (new.status = 'ended' and new.end_reason = 'idle_timeout')::integer,
      p_by_user => (new.status = 'ended' and new.end_reason not in ('expired', 'idle_timeout'))::integer,
      p_seconds => case when new.channel = 'avatar' then coalesce(new.duration_seconds, 0) else 0 end
    );
  end if;
  return null;
end;
$$;

create trigger streaming_sessions_count_insert after insert on public.streaming_sessions
  for each row execute function private.count_session();
create trigger streaming_sessions_count_end after update on public.streaming_sessions
  for each row when (old.status = 'active' and new.status <> 'active')
  execute function private.count_session();

create function private.count_message() returns trigger
language plpgsql security definer set search_path = '' as $$
declare
  v_spoken boolean;
begin
  if tg_op = 'INSERT' then
    select s.channel = 'avatar' into v_spoken from public.streaming_sessions s where s.id = new.session_id;
    if new.role = 'assistant' then
      perform private.add_to_daily(
        new.session_id, p_messages => 1, p_turns => 1,
        p_prompt_tokens => coalesce(new.prompt_tokens, 0), p_completion_tokens => coalesce(new.completion_tokens, 0),
        p_tts_characters => case when v_spoken then char_length(new.content) else 0 end
      );
      perform private.add_latency(new.session_id, 1::smallint, (new.timings ->> 'retrieval_ms')::double precision, 1);
      perform private.add_latency(new.session_id, 2::smallint, (new.timings ->> 'llm_first_token_ms')::double precision, 1);
      perform private.add_latency(new.session_id, 3::smallint, (new.timings ->> 'first_sentence_ms')::double precision, 1);
      perform private.add_latency(new.session_id, 4::smallint, new.first_audible_ms, 1);
    else
      perform private.add_to_daily(new.session_id, p_messages => 1, p_stt_ms => coalesce(new.audio_duration_ms, 0));
    end if;
    return null;
  end if;
  if new.first_audible_ms is distinct from old.first_audible_ms then
    perform private.add_latency(new.session_id, 4::smallint, old.first_audible_ms, -1);
    perform private.add_latency(new.session_id, 4::smallint, new.first_audible_ms, 1);
  end if;
  if new.audio_duration_ms is distinct from old.audio_duration_ms and new.role = 'user' then
    perform private.add_to_daily(
      new.session_id, p_stt_ms => coalesce(new.audio_duration_ms, 0) - coalesce(old.audio_duration_ms, 0)
    );
  end if;
  return null;
end;
$$;

create trigger streaming_messages_count_insert after insert on public.streaming_messages
  for each row execute function private.count_message();
create trigger streaming_messages_count_update after update of first_audible_ms, audio_duration_ms
  on public.streaming_messages
  for each row execute function private.count_message();

create function private.count_feedback() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  if tg_op in ('UPDATE', 'DELETE') then
    perform private.add_to_daily(
      old.session_id, p_rated_up => -(old.rating = 1)::integer, p_rated_down => -(old.rating = -1)::integer
    );
  end if;
  if tg_op in ('INSERT', 'UPDATE') then
    perform private.add_to_daily(
      new.session_id, p_rated_up => (new.rating = 1)::integer, p_rated_down => (new.rating = -1)::integer
    );
  end if;
  return null;
end;
$$;

create trigger message_feedback_count after insert or delete or update of rating on public.message_feedback
  for each row execute function private.count_feedback();

-- A conversation counts once as dropped and reconnected, however often its stream dropped.
create function private.count_drop() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  if not exists (
    select 1 from public.avatar_session_events e
     where e.session_id = new.session_id and e.event_type = 'disconnected' and e.id <> new.id
  ) then
    perform private.add_to_daily(new.session_id, p_reconnected => 1);
  end if;
  return null;
end;
$$;

create trigger avatar_session_events_count_drop after insert on public.avatar_session_events
  for each row when (new.event_type = 'disconnected') execute function private.count_drop();

-- What the triggers keep, for rows that existed before them (this migration on a live database; a restore).
create function private.rebuild_insights() returns void
language sql volatile security definer set search_path = '' as $$
  with marked as (
    select s.id,
           row_number() over (partition by s.owner_id, s.visitor_key order by s.started_at, s.id) > 1 as to_owner,
           row_number() over (partition by s.owner_id, s.visitor_key, s.avatar_id order by s.started_at, s.id) > 1
             as to_avatar
      from public.streaming_sessions s where s.visitor_key is not null
  )
  update public.streaming_sessions s set returning_to_owner = m.to_owner, returning_to_avatar = m.to_avatar
    from marked m
   where m.id = s.id and (s.returning_to_owner, s.returning_to_avatar) is distinct from (m.to_owner, m.to_avatar);
  delete from private.insights_daily;
  delete from private.insights_latency;
  with s as (
    select s.id, s.owner_id, (s.started_at at time zone 'utc')::date as day,
           coalesce(s.avatar_id, '00000000-0000-0000-0000-000000000000'::uuid) as avatar_id, s.provider,
           s.status, s.end_reason, s.channel, s.duration_seconds
      from public.streaming_sessions s
  ),
  m as (
    select m.session_id, count(*) as messages, count(*) filter (where m.role = 'assistant') as turns,
           coalesce(sum(m.prompt_tokens), 0) as prompt_tokens,
           coalesce(sum(m.completion_tokens), 0) as completion_tokens,
           coalesce(sum(char_length(m.content)) filter (where m.role = 'assistant'), 0) as characters,
           coalesce(sum(m.audio_duration_ms) filter (where m.role = 'user'), 0) as stt_ms
      from public.streaming_messages m group by m.session_id
  ),
  f as (
    select f.session_id, count(*) filter (where f.rating = 1) as up, count(*) filter (where f.rating = -1) as down
      from public.message_feedback f group by f.session_id
  ),
  d as (
    select distinct e.session_id from public.avatar_session_events e where e.event_type = 'disconnected'
  )
  insert into private.insights_daily (
    owner_id, day, avatar_id, provider, conversations, active, by_user, idle, expired, failed, reconnected,
    seconds, messages, turns, prompt_tokens, completion_tokens, tts_characters, stt_ms, rated_up, rated_down
  )
  select s.owner_id, s.day, s.avatar_id, s.provider, count(*),
         count(*) filter (where s.status = 'active'),
         count(*) filter (where s.status = 'ended' and s.end_reason not in ('expired', 'idle_timeout')),
         count(*) filter (where s.status = 'ended' and s.end_reason = 'idle_timeout'),
         count(*) filter (where s.status = 'ended' and s.end_reason = 'expired'),
         count(*) filter (where s.status = 'error'),
         count(d.session_id),
         coalesce(sum(s.duration_seconds) filter (where s.status <> 'active' and s.channel = 'avatar'), 0),
         coalesce(sum(m.messages), 0), coalesce(sum(m.turns), 0), coalesce(sum(m.prompt_tokens), 0),
         coalesce(sum(m.completion_tokens), 0),
         coalesce(sum(m.characters) filter (where s.channel = 'avatar'), 0), coalesce(sum(m.stt_ms), 0),
         coalesce(sum(f.up), 0), coalesce(sum(f.down), 0)
    from s left join m on m.session_id = s.id left join f on f.session_id = s.id
    left join d on d.session_id = s.id
   group by s.owner_id, s.day, s.avatar_id, s.provider;
  insert into private.insights_latency (owner_id, day, avatar_id, stage, bucket, turns)
  select s.owner_id, (s.started_at at time zone 'utc')::date,
         coalesce(s.avatar_id, '00000000-0000-0000-0000-000000000000'::uuid), v.stage,
         private.latency_bucket(v.ms), count(*)
    from public.streaming_messages m
    join public.streaming_sessions s on s.id = m.session_id
    cross join lateral (values
      (1::smallint, (m.timings ->> 'retrieval_ms')::double precision),
      (2::smallint, (m.timings ->> 'llm_first_token_ms')::double precision),
      (3::smallint, (m.timings ->> 'first_sentence_ms')::double precision),
      (4::smallint, m.first_audible_ms::double precision)
    ) v (stage, ms)
   where m.role = 'assistant' and v.ms is not null
   group by 1, 2, 3, 4, 5;
$$;

select private.rebuild_insights();

-- Insights queries ------------------------------------------------------------------------------------
-- Security invoker: RLS applies, and each keeps to the caller's own avatars (a user who visited
-- someone else's avatar sees that session in History, never in their Insights). Days are UTC, whole.

-- Conversations per day and provider by how they ended, seconds streamed, messages, usage, ratings.
create function public.insights_days(p_from date, p_to date, p_avatar_id uuid default null)
returns table (
  day date, provider text, conversations bigint, active bigint, by_user bigint, idle bigint,
  expired bigint, failed bigint, reconnected bigint, seconds bigint, messages bigint, turns bigint,
  prompt_tokens bigint, completion_tokens bigint, tts_characters bigint, stt_ms bigint, rated_up bigint,
  rated_down bigint
)
language sql stable set search_path = '' as $$
  select d.day, d.provider, sum(d.conversations)::bigint, sum(d.active)::bigint, sum(d.by_user)::bigint,
         sum(d.idle)::bigint, sum(d.expired)::bigint, sum(d.failed)::bigint, sum(d.reconnected)::bigint,
         sum(d.seconds)::bigint, sum(d.messages)::bigint, sum(d.turns)::bigint, sum(d.prompt_tokens)::bigint,
         sum(d.completion_tokens)::bigint, sum(d.tts_characters)::bigint, sum(d.stt_ms)::bigint,
         sum(d.rated_up)::bigint, sum(d.rated_down)::bigint
    from private.insights_daily d
   where d.owner_id = (select auth.uid()) and d.day between p_from and p_to
     and (p_avatar_id is null or d.avatar_id = p_avatar_id)
   group by d.day, d.provider
   order by d.day, d.provider
$$;

-- p50 and p90 per stage per day (milliseconds, read from the histograms); p_by_day false: over the range.
create function public.insights_latency(p_from date, p_to date, p_avatar_id uuid default null, p_by_day boolean default true)
returns table (day date, stage smallint, turns bigint, p50 double precision, p90 double precision)
language sql stable set search_path = '' as $$
  with h as (
    select case when p_by_day then l.day end as day, l.stage, l.bucket, sum(l.turns) as turns
      from private.insights_latency l
     where l.owner_id = (select auth.uid()) and l.day between p_from and p_to
       and (p_avatar_id is null or l.avatar_id = p_avatar_id)
     group by 1, 2, 3
  ),
  c as (
    select h.day, h.stage, h.bucket,
           sum(h.turns) over (partition by h.day, h.stage order by h.bucket) as below,
           sum(h.turns) over (partition by h.day, h.stage) as total
      from h where h.turns > 0
  )
  select c.day, c.stage, max(c.total)::bigint,
         private.latency_of_bucket(min(c.bucket) filter (where c.below >= 0.5 * c.total)),
         private.latency_of_bucket(min(c.bucket) filter (where c.below >= 0.9 * c.total))
    from c group by c.day, c.stage order by c.day, c.stage
$$;

-- Visitors of the range (by the widget's stored id) and how many came back: more than one conversation
-- in the range, or one that found them returning.
create function public.insights_visitors(p_from date, p_to date, p_avatar_id uuid default null)
returns table (visitors bigint, returning_visitors bigint)
language sql stable set search_path = '' as $$
  with v as (
    select s.visitor_key, count(*) as visits,
           bool_or(case when p_avatar_id is null then s.returning_to_owner else s.returning_to_avatar end) as came_before
      from public.streaming_sessions s
     where s.owner_id = (select auth.uid()) and s.visitor_key is not null
       and s.started_at >= p_from::timestamp at time zone 'utc'
       and s.started_at < (p_to + 1)::timestamp at time zone 'utc'
       and (p_avatar_id is null or s.avatar_id = p_avatar_id)
     group by s.visitor_key
  )
  select count(*), count(*) filter (where v.visits > 1 or v.came_before) from v
$$;

-- Replies that had no source, or that their visitor rated down, newest first, with the question asked.
create function public.insights_unanswered(
  p_from date, p_to date, p_avatar_id uuid default null, p_limit integer default 500
)
returns table (
  question_id uuid, answer_id uuid, session_id uuid, avatar_id uuid, question text, answer text,
  no_sources boolean, rating smallint, comment text, asked_at timestamptz
)
language sql stable set search_path = '' as $$
  with candidates as (
    (select a.id from public.streaming_messages a
      where a.owner_id = (select auth.uid()) and a.role = 'assistant' and a.source_chunk_ids = '{}'
        and a.created_at >= p_from::timestamp at time zone 'utc'
        and a.created_at < (p_to + 1)::timestamp at time zone 'utc'
        and (p_avatar_id is null
             or exists (select 1 from public.streaming_sessions s where s.id = a.session_id and s.avatar_id = p_avatar_id))
      order by a.created_at desc limit p_limit)
    union
    (select f.message_id from public.message_feedback f
      where f.owner_id = (select auth.uid()) and f.rating = -1
        and f.created_at >= p_from::timestamp at time zone 'utc'
        and f.created_at < (p_to + 2)::timestamp at time zone 'utc'
        and (p_avatar_id is null
             or exists (select 1 from public.streaming_sessions s where s.id = f.session_id and s.avatar_id = p_avatar_id))
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
   where s.owner_id = (select auth.uid())
     and a.created_at >= p_from::timestamp at time zone 'utc'
     and a.created_at < (p_to + 1)::timestamp at time zone 'utc'
   order by q.created_at desc
   limit p_limit
$$;

revoke execute on all functions in schema private from public, anon;
revoke execute on function private.add_to_daily(uuid, integer, integer, integer, integer, integer, integer, integer,
  bigint, integer, integer, bigint, bigint, bigint, bigint, integer, integer) from authenticated;
revoke execute on function private.add_latency(uuid, smallint, double precision, integer) from authenticated;
revoke execute on function private.rebuild_insights() from authenticated;
grant execute on function private.rebuild_insights() to service_role;
grant execute on function private.latency_of_bucket(smallint) to authenticated;
revoke execute on function public.insights_days(date, date, uuid) from public, anon;
revoke execute on function public.insights_latency(date, date, uuid, boolean) from public, anon;
revoke execute on function public.insights_visitors(date, date, uuid) from public, anon;
revoke execute on function public.insights_unanswered(date, date, uuid, integer) from public, anon;
grant execute on function public.insights_days(date, date, uuid) to authenticated, service_role;
grant execute on function public.insights_latency(date, date, uuid, boolean) to authenticated, service_role;
grant execute on function public.insights_visitors(date, date, uuid) to authenticated, service_role;
grant execute on function public.insights_unanswered(date, date, uuid, integer) to authenticated, service_role;
