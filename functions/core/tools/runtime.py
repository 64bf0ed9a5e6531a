"""Running an avatar's tools on the server: what the LLM is offered, argument checks, and each call.

A tool the avatar does not have is never called; arguments are validated against the tool's JSON Schema
before anything runs; an HTTP tool's answer is bounded and reaches the LLM, not the visitor.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from functions.core.auth.tokens import Principal
from functions.core.db.pool import Database
from functions.core.errors import AppError, Conflict, NotFound
from functions.core.http_client import app_clients
from functions.core.settings import Settings
from functions.core.tools.contacts import ContactIn, save_contact
from functions.core.tools.definitions import ToolTest, ToolTestResult
from functions.core.tools.outbound import AllowList, call_tool
from functions.core.tools.turn_tools import SessionTool, ToolKind, ToolOutcome, session_tools

if TYPE_CHECKING:
    import httpx


class ToolArgumentsInvalid(AppError):
    status = 422
    code = "tool_arguments_invalid"


def openai_tools(tools: list[SessionTool]) -> list[dict[str, Any]]:
    """The tools as an OpenAI chat completions request lists them."""
    return [
        {
            "type": "function",
            "function": {"name": tool.name, "description": tool.description, "parameters": tool.parameters},
        }
        for tool in tools
    ]


def parse_arguments(tool: SessionTool, raw: str | Mapping[str, Any]) -> dict[str, Any]:
    """The call's arguments as an object that satisfies the tool's schema, or ToolArgumentsInvalid."""
    try:
        arguments = json.loads(raw or "{}") if isinstance(raw, str) else dict(raw)
    except ValueError as exc:
        raise ToolArgumentsInvalid(f"the arguments of {tool.name} are not JSON") from exc
    if not isinstance(arguments, dict):
        raise ToolArgumentsInvalid(f"the arguments of {tool.name} must be an object")
    from jsonschema import Draft202012Validator  # here: slow to import, and only a tool call needs it

    error = next(iter(Draft202012Validator(tool.parameters).iter_errors(arguments)), None)
    if error is not None:
        where = "/".join(str(part) for part in error.absolute_path) or "arguments"
        raise ToolArgumentsInvalid(f"{tool.name}: {where}: {error.message}")
    return arguments


@dataclass(frozen=True, slots=True)
class CallContext:
    """What a call needs besides the tool: the caller and their session, and the outbound client. A call
    opens a transaction only for its own reads and writes, never across a request to a tool."""

    db: Database
    principal: Principal
    session_id: uuid.UUID | None
    client: httpx.AsyncClient
    allow: AllowList
    max_bytes: int


async def run_tool(context: CallContext, tool: SessionTool, arguments: dict[str, Any]) -> ToolOutcome:
    """Run one validated call. A failing tool is an outcome the LLM is told about, never a failed turn."""
    if tool.kind is ToolKind.CAPTURE_CONTACT:
        try:
            contact = ContactIn(**arguments)
        except ValidationError as exc:
            message = exc.errors()[0]["msg"]
            return ToolOutcome(tool.name, arguments, False, {"saved": False, "error": message}, 0.0)
        assert context.session_id is not None
        async with context.db.as_user(context.principal.claims) as conn:
            await save_contact(conn, context.session_id, contact)
        return ToolOutcome(tool.name, arguments, True, {"saved": True}, 0.0)
    if tool.kind is ToolKind.END_CONVERSATION:
        return ToolOutcome(tool.name, arguments, True, {"ending": True}, 0.0, action="end")
    if tool.kind is ToolKind.HANDOFF_TO_HUMAN:
        # The owner finds the conversation by its id in the studio's History (or GET /v1/sessions/{id}).
        payload = {**arguments, "event": "handoff_requested", "session_id": str(context.session_id)}
        outcome = await _request(context, tool, payload)
        return ToolOutcome(
            tool.name, arguments, outcome.ok, outcome.result, outcome.elapsed_ms, outcome.status, "handoff"
        )
    return await _request(context, tool, arguments)


async def _request(context: CallContext, tool: SessionTool, arguments: dict[str, Any]) -> ToolOutcome:
    assert tool.method is not None
    assert tool.url is not None
    headers = tool.headers
    try:
        answer = await call_tool(
            context.client,
            method=tool.method,
            url=tool.url,
            arguments=arguments,
            headers=headers,
            signing_secret=tool.signing_secret,
            timeout_s=tool.timeout_ms / 1000,
            max_bytes=context.max_bytes,
            allow=context.allow,
        )
    except AppError as exc:
        return ToolOutcome(tool.name, arguments, False, {"error": exc.detail}, 0.0)
    ok = 200 <= answer.status < 300
    result = answer.body if ok else {"error": f"the tool answered {answer.status}", "body": answer.body}
    return ToolOutcome(tool.name, arguments, ok, result, answer.elapsed_ms, answer.status)


async def try_tool(
    db: Database,
    principal: Principal,
    avatar_id: uuid.UUID,
    tool_id: uuid.UUID,
    body: ToolTest,
    settings: Settings,
) -> ToolTestResult:
    """The owner's "test this tool": the same checks and request as in a turn, the answer shown in full."""
    async with db.as_user(principal.claims) as conn:
        tool = next((t for t in await session_tools(conn, avatar_id) if t.id == tool_id), None)
    if tool is None:
        raise NotFound("no such tool, or it is switched off")
    if tool.kind not in (ToolKind.HTTP, ToolKind.HANDOFF_TO_HUMAN):
        raise Conflict(f"the built-in tool {tool.kind} runs only in a conversation")
    arguments = parse_arguments(tool, body.arguments)
    outcome = await _request(call_context(db, principal, None, settings), tool, arguments)
    return ToolTestResult(
        ok=outcome.ok, status=outcome.status, result=outcome.result, elapsed_ms=outcome.elapsed_ms
    )


def call_context(
    db: Database, principal: Principal, session_id: uuid.UUID | None, settings: Settings
) -> CallContext:
    return CallContext(
        db=db,
        principal=principal,
        session_id=session_id,
        client=app_clients().client("tools", keepalive=False),
        allow=AllowList.parse(settings.tool_allowed_hosts),
        max_bytes=settings.tool_response_max_bytes,
    )
