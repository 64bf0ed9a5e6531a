"""The whole product in one process for `make dev`: every router, the web client, a demo avatar."""

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from functions.core.api.app import create_app
from functions.core.api.routes import api_keys, avatars, chat, knowledge, sessions, speech, turns, widget
from functions.core.auth.local_users import ensure_local_user
from functions.core.cleanup import sweep
from functions.core.db.pool import Database, get_database
from functions.core.knowledge.ingest import demo_knowledge_paths, owner_principal, seed_demo_knowledge
from functions.core.settings import get_settings

log = logging.getLogger(__name__)

WEB_DIST = Path(__file__).resolve().parents[2] / "web" / "dist"
DEMO_EMAIL = "demo@avatar-studio.local"
# How often `make dev` sweeps sessions, as the scheduled cleanup function does in the cloud.
LOCAL_SWEEP_SECONDS = 60.0


def create_local_app(web_dist: Path = WEB_DIST, *, sweep_every_seconds: float | None = None) -> FastAPI:
    """`sweep_every_seconds`: also end expired and idle sessions (tabs closed without ending) that often."""
    swagger = web_dist / "docs-assets" / "swagger-ui-bundle.js"
    app = create_app(
        [
            avatars.router,
            api_keys.router,
            knowledge.router,
            sessions.router,
            turns.router,
            chat.router,
            speech.router,
            widget.router,
        ],
        docs_assets="/docs-assets" if swagger.is_file() else None,
    )
    if web_dist.is_dir():
        app.mount("/", StaticFiles(directory=web_dist, html=True), name="web")
    else:

        @app.get("/", include_in_schema=False)
        async def index() -> RedirectResponse:
            return RedirectResponse("/docs")

    if sweep_every_seconds is not None:
        _sweep_while_serving(app, sweep_every_seconds)
    return app


def _sweep_while_serving(app: FastAPI, every_seconds: float) -> None:
    """Local mode has no scheduler to run the cleanup function, so the server sweeps by itself."""
    serving = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: FastAPI) -> AsyncIterator[None]:
        async with serving(application):
            task = asyncio.create_task(_sweep_forever(every_seconds))
            try:
                yield
            finally:
                task.cancel()
                with suppress(asyncio.CancelledError):
                    await task

    app.router.lifespan_context = lifespan


async def _sweep_forever(every_seconds: float) -> None:
    while True:
        try:
            await sweep(get_database(), get_settings())
        except Exception:  # the next round tries again; a local server must not stop over it
            log.exception("the local session sweep failed")
        await asyncio.sleep(every_seconds)


async def seed_demo(db: Database) -> None:
    """A demo owner with one local avatar whose knowledge base is the product's own docs, made once."""
    owner_id = await ensure_local_user(db, DEMO_EMAIL)
    pool = await db.pool()
    async with pool.connection() as conn:
        await conn.execute(
            "insert into public.avatars (owner_id, name, persona, greeting, allowed_origins)"
            " select %s, 'Ava', 'You are Ava, the friendly guide to Interactive Avatar Studio.',"
            " 'Hi, I am Ava. Ask me anything about Interactive Avatar Studio.',"
            " array['http://127.0.0.1:8000', 'http://localhost:8000']"
            " where not exists (select 1 from public.avatars where owner_id = %s)",
            (owner_id, owner_id),
        )
        cur = await conn.execute(
            "select id from public.avatars where owner_id = %s order by created_at, id limit 1", (owner_id,)
        )
        avatar = await cur.fetchone()
    assert avatar is not None
    await seed_demo_knowledge(db, owner_principal(owner_id), avatar["id"], demo_knowledge_paths())
