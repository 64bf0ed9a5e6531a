-- A new avatar's end-of-speech wait is 500 ms instead of 700 (functions/core/avatars.py,
-- END_OF_SPEECH_DEFAULT_MS, says why): the column's default follows the application's, so a row inserted
-- without the column gets the same wait as one created through the API. Existing avatars keep the wait
-- they have; their owners may have chosen it.

alter table public.avatars
  alter column end_of_speech_ms set default 500;
