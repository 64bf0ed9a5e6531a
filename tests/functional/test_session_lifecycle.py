"""The session lifecycle, quotas, provider failures, history and avatars over real HTTP and Postgres."""

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import psycopg
import pytest

from functions.core.errors import ProviderError
from functions.core.providers.avatar import registry
from functions.core.providers.avatar.base import LiveSession, ProviderSession, SessionRequest
from tests.conftest import User
from tests.functional.support import (
    Api,
    assert_problem,
    event_types,
    events,
    insert_message_as_user,
    session_row,
    use_provider,
)

Admin = psycopg.Connection[Any]


# --- start, events, end -------------------------------------------------------------------------


def test_a_session_runs_from_start_through_client_events_to_its_end(
    client: httpx.Client, api: Api, admin: Admin, owner: User
) -> None:
    avatar = api.create_avatar(owner, quality="high")
    started = client.post("/v1/sessions", json={"avatar_id": avatar["id"]}, headers=owner.headers)
    assert started.status_code == 201, started.text
    body = started.json()
    assert body["provider"] == "local"
    assert body["credentials"] == {
        "voice": {"provider": "local", "settings": {}, "voice_id": None},
        "language": "en",
    }
    session_id = body["session_id"]

    row = session_row(admin, session_id)
    assert row["status"] == "active"
    assert row["user_id"] == owner.id
    assert row["owner_id"] == owner.id
    assert row["quality"] == "high"
    assert row["ended_at"] is None
    assert row["duration_seconds"] is None
    assert (row["expires_at"] - row["started_at"]).total_seconds() == pytest.approx(600, abs=1)

    for event_type in ("speaking", "listening", "idle"):
        recorded = client.post(
            f"/v1/sessions/{session_id}/events",
            json={"type": event_type, "data": {"note": event_type}},
            headers=owner.headers,
        )
        assert recorded.status_code == 202, recorded.text
        assert recorded.json() == {"status": "recorded"}

    kept = client.post(f"/v1/sessions/{session_id}/keepalive", headers=owner.headers)
    assert kept.status_code == 200, kept.text
    assert kept.json()["status"] == "active"

    ended = client.post(f"/v1/sessions/{session_id}/end", json={"reason": "user_left"}, headers=owner.headers)
    assert ended.status_code == 200, ended.text
    assert ended.json()["status"] == "ended"
    assert ended.json()["end_reason"] == "user_left"
    assert isinstance(ended.json()["duration_seconds"], int)

    row = session_row(admin, session_id)
    assert row["status"] == "ended"
    assert row["end_reason"] == "user_left"
    assert row["ended_at"] is not None
    assert row["duration_seconds"] == ended.json()["duration_seconds"]
    assert 0 <= row["duration_seconds"] <= 60
    assert event_types(admin, session_id) == ["started", "speaking", "listening", "idle", "ended"]
    recorded_events = events(admin, session_id)
    assert recorded_events[1]["data"] == {"note": "speaking"}
    assert recorded_events[-1]["data"] == {"reason": "user_left", "duration_seconds": row["duration_seconds"]}
    assert {event["user_id"] for event in recorded_events} == {owner.id}
    assert {event["owner_id"] for event in recorded_events} == {owner.id}


def test_an_end_without_a_body_uses_the_default_reason(api: Api, admin: Admin, owner: User) -> None:
    avatar = api.create_avatar(owner)
    session_id = api.start_session(owner, avatar["id"])["session_id"]
    ended = api.end_session(owner, session_id)
    assert ended["end_reason"] == "user_ended"
    assert session_row(admin, session_id)["end_reason"] == "user_ended"


