"""Simli at the HTTP boundary: a session token bounded by the avatar's limits, and ICE servers."""

from typing import Any

import httpx
import psycopg
import pytest

from functions.core.providers.avatar.simli import SimliProvider
from functions.core.retry import INTERACTIVE
from tests.conftest import User
from tests.functional.support import Api, event_types, session_row
from tests.providers.checks import assert_start_fails
from tests.providers.contracts import SimliToken
from tests.providers.fake import SIMLI_KEY as KEY
from tests.providers.fake import FakeProvider, checked, timeout
from tests.providers.vendors import serve

Admin = psycopg.Connection[Any]
ICE = [{"urls": ["turn:turn.simli.test:3478"], "username": "u", "credential": "c"}]


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeProvider:
    fake = FakeProvider()
    fake.on(
        "POST",
        "/compose/token",
        checked(
            SimliToken, lambda _request: httpx.Response(200, json={"session_token": "simli-session-token"})
        ),
    )
    fake.on("GET", "/compose/ice", httpx.Response(200, json=ICE))
    return serve(monkeypatch, SimliProvider, fake)


@pytest.fixture
def avatar(api: Api, owner: User) -> dict[str, Any]:
    return api.create_avatar(
        owner,
        provider="simli",
        provider_avatar_id="face-42",
        max_session_seconds=1200,
        voice={"provider": "elevenlabs", "voice_id": "el-1"},
        provider_options={"model": "fasttalk"},
    )


def test_a_start_returns_a_token_bounded_by_the_avatars_limits_and_never_the_key(
    client: httpx.Client, admin: Admin, owner: User, fake: FakeProvider, avatar: dict[str, Any]
) -> None:
    response = client.post("/v1/sessions", json={"avatar_id": avatar["id"]}, headers=owner.headers)
    assert response.status_code == 201, response.text
    assert KEY not in response.text
    [minted] = fake.calls("POST", "/compose/token")
    assert minted.headers["x-simli-api-key"] == KEY
    assert minted.body == {
        "faceId": "face-42",
        "handleSilence": True,
        "maxSessionLength": 1200,
        "maxIdleTime": 300,
        "model": "fasttalk",
    }
    [ice] = fake.calls("GET", "/compose/ice")
    assert ice.headers["x-simli-api-key"] == KEY
    assert response.json()["credentials"] == {
        "session_token": "simli-session-token",
        "ice_servers": ICE,
        "max_session_seconds": 1200,
        "max_idle_seconds": 300,
    }
    assert session_row(admin, response.json()["session_id"])["provider_session_id"] is None


def test_ending_makes_no_provider_call_as_simli_sessions_end_in_the_browser_or_by_their_limits(
    api: Api, admin: Admin, owner: User, fake: FakeProvider, avatar: dict[str, Any]
) -> None:
    session_id = api.start_session(owner, avatar["id"])["session_id"]
    calls = len(fake.requests)
    api.end_session(owner, session_id)
    api.end_session(owner, session_id)
    assert len(fake.requests) == calls
    assert event_types(admin, session_id) == ["started", "ended"]


def test_missing_ice_servers_still_start_the_session(
    api: Api, owner: User, fake: FakeProvider, avatar: dict[str, Any]
) -> None:
    fake.on("GET", "/compose/ice", timeout)
    started = api.start_session(owner, avatar["id"])
    assert started["credentials"]["ice_servers"] is None
    assert len(fake.calls("GET", "/compose/ice")) == INTERACTIVE.attempts, "listing ICE servers is idempotent"
    api.end_session(owner, started["session_id"])


@pytest.mark.parametrize(
    ("answer", "status", "code", "provider_status"),
    [
        pytest.param(
            httpx.Response(401, json={"detail": "Invalid API Key"}), 502, "provider_error", 401, id="bad-key"
        ),
        pytest.param(
            httpx.Response(400, json={"session_token": "FAIL TOKEN", "detail": "Invalid faceId"}),
            502,
            "provider_error",
            400,
            id="fail-token",
        ),
        pytest.param(
            httpx.Response(200, json={"session_token": "FAIL TOKEN"}),
            502,
            "provider_error",
            200,
            id="fail-token-200",
        ),
        pytest.param(
            httpx.Response(500, text="server overloaded"), 502, "provider_unavailable", 500, id="5xx"
        ),
    ],
)
def test_a_refused_token_fails_the_start_and_keeps_the_reason(
    client: httpx.Client,
    admin: Admin,
    owner: User,
    fake: FakeProvider,
    avatar: dict[str, Any],
    answer: httpx.Response,
    status: int,
    code: str,
    provider_status: int,
) -> None:
    fake.on("POST", "/compose/token", answer)
    assert_start_fails(
        client,
        admin,
        owner,
        avatar["id"],
        status=status,
        code=code,
        provider="simli",
        provider_status=provider_status,
        secret=KEY,
    )


def test_a_token_timeout_answers_503(
    client: httpx.Client, admin: Admin, owner: User, fake: FakeProvider, avatar: dict[str, Any]
) -> None:
    fake.on("POST", "/compose/token", timeout)
    assert_start_fails(
        client,
        admin,
        owner,
        avatar["id"],
        status=503,
        code="provider_unavailable",
        provider="simli",
        provider_status=None,
        secret=KEY,
    )
    assert len(fake.calls("POST", "/compose/token")) == 1
