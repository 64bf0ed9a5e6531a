"""What every request body must be before a route sees it: small enough, and text Postgres can store.

Every route takes at most `max_bytes` (1 MiB), whatever the content type; only a multipart form sent to
an upload route (one marked `UPLOAD_ROUTE`) may reach `max_upload_bytes`, and it is counted as it
streams in. Any other body is read here (it is small) and, when it is JSON, refused with 422 if a
string in it (a key or a value, at any depth) holds a NUL, which Postgres text cannot store, or an
unpaired surrogate, which is not Unicode text at all. Refusing before the route runs answers a
problem, not a 500, and keeps the keep-alive connection usable."""

import json
import re
from collections.abc import Iterable
from typing import Any

from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute, APIRouter
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from functions.core.api.problems import problem_response

# `openapi_extra` of a route that takes uploads (a multipart form with a file).
UPLOAD_ROUTE = {"x-upload": True}
_MULTIPART = b"multipart/form-data"
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_\-]{1,64}")


class BodyLimitMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_bytes: int,
        max_upload_bytes: int,
        uploads: list[tuple[frozenset[str], re.Pattern[str]]],
    ) -> None:
        self.app = app
        self.uploads = uploads
        self.max_json_bytes = max_bytes
        self.max_upload_bytes = max_upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        is_upload = headers.get(b"content-type", b"").lower().startswith(_MULTIPART) and any(
            scope["method"] in methods and path.match(scope["path"]) for methods, path in self.uploads
        )
        max_bytes = self.max_upload_bytes if is_upload else self.max_json_bytes
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > max_bytes):
            await _too_large(max_bytes)(scope, receive, send)
            return
        if is_upload:
            await self._stream_upload(scope, receive, send, max_bytes)
            return
        body = await _read_body(receive, max_bytes)
        if body is None:
            await _too_large(max_bytes)(scope, receive, send)
            return
        detail = _refusal(body)
        if detail is not None:
            await problem_response(422, "invalid_request", detail, errors=[detail])(scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)

    async def _stream_upload(self, scope: Scope, receive: Receive, send: Send, max_bytes: int) -> None:
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    raise _TooLarge(max_bytes)
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _TooLarge:
            await _too_large(max_bytes)(scope, receive, send)


def upload_routes(routers: Iterable[APIRouter]) -> list[tuple[frozenset[str], re.Pattern[str]]]:
    """The methods and path patterns of the routes marked `UPLOAD_ROUTE`."""
    return [
        (frozenset(route.methods or ()), route.path_regex)
        for router in routers
        for route in router.routes
        if isinstance(route, APIRoute) and (route.openapi_extra or {}).get("x-upload")
    ]


async def _read_body(receive: Receive, max_bytes: int) -> bytes | None:
    """The whole body, or None once it grows past `max_bytes`."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > max_bytes:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


def _refusal(body: bytes) -> str | None:
    """Why a JSON body cannot be taken: where its first string with a NUL or an unpaired surrogate is
    (`body.messages.0.content`), or that it nests too deeply to parse. A body that is not JSON at all is
    the route's to refuse."""
    if not body.strip():
        return None
    try:
        document = json.loads(body)
    except RecursionError:
        return "body: the JSON nests too deeply"
    except ValueError:
        return None
    stack: list[tuple[str, Any]] = [("body", document)]
    while stack:
        where, value = stack.pop()
        if isinstance(value, str):
            if _unstorable(value):
                return f"{where}: text must not contain NUL characters or unpaired surrogates"
        elif isinstance(value, dict):
            for key, item in value.items():
                if _unstorable(key):
                    return f"{where}: a key must not contain NUL characters or unpaired surrogates"
                stack.append((f"{where}.{_printable(key)}", item))
        elif isinstance(value, list):
            stack.extend((f"{where}.{index}", item) for index, item in enumerate(value))
    return None


def _unstorable(text: str) -> bool:
    """Whether Postgres would refuse the text: a NUL character, or an unpaired surrogate (which has no
    UTF-8 encoding). No regex: a class of the surrogate range takes the compiler half a millisecond."""
    if "\x00" in text:
        return True
    if text.isascii():
        return False
    try:
        text.encode()
    except UnicodeEncodeError:
        return True
    return False


def _printable(key: str) -> str:
    return key if _PLAIN_KEY.fullmatch(key) else ascii(key[:40])


def _too_large(max_bytes: int) -> JSONResponse:
    return problem_response(413, "payload_too_large", f"the request body is larger than {max_bytes} bytes")


class _TooLarge(HTTPException):
    """An HTTPException, so FastAPI's body reading re-raises it instead of answering 400."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"the request body is larger than {max_bytes} bytes")
