"""A session's row as every path that touches a live session needs it: read it locked, end it, refuse
it once it is over, and record its events.

Stopping the provider's side imports that provider's module (through the registry) only when a session
actually ends here: a turn on a live session, the streaming function's whole work, never needs it.
"""

import logging
import uuid
from typing import Any, NoReturn

from functions.core.auth.tokens import Principal
from functions.core.db.pool import Conn, Database, jsonb
from functions.core.errors import NotFound, ProviderError, SessionEnded
from functions.core.settings import Settings

log = logging.getLogger(__name__)

SESSION_NOT_FOUND = "no such session"


async def add_event(conn: Conn, session_id: uuid.UUID, event_type: str, data: dict[str, Any]) -> None:
    await conn.execute(
        "insert into public.avatar_session_events (session_id, event_type, data) values (%s, %s, %s)",
        (session_id, event_type, jsonb(data)),
    )


async def session_callback_is_live(db: Database, principal: Principal, session_id: uuid.UUID) -> bool:
    """Whether the session a callback token is bound to is still running: the token dies with it."""
    async with db.as_user(principal.claims) as conn:
        cur = await conn.execute(
            "select private.session_is_live(s) as live from public.streaming_sessions s"
            " where id = %s and user_id = (select auth.uid()) and channel = 'avatar'",
            (session_id,),
        )
        row = await cur.fetchone()
    return row is not None and bool(row["live"])


async def lock_own_session(conn: Conn, session_id: uuid.UUID) -> dict[str, Any]:
    cur = await conn.execute(
        "select id, avatar_id, quality, status, end_reason, duration_seconds, provider,"
        " provider_session_id, expires_at, private.session_is_live(s) as live"
        " from public.streaming_sessions s where id = %s and user_id = (select auth.uid()) for update",
        (session_id,),
    )
    row = await cur.fetchone()
    if row is None:
        raise NotFound(SESSION_NOT_FOUND)
    return row


async def close_session(conn: Conn, session_id: uuid.UUID, reason: str) -> dict[str, Any] | None:
    """End the session if it is still active (as `expired` once past its end) and record `ended`.

    Returns the ended row with its provider session, or None where RLS hides it or it had ended.
    """
    cur = await conn.execute(
        "update public.streaming_sessions"
        " set status = 'ended', end_reason = case when expires_at <= now() then 'expired' else %s end"
        " where id = %s and status = 'active'"
        " returning status, duration_seconds, end_reason, provider, provider_session_id",
        (reason, session_id),
    )
    ended = await cur.fetchone()
    if ended is not None:
        await add_event(
            conn,
            session_id,
            "ended",
            {"reason": ended["end_reason"], "duration_seconds": ended["duration_seconds"]},
        )
    return ended


async def refuse_ended_session(
    db: Database, principal: Principal, session_id: uuid.UUID, settings: Settings
) -> NoReturn:
    """Answer 409 for a session that is over; one found past its end is ended here, as `expired`,
    rather than waiting for the cleanup job."""
    async with db.as_user(principal.claims) as conn:
        session = await lock_own_session(conn, session_id)
        ended = await close_session(conn, session_id, "expired") or session
    if session["status"] == "active":
        await stop_provider_session(
            db, settings, session_id, session["provider"], session["provider_session_id"]
        )
    raise SessionEnded(f"this session has {ended['status']} ({ended['end_reason']}); start a new one")


async def stop_provider_session(
    db: Database, settings: Settings, session_id: uuid.UUID, provider: str, provider_session_id: str | None
) -> None:
    """Stop the provider's side once our row has ended, then delete what was made beside it; a failure
    is logged, and left to reconciliation and the cleanup job."""
    if provider_session_id is not None:
        from functions.core.providers.avatar.registry import get_provider

        try:
            await get_provider(provider, settings).stop_session(provider_session_id)
        except ProviderError as exc:
            log.warning("stopping %s session %s failed: %s", provider, provider_session_id, exc.detail)
    await release_provider_resources(db, settings, session_id)


async def release_provider_resources(db: Database, settings: Settings, session_id: uuid.UUID) -> None:
    """Delete at the provider what a session made beside it (LiveAvatar: its secret, LLM configuration
    and context); what could not be deleted stays recorded for the next cleanup."""
    async with db.as_service() as conn:
        cur = await conn.execute(
            "delete from private.provider_resources where session_id = %s returning provider, resources",
            (session_id,),
        )
        rows = await cur.fetchall()
    from functions.core.providers.avatar.registry import get_provider

    left_over: list[tuple[str, dict[str, str]]] = []
    for row in rows:
        try:
            left = await get_provider(row["provider"], settings).release(row["resources"])
        except ProviderError as exc:
            log.warning(
                "releasing %s resources of session %s failed: %s", row["provider"], session_id, exc.detail
            )
            left = row["resources"]
        if left:
            left_over.append((row["provider"], left))
    if left_over:
        async with db.as_service() as conn:
            for provider, left in left_over:
                await conn.execute(
                    "insert into private.provider_resources (session_id, provider, resources)"
                    " values (%s, %s, %s)",
                    (session_id, provider, jsonb(left)),
                )
