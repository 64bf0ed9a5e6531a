"""HeyGen Interactive Avatar at the HTTP boundary, and through our API on the real database."""

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import psycopg
import pytest

from functions.core.errors import ProviderError
from functions.core.providers.avatar.base import AvatarSpec, SessionRequest
from functions.core.providers.avatar.heygen import TASK_TEXT_LIMIT, HeyGenProvider
from tests.conftest import User
from tests.functional.support import Api, event_types, session_row
from tests.functional.turns_support import stream_turn
from tests.providers.checks import assert_start_fails
from tests.providers.fake import HEYGEN_BASE, HEYGEN_KEY, FakeProvider, heygen_fake, timeout
from tests.providers.vendors import serve, vendor

Admin = psycopg.Connection[Any]

VOICE = {"provider": "heygen", "voice_id": "voice-123"}
OPTIONS = {
    "rate": 1.2,
    "emotion": "Friendly",
    "elevenlabs_settings": {"stability": 0.5, "model_id": "eleven_flash_v2_5"},
    "server_speech": True,
}


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeProvider:
    return serve(monkeypatch, HeyGenProvider, heygen_fake())


@pytest.fixture
def avatar(api: Api, owner: User) -> dict[str, Any]:
    return api.create_avatar(
        owner, provider="heygen", provider_avatar_id="Anna_public_3", voice=VOICE, provider_options=OPTIONS
    )


def test_a_start_mints_a_token_creates_the_session_and_returns_only_session_credentials(
    client: httpx.Client, admin: Admin, owner: User, fake: FakeProvider, avatar: dict[str, Any]
) -> None:
    response = client.post(
        "/v1/sessions", json={"avatar_id": avatar["id"], "quality": "low"}, headers=owner.headers
    )
    assert response.status_code == 201, response.text
    assert HEYGEN_KEY not in response.text

    [minted] = fake.calls("POST", "/v1/streaming.create_token")
    assert minted.headers["x-api-key"] == HEYGEN_KEY
    assert minted.headers["content-type"] == "application/json"
    assert minted.body == {}
    [created] = fake.calls("POST", "/v1/streaming.new")
    assert created.headers["authorization"] == "Bearer session-token-1"
    assert "x-api-key" not in created.headers
    assert created.body == {
        "version": "v2",
        "quality": "low",
        "activity_idle_timeout": 300,
        "language": "en",
        "avatar_id": "Anna_public_3",
        "avatar_name": "Anna_public_3",
        "voice": {
            "voice_id": "voice-123",
            "rate": 1.2,
            "emotion": "friendly",
            "elevenlabs_settings": {"stability": 0.5, "model_id": "eleven_flash_v2_5"},
        },
    }

    body = response.json()
    session_id = next(iter(fake.live))
    assert body["provider"] == "heygen"
    assert body["credentials"] == {
        "api_base": HEYGEN_BASE,
        "token": "session-token-1",
        "session_id": session_id,
        "url": "wss://livekit.heygen.test",
        "access_token": "livekit-jwt",
        "session_duration_limit": 600,
        "server_speech": True,
    }
    assert session_row(admin, body["session_id"])["provider_session_id"] == session_id


@pytest.mark.parametrize("wrapped", [True, False], ids=["data-envelope", "bare-payload"])
async def test_both_envelope_shapes_give_the_same_session(wrapped: bool) -> None:
    fake = heygen_fake(wrapped=wrapped)
    created = await vendor(HeyGenProvider, fake).create_session(
        SessionRequest(
            session_id=uuid.uuid4(),
            avatar=AvatarSpec(avatar_id=uuid.uuid4()),
            expires_at=datetime.now(UTC),
        )
    )
    assert created.provider_session_id in fake.live
    assert created.credentials["token"] == "session-token-1"
    assert created.credentials["access_token"] == "livekit-jwt"


def test_ending_twice_stops_the_provider_session_once(
    api: Api, admin: Admin, owner: User, fake: FakeProvider, avatar: dict[str, Any]
) -> None:
    session_id = api.start_session(owner, avatar["id"])["session_id"]
    provider_session_id = session_row(admin, session_id)["provider_session_id"]

    first = api.end_session(owner, session_id)
    second = api.end_session(owner, session_id)

    assert first == second
    stops = fake.calls("POST", "/v1/streaming.stop")
    assert [(stop.body, stop.headers["x-api-key"]) for stop in stops] == [
        ({"session_id": provider_session_id}, HEYGEN_KEY)
    ]
    assert fake.live == {}
    assert event_types(admin, session_id) == ["started", "ended"]


