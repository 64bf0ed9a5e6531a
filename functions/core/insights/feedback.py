"""Thumbs on answers and the first audible sound of a reply: written by whoever held the conversation."""

import uuid

from functions.core.auth.tokens import Principal
from functions.core.db.pool import Database
from functions.core.errors import NotFound
from functions.core.insights.models import FeedbackIn, FeedbackOut

_OWN_ANSWER = (
    "select 1 from public.streaming_messages m join public.streaming_sessions s on s.id = m.session_id"
    " where m.id = %s and m.role = 'assistant' and s.user_id = (select auth.uid())"
)
_RATE = (
    "insert into public.message_feedback (message_id, rating, comment) values (%s, %s, %s)"
    " on conflict (message_id) do update set rating = excluded.rating, comment = excluded.comment"
    " returning message_id, rating, comment"
)


async def rate_answer(
    db: Database, principal: Principal, message_id: uuid.UUID, body: FeedbackIn
) -> FeedbackOut:
    async with db.as_user(principal.claims) as conn:
        cur = await conn.execute(_OWN_ANSWER, (message_id,))
        if await cur.fetchone() is None:
            raise NotFound("no such answer in your conversations")
        cur = await conn.execute(_RATE, (message_id, 1 if body.rating == "up" else -1, body.comment))
        row = await cur.fetchone()
    assert row is not None
    return FeedbackOut(
        message_id=row["message_id"], rating="up" if row["rating"] == 1 else "down", comment=row["comment"]
    )


async def withdraw_rating(db: Database, principal: Principal, message_id: uuid.UUID) -> None:
    async with db.as_user(principal.claims) as conn:
        cur = await conn.execute(
            "delete from public.message_feedback where message_id = %s and user_id = (select auth.uid())"
            " returning id",
            (message_id,),
        )
        if await cur.fetchone() is None:
            raise NotFound("you have not rated this answer")


async def record_first_audible(
    db: Database, principal: Principal, session_id: uuid.UUID, turn_id: str, first_audible_ms: int
) -> None:
    """Kept on the turn's reply; a later report of the same turn replaces it."""
    async with db.as_user(principal.claims) as conn:
        cur = await conn.execute(
            "update public.streaming_messages set first_audible_ms = %s"
            " where session_id = %s and turn_id = %s and role = 'assistant' and user_id = (select auth.uid())"
            " returning id",
            (first_audible_ms, session_id, turn_id),
        )
        if await cur.fetchone() is None:
            raise NotFound("no reply to this turn in your conversations")
