"""One pooled HTTP client per event loop and purpose, reused across requests and warm invocations."""

import asyncio
import weakref
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx

_clients: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, httpx.AsyncClient]]" = (
    weakref.WeakKeyDictionary()
)


def shared_client(purpose: str, *, keepalive: bool = True) -> "httpx.AsyncClient":
    """A client bound to the running loop (connections cannot cross loops), made on first use.

    Without keep-alive for requests addressed to an IP with the host name as SNI (owners' tools): a kept
    connection is pooled by address, and must not carry a request for another name at the same address.
    """
    by_purpose = _clients.setdefault(asyncio.get_running_loop(), {})
    client = by_purpose.get(purpose)
    if client is None or client.is_closed:
        import httpx  # with the first client rather than at import: it is slow to import on a cold start

        limits = httpx.Limits(
            max_connections=100,
            max_keepalive_connections=20 if keepalive else 0,
            keepalive_expiry=60 if keepalive else None,
        )
        client = httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(30.0), follow_redirects=False)
        by_purpose[purpose] = client
    return client


async def close_shared_clients() -> None:
    """Closes the running loop's clients and their kept connections (when the app shuts down)."""
    for client in _clients.pop(asyncio.get_running_loop(), {}).values():
        await client.aclose()


def close_idle_loops_clients() -> None:
    """Closes the clients of every loop that is not running, from outside any loop (SnapStart's hooks)."""
    for loop, by_purpose in list(_clients.items()):
        if loop.is_running():
            continue
        del _clients[loop]
        if not loop.is_closed():
            for client in by_purpose.values():
                loop.run_until_complete(client.aclose())
