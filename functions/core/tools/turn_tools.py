"""An avatar's tools as a turn holds them, and what their calls did.

Every turn reads the avatar's enabled tools and keeps a log of its calls, whether or not the avatar has
any tools; running a call (argument checks, contacts, outbound requests) is `runtime.py`'s, which a turn
imports only when it offers the LLM a tool.
"""

import json
import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from functions.core.db.pool import Conn

# What of a tool's answer the LLM is shown, and what of it is kept with the reply.
RESULT_CHARS = 4000
RECORDED_RESULT_CHARS = 2000


class ToolKind(StrEnum):
    HTTP = "http"
    CAPTURE_CONTACT = "capture_contact"
    HANDOFF_TO_HUMAN = "handoff_to_human"
    END_CONVERSATION = "end_conversation"


@dataclass(frozen=True, slots=True)
class SessionTool:
    id: uuid.UUID
    kind: ToolKind
    name: str
    description: str
    parameters: dict[str, Any]
    method: str | None
    url: str | None
    timeout_ms: int
    signing_secret: str
    headers: dict[str, str]


@dataclass(frozen=True, slots=True)
class ToolOutcome:
    """One call: what the LLM gets back, and what is kept with the turn."""

    name: str
    arguments: dict[str, Any]
    ok: bool
    result: Any
    elapsed_ms: float
    status: int | None = None
    # What the conversation does after the reply: hand over to a person, or end.
    action: Literal["handoff", "end"] | None = None

    def for_llm(self) -> str:
        text = self.result if isinstance(self.result, str) else json.dumps(self.result, ensure_ascii=False)
        return text[:RESULT_CHARS]


@dataclass
class ToolLog:
    """What the reply's calls did, kept with the reply; and what the conversation does next."""

    calls: list[dict[str, Any]] = field(default_factory=list)
    action: str | None = None

    def add(self, outcome: ToolOutcome) -> None:
        self.calls.append(
            {
                "name": outcome.name,
                "arguments": outcome.arguments,
                "ok": outcome.ok,
                "status": outcome.status,
                "elapsed_ms": round(outcome.elapsed_ms, 2),
                "result": outcome.for_llm()[:RECORDED_RESULT_CHARS],
            }
        )
        if outcome.action is not None and outcome.ok:
            self.action = outcome.action

    @property
    def announced(self) -> list[dict[str, Any]]:
        """The calls as the turn's caller sees them (a visitor, perhaps): without the endpoints' answers,
        which reach the LLM and the owner's History, never the visitor verbatim."""
        return [{key: value for key, value in call.items() if key != "result"} for call in self.calls]


async def session_tools(conn: Conn, avatar_id: uuid.UUID) -> list[SessionTool]:
    """The enabled tools of an avatar the caller may use (its owner, or a visitor bound to it), each with its
    signing secret and header values: for the server's requests, never for a response."""
    cur = await conn.execute("select * from private.session_tools(%s)", (avatar_id,))
    return [session_tool(row) for row in await cur.fetchall()]


def session_tool(row: dict[str, Any]) -> SessionTool:
    """A row of private.session_tools."""
    return SessionTool(**{**row, "kind": ToolKind(row["kind"])})
