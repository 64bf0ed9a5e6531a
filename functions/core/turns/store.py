"""What a turn reads and writes, as the caller (RLS decides): few statements, pipelined."""

import uuid
from dataclasses import dataclass
from typing import Any

from functions.core.db.pool import Conn, jsonb
from functions.core.llm.base import ChatMessage, Passage, TokenUsage
from functions.core.llm.definition import defined
from functions.core.text.terms import full_text_query
from functions.core.tools.turn_tools import SessionTool, session_tool
from functions.core.turns.prompt import Persona
from functions.core.turns.reply_parts import Source, Timings

EXCERPT_CHARS = 280

# Finds the session and, while it is live, adds the user message unless this turn_id already has one.
# One statement: a separate select-then-insert would cost a round trip, and ON CONFLICT DO NOTHING
# would still fire the trigger that counts messages.
_BEGIN = """
with s as (
  select id, private.session_is_live(s) as live, avatar_id, provider, provider_session_id
    from public.streaming_sessions s
   where id = %(session_id)s and user_id = (select auth.uid())
),
prior as (
  select m.id, m.content from public.streaming_messages m
   where m.session_id = %(session_id)s and m.turn_id = %(turn_id)s and m.role = 'user'
),
added as (
  insert into public.streaming_messages (session_id, role, content, turn_id)
  select s.id, 'user', %(text)s, %(turn_id)s from s
   where s.live and not exists (select 1 from prior)
  returning id, content
)
select s.live, s.avatar_id, s.provider, s.provider_session_id,
       coalesce(added.id, prior.id) as user_message_id,
       coalesce(added.content, prior.content) as question
  from s left join added on true left join prior on true
"""
# Before an audio turn is transcribed: the session, and the question if this turn_id was asked already.
_ASKED = """
select private.session_is_live(s) as live,
       (select m.content from public.streaming_messages m
         where m.session_id = s.id and m.turn_id = %s and m.role = 'user') as question,
       (select a.language from private.session_avatar(s.avatar_id) a) as language
  from public.streaming_sessions s
 where s.id = %s and s.user_id = (select auth.uid())
"""
_AVATAR = (
    "select a.name, a.persona, a.language, a.grounded_only,"
    " coalesce((a.provider_options ->> 'server_speech')::boolean, false) as server_speech"
    " from private.session_avatar((select avatar_id from public.streaming_sessions where id = %s)) a"
)
# What was said before this turn, newest first; an interrupted reply counts as what was heard of it.
_HISTORY = """
select role, case when interrupted and heard_content is not null then heard_content else content end
       as content
  from public.streaming_messages
 where session_id = %s and turn_id is distinct from %s
 order by created_at desc
 limit %s
"""
_STORED_REPLY = (
    "select id, content, sources, timings, interrupted from public.streaming_messages"
    " where session_id = %s and turn_id = %s and role = 'assistant'"
)
# Takes the turn for this request while its session is live, unless another request holds it or its
# reply is stored: one generation each.
_CLAIM = """
with session as (
  select private.session_is_live(s) as live from public.streaming_sessions s where s.id = %(session_id)s
),
claimed as (
  update public.streaming_messages m set reply_claimed_until = now() + make_interval(secs => %(lease)s)
   where m.session_id = %(session_id)s and m.turn_id = %(turn_id)s and m.role = 'user'
     and (m.reply_claimed_until is null or m.reply_claimed_until < now())
     and not exists (select 1 from public.streaming_messages a
                      where a.session_id = m.session_id and a.turn_id = m.turn_id and a.role = 'assistant')
     and (select live from session)
  returning m.id
)
select coalesce((select live from session), false) as live, exists (select 1 from claimed) as claimed,
       exists (select 1 from public.streaming_messages m
                where m.session_id = %(session_id)s and m.turn_id = %(turn_id)s and m.role = 'user'
                  and m.reply_claimed_until >= now()) as held
"""
# While a reply streams: keep the claim, and learn whether the session is still live.
_RENEW = """
with renewed as (
  update public.streaming_messages set reply_claimed_until = now() + make_interval(secs => %(lease)s)
   where session_id = %(session_id)s and turn_id = %(turn_id)s and role = 'user'
  returning id
)
select private.session_is_live(s) as live from public.streaming_sessions s where s.id = %(session_id)s
"""
_RELEASE = (
    "update public.streaming_messages set reply_claimed_until = null"
    " where session_id = %s and turn_id = %s and role = 'user'"
)
_SAVE_REPLY = """
with prior as (
  select id from public.streaming_messages
   where session_id = %(session_id)s and turn_id = %(turn_id)s and role = 'assistant'
),
added as (
  insert into public.streaming_messages
         (session_id, role, content, turn_id, sources, source_chunk_ids, timings, interrupted, tool_calls,
          prompt_tokens, completion_tokens)
  select %(session_id)s, 'assistant', %(content)s, %(turn_id)s, %(sources)s, %(chunk_ids)s, %(timings)s,
         %(interrupted)s, %(tool_calls)s, %(prompt_tokens)s, %(completion_tokens)s
   where not exists (select 1 from prior)
  returning id
)
select id from added union all select id from prior
"""
_MATCH = "select * from public.match_chunks(%s, %s, %s::extensions.vector, %s, %s)"
# A document's opening chunk, read as the caller (a visitor reads their avatar's chunks through RLS).
_LEAD = (
    "select c.id as chunk_id, c.document_id,"
    " private.knowledge_document_title(c.document_id) as document_title, c.heading_path, c.content"
    " from public.knowledge_chunks c"
    " where c.avatar_id = %s and c.document_id = %s order by c.position limit 1"
)
# The tools the session's avatar offers, sent with the statements of `begin` (no round trip of its own).
_TOOLS = (
    "select * from private.session_tools((select avatar_id from public.streaming_sessions where id = %s))"
)


