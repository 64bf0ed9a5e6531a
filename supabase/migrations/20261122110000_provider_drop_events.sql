-- A cloud avatar's stream can drop mid-session: the browser records `disconnected` (the conversation
-- goes on with the built-in avatar) and the backend records `reconnected` once the provider is back.
alter table public.avatar_session_events drop constraint avatar_session_events_event_type_check;
alter table public.avatar_session_events add constraint avatar_session_events_event_type_check
  check (event_type in ('started', 'speaking', 'listening', 'idle', 'ended', 'error', 'disconnected', 'reconnected'));
