"""CORS for the studio's origins and every avatar's allowed widget origins, and nothing else."""

import asyncio
import uuid
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.types import Message, Receive, Scope, Send

from functions.core.api import cors
from functions.core.api.app import create_app
from functions.core.api.cors import CorsMiddleware, OriginCache
from functions.core.api.routes import avatars, health, widget
from functions.core.db.pool import get_database
from functions.core.settings import get_settings
from tests.conftest import User
from tests.functional.support import Api

STUDIO = "https://studio.example.com"
SHOP = "https://shop.example.com"
EVIL = "https://evil.example.net"


@pytest.fixture
def app(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[FastAPI]:
    """A fresh app (so a fresh origin cache) configured with the studio's origin."""
    monkeypatch.setenv("CORS_ORIGINS", f'["{STUDIO}"]')
    get_settings.cache_clear()
    try:
        yield create_app([health.router, avatars.router, widget.router])
    finally:
        get_settings.cache_clear()


def call(app: FastAPI, method: str, path: str, headers: dict[str, str]) -> httpx.Response:
    """One request on an event loop of its own, closing the loop's pool after."""

    async def run() -> httpx.Response:
        try:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as http:
                return await http.request(method, path, headers=headers)
        finally:
            await get_database().close()

    return asyncio.run(run())


def call_json(app: FastAPI, method: str, path: str, user: User, body: dict[str, Any]) -> dict[str, Any]:
    async def run() -> httpx.Response:
        try:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as http:
                return await http.request(method, path, headers=user.headers, json=body)
        finally:
            await get_database().close()

    response = asyncio.run(run())
    assert response.status_code < 300, response.text
    reply: dict[str, Any] = response.json()
    return reply


def preflight(app: FastAPI, origin: str, path: str = "/v1/avatars", method: str = "POST") -> httpx.Response:
    return call(
        app,
        "OPTIONS",
        path,
        {
            "origin": origin,
            "access-control-request-method": method,
            "access-control-request-headers": "authorization, content-type",
        },
    )


def assert_preflight_allows(response: httpx.Response, origin: str) -> None:
    assert response.status_code == 204, response.text
    assert response.headers["access-control-allow-origin"] == origin
    assert response.headers["access-control-allow-methods"] == "GET, POST, PUT, PATCH, DELETE"
    assert response.headers["access-control-allow-headers"] == "authorization, content-type, accept"
    assert response.headers["access-control-max-age"] == "600"
    assert response.headers["vary"] == "Origin"
    assert "access-control-allow-credentials" not in response.headers


def test_a_preflight_from_the_studio_origin_is_answered(app: FastAPI) -> None:
    assert_preflight_allows(preflight(app, STUDIO), STUDIO)


def test_a_preflight_from_an_avatars_allowed_origin_is_answered(app: FastAPI, api: Api, owner: User) -> None:
    api.create_avatar(owner, allowed_origins=[SHOP])
    assert_preflight_allows(preflight(app, SHOP, "/v1/sessions"), SHOP)


def test_a_preflight_from_any_other_origin_gets_no_cors_headers(app: FastAPI) -> None:
    response = preflight(app, EVIL)
    assert response.status_code == 403
    assert not [name for name in response.headers if name.startswith("access-control-")]


def test_an_origin_allowed_in_this_process_is_answered_at_once(
    app: FastAPI, owner: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The owner adds the site in the studio, then pastes the snippet: no minute of refusals in between."""
    clock = SimpleNamespace(now=1000.0)
    monkeypatch.setattr(cors, "time", SimpleNamespace(monotonic=lambda: clock.now))
    site = f"https://{uuid.uuid4().hex[:12]}.example.com"
    assert preflight(app, site).status_code == 403
    created = call_json(app, "POST", "/v1/avatars", owner, {"name": "Shop", "allowed_origins": []})
    assert preflight(app, site).status_code == 403
    call_json(app, "PATCH", f"/v1/avatars/{created['id']}", owner, {"allowed_origins": [site]})
    assert_preflight_allows(preflight(app, site), site)


def test_an_origin_allowed_in_another_container_is_answered_after_a_second_not_a_minute(
    app: FastAPI, api: Api, owner: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = SimpleNamespace(now=1000.0)
    monkeypatch.setattr(cors, "time", SimpleNamespace(monotonic=lambda: clock.now))
    site = f"https://{uuid.uuid4().hex[:12]}.example.com"
    assert preflight(app, site).status_code == 403
    api.create_avatar(owner, allowed_origins=[site])  # through the other app, as another container would
    clock.now += 1.5
    assert_preflight_allows(preflight(app, site), site)


def test_the_widget_token_route_answers_every_origin_so_a_refusal_can_be_shown(app: FastAPI) -> None:
    answer = preflight(app, EVIL, "/v1/widget/token")
    assert answer.status_code == 204
    assert answer.headers["access-control-allow-origin"] == "*"
    assert answer.headers["access-control-allow-headers"] == "authorization, content-type, accept"
    response = call(app, "POST", "/v1/widget/token", {"origin": EVIL, "content-type": "application/json"})
    assert response.status_code == 422
    assert response.headers["access-control-allow-origin"] == "*"


def test_the_widgets_files_are_readable_from_every_origin_even_from_a_cached_copy(
    client: httpx.Client,
) -> None:
    """widget-app.js is loaded with import(), a CORS request from the host page; a copy the browser cached
    for a same-origin page (the studio's preview) must carry the header too."""
    for path in ("/widget.js", "/chunks/widget-app.js"):
        for headers in ({"origin": EVIL}, {}):
            response = client.get(path, headers=headers)
            assert response.status_code == 200, path
            assert response.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-origin" not in client.get("/studio/", headers={"origin": EVIL}).headers


def test_responses_to_an_allowed_origin_expose_retry_after_and_the_sample_rate(app: FastAPI) -> None:
    response = call(app, "GET", "/health", {"origin": STUDIO})
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}
    assert response.headers["access-control-allow-origin"] == STUDIO
    assert response.headers["access-control-expose-headers"] == "Retry-After, X-Sample-Rate, X-TTS-Engine"
    assert response.headers["vary"] == "Origin"


def test_errors_to_an_allowed_origin_carry_cors_headers_too(app: FastAPI) -> None:
    response = call(app, "GET", "/v1/avatars", {"origin": STUDIO})
    assert response.status_code == 401
    assert response.headers["access-control-allow-origin"] == STUDIO


def test_responses_to_other_origins_or_without_one_carry_no_cors_headers(app: FastAPI) -> None:
    for headers in ({"origin": EVIL}, {"origin": "null"}, {}):
        response = call(app, "GET", "/health", headers)
        assert response.status_code == 200
        assert not [name for name in response.headers if name.startswith("access-control-")], headers
    assert call(app, "GET", "/health", {"origin": EVIL}).headers["vary"] == "Origin"


# --- the middleware itself ----------------------------------------------------------------------------


async def test_a_streamed_body_passes_through_chunk_by_chunk() -> None:
    """The inner app sends its second chunk only once the client has received the first: a middleware
    that buffered the body would never deliver the first, and the call would time out."""
    first_delivered = asyncio.Event()

    async def streaming_app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/event-stream")],
            }
        )
        await send({"type": "http.response.body", "body": b"event: delta\ndata: {}\n\n", "more_body": True})
        await asyncio.wait_for(first_delivered.wait(), timeout=2)
        await send({"type": "http.response.body", "body": b"event: done\ndata: {}\n\n", "more_body": False})

    async def origins() -> list[str]:
        return [SHOP]

    middleware = CorsMiddleware(streaming_app, static_origins=[], avatar_origins=OriginCache(origins))
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)
        if message.get("body", b"").startswith(b"event: delta"):
            first_delivered.set()

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    scope: dict[str, Any] = {
        "type": "http",
        "method": "GET",
        "path": "/stream",
        "headers": [(b"origin", SHOP.encode())],
    }
    await middleware(scope, receive, send)
    assert [message["type"] for message in sent] == [
        "http.response.start",
        "http.response.body",
        "http.response.body",
    ]
    assert (b"access-control-allow-origin", SHOP.encode()) in sent[0]["headers"]
    assert (b"content-type", b"text/event-stream") in sent[0]["headers"]


