"""An avatar's tools as the owner defines them: HTTP tools and the built-in ones, stored under RLS.

Header values are secrets: written with the tool, never returned (only their names are); the signing
secret is returned once, when the tool is created.
"""

import re
import secrets
import uuid
from datetime import datetime
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from functions.core.auth.tokens import Principal
from functions.core.avatar_access import require_avatar
from functions.core.db.pool import Conn, Database, jsonb
from functions.core.errors import Conflict, NotFound
from functions.core.tools.turn_tools import ToolKind

NAME_PATTERN = r"^[a-zA-Z][a-zA-Z0-9_-]{0,63}$"
_HEADER_NAME = re.compile(r"^[A-Za-z0-9-]{1,100}$")
# Headers a tool may not set: the request's framing and our signature are ours.
RESERVED_HEADERS = frozenset(
    {"host", "content-length", "content-type", "transfer-encoding", "connection", "user-agent"}
)
Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]


def _arguments(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": required or [],
        "additionalProperties": False,
    }


# What the LLM is told about each built-in tool, and the arguments it must give.
BUILT_IN: dict[ToolKind, tuple[str, dict[str, Any]]] = {
    ToolKind.CAPTURE_CONTACT: (
        "Save the visitor's contact details when they want to be contacted."
        " Ask for an email address or a phone number.",
        _arguments(
            {
                "name": {"type": "string", "maxLength": 200},
                "email": {"type": "string", "maxLength": 320},
                "phone": {"type": "string", "maxLength": 40},
                "note": {
                    "type": "string",
                    "maxLength": 2000,
                    "description": "what they want to be contacted about",
                },
            }
        ),
    ),
    ToolKind.HANDOFF_TO_HUMAN: (
        "Hand the conversation to a person on the team when the visitor asks for one or you cannot help.",
        _arguments({"reason": {"type": "string", "maxLength": 500}}, ["reason"]),
    ),
    ToolKind.END_CONVERSATION: (
        "End the conversation when the visitor says goodbye or has nothing more to ask.",
        _arguments({}),
    ),
}


def check_parameters(schema: dict[str, Any]) -> dict[str, Any]:
    """A JSON Schema (draft 2020-12) for an object of arguments, at most 16 KiB."""
    from jsonschema import Draft202012Validator  # here: slow to import, and only a tool's schema needs it
    from jsonschema.exceptions import SchemaError

    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise ValueError(f"parameters is not a valid JSON Schema: {exc.message}") from exc
    if schema.get("type") != "object":
        raise ValueError('parameters must describe an object of arguments: {"type": "object", ...}')
    return schema


def check_headers(headers: dict[str, str] | None) -> dict[str, str] | None:
    if headers is None:
        return None
    if len(headers) > 20:
        raise ValueError("a tool carries at most 20 headers")
    if len({name.lower() for name in headers}) < len(headers):
        raise ValueError("header names differ only in case")
    for name, value in headers.items():
        if not _HEADER_NAME.match(name):
            raise ValueError(f"{name!r} is not a header name (letters, digits and '-')")
        lowered = name.lower()
        if lowered in RESERVED_HEADERS or lowered.startswith("x-avatar-studio-"):
            raise ValueError(f"the header {name} is set by the product and cannot be configured")
        if not 1 <= len(value) <= 4000:
            raise ValueError(f"the value of {name} must be 1 to 4,000 characters")
    return headers


