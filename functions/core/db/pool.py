"""Connection pool and the per-request transaction that makes RLS decide."""

from __future__ import annotations

import asyncio
import json
import weakref
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from functions.core.settings import Settings, get_settings

# psycopg and its pool are imported when the first pool opens, not when a handler module loads: a
# Lambda's cold start then pays for them only on a route that reaches the database.
if TYPE_CHECKING:
    from psycopg import AsyncConnection
    from psycopg.rows import DictRow
    from psycopg.types.json import Jsonb
    from psycopg_pool import AsyncConnectionPool

    Conn = AsyncConnection[DictRow]
else:
    Conn = Any  # for annotations only; the type checker sees psycopg's connection

OPEN_TIMEOUT_S = 10.0
_AS_ROLE = "select set_config('role', %s, true), set_config('request.jwt.claims', %s, true)"


class Database:
    """Lazily opened pools, one per event loop (a Lambda container keeps one loop, so one pool).

    Every connection is checked (an empty query) before it is handed out: a Lambda container may be
    frozen for minutes between invocations, long enough for the pooler or the network to drop its
    connection, and a dead one is then replaced instead of failing the request.

    Fit for a transaction-mode pooler (Supabase's on port 6543), which lends a server connection for
    one transaction only: with prepare_threshold None nothing is prepared server-side; the role and
    claims are set with set_config(..., true), so they end with the transaction; and the pipeline opens
    and closes inside that one transaction.
    """

    def __init__(
        self, url: str, *, min_size: int = 1, max_size: int = 10, prepare_threshold: int | None = 5
    ) -> None:
        self.url = url
        self._min_size = min_size
        self._max_size = max_size
        self._prepare_threshold = prepare_threshold
        self._pools: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, asyncio.Task[AsyncConnectionPool[Conn]]
        ] = weakref.WeakKeyDictionary()

    async def pool(self) -> AsyncConnectionPool[Conn]:
        return await self._opening(OPEN_TIMEOUT_S)

    async def open(self, within_s: float) -> None:
        """Open the running loop's pool now; after `within_s` seconds it is closed and PoolTimeout raised
        (the next request tries again)."""
        await self._opening(within_s)

    def _opening(self, within_s: float) -> asyncio.Task[AsyncConnectionPool[Conn]]:
        loop = asyncio.get_running_loop()
        opening = self._pools.get(loop)
        if opening is None or (opening.done() and (opening.cancelled() or opening.exception())):
            opening = self._pools[loop] = loop.create_task(self._open(within_s))
        return opening

    async def _open(self, within_s: float) -> AsyncConnectionPool[Conn]:
        from psycopg import AsyncConnection
        from psycopg.rows import DictRow, dict_row
        from psycopg_pool import AsyncConnectionPool

        pool: AsyncConnectionPool[Conn] = AsyncConnectionPool(
            self.url,
            min_size=self._min_size,
            max_size=self._max_size,
            kwargs={
                "autocommit": True,
                "row_factory": dict_row,
                "prepare_threshold": self._prepare_threshold,
            },
            connection_class=AsyncConnection[DictRow],
            check=AsyncConnectionPool.check_connection,
            open=False,
            name="avatar-studio",
        )
        await pool.open(wait=self._min_size > 0, timeout=within_s)
        return pool

    @asynccontextmanager
    async def as_user(self, claims: Mapping[str, Any]) -> AsyncIterator[Conn]:
        """One transaction as role `authenticated` with the verified claims, as PostgREST does."""
        async with self._transaction("authenticated", json.dumps(dict(claims))) as conn:
            yield conn

    @asynccontextmanager
    async def as_service(self) -> AsyncIterator[Conn]:
        """One transaction as `service_role`, which bypasses RLS: the cleanup job, and the provider resources
        and assets only the server may see (private.provider_resources, private.provider_assets)."""
        async with self._transaction("service_role", "{}") as conn:
            yield conn

    @asynccontextmanager
    async def _transaction(self, role: str, claims: str) -> AsyncIterator[Conn]:
        pool = await self.pool()
        # Pipeline mode sends BEGIN and the role switch with the first real query: one round trip.
        async with pool.connection() as conn, conn.pipeline(), conn.transaction():
            await conn.execute(_AS_ROLE, (role, claims))
            yield conn

    async def ping(self) -> None:
        pool = await self.pool()
        async with pool.connection(timeout=5) as conn:
            await conn.execute("select 1")

    async def close(self) -> None:
        """Close the pool of the running loop."""
        opening = self._pools.pop(asyncio.get_running_loop(), None)
        if opening is not None:
            await (await opening).close()

    def close_idle_loops(self) -> None:
        """Close the pool of every loop that is not running, from outside any loop (SnapStart's hooks run
        between invocations, when the handler's loop is idle); a pool that failed to open is forgotten."""
        for loop, opening in list(self._pools.items()):
            if loop.is_running():
                continue
            del self._pools[loop]
            if not loop.is_closed():
                loop.run_until_complete(_close_opened(opening))


async def _close_opened(opening: asyncio.Task[AsyncConnectionPool[Conn]]) -> None:
    try:
        pool = await opening
    except Exception:
        return  # a pool that never opened holds nothing to close
    await pool.close()


def jsonb(value: Any) -> Jsonb:
    """A JSON(B) query parameter (psycopg's Jsonb wrapper, imported when first needed)."""
    from psycopg.types.json import Jsonb

    return Jsonb(value)


def database_url(settings: Settings) -> str:
    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    if not settings.is_local:
        raise RuntimeError("DATABASE_URL is required outside local mode")
    from functions.core.db.embedded import start_embedded_postgres
    from functions.core.db.migrate import prepare_database

    url = start_embedded_postgres(settings.data_dir)
    prepare_database(url)
    return url


@lru_cache(maxsize=1)
def get_database() -> Database:
    settings = get_settings()
    return Database(
        database_url(settings),
        min_size=settings.db_pool_min,
        max_size=settings.pool_max_size,
        prepare_threshold=5 if settings.prepare_statements else None,
    )
