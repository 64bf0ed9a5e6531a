"""Request bodies over real HTTP: text Postgres cannot store is a 422 that keeps the connection, and the
1 MiB limit holds on every route that is not an upload, whatever the content type claims."""

import http.client
import json
import logging
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest

from functions.core.sessions.models import MAX_EVENT_DATA_BYTES
from tests.conftest import User
from tests.functional.support import Api, assert_problem
from tests.functional.test_widget_token import SITE

Admin = psycopg.Connection[Any]
MIB = 1_048_576
NUL = "\\u0000"
LONE_SURROGATE = "\\ud800"


@pytest.fixture
def arranged(api: Api, owner: User) -> dict[str, Any]:
    avatar = api.create_avatar(owner, allowed_origins=[SITE])
    session_id = api.start_session(owner, avatar["id"])["session_id"]
    return {"avatar": avatar, "session_id": session_id}


def _cases(arranged: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(path, JSON template, where the bad text lands): every kind of JSON text field the API stores."""
    avatar_id, session_id = arranged["avatar"]["id"], arranged["session_id"]
    public_id = arranged["avatar"]["public_id"]
    return [
        (f"/v1/sessions/{session_id}/turns", '{"turn_id": "t-1", "text": "Hi BAD"}', "body.text"),
        ("/v1/avatars", '{"name": "Ava BAD"}', "body.name"),
        ("/v1/avatars", '{"name": "Ava", "persona": "BAD"}', "body.persona"),
        ("/v1/avatars", '{"name": "Ava", "voice": {"settings": {"x": ["BAD"]}}}', "body.voice.settings.x.0"),
        (f"/v1/avatars/{avatar_id}", '{"greeting": "BAD"}', "body.greeting"),
        (f"/v1/sessions/{session_id}/events", '{"type": "idle", "data": {"note": "BAD"}}', "body.data.note"),
        (f"/v1/sessions/{session_id}/events", '{"type": "idle", "data": {"BAD": 1}}', "body.data"),
        (f"/v1/avatars/{avatar_id}/api-keys", '{"name": "key BAD"}', "body.name"),
        ("/v1/dev/login", '{"email": "a@b.cBAD"}', "body.email"),
        ("/v1/widget/token", '{"avatar_public_id": "BAD"}', "body.avatar_public_id"),
        (
            "/v1/widget/token",
            f'{{"avatar_public_id": "{public_id}", "visitor_token": "BAD"}}',
            "body.visitor_token",
        ),
        (f"/v1/sessions/{session_id}/end", '{"reason": "BAD"}', "body.reason"),
        (f"/v1/sessions/{session_id}/turns/t-1/interrupt", '{"heard_text": "BAD"}', "body.heard_text"),
        ("/v1/tts", f'{{"session_id": "{session_id}", "text": "BAD", "format": "wav"}}', "body.text"),
        (
            f"/v1/sessions/{session_id}/chat/completions",
            '{"messages": [{"role": "user", "content": "BAD"}]}',
            "body.messages.0.content",
        ),
    ]


class KeepAlive:
    """One HTTP/1.1 connection, used for several requests in turn, as a browser's keep-alive would."""

    def __init__(self, base_url: str) -> None:
        address = urlsplit(base_url)
        self.sock = socket.create_connection((address.hostname, address.port), timeout=10)

    def send(
        self, method: str, path: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        head = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}"]
        head += [f"{name}: {value}" for name, value in headers.items()]
        self.sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        response = http.client.HTTPResponse(self.sock)
        response.begin()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def connection(base_url: str) -> Iterator[KeepAlive]:
    kept = KeepAlive(base_url)
    yield kept
    kept.close()


@pytest.mark.parametrize("bad", [NUL, LONE_SURROGATE], ids=["nul", "lone-surrogate"])
def test_unstorable_text_in_any_json_field_is_a_422_and_the_connection_survives(
    connection: KeepAlive,
    owner: User,
    arranged: dict[str, Any],
    admin: Admin,
    caplog: pytest.LogCaptureFixture,
    bad: str,
) -> None:
    caplog.set_level(logging.WARNING)
    headers = {**owner.headers, "content-type": "application/json", "origin": SITE}
    messages_before = admin.execute("select count(*) as n from public.streaming_messages").fetchone()
    for path, template, where in _cases(arranged):
        method = "PATCH" if path == f"/v1/avatars/{arranged['avatar']['id']}" else "POST"
        status, answer_headers, body = connection.send(
            method, path, template.replace("BAD", bad).encode(), headers
        )
        assert status == 422, (path, body)
        assert answer_headers["content-type"] == "application/problem+json"
        problem = json.loads(body)
        assert problem["code"] == "invalid_request"
        assert problem["detail"].startswith(f"{where}: "), problem
        assert "NUL characters or unpaired surrogates" in problem["detail"]
        assert answer_headers.get("connection") != "close"
        # The next request on the same connection is answered.
        status, _, listed = connection.send("GET", "/v1/avatars", b"", owner.headers)
        assert status == 200, listed
    assert admin.execute("select count(*) as n from public.streaming_messages").fetchone() == messages_before
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


def test_a_nul_in_a_multipart_turn_is_a_422(
    client: httpx.Client, owner: User, arranged: dict[str, Any]
) -> None:
    response = client.post(
        f"/v1/sessions/{arranged['session_id']}/turns",
        data={"turn_id": "t-1", "text": "Hi\x00there"},
        files={"unused": ("a.txt", b"x", "text/plain")},
        headers=owner.headers,
    )
    assert_problem(response, 422, "invalid_request")


def test_a_nul_in_an_uploads_title_is_a_422(
    client: httpx.Client, owner: User, arranged: dict[str, Any]
) -> None:
    response = client.post(
        f"/v1/avatars/{arranged['avatar']['id']}/knowledge",
        data={"title": "Manual\x00"},
        files={"file": ("manual.md", b"# Manual\n\nRefunds take five days.", "text/markdown")},
        headers=owner.headers,
    )
    assert assert_problem(response, 422, "invalid_request")["detail"].startswith("title: ")


def test_a_deeply_nested_body_is_a_422(client: httpx.Client, owner: User) -> None:
    body = b"[" * 100_000 + b"]" * 100_000
    response = client.post(
        "/v1/avatars", content=body, headers={**owner.headers, "content-type": "application/json"}
    )
    assert_problem(response, 422, "invalid_request")


# --- the 1 MiB limit --------------------------------------------------------------------------------


def _five_mib_of_json() -> bytes:
    return b'{"name": "Ava", "persona": "' + b"x" * (5 * MIB) + b'"}'


@pytest.mark.parametrize(
    "content_type", ["application/octet-stream", "audio/ogg", "text/plain", "multipart/form-data; boundary=x"]
)
@pytest.mark.parametrize("streamed", [False, True], ids=["declared", "streamed"])
def test_every_route_that_is_not_an_upload_refuses_a_body_over_1_mib(
    client: httpx.Client, owner: User, arranged: dict[str, Any], content_type: str, streamed: bool
) -> None:
    body = _five_mib_of_json()

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 256 * 1024):
            yield body[start : start + 256 * 1024]

    for path in ("/v1/avatars", f"/v1/sessions/{arranged['session_id']}/events"):
        response = client.post(
            path,
            content=chunks() if streamed else body,
            headers={**owner.headers, "content-type": content_type},
        )
        assert ("content-length" in response.request.headers) is not streamed
        problem = assert_problem(response, 413, "payload_too_large")
        assert str(MIB) in problem["detail"]


