"""Avatar configuration: what an owner creates, edits and deletes."""

import uuid
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from psycopg.types.json import Jsonb
from pydantic import BaseModel, ConfigDict, Field, field_validator

from functions.core.auth.tokens import Principal
from functions.core.db.pool import Database
from functions.core.errors import Conflict, NotFound
from functions.core.settings import AvatarProviderName
from functions.core.widget_look import WidgetLook

Quality = Literal["low", "medium", "high"]


class Voice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provider: Literal["local", "elevenlabs", "heygen", "liveavatar", "simli", "tavus"] = "local"
    voice_id: str | None = Field(default=None, max_length=200)
    settings: dict[str, Any] = Field(default_factory=dict)


def _origin(value: str) -> str:
    """The origin of a site address: a page's path, query or fragment (pasted from the address bar) is
    dropped, since the browser sends only scheme, host and port."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username is not None:
        raise ValueError(f"{value!r} is not a website address like https://example.com")
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        raise ValueError(f"{value!r} has a port that is not a number") from None
    return f"{parts.scheme}://{parts.hostname}{port}"


class AvatarFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=120)
    provider: AvatarProviderName = "local"
    provider_avatar_id: str | None = Field(default=None, max_length=200)
    voice: Voice = Field(default_factory=Voice)
    persona: str = Field(default="", max_length=8000)
    greeting: str = Field(default="", max_length=1000)
    quality: Quality = "medium"
    language: str = Field(
        default="en", min_length=2, max_length=16, pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]+)*$"
    )
    max_session_seconds: int = Field(default=600, ge=30, le=7200)
    allowed_origins: list[str] = Field(default_factory=list, max_length=50)
    grounded_only: bool = False
    widget: WidgetLook = Field(default_factory=WidgetLook)

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, values: list[str]) -> list[str]:
        return sorted({_origin(value) for value in values})


class AvatarCreate(AvatarFields):
    pass


class AvatarPatch(BaseModel):
    """Every field optional; only the fields sent change."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=120)
    provider: AvatarProviderName | None = None
    provider_avatar_id: str | None = Field(default=None, max_length=200)
    voice: Voice | None = None
    persona: str | None = Field(default=None, max_length=8000)
    greeting: str | None = Field(default=None, max_length=1000)
    quality: Quality | None = None
    language: str | None = Field(
        default=None, min_length=2, max_length=16, pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]+)*$"
    )
    max_session_seconds: int | None = Field(default=None, ge=30, le=7200)
    allowed_origins: list[str] | None = Field(default=None, max_length=50)
    grounded_only: bool | None = None
    widget: WidgetLook | None = None

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, values: list[str] | None) -> list[str] | None:
        return None if values is None else sorted({_origin(value) for value in values})


class AvatarOut(AvatarFields):
    model_config = ConfigDict(extra="ignore")

    id: uuid.UUID
    public_id: str
    created_at: datetime
    updated_at: datetime


_COLUMNS = (
    "id, public_id, name, provider, provider_avatar_id, voice, persona, greeting, quality, language,"
    " max_session_seconds, allowed_origins, grounded_only, widget, created_at, updated_at"
)
_NULLABLE = frozenset({"provider_avatar_id"})


def _db_values(fields: dict[str, Any]) -> dict[str, Any]:
    return {key: Jsonb(value) if key in ("voice", "widget") else value for key, value in fields.items()}


async def create_avatar(db: Database, principal: Principal, body: AvatarCreate) -> AvatarOut:
    values = _db_values(body.model_dump())
    columns = ", ".join(values)
    placeholders = ", ".join(f"%({key})s" for key in values)
    async with db.as_user(principal.claims) as conn:
        cur = await conn.execute(
            f"insert into public.avatars ({columns}) values ({placeholders}) returning {_COLUMNS}",  # noqa: S608
            values,
        )
        row = await cur.fetchone()
    assert row is not None
    return AvatarOut(**row)


async def list_avatars(db: Database, principal: Principal) -> list[AvatarOut]:
    async with db.as_user(principal.claims) as conn:
        cur = await conn.execute(
            f"select {_COLUMNS} from public.avatars order by created_at, id"  # noqa: S608
        )
        rows = await cur.fetchall()
    return [AvatarOut(**row) for row in rows]


async def get_avatar(db: Database, principal: Principal, avatar_id: uuid.UUID) -> AvatarOut:
    async with db.as_user(principal.claims) as conn:
        cur = await conn.execute(
            f"select {_COLUMNS} from public.avatars where id = %s",  # noqa: S608
            (avatar_id,),
        )
        row = await cur.fetchone()
    if row is None:
        raise NotFound("no such avatar")
    return AvatarOut(**row)


async def update_avatar(
    db: Database, principal: Principal, avatar_id: uuid.UUID, patch: AvatarPatch
) -> AvatarOut:
    changes = {
        key: value
        for key, value in patch.model_dump(exclude_unset=True).items()
        if value is not None or key in _NULLABLE
    }
    if not changes:
        return await get_avatar(db, principal, avatar_id)
    values = _db_values(changes)
    assignments = ", ".join(f"{key} = %({key})s" for key in values)
    async with db.as_user(principal.claims) as conn:
        cur = await conn.execute(
            f"update public.avatars set {assignments} where id = %(avatar_id)s returning {_COLUMNS}",  # noqa: S608
            {**values, "avatar_id": avatar_id},
        )
        row = await cur.fetchone()
    if row is None:
        raise NotFound("no such avatar")
    return AvatarOut(**row)


async def delete_avatar(db: Database, principal: Principal, avatar_id: uuid.UUID) -> None:
    async with db.as_user(principal.claims) as conn:
        cur = await conn.execute(
            "select exists (select 1 from public.streaming_sessions s"
            " where s.avatar_id = a.id and s.status = 'active') as live"
            " from public.avatars a where a.id = %s for update of a",
            (avatar_id,),
        )
        row = await cur.fetchone()
        if row is None:
            raise NotFound("no such avatar")
        if row["live"]:
            raise Conflict("this avatar has a live conversation; end it before deleting the avatar")
        await conn.execute("delete from public.avatars where id = %s", (avatar_id,))
