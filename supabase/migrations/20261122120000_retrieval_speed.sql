-- Faster full-text retrieval in public.match_chunks.
--
-- 1. The GIN index on knowledge_chunks.fts was never used: under RLS, a condition whose operator is
--    not leakproof (`@@` is not) may not run before the policy, so it cannot be an index condition,
--    and every search read all of the table's rows. The text search now runs in a security definer
--    helper, where no policy applies, so the index serves it. The helper enforces the policy's
--    outcome itself: an avatar's chunks all belong to its owner, so the caller may read them exactly
--    when private.can_use_avatar allows it (owner, or visitor bound to the avatar) or the caller is
--    service_role, which bypasses RLS. match_chunks still reads the returned chunks as the caller.
-- 2. A question's words are ORed, so a common word matches thousands of chunks, and ranking all of
--    them (ts_rank_cd) was most of a search's time. At most 1,000 matching chunks are ranked; a
--    knowledge base where more chunks match ranks an arbitrary 1,000 of them.
-- 3. The two rankings are fused by a union rather than a full join on coalesce(...), which kept the
--    final read of the chunks (under RLS) from using the primary key: it scanned the table.

create function private.match_chunk_text(p_avatar_id uuid, p_tsquery tsquery, p_limit integer)
returns table (id uuid, fts_rank integer)
-- Rows: p_limit at most (4 x 6 as the turn engine asks); the default estimate of 1000 would have
-- match_chunks read its chunks by a scan of the table rather than by primary key.
language sql stable security definer rows 24 set search_path = '' as $$
  select t.id, (row_number() over (order by t.rank desc, t.id))::integer
    from (
      select m.id, ts_rank_cd(m.fts, p_tsquery) as rank
        from (
          select c.id, c.fts
            from public.knowledge_chunks c
           where c.avatar_id = p_avatar_id and c.fts @@ p_tsquery
             and (private.can_use_avatar(p_avatar_id) or current_setting('role') = 'service_role')
           limit 1000
        ) m
       order by 2 desc, m.id
       limit p_limit
    ) t
$$;

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
    v_tsquery := websearch_to_tsquery('simple'::regconfig, p_query);
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