def test_a_keepalive_resets_the_provider_idle_countdown(
    client: httpx.Client, api: Api, admin: Admin, owner: User, fake: FakeProvider, avatar: dict[str, Any]
) -> None:
    session_id = api.start_session(owner, avatar["id"])["session_id"]
    response = client.post(f"/v1/sessions/{session_id}/keepalive", headers=owner.headers)
    assert response.status_code == 200, response.text
    [kept] = fake.calls("POST", "/v1/streaming.keep_alive")
    assert kept.body == {"session_id": session_row(admin, session_id)["provider_session_id"]}
    assert kept.headers["x-api-key"] == HEYGEN_KEY
    api.end_session(owner, session_id)


@pytest.mark.parametrize(
    ("path", "answer", "status", "code", "provider_status"),
    [
        pytest.param(
            "/v1/streaming.create_token",
            httpx.Response(401, json={"code": 400112, "message": "Unauthorized"}),
            502,
            "provider_error",
            401,
            id="bad-key",
        ),
        pytest.param(
            "/v1/streaming.new",
            httpx.Response(401, json={"code": 400112, "message": "Unauthorized"}),
            502,
            "provider_error",
            401,
            id="one-time-token-reused",
        ),
        pytest.param(
            "/v1/streaming.new",
            httpx.Response(500, json={"code": 500, "message": "internal error"}),
            502,
            "provider_unavailable",
            500,
            id="server-error",
        ),
    ],
)
def test_a_provider_refusal_fails_the_start_and_keeps_the_reason(
    client: httpx.Client,
    admin: Admin,
    owner: User,
    fake: FakeProvider,
    avatar: dict[str, Any],
    path: str,
    answer: httpx.Response,
    status: int,
    code: str,
    provider_status: int,
) -> None:
    fake.on("POST", path, answer)
    problem = assert_start_fails(
        client,
        admin,
        owner,
        avatar["id"],
        status=status,
        code=code,
        provider="heygen",
        provider_status=provider_status,
        secret=HEYGEN_KEY,
    )
    assert f"HTTP {provider_status}" in problem["detail"]
    assert len(fake.calls("POST", path)) == 1, "creating is never retried"


def test_the_concurrency_limit_answers_429_naming_heygen_with_its_retry_after(
    client: httpx.Client, admin: Admin, owner: User, fake: FakeProvider, avatar: dict[str, Any]
) -> None:
    fake.on(
        "POST",
        "/v1/streaming.new",
        httpx.Response(429, headers={"retry-after": "7"}, json={"message": "too many sessions"}),
    )
    problem = assert_start_fails(
        client,
        admin,
        owner,
        avatar["id"],
        status=429,
        code="provider_busy",
        provider="heygen",
        provider_status=429,
        secret=HEYGEN_KEY,
    )
    assert "concurrent session limit" in problem["detail"]
    response = client.post("/v1/sessions", json={"avatar_id": avatar["id"]}, headers=owner.headers)
    assert response.headers["retry-after"] == "7"


def test_a_timeout_answers_503_and_is_not_retried(
    client: httpx.Client, admin: Admin, owner: User, fake: FakeProvider, avatar: dict[str, Any]
) -> None:
    fake.on("POST", "/v1/streaming.new", timeout)
    problem = assert_start_fails(
        client,
        admin,
        owner,
        avatar["id"],
        status=503,
        code="provider_unavailable",
        provider="heygen",
        provider_status=None,
        secret=HEYGEN_KEY,
    )
    assert "timed out" in problem["detail"]
    assert len(fake.calls("POST", "/v1/streaming.new")) == 1


