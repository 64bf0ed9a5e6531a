"""Helpers shared by the functional tests: arranging avatars and sessions over HTTP, reading problems."""

import json
import uuid
from typing import Any

import httpx
import psycopg
import pytest

from functions.core.providers.avatar import registry
from functions.core.providers.avatar.base import AvatarProvider
from tests.conftest import User

PROBLEM_MEDIA_TYPE = "application/problem+json"


def assert_problem(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """The response is a problem JSON with this status (and code); returns its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE), response.headers
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert isinstance(body["code"], str)
    assert body["code"]
    assert isinstance(body["detail"], str)
    assert body["detail"]
    if code is not None:
        assert body["code"] == code, body
    assert "Traceback" not in response.text
    return body


class Api:
    """The calls most tests need to arrange their state, each checked for success."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def create_avatar(self, user: User, **fields: Any) -> dict[str, Any]:
        response = self.client.post("/v1/avatars", json={"name": "Ava", **fields}, headers=user.headers)
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    def start_session(self, user: User, avatar_id: str, **fields: Any) -> dict[str, Any]:
        response = self.client.post(
            "/v1/sessions", json={"avatar_id": avatar_id, **fields}, headers=user.headers
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    def end_session(self, user: User, session_id: str, reason: str | None = None) -> dict[str, Any]:
        payload = None if reason is None else {"reason": reason}
        response = self.client.post(f"/v1/sessions/{session_id}/end", json=payload, headers=user.headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


def session_row(admin: psycopg.Connection[Any], session_id: str | uuid.UUID) -> dict[str, Any]:
    row = admin.execute("select * from public.streaming_sessions where id = %s", (session_id,)).fetchone()
    assert row is not None, f"no session row {session_id}"
    return dict(row)


def event_types(admin: psycopg.Connection[Any], session_id: str | uuid.UUID) -> list[str]:
    rows = admin.execute(
        "select event_type from public.avatar_session_events where session_id = %s order by id",
        (session_id,),
    ).fetchall()
    return [row["event_type"] for row in rows]


def events(admin: psycopg.Connection[Any], session_id: str | uuid.UUID) -> list[dict[str, Any]]:
    rows = admin.execute(
        "select event_type, data, user_id, owner_id from public.avatar_session_events"
        " where session_id = %s order by id",
        (session_id,),
    ).fetchall()
    return [dict(row) for row in rows]


def insert_message_as_user(
    admin: psycopg.Connection[Any], user: User, session_id: str, role: str, content: str
) -> None:
    """Adds a message the way a client holding the user's token would: as `authenticated`, under RLS."""
    claims = json.dumps({"sub": str(user.id), "role": "authenticated", "aud": "authenticated"})
    with admin.transaction():
        admin.execute(
            "select set_config('role', 'authenticated', true), set_config('request.jwt.claims', %s, true)",
            (claims,),
        )
        admin.execute(
            "insert into public.streaming_messages (session_id, role, content) values (%s, %s, %s)",
            (session_id, role, content),
        )


def use_provider(monkeypatch: pytest.MonkeyPatch, name: str, provider: AvatarProvider) -> None:
    """Serve avatars of `name` with `provider` for one test; the registry is restored afterwards."""
    monkeypatch.setitem(registry.OVERRIDES, name, lambda _settings: provider)
