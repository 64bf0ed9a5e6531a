"""The cleanup sweep against the real database: what it ends, why, and that concurrent runs never double up.

The sweep acts on every session in the shared test database, so these tests only make claims about
the sessions they create themselves.
"""

import asyncio
import hashlib
import threading
from typing import Any

import httpx
import psycopg
import pytest

from functions.core.cleanup import CleanupReport, sweep
from functions.core.db.pool import get_database
from functions.core.errors import ProviderError
from functions.core.knowledge.documents import STALE_SECONDS, STUCK_REASON
from functions.core.providers.avatar.base import LiveSession, ProviderSession, SessionRequest
from functions.core.settings import get_settings
from tests.conftest import User
from tests.functional.support import Api, event_types, events, session_row, use_provider
from tests.functional.test_knowledge import GUIDE, settled, upload

Admin = psycopg.Connection[Any]


def sweep_on_a_new_loop(batch_size: int = 200) -> CleanupReport:
    """One sweep on an event loop of its own (as one Lambda invocation), closing its pool after."""

    async def run() -> CleanupReport:
        db = get_database()
        try:
            return await sweep(db, get_settings(), batch_size=batch_size)
        finally:
            await db.close()

    return asyncio.run(run())


def make_expired(admin: Admin, session_id: str) -> None:
    admin.execute(
        "update public.streaming_sessions set started_at = now() - interval '12 minutes',"
        " last_activity_at = now() - interval '3 minutes', expires_at = now() - interval '2 minutes'"
        " where id = %s",
        (session_id,),
    )


def make_idle(admin: Admin, session_id: str) -> None:
    """Started 8 minutes ago, last active 6 minutes ago (SESSION_IDLE_SECONDS is 300), not yet expired."""
    admin.execute(
        "update public.streaming_sessions set started_at = now() - interval '8 minutes',"
        " last_activity_at = now() - interval '6 minutes', expires_at = now() + interval '2 minutes'"
        " where id = %s",
        (session_id,),
    )


def ended_events(admin: Admin, session_ids: list[str]) -> dict[str, int]:
    rows = admin.execute(
        "select session_id::text as id, count(*) as n from public.avatar_session_events"
        " where event_type = 'ended' and session_id = any(%s::uuid[]) group by session_id",
        (session_ids,),
    ).fetchall()
    counts = {session_id: 0 for session_id in session_ids}
    counts.update({row["id"]: row["n"] for row in rows})
    return counts


def test_the_idle_limit_used_here_is_five_minutes() -> None:
    assert get_settings().session_idle_seconds == 300


def test_a_sweep_ends_expired_and_idle_sessions_and_leaves_a_live_one(
    api: Api, admin: Admin, owner: User
) -> None:
    avatar = api.create_avatar(owner)
    expired = api.start_session(owner, avatar["id"])["session_id"]
    idle = api.start_session(owner, avatar["id"])["session_id"]
    live = api.start_session(owner, avatar["id"])["session_id"]
    make_expired(admin, expired)
    make_idle(admin, idle)
    live_before = session_row(admin, live)

    report = sweep_on_a_new_loop()

    assert {expired, idle} <= set(report.session_ids)
    assert live not in report.session_ids
    assert report.ended == len(report.session_ids) == report.expired + report.idle
    assert report.expired >= 1
    assert report.idle >= 1

    expired_row = session_row(admin, expired)
    assert expired_row["status"] == "ended"
    assert expired_row["end_reason"] == "expired"
    assert expired_row["ended_at"] == expired_row["expires_at"]
    assert expired_row["duration_seconds"] == 600

    idle_row = session_row(admin, idle)
    assert idle_row["status"] == "ended"
    assert idle_row["end_reason"] == "idle_timeout"
    assert idle_row["ended_at"] is not None
    assert 8 * 60 <= idle_row["duration_seconds"] <= 8 * 60 + 30

    for session_id, row in ((expired, expired_row), (idle, idle_row)):
        assert event_types(admin, session_id) == ["started", "ended"]
        assert events(admin, session_id)[-1]["data"] == {
            "reason": row["end_reason"],
            "duration_seconds": row["duration_seconds"],
        }
        assert events(admin, session_id)[-1]["owner_id"] == owner.id

    assert session_row(admin, live) == live_before
    assert event_types(admin, live) == ["started"]
    api.end_session(owner, live)


def test_a_sweep_removes_visitors_who_can_never_return_and_keeps_the_rest(
    api: Api, admin: Admin, owner: User
) -> None:
    avatar = api.create_avatar(owner)

    def visitor(last_seen: str) -> str:
        row = admin.execute(
            "insert into public.widget_visitors (avatar_id, last_seen_at) values (%s, now() - %s::interval)"
            " returning id::text as id",
            (avatar["id"], last_seen),
        ).fetchone()
        assert row is not None
        return str(row["id"])

    # A token lives at most a day (WIDGET_TOKEN_MAX_TTL_SECONDS) after its visitor was last seen.
    gone, recent, talking = visitor("25 hours"), visitor("23 hours"), visitor("25 hours")
    admin.execute(
        "insert into public.streaming_sessions (user_id, avatar_id) values (%s, %s)", (talking, avatar["id"])
    )

    report = sweep_on_a_new_loop()

    left = {
        row["id"]
        for row in admin.execute(
            "select id::text as id from public.widget_visitors where avatar_id = %s", (avatar["id"],)
        )
    }
    assert gone not in left
    assert left == {recent, talking}
    assert report.visitors_removed >= 1