async def test_speak_repeats_the_text_in_pieces_heygen_accepts() -> None:
    fake = heygen_fake()
    words = " ".join(f"word{index}" for index in range(400))
    await vendor(HeyGenProvider, fake).speak("hg-1", words)

    tasks = fake.calls("POST", "/v1/streaming.task")
    assert len(words) == 3089
    assert len(tasks) == 4
    assert all(len(task.body["text"]) <= TASK_TEXT_LIMIT for task in tasks)
    assert " ".join(task.body["text"] for task in tasks) == words
    assert {(task.body["session_id"], task.body["task_type"], task.body["task_mode"]) for task in tasks} == {
        ("hg-1", "repeat", "async")
    }
    assert all(task.headers["x-api-key"] == HEYGEN_KEY for task in tasks)


async def test_listing_reads_live_sessions_with_epoch_or_iso_times() -> None:
    fake = FakeProvider()
    fake.on(
        "GET",
        "/v1/streaming.list",
        httpx.Response(
            200,
            json={
                "code": 100,
                "data": {
                    "sessions": [
                        {"session_id": "a", "status": "connected", "created_at": 1_767_225_600},
                        {"session_id": "b", "status": "new", "created_at": "2026-01-01T00:00:00Z"},
                    ]
                },
            },
        ),
    )
    live = await vendor(HeyGenProvider, fake).list_sessions()
    assert live is not None
    assert [(session.provider_session_id, session.status) for session in live] == [
        ("a", "connected"),
        ("b", "new"),
    ]
    assert {session.created_at for session in live} == {datetime(2026, 1, 1, tzinfo=UTC)}


@pytest.mark.parametrize(
    "answer",
    [
        # What HeyGen answers (PROVIDERS.md §0): HTTP 400 with code 400004, not a 404.
        httpx.Response(400, json={"code": 400004, "message": "Session does not exist"}),
        httpx.Response(404, json={"message": "session not found"}),
    ],
    ids=["400004", "404"],
)
async def test_stopping_a_session_heygen_no_longer_knows_is_not_an_error(answer: httpx.Response) -> None:
    fake = FakeProvider()
    fake.on("POST", "/v1/streaming.stop", answer)
    await vendor(HeyGenProvider, fake).stop_session("gone")
    assert len(fake.calls("POST", "/v1/streaming.stop")) == 1


async def test_another_refused_stop_is_still_an_error() -> None:
    fake = FakeProvider()
    fake.on(
        "POST", "/v1/streaming.stop", httpx.Response(400, json={"code": 400112, "message": "Unauthorized"})
    )
    with pytest.raises(ProviderError):
        await vendor(HeyGenProvider, fake).stop_session("s1")


async def test_an_answer_without_a_session_id_is_a_502_naming_what_is_missing() -> None:
    fake = heygen_fake()
    fake.on(
        "POST",
        "/v1/streaming.new",
        httpx.Response(
            200, json={"code": 10003, "message": "avatar version is deprecated, please update to v3+"}
        ),
    )
    with pytest.raises(ProviderError) as raised:
        await vendor(HeyGenProvider, fake).create_session(
            SessionRequest(
                session_id=uuid.uuid4(),
                avatar=AvatarSpec(avatar_id=uuid.uuid4()),
                expires_at=datetime.now(UTC),
            )
        )
    assert raised.value.status == 502
    assert raised.value.detail == (
        "heygen: unexpected answer without session_id: avatar version is deprecated, please update to v3+"
    )


@pytest.mark.parametrize("server_speech", [True, False])
def test_with_server_speech_each_sentence_of_a_turn_is_spoken_through_streaming_task(
    client: httpx.Client, api: Api, owner: User, fake: FakeProvider, server_speech: bool
) -> None:
    avatar = api.create_avatar(
        owner,
        provider="heygen",
        provider_avatar_id="Anna_public_3",
        voice=VOICE,
        provider_options={**OPTIONS, "server_speech": server_speech},
    )
    started = api.start_session(owner, avatar["id"])

    events = stream_turn(client, owner.headers, started["session_id"], "turn-1", "What can you do?")

    sentences = [data["text"] for name, data, _ in events if name == "sentence"]
    assert len(sentences) >= 2
    tasks = fake.calls("POST", "/v1/streaming.task")
    if not server_speech:
        assert tasks == []
        return
    assert [task.body["text"] for task in tasks] == sentences
    assert {(task.body["session_id"], task.body["task_type"]) for task in tasks} == {
        (started["credentials"]["session_id"], "repeat")
    }
