"""Builds the FastAPI app that every HTTP function serves, with only the routers it needs: what a function
does not route is not imported at its cold start (GET /health is served by the sessions function and the
streaming one, whose Web Adapter checks it; GET /v1/config by the sessions function alone)."""

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

from functions.core.api.body_limit import BodyLimitMiddleware, upload_routes
from functions.core.api.cors import CorsMiddleware, OriginCache, load_avatar_origins
from functions.core.api.openapi import install_openapi
from functions.core.api.problems import install_problem_handlers
from functions.core.db.pool import get_database
from functions.core.http_client import app_clients
from functions.core.logs import configure_logging
from functions.core.settings import get_settings


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    await app.state.http_clients.aclose()


def create_app(
    routers: Sequence[APIRouter], *, title: str = "Interactive Avatar Studio", docs_assets: str | None = None
) -> FastAPI:
    """`docs_assets`: where Swagger UI's files are served (the local server's own copy); a CDN otherwise."""
    settings = get_settings()
    configure_logging(settings.log_level, structured=not settings.is_local)
    app = FastAPI(
        title=title,
        version="0.1.0",
        docs_url=None if docs_assets else "/docs",
        redoc_url=None,
        lifespan=_lifespan,
    )
    # The one client factory of every provider request, closed when the app shuts down.
    app.state.http_clients = app_clients()
    if docs_assets:
        _serve_docs_from(app, docs_assets)
    install_problem_handlers(app)
    install_openapi(app)
    for router in routers:
        app.include_router(router)
    if settings.is_local:
        from functions.core.api.routes import dev

        app.include_router(dev.router)
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        max_upload_bytes=settings.max_upload_bytes,
        uploads=upload_routes(routers),
    )
    app.state.avatar_origins = OriginCache(lambda: load_avatar_origins(get_database()))
    app.add_middleware(
        CorsMiddleware, static_origins=settings.cors_origins, avatar_origins=app.state.avatar_origins
    )
    return app


def _serve_docs_from(app: FastAPI, assets: str) -> None:
    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} API",
            swagger_js_url=f"{assets}/swagger-ui-bundle.js",
            swagger_css_url=f"{assets}/swagger-ui.css",
            swagger_favicon_url=f"{assets}/favicon-32x32.png",
        )
