"""Server-sent events framing, and the headers that keep proxies from buffering the stream."""

import json
from collections.abc import AsyncIterator
from typing import Any

from functions.core.turns.models import TurnEvent

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def sse_event(event: str | None, data: Any) -> bytes:
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {payload}\n\n".encode()


async def sse_stream(events: AsyncIterator[TurnEvent]) -> AsyncIterator[bytes]:
    """A turn's events as sent: the event's name, and its `data` as JSON."""
    async for event in events:
        yield sse_event(event.event, event.data.model_dump(mode="json"))
