"""The connection pool as Lambda uses it: one connection, checked before use, fit for a transaction-mode
pooler (nothing prepared server-side, nothing left on the connection after a transaction)."""

import asyncio
import uuid
from typing import Any

from functions.core.db.pool import Database
from tests.db.rls import Admin

CLAIMS = {"sub": str(uuid.uuid4()), "role": "authenticated", "aud": "authenticated"}


def _run(database_url: str, prepare_threshold: int | None, work: Any) -> Any:
    async def main() -> Any:
        db = Database(database_url, min_size=1, max_size=1, prepare_threshold=prepare_threshold)
        try:
            return await work(db)
        finally:
            await db.close()

    return asyncio.run(main())


async def _backend_pid(db: Database) -> int:
    async with db.as_user(CLAIMS) as conn:
        cur = await conn.execute("select pg_backend_pid() as pid")
        row = await cur.fetchone()
    assert row is not None
    pid: int = row["pid"]
    return pid


def test_a_connection_dropped_while_the_container_was_frozen_is_replaced(
    admin: Admin, database_url: str
) -> None:
    async def work(db: Database) -> tuple[int, int]:
        first = await _backend_pid(db)
        # What a pooler timing out an idle client, or a network change during a freeze, does.
        admin.execute("select pg_terminate_backend(%s, 5000)", (first,))
        return first, await _backend_pid(db)

    first, second = _run(database_url, None, work)
    assert second != first


def test_without_prepared_statements_a_repeated_query_prepares_nothing(database_url: str) -> None:
    async def prepared_after_repeats(db: Database) -> int:
        for _ in range(8):
            async with db.as_user(CLAIMS) as conn:
                await conn.execute("select count(*) from public.avatars where name = %s", ("x",))
        async with db.as_user(CLAIMS) as conn:
            cur = await conn.execute("select count(*) as n from pg_prepared_statements")
            row = await cur.fetchone()
        assert row is not None
        n: int = row["n"]
        return n

    assert _run(database_url, None, prepared_after_repeats) == 0
    # The same work with a threshold does prepare: the count above is not zero by accident.
    assert _run(database_url, 5, prepared_after_repeats) > 0


def test_role_and_claims_end_with_the_transaction(database_url: str) -> None:
    async def after_a_request(db: Database) -> dict[str, Any]:
        async with db.as_user(CLAIMS) as conn:
            cur = await conn.execute("select current_user as who")
            inside = await cur.fetchone()
        assert inside == {"who": "authenticated"}
        pool = await db.pool()
        async with pool.connection() as conn:
            cur = await conn.execute(
                "select current_user as who, current_setting('request.jwt.claims', true) as claims"
            )
            row = await cur.fetchone()
        assert row is not None
        return dict(row)

    row = _run(database_url, None, after_a_request)
    assert row["who"] != "authenticated"
    assert row["claims"] in ("", None)
