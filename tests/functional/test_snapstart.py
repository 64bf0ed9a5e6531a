"""SnapStart's hooks against the test Postgres: the runtime's (functions/core/snapstart.py), called
directly, and the streaming app's, called over HTTP as the Lambda Web Adapter calls them."""

import asyncio
import os
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from functions.core import snapstart
from functions.core.api.routes.snapstart import AFTER_RESTORE_PATH, BEFORE_CHECKPOINT_PATH
from functions.core.db.pool import Database
from functions.core.http_client import app_clients
from tests.conftest import _free_port

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """The handler's loop, idle between invocations as it is when the runtime calls the hooks."""
    handler_loop = asyncio.new_event_loop()
    yield handler_loop
    handler_loop.close()


@pytest.fixture
def tagged(database_url: str) -> tuple[str, str]:
    """A connection string whose sessions carry their own application_name, so they can be counted."""
    name = f"snapstart-{uuid.uuid4().hex[:12]}"
    return make_conninfo(database_url, application_name=name), name


def _until(predicate: Callable[[], bool], timeout_s: float = 10.0) -> bool:
    """Polls until Postgres has noticed (a backend leaves pg_stat_activity shortly after its client)."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _sessions(admin: psycopg.Connection[dict[str, object]], name: str) -> int:
    row = admin.execute(
        "select count(*) as n from pg_stat_activity where application_name = %s", (name,)
    ).fetchone()
    assert row is not None
    return int(str(row["n"]))


def test_the_hooks_close_the_pool_before_the_snapshot_and_open_a_new_one_after_a_restore(
    loop: asyncio.AbstractEventLoop,
    tagged: tuple[str, str],
    admin: psycopg.Connection[dict[str, object]],
) -> None:
    url, name = tagged
    database = Database(url, min_size=1, max_size=2)
    try:
        before = loop.run_until_complete(database.pool())
        loop.run_until_complete(database.ping())
        assert _until(lambda: _sessions(admin, name) >= 1)

        snapstart.before_snapshot(database)

        assert before.closed
        assert _until(lambda: _sessions(admin, name) == 0), "the snapshot would hold live connections"

        snapstart.after_restore(loop, database)

        # Opened by the hook, before any request: the first request finds a connection waiting.
        assert _until(lambda: _sessions(admin, name) >= 1)
        after = loop.run_until_complete(database.pool())
        assert after is not before
        assert not after.closed
        loop.run_until_complete(database.ping())
    finally:
        loop.run_until_complete(database.close())
    assert _until(lambda: _sessions(admin, name) == 0)


def test_the_hook_before_the_snapshot_closes_the_shared_http_clients(
    loop: asyncio.AbstractEventLoop, tagged: tuple[str, str]
) -> None:
    async def client_of(purpose: str) -> object:
        return app_clients().client(purpose)

    before = loop.run_until_complete(client_of("snapstart-test"))

    snapstart.before_snapshot(Database(tagged[0]))

    assert getattr(before, "is_closed", False), "a kept connection would be shared by restored instances"
    after = loop.run_until_complete(client_of("snapstart-test"))
    assert after is not before
    assert not getattr(after, "is_closed", True)


def test_every_restored_instance_draws_its_own_random_numbers(
    loop: asyncio.AbstractEventLoop, tagged: tuple[str, str]
) -> None:
    database = Database(tagged[0], min_size=0)
    try:
        random.seed(20261130)  # the state the snapshot holds, the same in every restored instance
        from_snapshot = [random.random() for _ in range(4)]
        random.seed(20261130)

        snapstart.after_restore(loop, database)

        assert [random.random() for _ in range(4)] != from_snapshot
    finally:
        loop.run_until_complete(database.close())


def test_an_unreachable_database_does_not_hold_the_restore_past_its_time_limit(
    loop: asyncio.AbstractEventLoop, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    port = _free_port()  # a port nothing listens on
    monkeypatch.setattr(snapstart, "REOPEN_TIMEOUT_S", 0.5)
    database = Database(f"postgresql://nobody@127.0.0.1:{port}/none?connect_timeout=1", min_size=1)
    began = time.monotonic()

    snapstart.after_restore(loop, database)

    assert time.monotonic() - began < 5, "Lambda allows the after-restore hooks 10 s in all"
    assert "did not reopen" in caplog.text


# --- the streaming function: the Web Adapter's hooks ----------------------------------------------


@pytest.fixture
def streaming_function(tagged: tuple[str, str]) -> Iterator[str]:
    """functions/stream.sh as the Web Adapter starts it, in the cloud's mode, on a port of its own; its
    database sessions carry the `tagged` application name. Yields the base URL the adapter calls."""
    port = _free_port()
    env = {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "PORT": str(port),
        "APP_MODE": "cloud",
        "DATABASE_URL": tagged[0],
        "SUPABASE_JWT_SECRET": "streaming-snapstart-test-secret-of-forty-chars",
    }
    process = subprocess.Popen(["sh", "functions/stream.sh"], cwd=REPO, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        # The adapter's readiness check: the snapshot is taken only once the app answers it.
        assert _until(lambda: _answers(f"{url}/health"), timeout_s=60), "the streaming app did not start"
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def test_the_web_adapter_hooks_close_the_streaming_apps_pool_before_the_snapshot_and_reopen_it_after(
    streaming_function: str, tagged: tuple[str, str], admin: psycopg.Connection[dict[str, object]]
) -> None:
    name = tagged[1]
    assert _until(lambda: _sessions(admin, name) >= 1), "the readiness check reached the database"

    before = httpx.post(f"{streaming_function}{BEFORE_CHECKPOINT_PATH}", timeout=30)

    assert before.status_code == 204, before.text
    assert _until(lambda: _sessions(admin, name) == 0), "the snapshot would hold live connections"

    after = httpx.post(f"{streaming_function}{AFTER_RESTORE_PATH}", timeout=30)

    assert after.status_code == 204, after.text
    # Opened by the hook, before the adapter lets the first request in.
    assert _until(lambda: _sessions(admin, name) >= 1)
    assert httpx.get(f"{streaming_function}/health", timeout=10).json() == {"status": "ok", "database": "ok"}


def test_the_streaming_apps_hooks_are_not_part_of_its_api(streaming_function: str) -> None:
    document = httpx.get(f"{streaming_function}/openapi.json", timeout=10).json()
    assert "/v1/sessions/{session_id}/turns" in document["paths"]
    assert BEFORE_CHECKPOINT_PATH not in document["paths"]
    assert AFTER_RESTORE_PATH not in document["paths"]
