"""A JWKS cache that lives at module level, so a warm Lambda container fetches the keys once."""

import asyncio
import json
import time
from typing import TYPE_CHECKING, Any

from functions.core.errors import Unauthorized

if TYPE_CHECKING:
    import httpx
    import jwt


class JwksCache:
    def __init__(self, url: str, ttl_seconds: int, *, client: "httpx.AsyncClient | None" = None) -> None:
        self._url = url
        self._ttl = ttl_seconds
        self._client = client
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
        import jwt  # with the keys, like httpx below: PyJWT and cryptography are slow to import

        async with self._lock:
            if self._fetched_at and time.monotonic() - self._fetched_at < 30:
                return
            import httpx  # only when keys are fetched: it is slow to import on a cold start

            try:
                if self._client is not None:
                    response = await self._client.get(self._url, timeout=5)
                else:
                    async with httpx.AsyncClient() as client:
                        response = await client.get(self._url, timeout=5)
                response.raise_for_status()
                document = response.json()
            except (httpx.HTTPError, json.JSONDecodeError) as exc:
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