def test_ending_a_session_twice_returns_the_same_body_and_records_one_ended_event(
    client: httpx.Client, api: Api, admin: Admin, owner: User
) -> None:
    avatar = api.create_avatar(owner)
    session_id = api.start_session(owner, avatar["id"])["session_id"]
    first = client.post(f"/v1/sessions/{session_id}/end", headers=owner.headers)
    second = client.post(f"/v1/sessions/{session_id}/end", json={"reason": "again"}, headers=owner.headers)
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert event_types(admin, session_id).count("ended") == 1
    assert session_row(admin, session_id)["end_reason"] == "user_ended"


@pytest.mark.parametrize(
    ("path", "payload"),
    [("keepalive", None), ("events", {"type": "speaking"})],
    ids=["keepalive", "events"],
)
def test_an_ended_session_refuses_keepalive_and_events_with_409(
    client: httpx.Client, api: Api, admin: Admin, owner: User, path: str, payload: dict[str, Any] | None
) -> None:
    avatar = api.create_avatar(owner)
    session_id = api.start_session(owner, avatar["id"])["session_id"]
    api.end_session(owner, session_id)
    response = client.post(f"/v1/sessions/{session_id}/{path}", json=payload, headers=owner.headers)
    problem = assert_problem(response, 409, "session_ended")
    assert "ended" in problem["detail"]
    assert event_types(admin, session_id) == ["started", "ended"]


def test_a_session_past_its_end_is_ended_as_expired_on_keepalive(
    client: httpx.Client, api: Api, admin: Admin, owner: User
) -> None:
    avatar = api.create_avatar(owner)
    session_id = api.start_session(owner, avatar["id"])["session_id"]
    admin.execute(
        "update public.streaming_sessions set started_at = now() - interval '11 minutes',"
        " expires_at = now() - interval '1 minute' where id = %s",
        (session_id,),
    )

    response = client.post(f"/v1/sessions/{session_id}/keepalive", headers=owner.headers)
    problem = assert_problem(response, 409, "session_ended")
    assert "expired" in problem["detail"]

    row = session_row(admin, session_id)
    assert row["status"] == "ended"
    assert row["end_reason"] == "expired"
    assert row["ended_at"] == row["expires_at"]
    assert row["duration_seconds"] == 600
    assert event_types(admin, session_id) == ["started", "ended"]
    # A later end reports the same ending; it does not overwrite the reason.
    assert api.end_session(owner, session_id) == {
        "status": "ended",
        "duration_seconds": 600,
        "end_reason": "expired",
    }


def test_ending_a_session_past_its_end_records_it_as_expired(api: Api, admin: Admin, owner: User) -> None:
    avatar = api.create_avatar(owner)
    session_id = api.start_session(owner, avatar["id"])["session_id"]
    admin.execute(
        "update public.streaming_sessions set expires_at = now() - interval '1 second' where id = %s",
        (session_id,),
    )
    assert api.end_session(owner, session_id, reason="user_left")["end_reason"] == "expired"


# --- quotas -------------------------------------------------------------------------------------


def _set_limits(admin: Admin, user: User, *, monthly_seconds: int, concurrent: int) -> None:
    admin.execute(
        "insert into public.usage_limits (owner_id, monthly_streaming_seconds, concurrent_sessions)"
        " values (%s, %s, %s)",
        (user.id, monthly_seconds, concurrent),
    )


def test_a_start_beyond_the_concurrent_limit_is_refused_with_429_and_retry_after(
    client: httpx.Client, api: Api, admin: Admin, owner: User
) -> None:
    _set_limits(admin, owner, monthly_seconds=36_000, concurrent=1)
    avatar = api.create_avatar(owner)
    first = api.start_session(owner, avatar["id"])

    refused = client.post("/v1/sessions", json={"avatar_id": avatar["id"]}, headers=owner.headers)
    problem = assert_problem(refused, 429, "quota_exceeded")
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert problem["detail"].endswith(".")
    assert problem["detail"][0].isupper()
    assert "{" not in problem["detail"]
    assert "live conversation" in problem["detail"]
    sessions = admin.execute(
        "select count(*) as n from public.streaming_sessions where owner_id = %s", (owner.id,)
    ).fetchone()
    assert sessions is not None
    assert sessions["n"] == 1

    api.end_session(owner, first["session_id"])
    api.start_session(owner, avatar["id"])


