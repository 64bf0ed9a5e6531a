"""One way to send a provider request: the app's client factory and `ProviderClient`.

`HttpClients` is the process's one client factory (`app_clients()`): `create_app` and the Lambda
handlers hold it and close its clients when they shut down; whatever sends a provider request takes
a client as a parameter, one of this factory's when its caller passes none. It keeps one pooled
client per purpose and event loop (connections cannot cross loops: a Lambda container keeps one
loop, the tests make many).

`ProviderClient` sends one provider's requests through that client with the one retry policy
(`functions.core.retry`), the one error mapping and the one key redaction (`provider_errors`).
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Container, Iterable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from functions.core.errors import ProviderError
from functions.core.provider_errors import openai_error_message, redact, response_error, transport_error
from functions.core.retry import INTERACTIVE, RetryPolicy

if TYPE_CHECKING:
    import httpx


class HttpClients:
    """The app's HTTP clients, made on first use and closed together."""

    def __init__(self) -> None:
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, httpx.AsyncClient]] = (
            weakref.WeakKeyDictionary()
        )

    def client(self, purpose: str, *, keepalive: bool = True) -> httpx.AsyncClient:
        """The running loop's client for `purpose`.

        Without keep-alive for requests addressed to an IP with the host name as SNI (owners' tools): a
        kept connection is pooled by address, and must not carry a request for another name at the same
        address.
        """
        by_purpose = self._clients.setdefault(asyncio.get_running_loop(), {})
        client = by_purpose.get(purpose)
        if client is None or client.is_closed:
            import httpx  # with the first client, not at import: it is slow to import on a cold start

            limits = httpx.Limits(
                max_connections=100,
                max_keepalive_connections=20 if keepalive else 0,
                keepalive_expiry=60 if keepalive else None,
            )
            client = httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(30.0), follow_redirects=False)
            by_purpose[purpose] = client
        return client

    async def aclose(self) -> None:
        """Closes the running loop's clients and their kept connections (when the app shuts down)."""
        for client in self._clients.pop(asyncio.get_running_loop(), {}).values():
            await client.aclose()

    def close_idle_loops(self) -> None:
        """Closes the clients of every loop that is not running, from outside any loop (SnapStart's hook
        before the snapshot: their sockets must not be shared by the instances restored from it)."""
        for loop, by_purpose in list(self._clients.items()):
            if loop.is_running():
                continue
            del self._clients[loop]
            if not loop.is_closed():
                for client in by_purpose.values():
                    loop.run_until_complete(client.aclose())


_CLIENTS = HttpClients()


def app_clients() -> HttpClients:
    """The process's client factory: the app (or the Lambda handler) holds it and closes it at shutdown."""
    return _CLIENTS


class ProviderClient:
    """One provider's requests: retried by `policy`, failures mapped to `ProviderError`, `secrets` redacted.

    `idempotent` (see `functions.core.retry`) is the caller's word that repeating the request changes
    nothing at the provider.
    """

    def __init__(
        self,
        provider: str,
        client: httpx.AsyncClient,
        *,
        secrets: Iterable[str | None],
        timeout: float,
        policy: RetryPolicy = INTERACTIVE,
        message_of: Callable[[dict[str, Any]], object] = openai_error_message,
        prefix: str = "",
    ) -> None:
        self.provider = provider
        self.policy = policy
        self._client = client
        import httpx

        self._secrets = tuple(secret for secret in secrets if secret)
        self._timeout = httpx.Timeout(timeout)
        self._message_of = message_of
        self._prefix = prefix

    def redact(self, text: str) -> str:
        return redact(text, self._secrets)

    async def request(
        self,
        method: str,
        url: str,
        *,
        idempotent: bool,
        accept: Container[int] = (),
        policy: RetryPolicy | None = None,
        **options: Any,
    ) -> httpx.Response:
        """The read answer when it succeeded or its status is in `accept`; else `ProviderError`.
        `policy` replaces this client's for this request."""
        async with self.stream(
            method, url, idempotent=idempotent, accept=accept, policy=policy, **options
        ) as response:
            await response.aread()
            return response

    @asynccontextmanager
    async def stream(
        self,
        method: str,
        url: str,
        *,
        idempotent: bool,
        accept: Container[int] = (),
        policy: RetryPolicy | None = None,
        **options: Any,
    ) -> AsyncIterator[httpx.Response]:
        """The answer, its body not read yet: retried only until it arrived (a stream is never
        repeated after its first byte). A failure while reading it is mapped too."""
        import httpx

        def attempt() -> Awaitable[httpx.Response]:
            request = self._client.build_request(method, url, timeout=self._timeout, **options)
            return self._client.send(request, stream=True)

        try:
            response = await (policy or self.policy).send(
                attempt, idempotent=idempotent, what=f"{self.provider} {method} {httpx.URL(url).path}"
            )
        except httpx.HTTPError as exc:
            raise transport_error(self.provider, exc) from exc
        try:
            if response.is_error and response.status_code not in accept:
                raise await self._status_error(response)
            yield response
        except httpx.HTTPError as exc:
            raise transport_error(self.provider, exc) from exc
        finally:
            await response.aclose()

    async def _status_error(self, response: httpx.Response) -> ProviderError:
        import httpx

        try:
            text = (await response.aread()).decode(response.encoding or "utf-8", errors="replace")
        except httpx.HTTPError:
            text = ""
        return response_error(
            self.provider, response, self.redact(text), prefix=self._prefix, message_of=self._message_of
        )