async def test_the_avatars_origins_are_loaded_once_per_minute(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = SimpleNamespace(now=1000.0)
    monkeypatch.setattr(cors, "time", SimpleNamespace(monotonic=lambda: clock.now))
    loads: list[int] = []
    current = [SHOP]

    async def load() -> list[str]:
        loads.append(1)
        return list(current)

    cache = OriginCache(load, ttl_seconds=60)
    assert await cache.origins() == {SHOP}
    current.append(STUDIO)
    clock.now += 59
    assert await cache.origins() == {SHOP}
    assert len(loads) == 1
    clock.now += 2
    assert await cache.origins() == {SHOP, STUDIO}
    assert len(loads) == 2


async def test_a_failed_load_keeps_the_origins_loaded_before(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = SimpleNamespace(now=1000.0)
    monkeypatch.setattr(cors, "time", SimpleNamespace(monotonic=lambda: clock.now))
    failing = [False]

    async def load() -> list[str]:
        if failing[0]:
            raise OSError("database unreachable")
        return [SHOP]

    cache = OriginCache(load, ttl_seconds=60)
    assert await cache.origins() == {SHOP}
    failing[0] = True
    clock.now += 61
    assert await cache.origins() == {SHOP}


async def test_the_apps_own_pages_are_not_cross_origin_and_never_reload_the_origins() -> None:
    """The local studio posts with an Origin header naming the app itself: no CORS, no database."""
    loads: list[int] = []

    async def load() -> list[str]:
        loads.append(1)
        return [SHOP]

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    middleware = CorsMiddleware(app, static_origins=[], avatar_origins=OriginCache(load))
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    headers = [(b"origin", b"http://127.0.0.1:8000"), (b"host", b"127.0.0.1:8000")]
    scope = {"type": "http", "method": "POST", "path": "/v1/tts", "scheme": "http", "headers": headers}
    await middleware(scope, receive, send)
    assert loads == []
    assert sent[0]["headers"] == []
