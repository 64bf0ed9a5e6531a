"""A JWKS cache that lives at module level, so a warm Lambda container fetches the keys once.

The keys are fetched like every provider request (`http_client.ProviderClient`: the app's client, the
one retry policy)."""

import asyncio
import json
import time
from typing import TYPE_CHECKING, Any

from functions.core.errors import ProviderError, Unauthorized

if TYPE_CHECKING:
    import httpx
    import jwt

    from functions.core.retry import RetryPolicy


class JwksCache:
    def __init__(
        self,
        url: str,
        ttl_seconds: int,
        *,
        client: "httpx.AsyncClient | None" = None,
        policy: "RetryPolicy | None" = None,
        timeout_s: float = 5,
    ) -> None:
        self._url = url
        self._ttl = ttl_seconds
        self._client = client
        self._policy = policy
        self._timeout = timeout_s
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()

    async def key_for(self, kid: str | None, algorithm: str) -> Any:
        if not kid:
            raise Unauthorized("the access token has no key id")
        if kid not in self._keys or self._stale():
            await self._refresh()
        key = self._keys.get(kid)
        if key is None:
            raise Unauthorized("the access token was signed by an unknown key")
        if key.algorithm_name != algorithm:
            raise Unauthorized("the access token algorithm does not match its key")
        return key.key

    def _stale(self) -> bool:
        return time.monotonic() - self._fetched_at > self._ttl

    async def _refresh(self) -> None:
        async with self._lock:
            if self._fetched_at and time.monotonic() - self._fetched_at < 30:
                return
            # Only when keys are fetched: httpx, PyJWT and cryptography are slow to import on a cold start.
            import jwt

            from functions.core.http_client import ProviderClient, app_clients
            from functions.core.retry import INTERACTIVE

            client = self._client or app_clients().client("jwks")
            sender = ProviderClient(
                "jwks", client, secrets=(), timeout=self._timeout, policy=self._policy or INTERACTIVE
            )
            try:
                response = await sender.request("GET", self._url, idempotent=True)
                document = response.json()
            except (ProviderError, json.JSONDecodeError) as exc:
                if self._keys:
                    return
                raise Unauthorized("the signing keys could not be fetched") from exc
            keys: dict[str, jwt.PyJWK] = {}
            for entry in document.get("keys", []):
                try:
                    parsed = jwt.PyJWK(entry)
                except (jwt.PyJWTError, KeyError):  # PyJWT raises KeyError for an "oct" key without "k"
                    continue
                if parsed.key_id:
                    keys[parsed.key_id] = parsed
            self._keys = keys
            self._fetched_at = time.monotonic()
