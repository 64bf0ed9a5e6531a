"""Tavus CVI at the HTTP boundary: a bounded conversation, its URL for the browser, and its end."""

from typing import Any

import httpx
import psycopg
import pytest

from functions.core.errors import ProviderError
from functions.core.providers.avatar.tavus import TavusProvider
from functions.core.retry import INTERACTIVE
from tests.conftest import User
from tests.functional.support import Api, session_row
from tests.providers.checks import assert_start_fails
from tests.providers.contracts import TavusConversation
from tests.providers.fake import TAVUS_KEY as KEY
from tests.providers.fake import FakeProvider, checked, refuse_connection
from tests.providers.vendors import serve, vendor

Admin = psycopg.Connection[Any]
CONVERSATION = {
    "conversation_id": "c123456",
    "conversation_name": "x",
    "conversation_url": "https://tavus.daily.co/c123456",
    "status": "active",
    "replica_id": "r-1",
    "persona_id": "p-1",
    "created_at": "2026-01-01T00:00:00Z",
}


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeProvider:
    fake = FakeProvider()
    fake.on(
        "POST",
        "/v2/conversations",
        checked(TavusConversation, lambda _request: httpx.Response(200, json=CONVERSATION)),
    )
    fake.on("POST", "/v2/conversations/c123456/end", httpx.Response(200))
    return serve(monkeypatch, TavusProvider, fake)


@pytest.fixture
def avatar(api: Api, owner: User) -> dict[str, Any]:
    return api.create_avatar(
        owner,
        provider="tavus",
        provider_avatar_id="r-1",
        persona="You are Ava, a museum guide.",
        greeting="Welcome!",
        max_session_seconds=7200,
        voice={"provider": "tavus"},
        provider_options={"pal_id": "p-1", "language": "english"},
    )


@pytest.mark.parametrize("wrapped", [False, True], ids=["bare", "data-envelope"])
def test_a_start_creates_a_bounded_conversation_and_returns_its_url_only(
    client: httpx.Client, admin: Admin, owner: User, fake: FakeProvider, avatar: dict[str, Any], wrapped: bool
) -> None:
    if wrapped:
        fake.on("POST", "/v2/conversations", httpx.Response(200, json={"data": CONVERSATION}))
    response = client.post("/v1/sessions", json={"avatar_id": avatar["id"]}, headers=owner.headers)
    assert response.status_code == 201, response.text
    assert KEY not in response.text
    [created] = fake.calls("POST", "/v2/conversations")
    assert created.headers["x-api-key"] == KEY
    assert created.body == {
        "conversation_name": f"avatar-studio {response.json()['session_id']}",
        "replica_id": "r-1",
        "persona_id": "p-1",
        "conversational_context": "You are Ava, a museum guide.",
        "custom_greeting": "Welcome!",
        "properties": {"max_call_duration": 3600, "participant_absent_timeout": 300, "language": "english"},
    }
    assert response.json()["credentials"] == {
        "conversation_id": "c123456",
        "conversation_url": "https://tavus.daily.co/c123456",
    }
    assert session_row(admin, response.json()["session_id"])["provider_session_id"] == "c123456"
    client.post(f"/v1/sessions/{response.json()['session_id']}/end", headers=owner.headers)


def test_ending_twice_ends_the_conversation_once(
    api: Api, owner: User, fake: FakeProvider, avatar: dict[str, Any]
) -> None:
    session_id = api.start_session(owner, avatar["id"])["session_id"]
    api.end_session(owner, session_id)
    api.end_session(owner, session_id)
    [ended] = fake.calls("POST", "/v2/conversations/c123456/end")
    assert ended.headers["x-api-key"] == KEY


@pytest.mark.parametrize(
    ("answer", "status", "code", "provider_status"),
    [
        pytest.param(
            httpx.Response(401, json={"message": "Invalid access token"}),
            502,
            "provider_error",
            401,
            id="bad-key",
        ),
        pytest.param(
            httpx.Response(400, json={"message": "User has reached maximum concurrent conversations"}),
            429,
            "provider_busy",
            429,
            id="concurrency",
        ),
        pytest.param(httpx.Response(502, text="bad gateway"), 502, "provider_unavailable", 502, id="5xx"),
        pytest.param(refuse_connection, 503, "provider_unavailable", None, id="unreachable"),
    ],
)
def test_a_refused_conversation_fails_the_start_and_keeps_the_reason(
    client: httpx.Client,
    admin: Admin,
    owner: User,
    fake: FakeProvider,
    avatar: dict[str, Any],
    answer: Any,
    status: int,
    code: str,
    provider_status: int | None,
) -> None:
    fake.on("POST", "/v2/conversations", answer)
    problem = assert_start_fails(
        client,
        admin,
        owner,
        avatar["id"],
        status=status,
        code=code,
        provider="tavus",
        provider_status=provider_status,
        secret=KEY,
    )
    if status == 429:
        assert "concurrent session limit reached (HTTP 400" in problem["detail"]
    # Tavus bills from creation: only a connection that never reached it is tried again.
    assert len(fake.calls("POST", "/v2/conversations")) == (
        INTERACTIVE.attempts if provider_status is None else 1
    )


async def test_ending_a_conversation_tavus_no_longer_knows_is_not_an_error() -> None:
    """docs.tavus.io api-reference/conversations/end-conversation: an unknown or ended id answers
    `{"error": "Invalid conversation_id"}` (PROVIDERS.md §0 / §4)."""
    fake = FakeProvider()
    fake.on(
        "POST", "/v2/conversations/c-gone/end", httpx.Response(400, json={"error": "Invalid conversation_id"})
    )
    provider = vendor(TavusProvider, fake)
    await provider.stop_session("c-gone")
    fake.on("POST", "/v2/conversations/c-other/end", httpx.Response(400, json={"error": "Bad request"}))
    with pytest.raises(ProviderError):
        await provider.stop_session("c-other")
