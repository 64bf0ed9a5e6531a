"""OpenAI Chat Completions over the turn engine, for OpenAI clients and providers' custom-LLM modes.

A request carries the whole conversation; its last user message is the turn, earlier user and
assistant messages are the history, and the client's system messages give way to the avatar's
persona. The turn is recorded in a session: the one in the URL, or the caller's open 'api' session
for the avatar (started on first use). A retried request (same messages) is the same turn.
"""

import hashlib
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from functions.core.auth.tokens import Principal
from functions.core.db.pool import Database
from functions.core.errors import AppError, Forbidden, NotFound, SessionEnded
from functions.core.llm.base import ChatMessage
from functions.core.sessions.state import SESSION_NOT_FOUND, add_event
from functions.core.text.tokens import estimate_tokens
from functions.core.turns.engine import PreparedTurn, TurnEngine, collect
from functions.core.turns.models import DeltaEvent, DoneEvent, ErrorEvent, TurnEvent, TurnRequest
from functions.core.turns.sse import sse_event


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str
    text: str | None = None


class Message(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None

    @property
    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(part.text or "" for part in self.content if part.type == "text")
        return self.content or ""


class ChatCompletionRequest(BaseModel):
    """The fields we act on; others (tools, n, stop...) are accepted and ignored, as many servers do."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(default="avatar", max_length=200)
    messages: list[Message] = Field(min_length=1, max_length=500)
    stream: bool = Field(default=False, strict=True)


class NoQuestion(AppError):
    status = 422
    code = "no_user_message"


_FIND_OR_START = """
with found as (
  select id, false as started from public.streaming_sessions s
   where user_id = (select auth.uid()) and avatar_id = %(avatar_id)s and channel = 'api'
     and private.session_is_live(s)
   order by started_at desc
   limit 1
),
added as (
  insert into public.streaming_sessions (avatar_id, channel)
  select %(avatar_id)s, 'api' where not exists (select 1 from found)
  returning id, true as started
)
select id, started from found union all select id, started from added
"""


def is_opening(body: ChatCompletionRequest) -> bool:
    """A provider asking for the avatar's first words: the conversation has no user message yet."""
    return not any(m.role == "user" for m in body.messages)


async def session_greeting(db: Database, principal: Principal, session_id: uuid.UUID) -> str:
    """The greeting of the session's avatar, for an opening turn; 404 for a session not the caller's,
    409 for one that has ended."""
    async with db.as_user(principal.claims) as conn:
        cur = await conn.execute(
            "select private.session_is_live(s) as live, a.greeting from public.streaming_sessions s"
            " left join lateral private.session_avatar(s.avatar_id) a on true"
            " where s.id = %s and s.user_id = (select auth.uid())",
            (session_id,),
        )
        row = await cur.fetchone()
    if row is None:
        raise NotFound(SESSION_NOT_FOUND)
    if not row["live"]:
        raise SessionEnded("this session has ended; start a new one")
    return str(row["greeting"] or "")


async def greeting_chunks(greeting: str, model: str) -> AsyncIterator[bytes]:
    """The greeting as one streamed `chat.completion.chunk`, then `data: [DONE]`."""
    completion_id = "chatcmpl-" + uuid.uuid4().hex
    created = int(time.time())
    yield _chunk(completion_id, created, model, {"role": "assistant", "content": greeting}, None)
    yield _chunk(completion_id, created, model, {}, "stop")
    yield sse_event(None, "[DONE]")


def greeting_completion(greeting: str, model: str) -> dict[str, Any]:
    tokens = estimate_tokens(greeting) if greeting else 0
    return {
        "id": "chatcmpl-" + uuid.uuid4().hex,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": greeting}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 0, "completion_tokens": tokens, "total_tokens": tokens},
    }


def _turn_id(messages: list[Message]) -> str:
    """The same conversation sent again is the same turn, so a client's retry is not a second one."""
    digest = hashlib.sha256(
        json.dumps([[m.role, m.text] for m in messages], ensure_ascii=False).encode()
    ).hexdigest()
    return "cc-" + digest[:40]


def turn_of(body: ChatCompletionRequest) -> tuple[TurnRequest, list[ChatMessage]]:
    last_user = max((i for i, m in enumerate(body.messages) if m.role == "user"), default=None)
    if last_user is None or not body.messages[last_user].text.strip():
        raise NoQuestion("the conversation needs a user message with text")
    history = [
        ChatMessage(role="user" if m.role == "user" else "assistant", content=m.text)
        for m in body.messages[:last_user]
        if m.role in {"user", "assistant"} and m.text.strip()
    ]
    try:
        request = TurnRequest(
            turn_id=_turn_id(body.messages[: last_user + 1]), text=body.messages[last_user].text.strip()
        )
    except ValidationError as exc:
        raise NoQuestion(f"the user message is not a valid question: {exc.errors()[0]['msg']}") from exc
    return request, history


async def session_for(db: Database, principal: Principal, session_id: uuid.UUID | None) -> uuid.UUID:
    """The session the URL names, or the caller's open 'api' session with the key's avatar."""
    if session_id is not None:
        return session_id
    if principal.avatar_id is None:
        raise Forbidden("name a session in the URL, or use an avatar API key")
    async with db.as_user(principal.claims) as conn:
        cur = await conn.execute(_FIND_OR_START, {"avatar_id": principal.avatar_id})
        row = await cur.fetchone()
        assert row is not None
        if row["started"]:
            await add_event(conn, row["id"], "started", {"channel": "api"})
    found: uuid.UUID = row["id"]
    return found


def _chunk(completion_id: str, created: int, model: str, delta: dict[str, Any], finish: str | None) -> bytes:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    chunk = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [choice],
    }
    return sse_event(None, chunk)


async def completion_chunks(engine: TurnEngine, turn: PreparedTurn, model: str) -> AsyncIterator[bytes]:
    """`chat.completion.chunk` server-sent events, then `data: [DONE]`; a failure is an `error` chunk."""
    completion_id = "chatcmpl-" + uuid.uuid4().hex
    created = int(time.time())
    yield _chunk(completion_id, created, model, {"role": "assistant", "content": ""}, None)
    async for event in engine.events(turn):
        match event:
            case DeltaEvent(data=delta):
                yield _chunk(completion_id, created, model, {"content": delta.text}, None)
            case DoneEvent():
                yield _chunk(completion_id, created, model, {}, "stop")
            case ErrorEvent(data=problem):
                yield sse_event(
                    None, {"error": {"message": problem.detail, "type": problem.code, "code": problem.status}}
                )
    yield sse_event(None, "[DONE]")


async def completion(
    turn: PreparedTurn, events: AsyncIterator[TurnEvent], model: str, prompt_chars: int
) -> dict[str, Any]:
    result = await collect(turn, events)
    completion_tokens = estimate_tokens(result.reply)
    prompt_tokens = max(1, prompt_chars // 4)
    return {
        # A reply cut off before its first word (the session ended) has no stored message to name it by.
        "id": f"chatcmpl-{result.assistant_message_id or uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": result.reply},
                "finish_reason": "stop",
            }
        ],
        # Estimates (characters / 4): the tokens an upstream model counted are not ours to report.
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
        "sources": [s.model_dump(mode="json") for s in result.sources],
    }