def test_a_start_after_the_monthly_seconds_are_used_up_is_refused_with_429(
    client: httpx.Client, api: Api, admin: Admin, owner: User
) -> None:
    _set_limits(admin, owner, monthly_seconds=60, concurrent=5)
    avatar = api.create_avatar(owner)
    session_id = api.start_session(owner, avatar["id"])["session_id"]
    admin.execute(
        "update public.streaming_sessions set started_at = now() - interval '2 minutes' where id = %s",
        (session_id,),
    )
    assert api.end_session(owner, session_id)["duration_seconds"] >= 120

    refused = client.post("/v1/sessions", json={"avatar_id": avatar["id"]}, headers=owner.headers)
    problem = assert_problem(refused, 429, "quota_exceeded")
    assert int(refused.headers["Retry-After"]) >= 1
    assert "streaming minutes" in problem["detail"]
    assert problem["detail"].endswith(".")


# --- provider failures --------------------------------------------------------------------------


class _FailingProvider:
    name = "heygen"

    def __init__(self) -> None:
        self.requests: list[SessionRequest] = []

    async def create_session(self, request: SessionRequest) -> ProviderSession:
        self.requests.append(request)
        raise ProviderError("heygen", "upstream exploded", status=500, body={"error": "boom"})

    async def keep_alive(self, provider_session_id: str) -> None:
        return None

    async def stop_session(self, provider_session_id: str) -> None:
        return None

    async def list_sessions(self) -> list[LiveSession] | None:
        return None


@pytest.fixture
def failing_heygen(monkeypatch: pytest.MonkeyPatch) -> _FailingProvider:
    """Registers a failing `heygen` provider; the registry is restored after the test."""
    provider = _FailingProvider()
    use_provider(monkeypatch, "heygen", provider)
    return provider


def test_a_provider_failure_answers_502_and_leaves_the_session_in_error(
    client: httpx.Client, api: Api, admin: Admin, owner: User, failing_heygen: _FailingProvider
) -> None:
    avatar = api.create_avatar(owner, provider="heygen", provider_avatar_id="Anna_public_3")
    response = client.post("/v1/sessions", json={"avatar_id": avatar["id"]}, headers=owner.headers)
    problem = assert_problem(response, 502, "provider_unavailable")
    assert problem["provider"] == "heygen"
    assert "upstream exploded" in problem["detail"]
    assert "boom" not in response.text

    assert len(failing_heygen.requests) == 1
    request = failing_heygen.requests[0]
    assert request.avatar.provider_avatar_id == "Anna_public_3"
    row = session_row(admin, request.session_id)
    assert row["status"] == "error"
    assert row["provider"] == "heygen"
    assert row["end_reason"].startswith("provider_error: ")
    assert "upstream exploded" in row["end_reason"]
    assert row["ended_at"] is not None
    assert event_types(admin, request.session_id) == ["started", "error"]
    error = events(admin, request.session_id)[-1]["data"]
    assert error["provider"] == "heygen"
    assert error["status"] == 500

    usage = client.get("/v1/usage", headers=owner.headers).json()
    assert usage["active_sessions"] == 0


def test_an_unexpected_provider_exception_still_leaves_the_session_in_error(
    client: httpx.Client, api: Api, admin: Admin, owner: User, failing_heygen: _FailingProvider
) -> None:
    async def crash(request: SessionRequest) -> ProviderSession:
        failing_heygen.requests.append(request)
        raise TimeoutError("socket read timed out")

    failing_heygen.create_session = crash  # type: ignore[method-assign]
    avatar = api.create_avatar(owner, provider="heygen")
    response = client.post("/v1/sessions", json={"avatar_id": avatar["id"]}, headers=owner.headers)
    problem = assert_problem(response, 503, "provider_unavailable")
    assert problem["provider"] == "heygen"
    assert "TimeoutError" in problem["detail"]
    row = session_row(admin, failing_heygen.requests[0].session_id)
    assert row["status"] == "error"
    assert event_types(admin, failing_heygen.requests[0].session_id) == ["started", "error"]


