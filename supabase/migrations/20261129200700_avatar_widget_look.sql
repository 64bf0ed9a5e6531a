-- How an avatar's widget looks on a site: launcher text, accent colour, corner, size, whether it starts
-- open, the language of its own texts, and whether answer timings show. A page's script tag can override
-- each of them with data- attributes. The avatars table keeps its RLS policies (owners only).

alter table public.avatars
  add column widget jsonb not null default '{}'
    check (jsonb_typeof(widget) = 'object' and pg_column_size(widget) <= 4096);

-- Explicit, per column: owners read and write the look through RLS; the widget's public look route
-- reads it by public id as service_role, before a visitor has any token.
grant select (widget), insert (widget), update (widget) on public.avatars to authenticated;
grant select (public_id, language, widget) on public.avatars to service_role;
