import asyncio
import secrets
import socket
import time

import httpx
import psycopg
import pytest

from functions.core import cli
from functions.core.api.app import create_app
from functions.core.api.routes import avatars
from functions.core.db.pool import Database
from functions.core.local import DEMO_EMAIL, create_local_app, seed_demo
from functions.core.settings import get_settings
from tests.conftest import UserFactory, serve_app
from tests.functional.support import session_row


def test_the_demo_owner_and_avatar_are_seeded_once(database_url: str, admin: psycopg.Connection) -> None:
    # A local server of an earlier test may have seeded the demo already, on its own port.
    seeded = admin.execute(
        "select a.allowed_origins from public.avatars a join auth.users u on u.id = a.owner_id"
        " where u.email = %s",
        (DEMO_EMAIL,),
    ).fetchone()

    async def seed_twice() -> None:
        db = Database(database_url)
        await seed_demo(db, 8620)
        await seed_demo(db, 8000)
        await db.close()

    asyncio.run(seed_twice())
    rows = admin.execute(
        "select a.name, a.provider, a.allowed_origins from public.avatars a"
        " join auth.users u on u.id = a.owner_id where u.email = %s",
        (DEMO_EMAIL,),
    ).fetchall()
    # The widget's allowed origins are those of the port the server first ran on; later runs leave the
    # avatar as its owner may have edited it.
    origins = (
        ["http://127.0.0.1:8620", "http://localhost:8620"] if seeded is None else seeded["allowed_origins"]
    )
    assert rows == [{"name": "Ava", "provider": "local", "allowed_origins": origins}]


def test_dev_login_returns_the_same_user_for_the_same_email(client: httpx.Client) -> None:
    first = client.post("/v1/dev/login", json={"email": "Same.Person@example.test"})
    second = client.post("/v1/dev/login", json={"email": "same.person@example.test"})
    assert first.status_code == second.status_code == 200
    assert first.json()["user_id"] == second.json()["user_id"]
    me = client.get("/v1/avatars", headers={"authorization": f"Bearer {second.json()['access_token']}"})
    assert me.status_code == 200


def test_dev_login_does_not_exist_outside_local_mode(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APP_MODE", "cloud")
    monkeypatch.setenv("SUPABASE_JWT_SECRET", secrets.token_urlsafe(40))
    get_settings.cache_clear()
    try:
        app = create_app([avatars.router])

        async def login() -> httpx.Response:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://studio.test") as http:
                return await http.post("/v1/dev/login", json={"email": "someone@example.test"})

        response = asyncio.run(login())
    finally:
        get_settings.cache_clear()
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_a_taken_port_is_named_with_the_fix_before_anything_says_it_is_running(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert cli.main(["dev", "--host", "127.0.0.1", "--port", str(port)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        f"Port {port} on 127.0.0.1 is already in use (another `make dev`?). Stop that server, or pick"
        f" another port: PORT={port + 1} make dev\n"
    )


def test_the_banner_names_the_studio_the_demo_sign_in_and_the_docs() -> None:
    banner = cli._banner("127.0.0.1", 8000)
    assert "http://127.0.0.1:8000/studio/" in banner
    assert "demo@avatar-studio.local" in banner
    assert "http://127.0.0.1:8000/docs" in banner
    assert "Ctrl-C" in banner


def test_the_local_server_sweeps_the_sessions_of_tabs_closed_without_ending(
    database_url: str, make_user: UserFactory, admin: psycopg.Connection[dict[str, object]]
) -> None:
    owner = make_user()
    with serve_app(create_local_app(sweep_every_seconds=0.2)) as url, httpx.Client(base_url=url) as http:
        avatar = http.post("/v1/avatars", json={"name": "Ava"}, headers=owner.headers).json()
        started = http.post("/v1/sessions", json={"avatar_id": avatar["id"]}, headers=owner.headers).json()
        # The tab was closed without a word ten minutes ago: no end, no keepalive since.
        admin.execute(
            "update public.streaming_sessions set last_activity_at = now() - interval '10 minutes'"
            " where id = %s",
            (started["session_id"],),
        )
        deadline = time.monotonic() + 15
        while session_row(admin, started["session_id"])["status"] == "active":
            assert time.monotonic() < deadline, "the local server never swept the idle session"
            time.sleep(0.05)
    row = session_row(admin, started["session_id"])
    assert row["status"] == "ended"
    assert row["end_reason"] == "idle_timeout"


def test_the_local_server_tells_its_pages_to_call_the_api_where_they_are(client: httpx.Client) -> None:
    """The studio reads config.json next to its page (`make site` writes the addresses there); the local
    server serves pages and API on one origin and names neither, so the pages use their own (a proxy in
    front of it may call it by another name: tests/browser/test_voice.py opens the studio through one)."""
    reply = client.get("/config.json")
    assert reply.status_code == 200
    assert reply.json() == {"api": None, "stream": None}
