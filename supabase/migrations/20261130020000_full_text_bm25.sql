-- Better full-text ranking in public.match_chunks (measured by bench/retrieval.py on the demo questions).
--
-- 1. A chunk's searchable words now include the headings above it: a section called "Opening hours"
--    is found by "hours" although its sentences never say the word. Headings and text are read with
--    path and identifier separators as spaces, so `POST /v1/sessions/{id}/interrupt`, docs/api.md or
--    a.b@c.d give their words ("interrupt", "api", "md") instead of one opaque token each. Queries are
--    read the same way (private.search_words). Still the 'simple' configuration, for the reasons the
--    first migration gives; the generated column is replaced, which recomputes it for every chunk.
-- 2. Full-text matches are ranked by BM25 rather than ts_rank_cd, which gives every word the same
--    weight: a question's words are ORed, so "interrupt" (in two chunks) counted no more than
--    "avatar" (in most). A word weighs by its inverse document frequency among the matched chunks
--    (at most 1,000 of them, as before) and its count in a chunk saturates and is scaled by the
--    chunk's length (distinct words), with the usual k1 = 1.2 and b = 0.75. Ties go to the chunk id.
-- 3. public.match_chunks is restated for (1); its fusion (reciprocal rank) is unchanged and
--    `create or replace` keeps its grants.

create function private.search_words(p_text text)
returns text
language sql immutable parallel safe set search_path = '' as $$
  select translate(p_text, '/.:@{}', '      ')
$$;

create function private.chunk_search_vector(p_heading_path text[], p_content text)
returns tsvector
language sql immutable parallel safe set search_path = '' as $$
  select to_tsvector('simple'::regconfig,
                     private.search_words(array_to_string(p_heading_path, ' ') || ' ' || p_content))
$$;

revoke execute on function private.search_words(text) from public, anon;
grant execute on function private.search_words(text) to authenticated, service_role;
revoke execute on function private.chunk_search_vector(text[], text) from public, anon;
grant execute on function private.chunk_search_vector(text[], text) to authenticated, service_role;

alter table public.knowledge_chunks drop column fts;
alter table public.knowledge_chunks
  add column fts tsvector generated always as (private.chunk_search_vector(heading_path, content)) stored;
create index knowledge_chunks_fts_idx on public.knowledge_chunks using gin (fts);

create or replace function private.match_chunk_text(p_avatar_id uuid, p_tsquery tsquery, p_limit integer)
returns table (id uuid, fts_rank integer)
-- Rows: p_limit at most (4 x 6 as the turn engine asks); the default estimate of 1000 would have
-- match_chunks read its chunks by a scan of the table rather than by primary key.
language sql stable security definer rows 24 set search_path = '' as $$
  with matched as (
    select c.id, c.fts, length(c.fts)::double precision as words
      from public.knowledge_chunks c
     where c.avatar_id = p_avatar_id and c.fts @@ p_tsquery
       and (private.can_use_avatar(p_avatar_id) or current_setting('role') = 'service_role')
     limit 1000
  ),
  -- The words the query looks for (negated ones are not: querytree leaves them out).
  terms as (
    select distinct t.lexeme from unnest(to_tsvector('simple'::regconfig, querytree(p_tsquery))) t
  ),
  occurrences as (
    select m.id, o.lexeme, cardinality(o.positions)::double precision as tf, m.words
      from matched m
     cross join lateral unnest(m.fts) o
     where o.lexeme in (select t.lexeme from terms t)
  ),
  totals as (
    select count(*)::double precision as chunks, greatest(avg(m.words), 1) as words from matched m
  ),
  idf as (
    select o.lexeme, ln(1 + (t.chunks - count(*) + 0.5) / (count(*) + 0.5)) as weight
      from occurrences o cross join totals t
     group by o.lexeme, t.chunks
  ),
  scored as (
    select m.id,
           coalesce(sum(i.weight * o.tf * 2.2 / (o.tf + 1.2 * (0.25 + 0.75 * o.words / t.words))), 0) as score
      from matched m
      cross join totals t
      left join occurrences o on o.id = m.id
      left join idf i on i.lexeme = o.lexeme
     group by m.id
  )
  select s.id, (row_number() over (order by s.score desc, s.id))::integer
    from (select * from scored order by score desc, id limit p_limit) s
$$;

create or replace function public.match_chunks(
  p_avatar_id uuid,
  p_query text,
  p_embedding extensions.vector default null,
  p_embedding_model text default null,
  p_limit integer default 6,
  p_rrf_k integer default 60
)
returns table (
  chunk_id uuid, document_id uuid, document_title text, heading_path text[], content text,
  score double precision, fts_rank integer, vector_rank integer
)
language plpgsql stable security invoker set search_path = '' as $$
declare
  v_candidates integer;
  v_tsquery tsquery;
  v_vector_ids uuid[];