class _Checked(BaseModel):
    """The checks a tool's schema and headers pass, whether new or changed."""

    model_config = ConfigDict(extra="forbid")
    parameters: dict[str, Any] | None = None
    headers: dict[str, str] | None = None

    @field_validator("parameters")
    @classmethod
    def _check_parameters(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if value is None else check_parameters(value)

    @field_validator("headers")
    @classmethod
    def _check_headers(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        return check_headers(value)


class ToolCreate(_Checked):
    kind: ToolKind = ToolKind.HTTP
    name: str | None = Field(
        default=None, pattern=NAME_PATTERN, description="How the LLM calls it; a built-in tool's is its kind"
    )
    description: str = Field(default="", max_length=1000, description="When the LLM should use it")
    parameters: dict[str, Any] | None = Field(default=None, description="JSON Schema of the arguments")
    method: Method | None = None
    url: str | None = Field(default=None, max_length=2000, pattern=r"^https?://")
    timeout_ms: int = Field(default=5000, ge=100, le=30000)
    headers: dict[str, str] | None = Field(
        default=None, description="Header names and secret values sent with every request; never shown again"
    )
    enabled: bool = True

    @model_validator(mode="after")
    def _complete(self) -> Self:
        if self.kind is ToolKind.HTTP:
            if self.name is None or self.method is None or self.url is None:
                raise ValueError("an http tool needs a name, a method and a url")
            if not self.description:
                raise ValueError("an http tool needs a description: the LLM decides from it when to call it")
            return self
        if self.kind is ToolKind.HANDOFF_TO_HUMAN:
            if self.url is None or self.method not in (None, "POST"):
                raise ValueError("handoff_to_human needs the url of your webhook, which it POSTs to")
            self.method = "POST"
        elif self.method is not None or self.url is not None or self.headers:
            raise ValueError(f"the built-in tool {self.kind} takes no method, url or headers")
        if self.name not in (None, self.kind.value):
            raise ValueError(f"the built-in tool {self.kind} is named {self.kind.value}")
        description, parameters = BUILT_IN[self.kind]
        self.name = self.kind.value
        self.description = self.description or description
        self.parameters = parameters
        return self


class ToolPatch(_Checked):
    description: str | None = Field(default=None, max_length=1000)
    parameters: dict[str, Any] | None = None
    method: Method | None = None
    url: str | None = Field(default=None, max_length=2000, pattern=r"^https?://")
    timeout_ms: int | None = Field(default=None, ge=100, le=30000)
    headers: dict[str, str] | None = Field(default=None, description="Replaces every header of the tool")
    enabled: bool | None = None


class ToolOut(BaseModel):
    id: uuid.UUID
    avatar_id: uuid.UUID
    kind: ToolKind
    name: str
    description: str
    parameters: dict[str, Any]
    method: str | None
    url: str | None
    timeout_ms: int
    enabled: bool
    header_names: list[str]
    created_at: datetime
    updated_at: datetime


class ToolCreated(ToolOut):
    signing_secret: str = Field(
        description="Verifies the X-Avatar-Studio-Signature of the tool's requests; shown only now"
    )


# The owner's "test this tool": its body and answer (the route runs it with functions/core/tools/runtime.py).
class ToolTest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    arguments: dict[str, Any] = Field(default={}, description="As the LLM would give them")


class ToolTestResult(BaseModel):
    ok: bool
    status: int | None
    result: Any
    elapsed_ms: float


def check_patch(kind: ToolKind, changes: dict[str, Any], headers: dict[str, str] | None) -> None:
    """What a change may touch: an http tool anything (but never lose its method or url), the handoff its
    webhook's url and headers, the other built-in tools their description and whether they are on."""
    if kind is ToolKind.HTTP:
        fixed: set[str] = set()
    elif kind is ToolKind.HANDOFF_TO_HUMAN:
        fixed = {"parameters", "method"}
    else:
        fixed = {"parameters", "method", "url"} | ({"headers"} if headers else set())
    refused = sorted(fixed & (changes.keys() | ({"headers"} if headers else set())))
    if refused:
        raise Conflict(f"the built-in tool {kind} does not take {', '.join(refused)}")
    if any(key in changes and changes[key] is None for key in ("method", "url")):
        raise Conflict("a tool that calls out keeps its method and url")


_SELECT = (
    "select t.id, t.avatar_id, t.kind, t.name, t.description, t.parameters, t.method, t.url, t.timeout_ms,"
    " t.enabled, t.created_at, t.updated_at,"
    " coalesce((select array_agg(h.name order by h.name) from public.avatar_tool_headers h"
    "  where h.tool_id = t.id), '{}') as header_names"
    " from public.avatar_tools t"
)


async def create_tool(
    db: Database, principal: Principal, avatar_id: uuid.UUID, body: ToolCreate
) -> ToolCreated:
    signing_secret = secrets.token_urlsafe(32)
    async with db.as_user(principal.claims) as conn:
        await require_avatar(conn, avatar_id)
        cur = await conn.execute(
            "insert into public.avatar_tools (avatar_id, kind, name, description, parameters, method, url,"
            " timeout_ms, signing_secret, enabled) values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " on conflict (avatar_id, name) do nothing returning id",
            (
                avatar_id,
                body.kind.value,
                body.name,
                body.description,
                jsonb(body.parameters or {"type": "object", "properties": {}}),
                body.method,
                body.url,
                body.timeout_ms,
                signing_secret,
                body.enabled,
            ),
        )
        row = await cur.fetchone()
        if row is None:
            raise Conflict(f"this avatar already has a tool named {body.name}")
        await _write_headers(conn, row["id"], body.headers or {})
        tool = await _one(conn, avatar_id, row["id"])
    return ToolCreated(**tool.model_dump(), signing_secret=signing_secret)


async def list_tools(db: Database, principal: Principal, avatar_id: uuid.UUID) -> list[ToolOut]:
    async with db.as_user(principal.claims) as conn:
        await require_avatar(conn, avatar_id)
        cur = await conn.execute(_SELECT + " where t.avatar_id = %s order by t.name", (avatar_id,))
        rows = await cur.fetchall()
    return [ToolOut(**row) for row in rows]


async def get_tool(db: Database, principal: Principal, avatar_id: uuid.UUID, tool_id: uuid.UUID) -> ToolOut:
    async with db.as_user(principal.claims) as conn:
        return await _one(conn, avatar_id, tool_id)


async def update_tool(
    db: Database, principal: Principal, avatar_id: uuid.UUID, tool_id: uuid.UUID, body: ToolPatch
) -> ToolOut:
    changes = body.model_dump(exclude_unset=True, exclude={"headers"})
    async with db.as_user(principal.claims) as conn:
        current = await _one(conn, avatar_id, tool_id)
        check_patch(current.kind, changes, body.headers)
        if changes:
            columns = ", ".join(f"{name} = %({name})s" for name in changes)
            values = {key: jsonb(value) if key == "parameters" else value for key, value in changes.items()}
            await conn.execute(
                f"update public.avatar_tools set {columns} where id = %(id)s",  # noqa: S608 - names from ToolPatch
                {**values, "id": tool_id},
            )
        if body.headers is not None:
            await conn.execute("delete from public.avatar_tool_headers where tool_id = %s", (tool_id,))
            await _write_headers(conn, tool_id, body.headers)
        return await _one(conn, avatar_id, tool_id)


async def delete_tool(db: Database, principal: Principal, avatar_id: uuid.UUID, tool_id: uuid.UUID) -> None:
    async with db.as_user(principal.claims) as conn:
        cur = await conn.execute(
            "delete from public.avatar_tools where id = %s and avatar_id = %s returning id",
            (tool_id, avatar_id),
        )
        if await cur.fetchone() is None:
            raise NotFound("no such tool")


async def _write_headers(conn: Conn, tool_id: uuid.UUID, headers: dict[str, str]) -> None:
    for name, value in headers.items():
        await conn.execute(
            "insert into public.avatar_tool_headers (tool_id, name, value) values (%s, %s, %s)",
            (tool_id, name, value),
        )


async def _one(conn: Conn, avatar_id: uuid.UUID, tool_id: uuid.UUID) -> ToolOut:
    cur = await conn.execute(_SELECT + " where t.id = %s and t.avatar_id = %s", (tool_id, avatar_id))
    row = await cur.fetchone()
    if row is None:
        raise NotFound("no such tool")
    return ToolOut(**row)
