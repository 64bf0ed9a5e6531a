"""An owner's API keys for one avatar: created (shown once), listed, revoked."""

import secrets
import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from functions.core.auth.api_keys import API_KEY_PREFIX, hash_api_key
from functions.core.auth.tokens import Principal
from functions.core.avatar_access import require_avatar
from functions.core.db.pool import Database
from functions.core.errors import NotFound

KEY_PREFIX_CHARS = 12


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="", max_length=120)


class ApiKeyOut(BaseModel):
    id: uuid.UUID
    name: str
    key_prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(BaseModel):
    id: uuid.UUID
    name: str
    key: str
    key_prefix: str
    created_at: datetime


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(30)  # 30 random bytes: 40 url-safe characters


async def create_api_key(
    db: Database, principal: Principal, avatar_id: uuid.UUID, body: ApiKeyCreate
) -> ApiKeyCreated:
    key = new_api_key()
    async with db.as_user(principal.claims) as conn:
        await require_avatar(conn, avatar_id)
        cur = await conn.execute(
            "insert into public.avatar_api_keys (avatar_id, name, key_prefix, key_hash)"
            " values (%s, %s, %s, %s) returning id, name, key_prefix, created_at",
            (avatar_id, body.name, key[:KEY_PREFIX_CHARS], hash_api_key(key)),
        )
        row = await cur.fetchone()
    assert row is not None
    return ApiKeyCreated(key=key, **row)


async def list_api_keys(db: Database, principal: Principal, avatar_id: uuid.UUID) -> list[ApiKeyOut]:
    async with db.as_user(principal.claims) as conn:
        await require_avatar(conn, avatar_id)
        cur = await conn.execute(
            "select id, name, key_prefix, created_at, last_used_at, revoked_at from public.avatar_api_keys"
            " where avatar_id = %s order by created_at desc, id",
            (avatar_id,),
        )
        rows = await cur.fetchall()
    return [ApiKeyOut(**row) for row in rows]


async def revoke_api_key(db: Database, principal: Principal, avatar_id: uuid.UUID, key_id: uuid.UUID) -> None:
    """Idempotent: revoking a revoked key keeps its first revocation time."""
    async with db.as_user(principal.claims) as conn:
        cur = await conn.execute(
            "update public.avatar_api_keys set revoked_at = coalesce(revoked_at, now())"
            " where id = %s and avatar_id = %s returning id",
            (key_id, avatar_id),
        )
        row = await cur.fetchone()
    if row is None:
        raise NotFound("no such API key for this avatar")
