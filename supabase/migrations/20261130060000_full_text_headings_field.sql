-- Full-text ranking reads the headings above a chunk as a field of their own (measured by
-- bench/retrieval.py on the demo questions and the library handbook).
--
-- A chunk's searchable words already include its headings (20261130020000), but there a heading word
-- counts like any other occurrence: BM25 saturates it and divides it by the chunk's length, so a long
-- section called "Avatar providers" ranked below chunks that merely say "avatar" and "provider" often.
-- Now every query word found in the chunk's headings also adds its inverse document frequency once, on
-- top of the chunk's BM25 score for that word (a simple two-field BM25F: the heading field is short, so
-- it neither saturates nor is scaled by length). The headings are read as the stored search vector reads
-- them (private.search_words, 'simple'), for the matched chunks only, so no column changes and no index
-- is rebuilt. `create or replace` keeps the grants; they are stated again below.

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
