"""Server-sent events framing, and the headers that keep proxies from buffering the stream."""

import json
from collections.abc import AsyncIterator
from typing import Any

from functions.core.turns.models import DeltaEvent, TurnEvent

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def sse_event(event: str | None, data: Any) -> bytes:
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {payload}\n\n".encode()


def turn_event(event: TurnEvent) -> bytes:
    """One event as sent: its name, and its `data` as JSON. A delta, most of a turn's events, is framed
    without a model dump: its data is one string, and the bytes are the same as `sse_event`'s."""
    if isinstance(event, DeltaEvent):
        text = json.dumps(event.data.text, ensure_ascii=False)
        return f'event: delta\ndata: {{"text":{text}}}\n\n'.encode()
    return sse_event(event.event, event.data.model_dump(mode="json"))


async def sse_stream(batches: AsyncIterator[list[TurnEvent]]) -> AsyncIterator[bytes]:
    """A turn's events as sent, each group of events made together in one piece (one write)."""
    async for batch in batches:
        yield b"".join(map(turn_event, batch))
