-- Knowledge base: documents an owner uploads for an avatar, their chunks with full-text and vector
-- indexes, and public.match_chunks, the hybrid retrieval a session runs.
-- Same rules as the core schema: RLS on every table, one policy per operation `to authenticated`,
-- `(select auth.uid())`, policy columns indexed, helpers in schema `private` with an empty search_path.

-- Supabase installs extensions into schema `extensions`; the local bootstrap creates it too.
create extension if not exists vector with schema extensions;

-- documents ----------------------------------------------------------------------------------------

create table public.knowledge_documents (
  id uuid primary key default gen_random_uuid(),
  owner_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  avatar_id uuid not null references public.avatars (id) on delete cascade,
  title text not null check (char_length(title) between 1 and 300),
  source_name text not null default '' check (char_length(source_name) <= 500),
  content_hash text not null check (char_length(content_hash) between 1 and 128),
  mime_type text not null default 'text/plain' check (char_length(mime_type) between 1 and 200),
  size_bytes bigint not null default 0 check (size_bytes >= 0),
  status text not null default 'queued' check (status in ('queued', 'indexing', 'ready', 'failed')),
  error text check (char_length(error) <= 2000),
  chunks_done integer not null default 0 check (chunks_done >= 0),
  chunks_total integer check (chunks_total >= 0 and chunks_done <= chunks_total),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  -- The same file uploaded twice for one avatar is one document.
  constraint knowledge_documents_avatar_content_hash_key unique (avatar_id, content_hash)
);

-- (avatar_id) is served by the unique index above.
create index knowledge_documents_owner_id_idx on public.knowledge_documents (owner_id);

alter table public.knowledge_documents enable row level security;

-- Documents are the owner's alone; visitors only ever see chunks, through public.match_chunks.
create policy "Owners can read their knowledge documents" on public.knowledge_documents
  for select to authenticated using (owner_id = (select auth.uid()));
create policy "Owners can add knowledge documents to their avatars" on public.knowledge_documents
  for insert to authenticated
  with check (
    owner_id = (select auth.uid())
    and exists (
      select 1 from public.avatars a
      where a.id = knowledge_documents.avatar_id and a.owner_id = (select auth.uid())
    )
  );
create policy "Owners can update their knowledge documents" on public.knowledge_documents
  for update to authenticated
  using (owner_id = (select auth.uid()))
  with check (
    owner_id = (select auth.uid())
    and exists (
      select 1 from public.avatars a
      where a.id = knowledge_documents.avatar_id and a.owner_id = (select auth.uid())
    )
  );
create policy "Owners can delete their knowledge documents" on public.knowledge_documents
  for delete to authenticated using (owner_id = (select auth.uid()));

create trigger knowledge_documents_touch_updated_at before update on public.knowledge_documents
  for each row execute function private.touch_updated_at();

-- chunks -------------------------------------------------------------------------------------------

create table public.knowledge_chunks (
  id uuid primary key default gen_random_uuid(),
  document_id uuid not null references public.knowledge_documents (id) on delete cascade,
  owner_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  avatar_id uuid not null references public.avatars (id) on delete cascade,
  position integer not null check (position >= 0),
  heading_path text[] not null default '{}',
  content text not null check (char_length(content) between 1 and 20000),
  -- 'simple' rather than 'english': avatars speak many languages (avatars.language) and a generated
  -- column needs one fixed configuration, so words are lower-cased but never stemmed or dropped as
  -- stop words in a language the text is not in. Meaning across word forms is the vector side's job.
  -- public.match_chunks parses queries with the same 'simple' configuration.
  fts tsvector generated always as (to_tsvector('simple'::regconfig, content)) stored,
  -- Untyped: each model has its own dimensions. Only vectors of the same model are ever compared.
  embedding extensions.vector,
  embedding_model text check (char_length(embedding_model) between 1 and 200),
  token_count integer check (token_count >= 0),
  created_at timestamptz not null default now(),
  check ((embedding is null) = (embedding_model is null)),
  -- The partial HNSW index casts these to vector(1536); say so clearly instead of failing in the index.
  check (embedding_model <> 'text-embedding-3-small' or extensions.vector_dims(embedding) = 1536)
);

create index knowledge_chunks_fts_idx on public.knowledge_chunks using gin (fts);
-- pgvector's pattern for an untyped column: an expression index per model and dimension. Queries
-- must repeat the expression and the predicate (public.match_chunks does) for it to be used.
create index knowledge_chunks_embedding_3_small_idx on public.knowledge_chunks
  using hnsw ((embedding::extensions.vector(1536)) extensions.vector_cosine_ops)
  where embedding_model = 'text-embedding-3-small';