def test_a_session_active_just_under_the_idle_limit_is_not_swept(api: Api, admin: Admin, owner: User) -> None:
    avatar = api.create_avatar(owner)
    session_id = api.start_session(owner, avatar["id"])["session_id"]
    admin.execute(
        "update public.streaming_sessions set last_activity_at = now() - interval '4 minutes' where id = %s",
        (session_id,),
    )
    assert session_id not in sweep_on_a_new_loop().session_ids
    assert session_row(admin, session_id)["status"] == "active"
    api.end_session(owner, session_id)


def test_a_sweep_leaves_sessions_that_already_ended_alone(api: Api, admin: Admin, owner: User) -> None:
    avatar = api.create_avatar(owner)
    session_id = api.start_session(owner, avatar["id"])["session_id"]
    ended = api.end_session(owner, session_id)
    make_expired(admin, session_id)

    assert session_id not in sweep_on_a_new_loop().session_ids
    row = session_row(admin, session_id)
    assert (row["status"], row["end_reason"], row["duration_seconds"]) == (
        "ended",
        "user_ended",
        ended["duration_seconds"],
    )
    assert event_types(admin, session_id) == ["started", "ended"]


def test_two_sweeps_on_two_loops_at_once_end_each_session_exactly_once(
    api: Api, admin: Admin, make_user: Any
) -> None:
    due: list[str] = []
    live: list[str] = []
    for _ in range(4):
        user = make_user()
        avatar = api.create_avatar(user)
        sessions = [api.start_session(user, avatar["id"])["session_id"] for _ in range(3)]
        make_expired(admin, sessions[0])
        make_idle(admin, sessions[1])
        due += sessions[:2]
        live.append(sessions[2])

    barrier = threading.Barrier(2)
    reports: list[list[CleanupReport]] = [[], []]
    failures: list[BaseException] = []

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            while True:
                report = sweep_on_a_new_loop(batch_size=3)
                reports[index].append(report)
                if report.ended == 0:
                    return
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(index,)) for index in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert failures == []

    swept = [session_id for runs in reports for report in runs for session_id in report.session_ids]
    assert len(swept) == len(set(swept)), "a session was ended by two sweeps"
    assert set(due) <= set(swept)
    assert not set(live) & set(swept)
    assert ended_events(admin, due) == dict.fromkeys(due, 1)
    assert ended_events(admin, live) == dict.fromkeys(live, 0)
    for session_id in due:
        row = session_row(admin, session_id)
        assert row["status"] == "ended"
        assert row["end_reason"] in {"expired", "idle_timeout"}
        assert row["duration_seconds"] is not None
    for session_id in live:
        assert session_row(admin, session_id)["status"] == "active"
        assert (
            admin.execute(
                "update public.streaming_sessions set status = 'ended', end_reason = 'test_done'"
                " where id = %s",
                (session_id,),
            ).rowcount
            == 1
        )


async def test_two_sweeps_gathered_on_one_loop_use_two_connections_and_end_each_session_once(
    api: Api, admin: Admin, owner: User
) -> None:
    avatar = api.create_avatar(owner)
    due = [api.start_session(owner, avatar["id"])["session_id"] for _ in range(3)]
    for session_id in due:
        make_expired(admin, session_id)

    db = get_database()
    try:
        first, second = await asyncio.gather(
            sweep(db, get_settings(), batch_size=2), sweep(db, get_settings(), batch_size=2)
        )
        rest = await sweep(db, get_settings())
    finally:
        await db.close()

    swept = first.session_ids + second.session_ids + rest.session_ids
    assert len(swept) == len(set(swept))
    assert set(due) <= set(swept)
    assert ended_events(admin, due) == dict.fromkeys(due, 1)


# --- provider sessions ----------------------------------------------------------------------------


class _RecordingProvider:
    name = "simli"

    def __init__(self, *, fail_stop: bool = False) -> None:
        self.fail_stop = fail_stop
        self.created = 0
        self.stopped: list[str] = []

    async def create_session(self, request: SessionRequest) -> ProviderSession:
        self.created += 1
        return ProviderSession(
            provider=self.name,
            provider_session_id=f"simli-{request.session_id}",
            credentials={"token": "short-lived"},
        )

    async def keep_alive(self, provider_session_id: str) -> None:
        return None

    async def stop_session(self, provider_session_id: str) -> None:
        self.stopped.append(provider_session_id)
        if self.fail_stop:
            raise ProviderError(self.name, "stop failed", status=503)

    async def list_sessions(self) -> list[LiveSession] | None:
        return None


