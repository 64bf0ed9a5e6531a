"""Avatar configuration: what an owner creates, edits and deletes."""

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from functions.core.auth.tokens import Principal
from functions.core.avatar_basics import END_OF_SPEECH_DEFAULT_MS, Appearance, Voice
from functions.core.db.pool import Database, jsonb
from functions.core.errors import AppError, Conflict, NotFound
from functions.core.origins import site_origin
from functions.core.providers.avatar.registry import options_model
from functions.core.settings import AvatarProviderName
from functions.core.widget_look import WidgetLook

Quality = Literal["low", "medium", "high"]


class InvalidProviderOptions(AppError):
    status = 422
    code = "invalid_provider_options"


def checked_options(provider: str, options: dict[str, Any]) -> dict[str, Any]:
    """The options as the provider's options model reads them (values normalised, unset ones left out);
    a 422 naming the option otherwise."""
    model = options_model(provider)
    if model is None:
        return options
    try:
        parsed = model.model_validate(options)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "provider_options"
        raise InvalidProviderOptions(f"{provider} option {where}: {first['msg']}") from exc
    checked: dict[str, Any] = parsed.model_dump(mode="json", exclude_unset=True)
    return checked


# A site address; `_origin` keeps its scheme, host and port (a pasted page's path is dropped) and says in
# words what is wrong with anything that is not one.
Origin = Annotated[str, Field(max_length=300)]


def _not_text(value: Any) -> Any:
    if isinstance(value, str | bool):
        raise ValueError("must be a number")
    return value


# A JSON integer (30 or 30.0), never "30" or true.
Seconds = Annotated[int, Field(ge=30, le=7200), BeforeValidator(_not_text)]
EndOfSpeechMs = Annotated[
    int,
    Field(
        ge=200,
        le=3000,
        description="Milliseconds of silence after which voice input takes the visitor's utterance as"
        " finished and sends it.",
    ),
    BeforeValidator(_not_text),
]


class AvatarFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=120)
    provider: AvatarProviderName = "local"
    provider_avatar_id: str | None = Field(default=None, max_length=200)
    voice: Voice = Field(default_factory=Voice)
    # Typed by the provider's options model (see /v1/config `provider_catalog`).
    provider_options: dict[str, Any] = Field(default={})
    appearance: Appearance = Field(default_factory=Appearance)
    persona: str = Field(default="", max_length=8000)
    greeting: str = Field(default="", max_length=1000)
    quality: Quality = "medium"
    language: str = Field(
        default="en", min_length=2, max_length=16, pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]+)*$"
    )
    max_session_seconds: Seconds = 600
    end_of_speech_ms: EndOfSpeechMs = END_OF_SPEECH_DEFAULT_MS
    allowed_origins: list[Origin] = Field(default=[], max_length=50)
    grounded_only: bool = Field(default=False, strict=True)
    widget: WidgetLook = Field(default_factory=WidgetLook)

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, values: list[str]) -> list[str]:
        return sorted({site_origin(value) for value in values})


class AvatarCreate(AvatarFields):
    @model_validator(mode="after")
    def _options(self) -> "AvatarCreate":
        self.provider_options = checked_options(self.provider, self.provider_options)
        return self


class AvatarPatch(BaseModel):
    """Every field optional; only the fields sent change."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=120)
    provider: AvatarProviderName | None = None
    provider_avatar_id: str | None = Field(default=None, max_length=200)
    voice: Voice | None = None
    provider_options: dict[str, Any] | None = None
    appearance: Appearance | None = None
    persona: str | None = Field(default=None, max_length=8000)
    greeting: str | None = Field(default=None, max_length=1000)
    quality: Quality | None = None
    language: str | None = Field(
        default=None, min_length=2, max_length=16, pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]+)*$"
    )
    max_session_seconds: Seconds | None = None
    end_of_speech_ms: EndOfSpeechMs | None = None
    allowed_origins: list[Origin] | None = Field(default=None, max_length=50)
    grounded_only: bool | None = Field(default=None, strict=True)
    widget: WidgetLook | None = None

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, values: list[str] | None) -> list[str] | None:
        return None if values is None else sorted({site_origin(value) for value in values})


class AvatarOut(AvatarFields):
    model_config = ConfigDict(extra="ignore")

    id: uuid.UUID
    public_id: str
    created_at: datetime
    updated_at: datetime


_COLUMNS = (
    "id, public_id, name, provider, provider_avatar_id, voice, provider_options, appearance, persona,"
    " greeting, quality, language, max_session_seconds, end_of_speech_ms, allowed_origins, grounded_only,"
    " widget, created_at, updated_at"
)
_NULLABLE = frozenset({"provider_avatar_id"})


def _db_values(fields: dict[str, Any]) -> dict[str, Any]:
    return {
        key: jsonb(value) if key in ("voice", "provider_options", "appearance", "widget") else value
        for key, value in fields.items()
    }


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
    if "provider" in changes or "provider_options" in changes:
        current = await get_avatar(db, principal, avatar_id)
        provider = changes.get("provider", current.provider)
        # Another provider's options mean nothing to the new one: they are dropped unless new ones are sent.
        kept = current.provider_options if provider == current.provider else {}
        changes["provider_options"] = checked_options(provider, changes.get("provider_options", kept))
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