def test_a_turn_sent_as_anything_but_a_form_has_the_1_mib_limit(
    client: httpx.Client, owner: User, arranged: dict[str, Any]
) -> None:
    body = b'{"turn_id": "t-1", "text": "' + b"x" * (2 * MIB) + b'"}'
    for content_type in ("application/json", "application/octet-stream", "audio/ogg"):
        response = client.post(
            f"/v1/sessions/{arranged['session_id']}/turns",
            content=body,
            headers={**owner.headers, "content-type": content_type},
        )
        assert_problem(response, 413, "payload_too_large")


def test_an_upload_route_still_takes_a_file_over_1_mib(
    client: httpx.Client, owner: User, arranged: dict[str, Any]
) -> None:
    text = ("# Big\n\n" + "Refunds go back to the original card. " * 60_000).encode()
    assert len(text) > 2 * MIB
    response = client.post(
        f"/v1/avatars/{arranged['avatar']['id']}/knowledge",
        files={"file": ("big.md", text, "text/markdown")},
        headers=owner.headers,
    )
    assert response.status_code == 202, response.text


def test_event_data_has_a_small_size_limit(
    client: httpx.Client, owner: User, arranged: dict[str, Any], admin: Admin
) -> None:
    path = f"/v1/sessions/{arranged['session_id']}/events"
    for data in (
        {"blob": "x" * (900 * 1024)},
        {"blob": "x" * MAX_EVENT_DATA_BYTES},
        {str(i): i for i in range(21)},
    ):
        response = client.post(path, json={"type": "idle", "data": data}, headers=owner.headers)
        assert assert_problem(response, 422, "invalid_request")["detail"].startswith("data: ")
    fits = client.post(
        path,
        json={"type": "disconnected", "data": {"provider": "heygen", "fallback": "local"}},
        headers=owner.headers,
    )
    assert fits.status_code == 202, fits.text
    stored = admin.execute(
        "select data from public.avatar_session_events where session_id = %s and event_type = 'disconnected'",
        (arranged["session_id"],),
    ).fetchall()
    assert [row["data"] for row in stored] == [{"provider": "heygen", "fallback": "local"}]