def test_the_provider_registry_is_restored_after_a_failing_provider_test() -> None:
    assert "heygen" not in registry.OVERRIDES


def test_an_unconfigured_provider_answers_503_and_leaves_the_session_in_error(
    client: httpx.Client, api: Api, admin: Admin, owner: User
) -> None:
    avatar = api.create_avatar(owner, provider="tavus")
    response = client.post("/v1/sessions", json={"avatar_id": avatar["id"]}, headers=owner.headers)
    problem = assert_problem(response, 503, "provider_unavailable")
    assert problem["provider"] == "tavus"
    row = admin.execute(
        "select status from public.streaming_sessions where avatar_id = %s", (avatar["id"],)
    ).fetchone()
    assert row is not None
    assert row["status"] == "error"


# --- other users ------------------------------------------------------------------------------


def test_another_users_avatar_is_not_found_rather_than_forbidden(
    client: httpx.Client, api: Api, owner: User, stranger: User
) -> None:
    avatar = api.create_avatar(owner)
    url = f"/v1/avatars/{avatar['id']}"
    assert_problem(client.get(url, headers=stranger.headers), 404, "not_found")
    assert_problem(client.patch(url, json={"name": "Mine"}, headers=stranger.headers), 404, "not_found")
    assert_problem(client.delete(url, headers=stranger.headers), 404, "not_found")
    start = client.post("/v1/sessions", json={"avatar_id": avatar["id"]}, headers=stranger.headers)
    assert_problem(start, 404, "not_found")
    assert client.get("/v1/avatars", headers=stranger.headers).json() == []
    assert client.get(url, headers=owner.headers).json()["name"] == "Ava"


def test_another_users_session_is_not_found_rather_than_forbidden(
    client: httpx.Client, api: Api, admin: Admin, owner: User, stranger: User
) -> None:
    avatar = api.create_avatar(owner)
    session_id = api.start_session(owner, avatar["id"])["session_id"]
    base = f"/v1/sessions/{session_id}"
    assert_problem(client.get(base, headers=stranger.headers), 404, "not_found")
    assert_problem(client.get(f"{base}/messages", headers=stranger.headers), 404, "not_found")
    assert_problem(client.post(f"{base}/end", headers=stranger.headers), 404, "not_found")
    assert_problem(client.post(f"{base}/keepalive", headers=stranger.headers), 404, "not_found")
    events_response = client.post(f"{base}/events", json={"type": "idle"}, headers=stranger.headers)
    assert_problem(events_response, 404, "not_found")
    assert client.get("/v1/sessions", headers=stranger.headers).json() == {"items": [], "next_cursor": None}

    assert session_row(admin, session_id)["status"] == "active"
    assert event_types(admin, session_id) == ["started"]


def test_an_unknown_session_is_not_found(client: httpx.Client, owner: User) -> None:
    assert_problem(client.get(f"/v1/sessions/{uuid.uuid4()}", headers=owner.headers), 404, "not_found")


# --- history and usage ------------------------------------------------------------------------