begin
  if p_limit is null or p_limit not between 1 and 100 then
    raise exception 'p_limit must be between 1 and 100' using errcode = 'invalid_parameter_value';
  end if;
  if p_rrf_k is null or p_rrf_k < 0 then
    raise exception 'p_rrf_k must be zero or more' using errcode = 'invalid_parameter_value';
  end if;
  if p_embedding is not null and p_embedding_model is null then
    raise exception 'p_embedding needs p_embedding_model: only vectors of one model compare'
      using errcode = 'invalid_parameter_value';
  end if;
  v_candidates := 4 * p_limit;
  if nullif(btrim(p_query), '') is not null then
    v_tsquery := websearch_to_tsquery('simple'::regconfig, private.search_words(p_query));
  end if;

  if p_embedding is null then
    v_vector_ids := '{}';
  elsif p_embedding_model = 'text-embedding-3-small' then
    -- Repeats the partial HNSW index's expression and predicate, so the index serves it.
    select coalesce(array_agg(v.id order by v.distance, v.id), '{}') into v_vector_ids
      from (
        select c.id,
               c.embedding::extensions.vector(1536)
                 operator(extensions.<=>) p_embedding::extensions.vector(1536) as distance
          from public.knowledge_chunks c
         where c.avatar_id = p_avatar_id and c.embedding_model = 'text-embedding-3-small'
         order by c.embedding::extensions.vector(1536)
                    operator(extensions.<=>) p_embedding::extensions.vector(1536)
         limit v_candidates
      ) v;
  elsif p_embedding_model = 'multilingual-e5-small-q4' then
    -- The local model's own partial HNSW index, again by its expression and predicate.
    select coalesce(array_agg(v.id order by v.distance, v.id), '{}') into v_vector_ids
      from (
        select c.id,
               c.embedding::extensions.vector(384)
                 operator(extensions.<=>) p_embedding::extensions.vector(384) as distance
          from public.knowledge_chunks c
         where c.avatar_id = p_avatar_id and c.embedding_model = 'multilingual-e5-small-q4'
         order by c.embedding::extensions.vector(384)
                    operator(extensions.<=>) p_embedding::extensions.vector(384)
         limit v_candidates
      ) v;
  else
    -- Other models have no index: a scan of this avatar's chunks of that model.
    select coalesce(array_agg(v.id order by v.distance, v.id), '{}') into v_vector_ids
      from (
        select c.id, c.embedding operator(extensions.<=>) p_embedding as distance
          from public.knowledge_chunks c
         where c.avatar_id = p_avatar_id and c.embedding_model = p_embedding_model
           and extensions.vector_dims(c.embedding) = extensions.vector_dims(p_embedding)
         order by 2
         limit v_candidates
      ) v;
  end if;

  return query
  with text_ranked as (
    select t.id, t.fts_rank
      from private.match_chunk_text(p_avatar_id, v_tsquery, v_candidates) t
     where v_tsquery is not null
  ),
  -- A union, not a full join on coalesce(t.id, v.chunk_id): under RLS that join key kept the chunks
  -- below from being read by primary key, and every search scanned the table.
  fused as (
    select r.id, sum(r.score) as score, min(r.fts_rank) as fts_rank, min(r.vector_rank) as vector_rank
      from (
        select t.id, 1.0::double precision / (p_rrf_k + t.fts_rank) as score, t.fts_rank,
               null::integer as vector_rank
          from text_ranked t
        union all
        select v.chunk_id, 1.0::double precision / (p_rrf_k + v.vector_rank), null::integer,
               v.vector_rank::integer
          from unnest(v_vector_ids) with ordinality as v (chunk_id, vector_rank)
      ) r
     group by r.id
  )
  select c.id, c.document_id, private.knowledge_document_title(c.document_id), c.heading_path, c.content,
         f.score, f.fts_rank, f.vector_rank
    from fused f
    join public.knowledge_chunks c on c.id = f.id
   order by f.score desc, least(f.fts_rank, f.vector_rank), c.id
   limit p_limit;
end;
$$;
-- Stated again so this file alone shows who may search.
revoke execute on function public.match_chunks(uuid, text, extensions.vector, text, integer, integer)
  from public, anon;
grant execute on function public.match_chunks(uuid, text, extensions.vector, text, integer, integer)
  to authenticated, service_role;
