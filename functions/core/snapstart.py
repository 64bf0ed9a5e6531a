"""Lambda SnapStart: what a function's snapshot must not hold, and what each restored instance renews.

With SnapStart, Lambda runs a function's init once when a version is published, snapshots its memory and
resumes every new instance from that snapshot, so the init's work is no longer paid at a cold start. The
hooks (registered with the runtime's `snapshot_restore_py`, which only the Lambda runtime provides):

- before the snapshot: import what the routes need on their first request (psycopg and its pool, PyJWT,
  httpx, and the modules behind the function's routes that it names: a handler module imports them
  lazily, for functions without SnapStart and for local runs), and
  close the database pool and the HTTP clients, whose sockets would be stale, and shared by every instance
  restored from the snapshot;
- after a restore: reseed `random` (otherwise every restored instance draws the same retry jitter) and
  open the database pool again on the handler's loop, so the first request finds a live connection.

The streaming function runs its app under uvicorn behind the Lambda Web Adapter, in a process of its
own that the runtime's hooks never reach; from v1.1.0 the adapter calls two paths of the app instead
(`functions/core/api/routes/snapstart.py`), which do the same on the app's running loop.
"""

import asyncio
import importlib
import logging
import random
from collections.abc import Sequence

from functions.core.db.pool import Database, get_database
from functions.core.http_client import app_clients

log = logging.getLogger(__name__)

# What routes import on their first request, imported into the snapshot instead.
PRELOADED = ("psycopg", "psycopg.rows", "psycopg.types.json", "psycopg_pool", "jwt", "httpx")
# Lambda gives the after-restore hooks 10 s in all; a database still unreachable by then is left to the
# first request, which opens the pool itself.
REOPEN_TIMEOUT_S = 5.0
_RELEASED = "snapstart: modules preloaded, database pool and HTTP clients closed before the snapshot"


def preload(modules: Sequence[str]) -> None:
    """Import the drivers every request needs and `modules`, what the function's own routes import
    when they first run."""
    for name in (*PRELOADED, *modules):
        importlib.import_module(name)


def before_snapshot(database: Database | None = None, modules: Sequence[str] = ()) -> None:
    """The runtime's hook: it runs between invocations, when the handler's loop is idle."""
    preload(modules)
    (database or get_database()).close_idle_loops()
    app_clients().close_idle_loops()
    log.info(_RELEASED)


async def release(database: Database, modules: Sequence[str]) -> None:
    """The same, on the loop that serves the app (the Web Adapter's hook is a request to it)."""
    preload(modules)
    await database.close()
    await app_clients().aclose()
    log.info(_RELEASED)


async def renew(database: Database) -> None:
    """What a restored instance does before its first request, on the loop that serves it."""
    random.seed()
    try:
        await database.open(REOPEN_TIMEOUT_S)
    except Exception as exc:
        # The first request opens the pool itself, or answers a problem if it cannot.
        log.warning("snapstart: the database pool did not reopen after the restore: %s", exc)
        return
    log.info("snapstart: random reseeded, database pool reopened after the restore")


def after_restore(loop: asyncio.AbstractEventLoop, database: Database | None = None) -> None:
    loop.run_until_complete(renew(database or get_database()))


def register_hooks(loop: asyncio.AbstractEventLoop, preload: Sequence[str] = ()) -> bool:
    """Registers both hooks for the handler running on `loop`, the snapshot also importing `preload`;
    False outside the Lambda runtime."""
    try:
        runtime = importlib.import_module("snapshot_restore_py")
    except ImportError:
        return False
    runtime.register_before_snapshot(before_snapshot, modules=tuple(preload))
    runtime.register_after_restore(after_restore, loop)
    return True