@dataclass(frozen=True)
class StoredReply:
    message_id: uuid.UUID
    content: str
    sources: list[Source]
    timings: Timings
    interrupted: bool


@dataclass(frozen=True)
class Begun:
    """The session as the turn found it and, when it was live, the turn's user message."""

    live: bool  # private.session_is_live: active and before its end
    avatar_id: uuid.UUID | None
    provider: str
    provider_session_id: str | None
    server_speech: bool  # the avatar's turns are spoken by its provider from the backend
    # The turn's user message and question, added now or by an earlier attempt of the same turn_id;
    # None when neither could be (the session is not live).
    user_message_id: uuid.UUID | None
    question: str | None
    persona: Persona | None
    history: list[ChatMessage]
    stored: StoredReply | None
    claimed: bool  # this request generates the reply; otherwise another is generating it
    tools: list[SessionTool]  # the avatar's enabled tools, with what calling them needs


@dataclass(frozen=True)
class Asked:
    live: bool
    question: str | None  # what this turn_id asked already, if it was
    language: str | None  # the avatar's, which the transcription listens for


@dataclass(frozen=True)
class Claim:
    live: bool
    claimed: bool  # by this request
    held: bool  # by another request (or this one), still generating


async def begin(
    conn: Conn, session_id: uuid.UUID, turn_id: str, text: str, history_limit: int, *, lease_seconds: float
) -> Begun | None:
    """None when the caller has no such session."""
    params = {"session_id": session_id, "turn_id": turn_id, "text": text, "lease": lease_seconds}
    begun = await conn.execute(_BEGIN, params)
    claim = await conn.execute(_CLAIM, params)
    avatar = await conn.execute(_AVATAR, (session_id,))
    history = await conn.execute(_HISTORY, (session_id, turn_id, history_limit))
    stored = await conn.execute(_STORED_REPLY, (session_id, turn_id))
    tools = await conn.execute(_TOOLS, (session_id,))
    row = await begun.fetchone()
    if row is None:
        return None
    avatar_row = await avatar.fetchone()
    server_speech = bool(avatar_row.pop("server_speech")) if avatar_row is not None else False
    history_rows = await history.fetchall()
    stored_row = await stored.fetchone()
    claim_row = await claim.fetchone()
    return Begun(
        live=row["live"],
        avatar_id=row["avatar_id"],
        provider=row["provider"],
        provider_session_id=row["provider_session_id"],
        server_speech=server_speech,
        user_message_id=row["user_message_id"],
        question=row["question"],
        persona=None if avatar_row is None else Persona(**avatar_row),
        history=[ChatMessage(role=r["role"], content=r["content"]) for r in reversed(history_rows)],
        stored=None if stored_row is None else _stored(stored_row),
        claimed=bool(claim_row and claim_row["claimed"]),
        tools=[session_tool(tool) for tool in await tools.fetchall()],
    )


async def asked(conn: Conn, session_id: uuid.UUID, turn_id: str) -> Asked | None:
    """None when the caller has no such session."""
    cur = await conn.execute(_ASKED, (turn_id, session_id))
    row = await cur.fetchone()
    return (
        None if row is None else Asked(live=row["live"], question=row["question"], language=row["language"])
    )


async def claim(conn: Conn, session_id: uuid.UUID, turn_id: str, lease_seconds: float) -> Claim:
    """Take the turn's generation, as `begin` tries to: not while another holds it, once it is done, or
    once the session is over."""
    cur = await conn.execute(_CLAIM, {"session_id": session_id, "turn_id": turn_id, "lease": lease_seconds})
    row = await cur.fetchone()
    assert row is not None
    return Claim(live=row["live"], claimed=row["claimed"], held=row["held"])


async def renew(conn: Conn, session_id: uuid.UUID, turn_id: str, lease_seconds: float) -> bool:
    """Extend the claim of a streaming reply; whether its session is still live."""
    cur = await conn.execute(_RENEW, {"session_id": session_id, "turn_id": turn_id, "lease": lease_seconds})
    row = await cur.fetchone()
    return bool(row and row["live"])


