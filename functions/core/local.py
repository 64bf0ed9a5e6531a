"""The whole product in one process for `make dev`: every router, the web client, a demo avatar."""

import asyncio
import logging
import threading
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.routing import Match, Mount
from starlette.types import ASGIApp, Scope

from functions.core.api.app import create_app
from functions.core.api.routes import (
    api_keys,
    avatars,
    chat,
    config,
    health,
    insights,
    knowledge,
    sessions,
    speech,
    tools,
    turns,
    widget,
)
from functions.core.auth.local_users import ensure_local_user
from functions.core.auth.tokens import Principal
from functions.core.cleanup import sweep
from functions.core.db.pool import Database, get_database
from functions.core.knowledge.ingest import demo_knowledge_paths, on_behalf_of, seed_demo_knowledge
from functions.core.settings import Settings, get_settings

log = logging.getLogger(__name__)

API_PREFIX = "/v1/"
API_PATHS = frozenset({"/v1", "/health", "/openapi.json", "/docs", "/docs/oauth2-redirect"})
WEB_DIST = Path(__file__).resolve().parents[2] / "web" / "dist"
DEMO_EMAIL = "demo@avatar-studio.local"
# How often `make dev` sweeps sessions, as the scheduled cleanup function does in the cloud.
LOCAL_SWEEP_SECONDS = 60.0


class WebMount(Mount):
    """The web client at `/`, which never answers an API path: a wrong method there stays the API's
    405 (with `Allow`), an unknown API path its 404, both problems."""

    def __init__(self, app: ASGIApp) -> None:
        super().__init__("/", app=app, name="web")

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        path = scope.get("path", "")
        if path in API_PATHS or path.startswith(API_PREFIX):
            return Match.NONE, {}
        return super().matches(scope)


def create_local_app(web_dist: Path = WEB_DIST, *, sweep_every_seconds: float | None = None) -> FastAPI:
    """`sweep_every_seconds`: also end expired and idle sessions (tabs closed without ending) that often."""
    swagger = web_dist / "docs-assets" / "swagger-ui-bundle.js"
    app = create_app(
        [
            health.router,
            config.router,
            avatars.router,
            api_keys.router,
            knowledge.router,
            sessions.router,
            turns.router,
            chat.router,
            speech.router,
            widget.router,
            tools.router,
            insights.router,
        ],
        docs_assets="/docs-assets" if swagger.is_file() else None,
    )
    if web_dist.is_dir():

        @app.get("/config.json", include_in_schema=False)
        async def site_addresses() -> dict[str, None]:
            """What `make site` writes next to the deployed pages. Here the pages and the API share an
            origin, which only the browser knows (a proxy in front may give this server another host
            name), so neither address is named and the pages use their own origin for both."""
            return {"api": None, "stream": None}

        app.router.routes.append(WebMount(StaticFiles(directory=web_dist, html=True)))
    else:

        @app.get("/", include_in_schema=False)
        async def index() -> RedirectResponse:
            return RedirectResponse("/docs")

    if sweep_every_seconds is not None:
        _sweep_while_serving(app, sweep_every_seconds)
    return app


def proxy_options(settings: Settings) -> dict[str, Any]:
    """How uvicorn finds the client's address: the direct peer, unless FORWARDED_ALLOW_IPS declares the
    proxies in front, whose X-Forwarded-For is then believed (per-IP rate limits key on this address)."""
    proxies = (settings.forwarded_allow_ips or "").strip()
    return {"proxy_headers": bool(proxies), "forwarded_allow_ips": proxies or None}


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


@dataclass(frozen=True)
class Demo:
    """The demo owner, as the work done on their behalf acts, and their avatar."""

    principal: Principal
    avatar_id: uuid.UUID


async def seed_demo(db: Database, port: int) -> Demo:
    """A demo owner with one local avatar, made once (its knowledge: `index_demo_knowledge`). Its widget
    may be shown by pages of this machine served on `port`, the port the local server runs on."""
    owner_id = await ensure_local_user(db, DEMO_EMAIL)
    origins = [f"http://127.0.0.1:{port}", f"http://localhost:{port}"]
    pool = await db.pool()
    async with pool.connection() as conn:
        await conn.execute(
            "insert into public.avatars (owner_id, name, persona, greeting, allowed_origins)"
            " select %s, 'Ava', 'You are Ava, the friendly guide to Interactive Avatar Studio.',"
            " 'Hi, I am Ava. Ask me anything about Interactive Avatar Studio.', %s"
            " where not exists (select 1 from public.avatars where owner_id = %s)",
            (owner_id, origins, owner_id),
        )
        cur = await conn.execute(
            "select id from public.avatars where owner_id = %s order by created_at, id limit 1", (owner_id,)
        )
        avatar = await cur.fetchone()
    assert avatar is not None
    return Demo(on_behalf_of(owner_id, get_settings()), avatar["id"])


async def index_demo_knowledge(db: Database, demo: Demo) -> None:
    """The product's own docs become the demo avatar's knowledge base; unchanged files are kept as is."""
    await seed_demo_knowledge(
        db, demo.principal, demo.avatar_id, demo_knowledge_paths(), settings=get_settings()
    )


def index_demo_knowledge_in_background(db: Database, demo: Demo) -> threading.Thread:
    """Index the demo knowledge base while the server already answers (with local embeddings it takes a
    minute or two): the studio's Knowledge tab shows each document's progress meanwhile."""

    async def run() -> None:
        try:
            await index_demo_knowledge(db, demo)
        except Exception:
            log.exception("indexing the demo knowledge base failed; the Knowledge tab shows why")
        finally:
            await db.close()

    thread = threading.Thread(target=asyncio.run, args=(run(),), name="demo-knowledge", daemon=True)
    thread.start()
    return thread
