-- The tool calls a reply made: name, arguments, whether it worked, what came back (bounded), and how long
-- it took. Header secrets never reach the LLM or this column; the arguments are the LLM's own.
alter table public.streaming_messages
  add column tool_calls jsonb not null default '[]'
    check (jsonb_typeof(tool_calls) = 'array' and octet_length(tool_calls::text) <= 65536);

grant insert (tool_calls) on public.streaming_messages to authenticated;
