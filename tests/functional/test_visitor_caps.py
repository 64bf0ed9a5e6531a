"""Widget visitors cannot hoard an avatar: one live session per visitor by default, and never the
sessions its owner keeps for themself. Over real HTTP, with real visitor tokens and Postgres."""

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import psycopg
import pytest

from functions.core.api import deps
from functions.core.settings import get_settings
from tests.conftest import User
from tests.functional.support import Api, assert_problem
from tests.functional.test_widget_token import SITE, Widget, visitor_headers

Admin = psycopg.Connection[Any]


@pytest.fixture
def avatar(api: Api, owner: User) -> dict[str, Any]:
    return api.create_avatar(owner, allowed_origins=[SITE])


def _serve_with(monkeypatch: pytest.MonkeyPatch, **settings: int) -> None:
    changed = get_settings().model_copy(update=settings)
    monkeypatch.setattr(deps, "get_settings", lambda: changed)


def _start(client: httpx.Client, avatar_id: str, token: str) -> httpx.Response:
    return client.post("/v1/sessions", json={"avatar_id": avatar_id}, headers=visitor_headers(token))


def _visitor(client: httpx.Client, avatar: dict[str, Any]) -> str:
    token: str = Widget(client).token(avatar["public_id"])["token"]
    return token


def test_one_visitor_holds_one_live_session_and_a_new_token_does_not_reset_it(
    client: httpx.Client, avatar: dict[str, Any]
) -> None:
    widget = Widget(client)
    issued = widget.token(avatar["public_id"])
    first = _start(client, avatar["id"], issued["token"])
    assert first.status_code == 201, first.text

    second = _start(client, avatar["id"], issued["token"])
    problem = assert_problem(second, 429, "quota_exceeded")
    assert "already have 1 live conversation" in problem["detail"]
    assert second.headers["retry-after"]
    renewed = widget.token(avatar["public_id"], visitor_token=issued["token"])
    assert renewed["visitor_id"] == issued["visitor_id"]
    assert_problem(_start(client, avatar["id"], renewed["token"]), 429, "quota_exceeded")

    ended = client.post(
        f"/v1/sessions/{first.json()['session_id']}/end", headers=visitor_headers(issued["token"])
    )
    assert ended.status_code == 200, ended.text
    assert _start(client, avatar["id"], renewed["token"]).status_code == 201


def test_the_per_visitor_cap_is_a_setting(
    monkeypatch: pytest.MonkeyPatch, client: httpx.Client, avatar: dict[str, Any]
) -> None:
    _serve_with(monkeypatch, visitor_concurrent_sessions=2, default_concurrent_sessions=5)
    token = _visitor(client, avatar)
    assert [_start(client, avatar["id"], token).status_code for _ in range(3)] == [201, 201, 429]


def test_visitors_never_take_the_sessions_the_owner_keeps(
    client: httpx.Client, api: Api, owner: User, avatar: dict[str, Any], admin: Admin
) -> None:
    settings = get_settings()
    assert (settings.default_concurrent_sessions, settings.owner_reserved_sessions) == (3, 1)
    visitors = [_visitor(client, avatar) for _ in range(3)]
    answers = [_start(client, avatar["id"], token) for token in visitors]
    assert [a.status_code for a in answers[:2]] == [201, 201]
    assert "as many visitors as it can" in assert_problem(answers[2], 429, "quota_exceeded")["detail"]

    # The owner still starts one, on the same avatar; then every slot is taken, for everybody.
    own = api.start_session(owner, avatar["id"])
    full = client.post("/v1/sessions", json={"avatar_id": avatar["id"]}, headers=owner.headers)
    assert "the most allowed at once" in assert_problem(full, 429, "quota_exceeded")["detail"]
    live = admin.execute(
        "select user_id = owner_id as owners from public.streaming_sessions"
        " where avatar_id = %s and status = 'active'",
        (avatar["id"],),
    ).fetchall()
    assert sorted(row["owners"] for row in live) == [False, False, True]

    # Once a visitor leaves, the next visitor gets that slot; the owner's session does not count.
    api.end_session(owner, own["session_id"])
    ended = client.post(
        f"/v1/sessions/{answers[0].json()['session_id']}/end", headers=visitor_headers(visitors[0])
    )
    assert ended.status_code == 200
    assert _start(client, avatar["id"], visitors[2]).status_code == 201
    assert_problem(_start(client, avatar["id"], _visitor(client, avatar)), 429, "quota_exceeded")


def test_the_owner_alone_may_use_every_session(
    client: httpx.Client, api: Api, owner: User, avatar: dict[str, Any]
) -> None:
    for _ in range(3):
        api.start_session(owner, avatar["id"])
    assert_problem(
        client.post("/v1/sessions", json={"avatar_id": avatar["id"]}, headers=owner.headers),
        429,
        "quota_exceeded",
    )


def test_one_visitor_starting_many_sessions_at_once_gets_one(
    base_url: str, client: httpx.Client, avatar: dict[str, Any], admin: Admin
) -> None:
    token = _visitor(client, avatar)

    def start(_: int) -> int:
        with httpx.Client(base_url=base_url, timeout=30) as own:
            return _start(own, avatar["id"], token).status_code

    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = sorted(pool.map(start, range(6)))
    assert statuses == [201] + [429] * 5
    live = admin.execute(
        "select count(*) as n from public.streaming_sessions where avatar_id = %s and status = 'active'",
        (avatar["id"],),
    ).fetchone()
    assert live == {"n": 1}