def test_sessions_are_listed_newest_first_in_pages(client: httpx.Client, api: Api, owner: User) -> None:
    avatar = api.create_avatar(owner)
    created = []
    for _ in range(3):
        session_id = api.start_session(owner, avatar["id"])["session_id"]
        api.end_session(owner, session_id)
        created.append(session_id)

    first = client.get("/v1/sessions", params={"limit": 2}, headers=owner.headers)
    assert first.status_code == 200, first.text
    first_page = first.json()
    assert len(first_page["items"]) == 2
    assert first_page["next_cursor"]

    second = client.get(
        "/v1/sessions", params={"limit": 2, "cursor": first_page["next_cursor"]}, headers=owner.headers
    )
    assert second.status_code == 200, second.text
    second_page = second.json()
    assert second_page["next_cursor"] is None

    listed = [item["id"] for item in first_page["items"] + second_page["items"]]
    assert len(set(listed)) == len(listed) == 3
    assert listed == list(reversed(created))
    started = [item["started_at"] for item in first_page["items"] + second_page["items"]]
    assert started == sorted(started, reverse=True)
    assert {item["status"] for item in first_page["items"]} == {"ended"}

    whole = client.get("/v1/sessions", headers=owner.headers).json()
    assert [item["id"] for item in whole["items"]] == listed
    assert whole["next_cursor"] is None


def test_a_cursor_the_api_never_returned_is_a_422_problem(client: httpx.Client, owner: User) -> None:
    response = client.get("/v1/sessions", params={"cursor": "not-a-cursor"}, headers=owner.headers)
    assert assert_problem(response, 422, "invalid_request")["detail"].startswith("query.cursor: ")


def test_a_sessions_messages_are_listed_in_order(
    client: httpx.Client, api: Api, admin: Admin, owner: User
) -> None:
    avatar = api.create_avatar(owner)
    session_id = api.start_session(owner, avatar["id"])["session_id"]
    insert_message_as_user(admin, owner, session_id, "user", "What is this?")
    insert_message_as_user(admin, owner, session_id, "assistant", "Interactive Avatar Studio.")

    response = client.get(f"/v1/sessions/{session_id}/messages", headers=owner.headers)
    assert response.status_code == 200, response.text
    messages = response.json()
    assert [(m["role"], m["content"]) for m in messages] == [
        ("user", "What is this?"),
        ("assistant", "Interactive Avatar Studio."),
    ]
    assert {m["session_id"] for m in messages} == {session_id}
    assert client.get(f"/v1/sessions/{session_id}", headers=owner.headers).json()["message_count"] == 2


def test_a_session_without_messages_lists_none(client: httpx.Client, api: Api, owner: User) -> None:
    avatar = api.create_avatar(owner)
    session_id = api.start_session(owner, avatar["id"])["session_id"]
    response = client.get(f"/v1/sessions/{session_id}/messages", headers=owner.headers)
    assert response.status_code == 200
    assert response.json() == []


def test_usage_reports_seconds_used_live_sessions_and_limits(
    client: httpx.Client, api: Api, admin: Admin, owner: User
) -> None:
    fresh = client.get("/v1/usage", headers=owner.headers)
    assert fresh.status_code == 200, fresh.text
    assert fresh.json()["streaming_seconds_used"] == 0
    assert fresh.json()["active_sessions"] == 0
    assert fresh.json()["monthly_streaming_seconds_limit"] == 36_000
    assert fresh.json()["concurrent_sessions_limit"] == 3

    _set_limits(admin, owner, monthly_seconds=7_200, concurrent=2)
    avatar = api.create_avatar(owner)
    finished = api.start_session(owner, avatar["id"])["session_id"]
    admin.execute(
        "update public.streaming_sessions set started_at = now() - interval '90 seconds' where id = %s",
        (finished,),
    )
    api.end_session(owner, finished)
    api.start_session(owner, avatar["id"])

    usage = client.get("/v1/usage", headers=owner.headers).json()
    assert 90 <= usage["streaming_seconds_used"] <= 95
    assert usage["active_sessions"] == 1
    assert usage["monthly_streaming_seconds_limit"] == 7_200
    assert usage["concurrent_sessions_limit"] == 2
    month_start = datetime.fromisoformat(usage["month_start"]).astimezone(UTC)
    now = datetime.now(UTC)
    assert month_start == now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


# --- avatars ------------------------------------------------------------------------------------


