"""Local mode only: users in the bootstrap's auth.users, created on first use by email."""

import uuid

from functions.core.db.pool import Database


async def ensure_local_user(db: Database, email: str) -> uuid.UUID:
    pool = await db.pool()
    async with pool.connection() as conn:
        cur = await conn.execute(
            "insert into auth.users (email) values (%s)"
            " on conflict (email) do update set email = excluded.email returning id",
            (email,),
        )
        row = await cur.fetchone()
    assert row is not None
    user_id: uuid.UUID = row["id"]
    return user_id
