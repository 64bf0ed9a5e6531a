-- Retrieval measured by bench/retrieval.py on the demo questions and the library handbook.
--
-- 1. Full-text ranking reads the headings above a chunk as a field of their own. A chunk's searchable
--    words already include its headings (20261130020000), but there a heading word counted like any
--    other occurrence: BM25 saturates it and scales it by the chunk's length, so a long section called
--    "Avatar providers" ranked below chunks that merely say "avatar" and "provider" often. Now every
--    query word found in the chunk's headings also adds its inverse document frequency once, on top of
--    the chunk's BM25 score for that word (a simple two-field BM25F: the heading field is short, so it
--    neither saturates nor is scaled by length). The headings are read as the stored search vector
--    reads them (private.search_words, 'simple'), for the matched chunks only, so no column changes and
--    no index is rebuilt. `create or replace` keeps the grants; they are stated again below.
-- 2. public.match_chunks passes on at most two chunks of one section (same document, same heading
--    path) before the best of every other section; the others follow, so p_limit rows still come back.
--    A big table is chunked as groups of rows under one heading, and its groups took every passage of
--    an answer. Its signature is unchanged, so `create or replace` keeps its grants too.

create or replace function private.match_chunk_text(p_avatar_id uuid, p_tsquery tsquery, p_limit integer)
returns table (id uuid, fts_rank integer)
-- Rows: p_limit at most (4 x 6 as the turn engine asks); the default estimate of 1000 would have
-- match_chunks read its chunks by a scan of the table rather than by primary key.
language sql stable security definer rows 24 set search_path = '' as $$
  with matched as (
    select c.id, c.fts, length(c.fts)::double precision as words,
           to_tsvector('simple'::regconfig, private.search_words(array_to_string(c.heading_path, ' '))) as headings
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
    select m.id, o.lexeme, cardinality(o.positions)::double precision as tf, m.words,
           exists (select 1 from unnest(m.headings) h where h.lexeme = o.lexeme) as in_headings
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
           coalesce(sum(i.weight * (o.tf * 2.2 / (o.tf + 1.2 * (0.25 + 0.75 * o.words / t.words))
                                    + o.in_headings::integer)), 0) as score
      from matched m
      cross join totals t
      left join occurrences o on o.id = m.id
      left join idf i on i.lexeme = o.lexeme
     group by m.id
  )
  select s.id, (row_number() over (order by s.score desc, s.id))::integer
    from (select * from scored order by score desc, id limit p_limit) s
$$;
-- Stated again so this file alone shows who may call it.
revoke execute on function private.match_chunk_text(uuid, tsquery, integer) from public, anon;
grant execute on function private.match_chunk_text(uuid, tsquery, integer) to authenticated, service_role;

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
  -- At most two chunks of one section (document and heading path) come before every other section's
  -- best: the rows of one big table, or one long section, no longer fill all the passages an answer gets.
  select r.id, r.document_id, private.knowledge_document_title(r.document_id), r.heading_path, r.content,
         r.score, r.fts_rank, r.vector_rank
    from (
      select c.id, c.document_id, c.heading_path, c.content, f.score, f.fts_rank, f.vector_rank,
             row_number() over (partition by c.document_id, c.heading_path
                                order by f.score desc, least(f.fts_rank, f.vector_rank), c.id) as nth
        from fused f
        join public.knowledge_chunks c on c.id = f.id
    ) r
   order by r.nth > 2, r.score desc, least(r.fts_rank, r.vector_rank), r.id
   limit p_limit;
end;
$$;
-- Stated again so this file alone shows who may search.
revoke execute on function public.match_chunks(uuid, text, extensions.vector, text, integer, integer)
  from public, anon;
grant execute on function public.match_chunks(uuid, text, extensions.vector, text, integer, integer)
  to authenticated, service_role;
