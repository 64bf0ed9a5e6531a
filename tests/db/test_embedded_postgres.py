"""The embedded Postgres on this machine: its pgvector's HNSW index, the start-up check, and a pool that
survives its backends dying."""

import asyncio
from pathlib import Path

import pytest
from psycopg.conninfo import make_conninfo

from functions.core.db import embedded
from functions.core.db.embedded import EmbeddedDatabaseError, check_vector_extension
from functions.core.db.pool import Database
from tests.db.rls import Admin

# The server log's line when pgvector was built for a CPU newer than the one running it (issue 10).
SIGILL_LOG = (
    "2026-11-20 10:00:00.000 UTC [4242] LOG:  client backend (PID 4343) was terminated by signal 4:"
    " Illegal instruction\n"
)


def test_hnsw_index_takes_inserts_and_is_built_over_existing_rows(admin: Admin) -> None:
    """Both paths that killed the backend with SIGILL: inserts into an HNSW index that already holds rows,
    and an HNSW index built over existing rows; the test session's database must stay up through both."""
    with admin.transaction(force_rollback=True):
        admin.execute("create temporary table hnsw_after (id int, v extensions.vector(8))")
        admin.execute("create index on hnsw_after using hnsw (v extensions.vector_cosine_ops)")
        admin.execute("create temporary table hnsw_before (id int, v extensions.vector(8))")
        for table in ("hnsw_after", "hnsw_before"):
            admin.execute(
                f"insert into {table} select i,"
                " array[i, i % 7, i % 5, 1, 2, i % 3, 0, i]::real[]::extensions.vector"
                " from generate_series(1, 200) as i"
            )
        admin.execute("create index on hnsw_before using hnsw (v extensions.vector_l2_ops)")
        admin.execute("set local enable_seqscan = off")
        for table, operator in (("hnsw_after", "<=>"), ("hnsw_before", "<->")):
            plan = admin.execute(
                f"explain select id from {table} order by v operator(extensions.{operator})"
                " array[3, 3, 3, 1, 2, 0, 0, 3]::real[]::extensions.vector limit 5"
            ).fetchall()
            assert any("hnsw" in str(row).lower() for row in plan), plan
            rows = admin.execute(
                f"select id from {table} order by v operator(extensions.{operator})"
                " array[3, 3, 3, 1, 2, 0, 0, 3]::real[]::extensions.vector limit 5"
            ).fetchall()
            assert len(rows) == 5
    assert admin.execute("select 1 as alive").fetchone() == {"alive": 1}


def test_start_up_check_passes_on_a_working_server(database_url: str) -> None:
    check_vector_extension(database_url)


def test_start_up_check_names_the_crash_and_the_fix(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A backend that dies during the probe (here it ends itself, as SIGILL would) gives one sentence that
    quotes the server log and says what to do, not a traceback from the middle of the migrations."""
    server_log = tmp_path / "log"
    server_log.write_text("2026-11-20 09:59:59.000 UTC [4242] LOG:  database system is ready\n" + SIGILL_LOG)
    monkeypatch.setattr(embedded, "VECTOR_PROBE", "select pg_terminate_backend(pg_backend_pid())")
    with pytest.raises(EmbeddedDatabaseError) as caught:
        check_vector_extension(database_url, server_log)
    message = str(caught.value)
    assert "client backend (PID 4343) was terminated by signal 4: Illegal instruction" in message
    assert "AVX2" in message
    assert "DATABASE_URL" in message
    assert "\n" not in message


def test_start_up_check_refuses_a_server_without_a_working_index(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(embedded, "NEAREST", "select 0")
    with pytest.raises(EmbeddedDatabaseError, match="found 0 of 3 rows"):
        check_vector_extension(database_url)


def test_pool_hands_out_working_connections_after_its_backends_are_terminated(
    database_url: str, admin: Admin
) -> None:
    """Every backend of the pool is terminated from a second connection, as a crash and restart would do;
    the requests after it still get working connections."""
    name = "pool-recovery-test"
    db = Database(make_conninfo(database_url, application_name=name), min_size=2, max_size=2)

    async def backend_pids() -> set[int]:
        async with db.as_service() as first, db.as_service() as second:
            pids = set()
            for conn in (first, second):
                cur = await conn.execute("select pg_backend_pid() as pid")
                row = await cur.fetchone()
                assert row is not None
                pids.add(int(row["pid"]))
        return pids

    async def scenario() -> tuple[set[int], set[int]]:
        try:
            before = await backend_pids()
            terminated = admin.execute(
                "select pg_terminate_backend(pid, 5000) as done"
                " from pg_stat_activity where application_name = %s",
                (name,),
            ).fetchall()
            assert len(terminated) == 2
            assert all(row["done"] for row in terminated)
            return before, await backend_pids()
        finally:
            await db.close()

    before, after = asyncio.run(scenario())
    assert len(before) == 2
    assert len(after) == 2
    assert not before & after
