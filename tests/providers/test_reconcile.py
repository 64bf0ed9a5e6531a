"""The cleanup job stops provider sessions that outlive ours: idle browsers, failed stops, unknown orphans."""

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest

from functions.core.cleanup import CleanupReport
from functions.core.providers.avatar.heygen import HeyGenProvider
from functions.core.providers.avatar.liveavatar import LiveAvatarProvider
from functions.core.providers.avatar.tavus import TavusProvider
from functions.core.retry import INTERACTIVE
from tests.conftest import User
from tests.functional.support import Api, events, session_row
from tests.functional.test_cleanup import make_idle, sweep_on_a_new_loop
from tests.providers.fake import (
    HEYGEN_KEY,
    FakeProvider,
    heygen_fake,
    liveavatar_fake,
    tavus_fake,
)
from tests.providers.test_liveavatar import AVATAR_UUID
from tests.providers.vendors import serve

Admin = psycopg.Connection[Any]


@pytest.fixture
def heygen(monkeypatch: pytest.MonkeyPatch) -> FakeProvider:
    return serve(monkeypatch, HeyGenProvider, heygen_fake())


@pytest.fixture
def avatar(api: Api, owner: User) -> dict[str, Any]:
    return api.create_avatar(owner, provider="heygen", provider_avatar_id="Anna_public_3")


def end_behind_the_apis_back(admin: Admin, session_id: str) -> str:
    """Our row ends but the provider is never told, as when a stop failed."""
    admin.execute(
        "update public.streaming_sessions set status = 'ended', end_reason = 'user_ended' where id = %s",
        (session_id,),
    )
    provider_session_id: str = session_row(admin, session_id)["provider_session_id"]
    return provider_session_id


def stops_of(fake: FakeProvider, path: str) -> list[str]:
    return [str(stop.body["session_id"]) for stop in fake.calls("POST", path)]


def test_a_browser_that_disappears_has_its_provider_session_stopped_by_the_cleanup_job(
    api: Api, admin: Admin, owner: User, heygen: FakeProvider, avatar: dict[str, Any]
) -> None:
    session_id = api.start_session(owner, avatar["id"])["session_id"]
    provider_session_id = session_row(admin, session_id)["provider_session_id"]
    make_idle(admin, session_id)

    report = sweep_on_a_new_loop()

    assert session_id in report.session_ids
    assert stops_of(heygen, "/v1/streaming.stop") == [provider_session_id]
    assert provider_session_id not in heygen.live
    assert session_row(admin, session_id)["end_reason"] == "idle_timeout"


def test_a_provider_session_our_table_says_is_over_is_stopped_and_recorded_once(
    api: Api, admin: Admin, owner: User, heygen: FakeProvider, avatar: dict[str, Any]
) -> None:
    live = api.start_session(owner, avatar["id"])["session_id"]
    over = api.start_session(owner, avatar["id"])["session_id"]
    orphan = end_behind_the_apis_back(admin, over)

    first = sweep_on_a_new_loop()
    second = sweep_on_a_new_loop()

    assert f"heygen:{orphan}" in first.orphans
    assert first.orphans_stopped >= 1
    assert f"heygen:{orphan}" not in second.orphans
    assert stops_of(heygen, "/v1/streaming.stop") == [orphan]
    assert [event for event in events(admin, over) if event["event_type"] == "error"] == [
        {
            "event_type": "error",
            "data": {
                "reason": "orphan",
                "provider": "heygen",
                "provider_session_id": orphan,
                "session_status": "ended",
            },
            "user_id": owner.id,
            "owner_id": owner.id,
        }
    ]
    assert session_row(admin, live)["provider_session_id"] in heygen.live
    api.end_session(owner, live)


def test_an_unknown_provider_session_is_stopped_once_it_is_past_the_start_grace(heygen: FakeProvider) -> None:
    heygen.live["hg-unknown-old"] = datetime.now(UTC) - timedelta(minutes=10)
    heygen.live["hg-unknown-new"] = datetime.now(UTC)

    report = sweep_on_a_new_loop()

    assert "heygen:hg-unknown-old" in report.orphans
    assert stops_of(heygen, "/v1/streaming.stop") == ["hg-unknown-old"]
    assert "hg-unknown-new" in heygen.live