def test_an_avatar_is_created_read_patched_and_deleted(
    client: httpx.Client, api: Api, admin: Admin, owner: User
) -> None:
    avatar = api.create_avatar(
        owner,
        name="Nova",
        persona="A patient tutor.",
        greeting="Hello!",
        voice={"provider": "elevenlabs", "voice_id": "v-1"},
        max_session_seconds=900,
    )
    assert avatar["public_id"].startswith("av_")
    assert avatar["provider"] == "local"
    assert avatar["voice"] == {"provider": "elevenlabs", "voice_id": "v-1", "settings": {}}
    url = f"/v1/avatars/{avatar['id']}"
    assert client.get(url, headers=owner.headers).json() == avatar

    patched = client.patch(url, json={"greeting": "Hi there!"}, headers=owner.headers)
    assert patched.status_code == 200, patched.text
    after = patched.json()
    assert after["greeting"] == "Hi there!"
    unchanged = {key: value for key, value in avatar.items() if key not in {"greeting", "updated_at"}}
    assert {key: after[key] for key in unchanged} == unchanged
    assert after["updated_at"] > avatar["updated_at"]

    empty = client.patch(url, json={}, headers=owner.headers)
    assert empty.status_code == 200
    assert empty.json() == after

    cleared = client.patch(url, json={"provider_avatar_id": "p-1"}, headers=owner.headers).json()
    assert cleared["provider_avatar_id"] == "p-1"
    cleared = client.patch(url, json={"provider_avatar_id": None}, headers=owner.headers).json()
    assert cleared["provider_avatar_id"] is None

    deleted = client.delete(url, headers=owner.headers)
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert_problem(client.get(url, headers=owner.headers), 404, "not_found")
    assert_problem(client.delete(url, headers=owner.headers), 404, "not_found")
    gone = admin.execute("select count(*) as n from public.avatars where id = %s", (avatar["id"],)).fetchone()
    assert gone is not None
    assert gone["n"] == 0


def test_an_avatar_with_a_live_session_cannot_be_deleted(
    client: httpx.Client, api: Api, admin: Admin, owner: User
) -> None:
    avatar = api.create_avatar(owner)
    session_id = api.start_session(owner, avatar["id"])["session_id"]
    url = f"/v1/avatars/{avatar['id']}"
    assert_problem(client.delete(url, headers=owner.headers), 409, "conflict")
    assert session_row(admin, session_id)["status"] == "active"

    api.end_session(owner, session_id)
    assert client.delete(url, headers=owner.headers).status_code == 204


def test_allowed_origins_are_normalised(client: httpx.Client, api: Api, owner: User) -> None:
    avatar = api.create_avatar(
        owner,
        allowed_origins=["https://Example.COM/", "http://localhost:3000", " https://example.com "],
    )
    assert avatar["allowed_origins"] == ["http://localhost:3000", "https://example.com"]
    patched = client.patch(
        f"/v1/avatars/{avatar['id']}",
        json={"allowed_origins": ["HTTPS://App.Example.com:8443"]},
        headers=owner.headers,
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["allowed_origins"] == ["https://app.example.com:8443"]


@pytest.mark.parametrize(
    "origin",
    [
        "ftp://example.com",
        "https://user@example.com",
        "example.com",
        "https://",
    ],
)
def test_a_bad_origin_is_refused_with_422(client: httpx.Client, api: Api, owner: User, origin: str) -> None:
    created = client.post(
        "/v1/avatars", json={"name": "Ava", "allowed_origins": [origin]}, headers=owner.headers
    )
    problem = assert_problem(created, 422, "invalid_request")
    assert "allowed_origins" in problem["detail"]

    avatar = api.create_avatar(owner)
    patched = client.patch(
        f"/v1/avatars/{avatar['id']}", json={"allowed_origins": [origin]}, headers=owner.headers
    )
    assert_problem(patched, 422, "invalid_request")
