"""A reply that may call tools: the LLM streams text, asks for calls, gets their results, and goes on.

Each round streams the model's text as it comes (so sentences go out at once); the calls it asks for run
in parallel, each with its own timeout. When they take longer than a moment and the round has said
nothing yet, one short bridging sentence is spoken so the visitor is not left in silence. After
`MAX_ROUNDS` rounds of calls the model is asked once more without tools, so a turn always ends in words.
Closing the reply (an interrupt, a closed tab, the session ending) cancels the calls still running.
"""

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any

from functions.core.llm.base import ChatMessage, TokenUsage, ToolCall, ToolCallingChat
from functions.core.tools.runtime import ToolArgumentsInvalid, openai_tools, parse_arguments
from functions.core.tools.turn_tools import SessionTool, ToolLog, ToolOutcome

MAX_ROUNDS = 3
BRIDGE_AFTER_S = 0.8
BRIDGE = "One moment while I check that."

RunTool = Callable[[SessionTool, dict[str, Any]], Awaitable[ToolOutcome]]


async def converse(
    chat: ToolCallingChat,
    messages: list[ChatMessage],
    tools: list[SessionTool],
    run: RunTool,
    log: ToolLog,
    *,
    max_tokens: int | None,
    temperature: float | None,
    usage: TokenUsage | None = None,
    bridge_after_s: float = BRIDGE_AFTER_S,
) -> AsyncGenerator[str, None]:
    offered = openai_tools(tools)
    by_name = {tool.name: tool for tool in tools}
    for round_number in range(MAX_ROUNDS + 1):
        calls: list[ToolCall] = []
        said: list[str] = []
        stream = chat.stream_turn(
            messages,
            offered if round_number < MAX_ROUNDS else [],
            max_tokens=max_tokens,
            temperature=temperature,
            usage=usage,
        )
        async with contextlib.aclosing(stream):
            async for piece in stream:
                if isinstance(piece, ToolCall):
                    calls.append(piece)
                else:
                    said.append(piece)
                    yield piece
        if not calls:
            return
        tasks = [asyncio.ensure_future(_call(by_name, run, call)) for call in calls]
        try:
            _, pending = await asyncio.wait(tasks, timeout=bridge_after_s)
            if pending and not "".join(said).strip():
                bridge = BRIDGE + " "
                said.append(bridge)
                yield bridge
            outcomes = [await task for task in tasks]
        finally:
            for task in tasks:
                task.cancel()
        for outcome in outcomes:
            log.add(outcome)
        messages = [
            *messages,
            ChatMessage(role="assistant", content="".join(said), tool_calls=calls),
            *(
                ChatMessage(role="tool", content=outcome.for_llm(), tool_call_id=call.id)
                for call, outcome in zip(calls, outcomes, strict=True)
            ),
        ]


async def _call(by_name: dict[str, SessionTool], run: RunTool, call: ToolCall) -> ToolOutcome:
    """One call the model asked for: a tool the avatar does not have, or arguments that break its schema,
    are answered as errors the model can read, and nothing runs."""
    tool = by_name.get(call.name)
    if tool is None:
        return ToolOutcome(call.name, {}, False, {"error": f"there is no tool named {call.name}"}, 0.0)
    try:
        arguments = parse_arguments(tool, call.arguments)
    except ToolArgumentsInvalid as exc:
        return ToolOutcome(call.name, {}, False, {"error": exc.detail}, 0.0)
    return await run(tool, arguments)