def test_a_provider_whose_listing_fails_does_not_stop_the_cleanup(
    api: Api, admin: Admin, owner: User, heygen: FakeProvider, avatar: dict[str, Any]
) -> None:
    heygen.on("GET", "/v1/streaming.list", httpx.Response(503, json={"message": "down"}))
    session_id = api.start_session(owner, avatar["id"])["session_id"]
    make_idle(admin, session_id)
    report = sweep_on_a_new_loop()
    assert session_id in report.session_ids
    assert report.orphans_stopped == 0
    assert stops_of(heygen, "/v1/streaming.stop") == [session_row(admin, session_id)["provider_session_id"]]
    assert len(heygen.calls("GET", "/v1/streaming.list")) == INTERACTIVE.attempts, "listing is retried"


def test_two_cleanup_runs_at_once_stop_each_orphan_once(
    api: Api, admin: Admin, owner: User, heygen: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    liveavatar = liveavatar_fake()
    serve(monkeypatch, LiveAvatarProvider, liveavatar)
    orphans: list[tuple[str, str]] = []
    for provider, provider_avatar_id in (("heygen", "Anna_public_3"), ("liveavatar", AVATAR_UUID)):
        avatar = api.create_avatar(owner, provider=provider, provider_avatar_id=provider_avatar_id)
        for _ in range(3):
            session_id = api.start_session(owner, avatar["id"])["session_id"]
            orphans.append((session_id, end_behind_the_apis_back(admin, session_id)))
    unknown = [f"hg-unknown-{index}" for index in range(3)]
    for provider_session_id in unknown:
        heygen.live[provider_session_id] = datetime.now(UTC) - timedelta(minutes=10)

    barrier = threading.Barrier(2)
    reports: list[CleanupReport] = []
    failures: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait(timeout=10)
            reports.append(sweep_on_a_new_loop())
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []
    assert len(reports) == 2

    stopped = stops_of(heygen, "/v1/streaming.stop") + stops_of(liveavatar, "/v1/sessions/stop")
    expected = [provider_session_id for _, provider_session_id in orphans] + unknown
    assert sorted(stopped) == sorted(expected)
    assert sorted(name.split(":", 1)[1] for report in reports for name in report.orphans) == sorted(expected)
    for session_id, _ in orphans:
        assert [event["event_type"] for event in events(admin, session_id)] == ["started", "error"]
    assert all(stop.headers["x-api-key"] == HEYGEN_KEY for stop in heygen.calls("POST", "/v1/streaming.stop"))


def test_tavus_conversations_we_no_longer_hold_are_ended_across_pages(
    api: Api, admin: Admin, owner: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tavus bills from creation: `GET /v2/conversations?status=active` (paginated, `limit`/`page`) lets the
    cleanup end what our table says is over (docs.tavus.io/api-reference/conversations/get-conversations)."""
    tavus = tavus_fake()
    serve(monkeypatch, TavusProvider, tavus)
    avatar = api.create_avatar(owner, provider="tavus", provider_avatar_id="r-1")
    live = api.start_session(owner, avatar["id"])["session_id"]
    over = api.start_session(owner, avatar["id"])["session_id"]
    orphan = end_behind_the_apis_back(admin, over)
    old = datetime.now(UTC) - timedelta(minutes=10)
    unknown = {f"c-unknown-{index}": old for index in range(150)}
    tavus.live.update(unknown)

    report = sweep_on_a_new_loop()

    assert f"tavus:{orphan}" in report.orphans
    assert {f"tavus:{conversation}" for conversation in unknown} <= set(report.orphans)
    assert set(tavus.live) == {session_row(admin, live)["provider_session_id"]}
    assert [call.params["page"] for call in tavus.calls("GET", "/v2/conversations")][:2] == ["1", "2"]
    api.end_session(owner, live)
    assert tavus.live == {}
