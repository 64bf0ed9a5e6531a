import asyncio
import secrets

import httpx
import psycopg
import pytest

from functions.core.api.app import create_app
from functions.core.api.routes import avatars
from functions.core.db.pool import Database
from functions.core.local import DEMO_EMAIL, seed_demo
from functions.core.settings import get_settings


def test_the_demo_owner_and_avatar_are_seeded_once(database_url: str, admin: psycopg.Connection) -> None:
    async def seed_twice() -> None:
        db = Database(database_url)
        await seed_demo(db)
        await seed_demo(db)
        await db.close()

    asyncio.run(seed_twice())
    rows = admin.execute(
        "select a.name, a.provider from public.avatars a join auth.users u on u.id = a.owner_id"
        " where u.email = %s",
        (DEMO_EMAIL,),
    ).fetchall()
    assert rows == [{"name": "Ava", "provider": "local"}]


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
