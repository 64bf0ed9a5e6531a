-- How the built-in (local) avatar looks: one of the illustrated characters and a theme colour, chosen per
-- avatar in the studio, e.g. {"look": "noor", "theme": "#0f766e"}. The application validates the keys;
-- the table only insists on an object. Existing rows keep the default look.
--
-- A new column of public.avatars: its row-level security policies (owners read and write their own rows)
-- apply to it as to every column. Owners select and insert whole rows (table-level grants, which cover a
-- new column), but update only the columns granted by name, so this one is granted here. Widget visitors
-- never read the table; the widget token route (as service_role, which selects avatars) returns the look
-- of the avatar it grants.

alter table public.avatars
  add column appearance jsonb not null default '{}' check (jsonb_typeof(appearance) = 'object');

grant update (appearance) on public.avatars to authenticated;
