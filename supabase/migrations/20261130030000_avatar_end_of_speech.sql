-- How long a visitor's silence must last before voice input takes the utterance as finished and sends
-- it, per avatar, in milliseconds. Shorter answers sooner; longer lets slow speakers pause between words.
-- The application validates the same bounds and says which one was crossed.
--
-- A new column of public.avatars, under its row-level security policies (owners only). Owners read and
-- insert whole rows; the column is granted by name as the widget's was. The widget token route reads it
-- as service_role (table-level select) to hand it to the visitor's voice input.

alter table public.avatars
  add column end_of_speech_ms integer not null default 700
    check (end_of_speech_ms between 200 and 3000);

grant select (end_of_speech_ms), insert (end_of_speech_ms), update (end_of_speech_ms)
  on public.avatars to authenticated;
