import asyncio

import httpx
import psycopg

from functions.core.db.pool import Database
from functions.core.local import DEMO_EMAIL, seed_demo


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