@pytest.fixture
def simli(monkeypatch: pytest.MonkeyPatch) -> _RecordingProvider:
    provider = _RecordingProvider()
    use_provider(monkeypatch, "simli", provider)
    return provider


def test_a_sweep_stops_the_provider_session_of_each_session_it_ends(
    api: Api, admin: Admin, owner: User, simli: _RecordingProvider
) -> None:
    avatar = api.create_avatar(owner, provider="simli")
    session_id = api.start_session(owner, avatar["id"])["session_id"]
    assert session_row(admin, session_id)["provider_session_id"] == f"simli-{session_id}"
    make_idle(admin, session_id)

    assert session_id in sweep_on_a_new_loop().session_ids
    assert simli.stopped.count(f"simli-{session_id}") == 1
    assert session_row(admin, session_id)["end_reason"] == "idle_timeout"


def test_a_provider_that_fails_to_stop_does_not_stop_the_sweep(
    api: Api, admin: Admin, owner: User, simli: _RecordingProvider
) -> None:
    avatar = api.create_avatar(owner, provider="simli")
    sessions = [api.start_session(owner, avatar["id"])["session_id"] for _ in range(2)]
    for session_id in sessions:
        make_expired(admin, session_id)
    simli.fail_stop = True

    report = sweep_on_a_new_loop()

    assert set(sessions) <= set(report.session_ids)
    assert {f"simli-{session_id}" for session_id in sessions} <= set(simli.stopped)
    for session_id in sessions:
        assert session_row(admin, session_id)["end_reason"] == "expired"


# -- knowledge documents whose indexer went away ---------------------------------------------------------


def _document(admin: Admin, avatar_id: str, data: bytes, status: str, age_minutes: int) -> str:
    """A document as a dead (or live) indexer left it: `status`, last touched `age_minutes` ago, one chunk."""
    row = admin.execute(
        "insert into public.knowledge_documents (owner_id, avatar_id, title, source_name, content_hash,"
        " mime_type, size_bytes, status, chunks_done, chunks_total, updated_at)"
        " select owner_id, id, 'Guide', 'guide.md', %s, 'text/markdown', %s, %s, 1, 3,"
        " now() - make_interval(mins => %s) from public.avatars where id = %s returning id, owner_id",
        (hashlib.sha256(data).hexdigest(), len(data), status, age_minutes, avatar_id),
    ).fetchone()
    assert row is not None
    admin.execute(
        "insert into public.knowledge_chunks (document_id, owner_id, avatar_id, position, content)"
        " values (%s, %s, %s, 0, 'a chunk stored before the indexer died')",
        (row["id"], row["owner_id"], avatar_id),
    )
    return str(row["id"])


def _document_row(admin: Admin, document_id: str) -> dict[str, Any]:
    row = admin.execute(
        "select status, error, chunks_done, (select count(*) from public.knowledge_chunks c"
        " where c.document_id = d.id) as chunks from public.knowledge_documents d where id = %s",
        (document_id,),
    ).fetchone()
    assert row is not None
    return dict(row)


def test_a_sweep_fails_documents_stuck_indexing_or_queued_with_the_reason(
    api: Api, admin: Admin, owner: User
) -> None:
    avatar_id = api.create_avatar(owner)["id"]
    stuck = _document(admin, avatar_id, b"# Stuck\n\nindexing", "indexing", STALE_SECONDS // 60 + 1)
    never_started = _document(admin, avatar_id, b"# Queued\n\nnever", "queued", STALE_SECONDS // 60 + 1)
    working = _document(admin, avatar_id, b"# Working\n\nstill going", "indexing", 1)

    report = sweep_on_a_new_loop()

    assert {stuck, never_started} <= set(report.documents_failed)
    assert working not in report.documents_failed
    for document_id in (stuck, never_started):
        assert _document_row(admin, document_id) == {
            "status": "failed",
            "error": STUCK_REASON,
            "chunks_done": 0,
            "chunks": 0,
        }
    assert _document_row(admin, working)["status"] == "indexing"


def test_uploading_the_file_of_a_stuck_document_again_retries_it(
    client: httpx.Client, api: Api, admin: Admin, owner: User
) -> None:
    avatar_id = api.create_avatar(owner)["id"]
    data = GUIDE.encode()
    stuck = _document(admin, avatar_id, data, "indexing", STALE_SECONDS // 60 + 1)

    response = upload(client, owner, avatar_id, "guide.md", data)

    assert response.status_code == 202, response.text
    assert response.json() == {"document_id": stuck, "status": "queued", "duplicate": False}
    document = settled(client, owner, stuck)
    assert document["status"] == "ready", document
    assert document["chunks_done"] == document["chunks_total"] > 0


def test_a_document_still_being_indexed_is_a_duplicate_not_a_retry(
    client: httpx.Client, api: Api, admin: Admin, owner: User
) -> None:
    avatar_id = api.create_avatar(owner)["id"]
    data = GUIDE.encode()
    working = _document(admin, avatar_id, data, "indexing", 1)

    response = upload(client, owner, avatar_id, "guide.md", data)

    assert response.json() == {"document_id": working, "status": "indexing", "duplicate": True}