create index knowledge_chunks_avatar_id_idx on public.knowledge_chunks (avatar_id);
create index knowledge_chunks_document_id_position_idx on public.knowledge_chunks (document_id, position);
create index knowledge_chunks_owner_id_idx on public.knowledge_chunks (owner_id);

alter table public.knowledge_chunks enable row level security;

-- Owners read their chunks; a visitor bound to an avatar (claim `avatar_id`) reads that avatar's
-- chunks, which is what lets public.match_chunks run as the caller (security invoker) with RLS as the
-- only enforcer. A visitor can read nothing of another avatar, and no document rows at all.
create policy "Owners and the avatar's visitors can read knowledge chunks" on public.knowledge_chunks
  for select to authenticated
  using (owner_id = (select auth.uid()) or private.can_use_avatar(avatar_id));
-- A chunk belongs to one of the caller's documents, and to that document's avatar (columns qualified:
-- inside the subquery a bare `avatar_id` would be the document's own).
create policy "Owners can add chunks to their knowledge documents" on public.knowledge_chunks
  for insert to authenticated
  with check (
    owner_id = (select auth.uid())
    and exists (
      select 1 from public.knowledge_documents d
      where d.id = knowledge_chunks.document_id and d.avatar_id = knowledge_chunks.avatar_id
        and d.owner_id = (select auth.uid())
    )
  );
create policy "Owners can update their knowledge chunks" on public.knowledge_chunks
  for update to authenticated
  using (owner_id = (select auth.uid()))
  with check (
    owner_id = (select auth.uid())
    and exists (
      select 1 from public.knowledge_documents d
      where d.id = knowledge_chunks.document_id and d.avatar_id = knowledge_chunks.avatar_id
        and d.owner_id = (select auth.uid())
    )
  );
create policy "Owners can delete their knowledge chunks" on public.knowledge_chunks
  for delete to authenticated using (owner_id = (select auth.uid()));

-- retrieval ----------------------------------------------------------------------------------------

-- A chunk's document title, for whoever may use the document's avatar. Security definer because
-- documents are owner-only and a visitor's results still need their titles. Chosen over copying the
-- title onto every chunk: nothing to keep in sync when an owner renames a document, and it is called
-- only for the few rows match_chunks returns.
create function private.knowledge_document_title(p_document_id uuid) returns text
language sql stable security definer set search_path = '' as $$
  select d.title from public.knowledge_documents d
  where d.id = p_document_id and private.can_use_avatar(d.avatar_id)
$$;

-- Hybrid retrieval over one avatar's chunks: full text (websearch syntax, ranked by ts_rank_cd) and,
-- given a query embedding and its model, cosine similarity against chunks embedded by that same model;
-- the two rankings (top 4 x p_limit of each) fused by reciprocal rank, sum of 1 / (p_rrf_k + rank).
-- Security invoker: it reads chunks as the caller, so RLS decides what can come back; another
-- owner's or another avatar's chunks never can, whatever the query.
create function public.match_chunks(
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
    select t.id, (row_number() over (order by t.rank desc, t.id))::integer as fts_rank
      from (
        select c.id, ts_rank_cd(c.fts, v_tsquery) as rank
          from public.knowledge_chunks c
         where v_tsquery is not null and c.avatar_id = p_avatar_id and c.fts @@ v_tsquery
         order by 2 desc, c.id
         limit v_candidates
      ) t
  ),
  fused as (
    select coalesce(t.id, v.chunk_id) as id,
           coalesce(1.0::double precision / (p_rrf_k + t.fts_rank), 0)
             + coalesce(1.0::double precision / (p_rrf_k + v.vector_rank), 0) as score,
           t.fts_rank, v.vector_rank::integer as vector_rank
      from text_ranked t
      full join unnest(v_vector_ids) with ordinality as v (chunk_id, vector_rank) on v.chunk_id = t.id
  )
  select c.id, c.document_id, private.knowledge_document_title(c.document_id), c.heading_path, c.content,
         f.score, f.fts_rank, f.vector_rank
    from fused f
    join public.knowledge_chunks c on c.id = f.id
   order by f.score desc, least(f.fts_rank, f.vector_rank), c.id
   limit p_limit;
end;
$$;

revoke execute on function private.knowledge_document_title(uuid) from public, anon;
grant execute on function private.knowledge_document_title(uuid) to authenticated;

revoke execute on function public.match_chunks(uuid, text, extensions.vector, text, integer, integer)
  from public, anon;
grant execute on function public.match_chunks(uuid, text, extensions.vector, text, integer, integer)
  to authenticated, service_role;
