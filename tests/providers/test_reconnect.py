"""A dropped provider stream: the browser records it, and `reconnect` swaps in a fresh provider session."""

from typing import Any

import httpx
import psycopg
import pytest

from functions.core.providers.avatar.heygen import HeyGenProvider
from tests.conftest import User, UserFactory
from tests.functional.support import Api, events, session_row
from tests.providers.fake import HEYGEN_KEY, FakeProvider, heygen_fake
from tests.providers.vendors import serve

Admin = psycopg.Connection[Any]


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeProvider:
    return serve(monkeypatch, HeyGenProvider, heygen_fake())


@pytest.fixture
def session(client: httpx.Client, api: Api, owner: User, fake: FakeProvider) -> dict[str, Any]:
    avatar = api.create_avatar(owner, provider="heygen", provider_avatar_id="Anna_public_3")
    response = client.post("/v1/sessions", json={"avatar_id": avatar["id"]}, headers=owner.headers)
    assert response.status_code == 201, response.text
    started: dict[str, Any] = response.json()
    return started


def test_a_drop_is_recorded_and_reconnect_stops_the_dropped_session_and_starts_a_new_one(
    client: httpx.Client, admin: Admin, owner: User, fake: FakeProvider, session: dict[str, Any]
) -> None:
    session_id = session["session_id"]
    dropped = session["credentials"]["session_id"]
    drop = {"type": "disconnected", "data": {"provider": "heygen", "fallback": "local"}}
    assert (
        client.post(f"/v1/sessions/{session_id}/events", json=drop, headers=owner.headers).status_code == 202
    )

    response = client.post(f"/v1/sessions/{session_id}/reconnect", headers=owner.headers)

    assert response.status_code == 200, response.text
    assert HEYGEN_KEY not in response.text
    fresh = response.json()
    assert fresh["session_id"] == session_id
    assert fresh["provider"] == "heygen"
    assert fresh["credentials"]["session_id"] not in (None, dropped)
    assert fresh["credentials"]["token"] != session["credentials"]["token"]
    assert [call.body["session_id"] for call in fake.calls("POST", "/v1/streaming.stop")] == [dropped]
    assert set(fake.live) == {fresh["credentials"]["session_id"]}
    row = session_row(admin, session_id)
    assert row["status"] == "active"
    assert row["provider_session_id"] == fresh["credentials"]["session_id"]
    recorded = [(event["event_type"], event["data"]) for event in events(admin, session_id)]
    assert recorded[-2:] == [("disconnected", drop["data"]), ("reconnected", {"provider": "heygen"})]


def test_a_failed_reconnect_keeps_the_session_active_and_records_the_error(
    client: httpx.Client, admin: Admin, owner: User, fake: FakeProvider, session: dict[str, Any]
) -> None:
    fake.on("POST", "/v1/streaming.new", httpx.Response(500, json={"code": 500, "message": "busy"}))

    response = client.post(f"/v1/sessions/{session['session_id']}/reconnect", headers=owner.headers)

    # A provider's 5xx is a bad gateway (502); 503 is kept for a provider we could not reach or configure.
    assert response.status_code == 502, response.text
    assert response.json() == {
        "status": 502,
        "code": "provider_unavailable",
        "detail": "heygen: HTTP 500: busy",
        "provider": "heygen",
    }
    assert session_row(admin, session["session_id"])["status"] == "active"
    [*_, last] = events(admin, session["session_id"])
    assert last["event_type"] == "error"
    assert last["data"]["reconnect"] is True
    assert last["data"]["provider"] == "heygen"


def test_an_ended_session_cannot_reconnect_and_nothing_is_started(
    client: httpx.Client, owner: User, fake: FakeProvider, session: dict[str, Any]
) -> None:
    session_id = session["session_id"]
    assert client.post(f"/v1/sessions/{session_id}/end", headers=owner.headers).status_code == 200
    started = len(fake.calls("POST", "/v1/streaming.new"))

    response = client.post(f"/v1/sessions/{session_id}/reconnect", headers=owner.headers)

    assert response.status_code == 409
    assert response.json()["code"] == "session_ended"
    assert len(fake.calls("POST", "/v1/streaming.new")) == started


def test_another_user_cannot_reconnect_a_session(
    client: httpx.Client, make_user: UserFactory, fake: FakeProvider, session: dict[str, Any]
) -> None:
    stranger = make_user()
    response = client.post(f"/v1/sessions/{session['session_id']}/reconnect", headers=stranger.headers)
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
