"""CORS for exactly the configured origins: the studio's, and every avatar's allowed widget origins.

The widget's own files and its token route answer every origin: they are public, and the token route
decides about the origin itself, so a page that is not allowed can read why and show it to the visitor."""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable

from starlette.applications import Starlette
from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from functions.core.api.problems import problem_response
from functions.core.db.pool import Database
from functions.core.origins import normalise_origin

log = logging.getLogger(__name__)

ALLOW_METHODS = "GET, POST, PUT, PATCH, DELETE"
ALLOW_HEADERS = "authorization, content-type, accept"
EXPOSE_HEADERS = "Retry-After, X-Sample-Rate, X-TTS-Engine"
PREFLIGHT_MAX_AGE = "600"
# The widget loader, its lazily imported chunks, its look, and the visitor-token route (which checks the
# origin itself).
PUBLIC_PATHS = frozenset({"/widget.js", "/v1/widget/token"})
PUBLIC_PREFIXES = ("/chunks/", "/v1/widget/look/")

OriginLoader = Callable[[], Awaitable[Iterable[str]]]


async def load_avatar_origins(db: Database) -> frozenset[str]:
    # As service_role: the union of every avatar's allowed origins is needed before any caller is known.
    async with db.as_service() as conn:
        cur = await conn.execute("select distinct unnest(allowed_origins) as origin from public.avatars")
        rows = await cur.fetchall()
    return frozenset(row["origin"] for row in rows)


class OriginCache:
    """The avatars' origins, loaded at most once per `ttl_seconds` in this process (a warm container).

    An origin that is not in the set reloads it at once (at most once per `recheck_seconds`): it may have
    just been allowed, in this process or in another container, and an owner must not wait out the ttl."""

    def __init__(self, load: OriginLoader, ttl_seconds: float = 60, recheck_seconds: float = 1) -> None:
        self._load = load
        self._ttl = ttl_seconds
        self._recheck = recheck_seconds
        self._origins: frozenset[str] = frozenset()
        self._loaded_at: float | None = None
        self._lock = asyncio.Lock()

    async def origins(self) -> frozenset[str]:
        if not self._loaded_within(self._ttl):
            await self._reload(self._ttl)
        return self._origins

    async def allows(self, site: str) -> bool:
        if site in await self.origins():
            return True
        if not self._loaded_within(self._recheck):
            await self._reload(self._recheck)
        return site in self._origins

    def invalidate(self) -> None:
        """An avatar's origins changed in this process: the next request loads them again."""
        self._loaded_at = None

    async def _reload(self, max_age: float) -> None:
        async with self._lock:
            if self._loaded_within(max_age):  # another request reloaded while this one waited
                return
            try:
                self._origins = frozenset(await self._load())
            except Exception:  # keep answering with what was loaded before; retry after the ttl
                log.exception("could not load the avatars' allowed origins")
            self._loaded_at = time.monotonic()

    def _loaded_within(self, seconds: float) -> bool:
        return self._loaded_at is not None and time.monotonic() - self._loaded_at < seconds


def invalidate_avatar_origins(app: Starlette) -> None:
    """After an avatar's allowed origins changed: CORS in this process follows at once."""
    cache = getattr(app.state, "avatar_origins", None)
    if isinstance(cache, OriginCache):
        cache.invalidate()


class CorsMiddleware:
    """Pure ASGI, so streamed bodies (server-sent events, audio) pass through untouched: only the
    response's start message gains headers."""

    def __init__(self, app: ASGIApp, *, static_origins: Iterable[str], avatar_origins: OriginCache) -> None:
        self.app = app
        self._static = frozenset(filter(None, (normalise_origin(o) for o in static_origins)))
        self._avatar_origins = avatar_origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        preflight = scope["method"] == "OPTIONS" and "access-control-request-method" in headers
        if _is_public(scope["path"]):
            # Every response says "*", with or without an Origin header: a copy the browser cached for
            # one page (the studio's preview) must also serve a site's cross-origin import.
            if preflight:
                await self._preflight("*", True)(scope, receive, send)
            else:
                await self.app(scope, receive, _with_cors(send, "*"))
            return
        # No origin, or the app's own pages (the local studio): not a cross-origin request.
        if origin is None or origin == f"{scope.get('scheme', 'http')}://{headers.get('host')}":
            await self.app(scope, receive, send)
            return
        allowed = await self._allowed(origin)
        if preflight:
            await self._preflight(origin, allowed)(scope, receive, send)
            return
        await self.app(scope, receive, _with_cors(send, origin if allowed else None))

    async def _allowed(self, origin: str) -> bool:
        site = normalise_origin(origin)
        if site is None:
            return False
        return site in self._static or await self._avatar_origins.allows(site)

    @staticmethod
    def _preflight(origin: str, allowed: bool) -> Response:
        if not allowed:
            return problem_response(
                403,
                "origin_not_allowed",
                f"the origin {origin!r} may not call this API from a browser",
                {"Vary": "Origin"},
            )
        headers = {
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Methods": ALLOW_METHODS,
            "Access-Control-Allow-Headers": ALLOW_HEADERS,
            "Access-Control-Max-Age": PREFLIGHT_MAX_AGE,
        }
        return Response(status_code=204, headers=headers if origin == "*" else {**headers, "Vary": "Origin"})


def _with_cors(send: Send, allow_origin: str | None) -> Send:
    async def send_with_cors(message: Message) -> None:
        if message["type"] == "http.response.start":
            response_headers = MutableHeaders(scope=message)
            if allow_origin != "*":
                response_headers.add_vary_header("Origin")
            if allow_origin is not None:
                response_headers["Access-Control-Allow-Origin"] = allow_origin
                response_headers["Access-Control-Expose-Headers"] = EXPOSE_HEADERS
        await send(message)

    return send_with_cors


def _is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)
