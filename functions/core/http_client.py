"""One pooled HTTP client per event loop and purpose, reused across requests and warm invocations."""

import asyncio
import weakref

import httpx

_clients: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, httpx.AsyncClient]]" = (
    weakref.WeakKeyDictionary()
)
_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=60)


def shared_client(purpose: str) -> httpx.AsyncClient:
    """A client bound to the running loop (connections cannot cross loops), made on first use."""
    by_purpose = _clients.setdefault(asyncio.get_running_loop(), {})
    client = by_purpose.get(purpose)
    if client is None or client.is_closed:
        client = httpx.AsyncClient(limits=_LIMITS, timeout=httpx.Timeout(30.0), follow_redirects=False)
        by_purpose[purpose] = client
    return client


async def close_shared_clients() -> None:
    """Closes the running loop's clients and their kept connections (when the app shuts down)."""
    for client in _clients.pop(asyncio.get_running_loop(), {}).values():
        await client.aclose()