async def release(conn: Conn, session_id: uuid.UUID, turn_id: str) -> None:
    """Give up the turn's claim without a reply (it failed), so that a retry generates at once."""
    await conn.execute(_RELEASE, (session_id, turn_id))


async def stored_reply(conn: Conn, session_id: uuid.UUID, turn_id: str) -> StoredReply | None:
    cur = await conn.execute(_STORED_REPLY, (session_id, turn_id))
    row = await cur.fetchone()
    return None if row is None else _stored(row)


def _stored(row: dict[str, Any]) -> StoredReply:
    return StoredReply(
        message_id=row["id"],
        content=row["content"],
        sources=[Source.model_validate(s) for s in row["sources"]],
        timings=Timings.model_validate(row["timings"]),
        interrupted=row["interrupted"],
    )


def vector_literal(embedding: list[float]) -> str:
    return "[" + ",".join(repr(float(x)) for x in embedding) + "]"


async def retrieve(
    conn: Conn,
    avatar_id: uuid.UUID,
    query: str,
    embedding: list[float] | None,
    embedding_model: str | None,
    limit: int,
) -> list[Passage]:
    """The hybrid search's best `limit` passages; for a question asking what something is, the opening of
    the document titled after it comes first (see `functions.core.llm.definition`)."""
    vector = None if embedding is None else vector_literal(embedding)
    cur = await conn.execute(
        _MATCH, (avatar_id, full_text_query(query), vector, embedding_model if vector else None, limit)
    )
    passages = _passages(await cur.fetchall())
    title = defined(query, passages)
    if title is None:
        return passages
    cur = await conn.execute(_LEAD, (avatar_id, title.document_id))
    row = await cur.fetchone()
    if row is None:
        return passages
    lead = _passages([{**row, "score": passages[0].score}])[0]
    return [lead, *(p for p in passages if p.chunk_id != lead.chunk_id)][:limit]


def _passages(rows: list[dict[str, Any]]) -> list[Passage]:
    return [
        Passage(
            chunk_id=r["chunk_id"],
            document_id=r["document_id"],
            document_title=r["document_title"] or "Untitled",
            heading_path=list(r["heading_path"]),
            content=r["content"],
            score=r["score"],
        )
        for r in rows
    ]


def sources_of(passages: list[Passage]) -> list[Source]:
    return [
        Source(
            index=n,
            chunk_id=p.chunk_id,
            document_id=p.document_id,
            title=p.document_title,
            heading_path=p.heading_path,
            excerpt=_excerpt(p.content),
        )
        for n, p in enumerate(passages, start=1)
    ]


def _excerpt(content: str) -> str:
    text = " ".join(content.split())
    if len(text) <= EXCERPT_CHARS:
        return text
    cut = text.rfind(" ", 0, EXCERPT_CHARS)
    return text[: cut if cut > EXCERPT_CHARS // 2 else EXCERPT_CHARS].rstrip(" ,;:") + "…"


async def save_reply(
    conn: Conn,
    session_id: uuid.UUID,
    turn_id: str,
    content: str,
    sources: list[Source],
    timings: Timings,
    *,
    interrupted: bool = False,
    tool_calls: list[dict[str, Any]] | None = None,
    usage: TokenUsage | None = None,
) -> uuid.UUID:
    """The reply of a turn, stored once: a concurrent retry of the same turn gets the first one's id."""
    usage = usage or TokenUsage()
    cur = await conn.execute(
        _SAVE_REPLY,
        {
            "session_id": session_id,
            "turn_id": turn_id,
            "content": content,
            "sources": jsonb([s.model_dump(mode="json") for s in sources]),
            "chunk_ids": [s.chunk_id for s in sources],
            "timings": jsonb(timings.model_dump(exclude_none=True)),
            "interrupted": interrupted,
            "tool_calls": jsonb(tool_calls or []),
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
        },
    )
    row = await cur.fetchone()
    assert row is not None
    message_id: uuid.UUID = row["id"]
    return message_id


async def mark_interrupted(
    conn: Conn, session_id: uuid.UUID, turn_id: str, heard_text: str
) -> tuple[dict[str, Any] | None, bool]:
    """The interrupted reply, and whether the turn exists at all (its user message)."""
    updated = await conn.execute(
        "update public.streaming_messages set interrupted = true, heard_content = %s"
        " where session_id = %s and turn_id = %s and role = 'assistant' and user_id = (select auth.uid())"
        " returning id, heard_content",
        (heard_text, session_id, turn_id),
    )
    asked = await conn.execute(
        "select 1 from public.streaming_messages"
        " where session_id = %s and turn_id = %s and role = 'user' and user_id = (select auth.uid())",
        (session_id, turn_id),
    )
    return await updated.fetchone(), await asked.fetchone() is not None
