"""`avatar-studio deploy check` against the embedded Postgres set up like today's Supabase (no default
grants), a fake Supabase Auth JWKS over real HTTP, and the functions' app served by uvicorn."""

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import psycopg
import pytest
import uvicorn
from psycopg.conninfo import make_conninfo

from functions.core.api.app import create_app
from functions.core.api.routes import health, sessions
from functions.core.db.migrate import prepare_database
from functions.core.deploy.check import Check, run_checks
from functions.core.settings import Settings, get_settings
from tests.conftest import _free_port

Admin = psycopg.Connection[Any]
STUDIO = "https://studio.example.com"
# Supabase Auth publishes its signing keys at <SUPABASE_URL>/auth/v1/.well-known/jwks.json
# (https://supabase.com/docs/guides/auth/signing-keys): a JSON object with a `keys` array of JWKs.
JWKS = {
    "keys": [{"kty": "EC", "crv": "P-256", "kid": "k1", "alg": "ES256", "use": "sig", "x": "AA", "y": "AA"}]
}


@pytest.fixture(scope="module")
def supabase_auth() -> Iterator[str]:
    class Auth(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            found = self.path == "/auth/v1/.well-known/jwks.json"
            body = json.dumps(JWKS if found else {"message": "not found"}).encode()
            self.send_response(200 if found else 404)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Auth)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def deployed_api(database_url: str) -> Iterator[str]:
    """The sessions function's app as deployed: CORS_ORIGINS names the studio."""
    mp = pytest.MonkeyPatch()
    mp.setenv("CORS_ORIGINS", json.dumps([STUDIO]))
    get_settings.cache_clear()
    app = create_app([health.router, sessions.router])
    mp.undo()
    get_settings.cache_clear()
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline, "the app did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def cloud_settings(database_url: str, supabase_auth: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "app_mode": "cloud",
        "database_url": database_url,
        "supabase_url": supabase_auth,
        "supabase_anon_key": "anon-key",
        "widget_token_secret": "w" * 48,
        "cors_origins": [STUDIO],
        "elevenlabs_api_key": "el-key",
    }
    return Settings(**{**values, **overrides})


def check(settings: Settings, api: str | None, stream: str | None) -> dict[str, Check]:
    async def run() -> list[Check]:
        async with httpx.AsyncClient(timeout=10) as http:
            return await run_checks(settings, api_url=api, stream_url=stream, http=http)

    return {found.name: found for found in asyncio.run(run())}


def test_a_complete_deployment_passes_every_check(
    database_url: str, supabase_auth: str, deployed_api: str
) -> None:
    checks = check(cloud_settings(database_url, supabase_auth), deployed_api, deployed_api)
    assert [found.line() for found in checks.values() if not found.ok] == []
    assert set(checks) == {
        "mode",
        "cors origins",
        "widget secret",
        "supabase anon key",
        "token issuer",
        "speech",
        "migrations",
        "database as authenticated",
        "database as service_role",
        "jwks",
        "http api",
        "http api preflight",
        "stream url",
        "stream url preflight",
    }
    print("\n".join(found.line() for found in checks.values()))


def test_missing_settings_each_say_what_to_set(database_url: str, supabase_auth: str) -> None:
    settings = cloud_settings(
        database_url,
        supabase_auth,
        cors_origins=[],
        widget_token_secret=None,
        supabase_anon_key=None,
        elevenlabs_api_key=None,
    )
    checks = check(settings, None, None)
    assert "CORS_ORIGINS" in checks["cors origins"].detail
    assert "WIDGET_TOKEN_SECRET" in checks["widget secret"].detail
    assert "SUPABASE_ANON_KEY" in checks["supabase anon key"].detail
    assert "ELEVENLABS_API_KEY" in checks["speech"].detail
    assert "--api-url" in checks["http api"].detail
    assert "PUBLIC_API_BASE" in checks["stream url"].detail
    assert not any(checks[name].ok for name in ("cors origins", "widget secret", "http api", "stream url"))


def test_an_unreachable_jwks_or_address_fails(database_url: str, supabase_auth: str) -> None:
    closed = f"http://127.0.0.1:{_free_port()}"
    checks = check(cloud_settings(database_url, closed), closed, closed)
    assert not checks["jwks"].ok
    assert "SUPABASE_URL" in checks["jwks"].detail
    assert not checks["http api"].ok
    assert "does not answer" in checks["stream url"].detail


def test_a_preflight_the_api_refuses_fails(database_url: str, supabase_auth: str, deployed_api: str) -> None:
    checks = check(
        cloud_settings(database_url, supabase_auth, cors_origins=["https://elsewhere.example"]),
        deployed_api,
        None,
    )
    assert checks["http api"].ok
    assert not checks["http api preflight"].ok
    assert "CORS_ORIGINS" in checks["http api preflight"].detail


@pytest.fixture
def scratch_database(admin: Admin, database_url: str) -> Iterator[str]:
    name = f"deploy_{uuid.uuid4().hex[:12]}"
    admin.execute(f"create database {name}".encode())
    try:
        yield make_conninfo(database_url, dbname=name)
    finally:
        admin.execute(f"drop database if exists {name} with (force)".encode())


def test_a_missing_grant_is_named_with_its_role_and_table(scratch_database: str, supabase_auth: str) -> None:
    prepare_database(scratch_database)
    with psycopg.connect(scratch_database, autocommit=True) as conn:
        conn.execute("revoke select on public.avatars from service_role")
        conn.execute("revoke delete on public.knowledge_chunks from authenticated")
    checks = check(cloud_settings(scratch_database, supabase_auth), None, None)
    assert checks["migrations"].ok
    assert not checks["database as service_role"].ok
    assert "SELECT on public.avatars" in checks["database as service_role"].detail
    assert "DELETE on public.knowledge_chunks" in checks["database as authenticated"].detail


def test_a_database_without_the_migrations_says_to_push_them(
    scratch_database: str, supabase_auth: str
) -> None:
    checks = check(cloud_settings(scratch_database, supabase_auth), None, None)
    assert not checks["migrations"].ok
    assert "supabase db push" in checks["migrations"].detail
    assert not checks["database as authenticated"].ok


def test_an_unreachable_database_says_to_check_database_url(supabase_auth: str) -> None:
    url = f"postgresql://nobody:pw@127.0.0.1:{_free_port()}/postgres"
    checks = check(cloud_settings(url, supabase_auth), None, None)
    assert not checks["database"].ok
    assert "DATABASE_URL" in checks["database"].detail
