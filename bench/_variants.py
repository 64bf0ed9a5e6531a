"""App factories for A/B runs of `bench/sessions.py --factory`: the local app with one change applied.

They only override FastAPI dependencies from outside, to measure a suggested change in functions/
before anyone makes it there.
"""

from fastapi import FastAPI

from functions.core.db.pool import Database, get_database
from functions.core.local import create_local_app
from functions.core.settings import Settings, get_settings


async def _database() -> Database:
    return get_database()


async def _settings() -> Settings:
    return get_settings()


def create_async_deps_app() -> FastAPI:
    """The local app with `get_database`/`get_settings` served by async dependencies.

    FastAPI runs a plain `def` dependency in the thread pool for every request; these two are
    lru_cached look-ups, so the hop costs more than the call.
    """
    app = create_local_app()
    app.dependency_overrides[get_database] = _database
    app.dependency_overrides[get_settings] = _settings
    return app
