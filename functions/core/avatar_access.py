"""Whether the caller may see an avatar, for the routes that act on what an avatar owns (its knowledge,
tools and API keys) without its configuration models."""

import uuid

from functions.core.db.pool import Conn
from functions.core.errors import NotFound


async def require_avatar(conn: Conn, avatar_id: uuid.UUID) -> None:
    """404 unless the caller may see the avatar (RLS hides other owners' avatars)."""
    cur = await conn.execute("select 1 from public.avatars where id = %s", (avatar_id,))
    if await cur.fetchone() is None:
        raise NotFound("no such avatar")
