"""Start, keep alive, record events and end streaming sessions; the backend owns their lifetime."""

import logging
import uuid
from datetime import UTC, datetime
from typing import Any, NoReturn

from psycopg.types.json import Jsonb

from functions.core.auth.tokens import Principal, sign_session_callback_token, widget_key
from functions.core.db.pool import Conn, Database
from functions.core.errors import NotFound, ProviderError, SessionEnded
from functions.core.providers.avatar.base import AvatarSpec, ProviderSession, SessionRequest
from functions.core.providers.avatar.registry import get_provider
from functions.core.sessions.models import (
    ClientEvent,
    EndedSession,
    KeptAlive,
    StartedSession,
    StartSession,
)
from functions.core.sessions.quota import enforce_quota, enforce_visitor_caps, usage_from_row
from functions.core.settings import Settings

log = logging.getLogger(__name__)

_SESSION_NOT_FOUND = "no such session"
# The avatar and its owner's usage in one round trip; the lock serialises starts per owner.
_AVATAR_WITH_USAGE = (
    "select a.*, u.* from private.session_avatar(%s) a"
    " left join lateral private.owner_usage(a.owner_id, true) u on true"
)


async def add_event(conn: Conn, session_id: uuid.UUID, event_type: str, data: dict[str, Any]) -> None:
    await conn.execute(
        "insert into public.avatar_session_events (session_id, event_type, data) values (%s, %s, %s)",
        (session_id, event_type, Jsonb(data)),
    )


async def start_session(
    db: Database, principal: Principal, body: StartSession, settings: Settings
) -> StartedSession:
    async with db.as_user(principal.claims) as conn:
        cur = await conn.execute(_AVATAR_WITH_USAGE, (body.avatar_id,))
        avatar = await cur.fetchone()
        if avatar is None:
            raise NotFound("no such avatar")
        usage = usage_from_row(avatar, settings)
        enforce_quota(usage, idle_seconds=settings.session_idle_seconds)
        if avatar["owner_id"] != principal.user_id:
            cur = await conn.execute("select * from private.session_counts(%s)", (avatar["owner_id"],))
            counts = await cur.fetchone()
            enforce_visitor_caps(counts, usage, settings, idle_seconds=settings.session_idle_seconds)
        cur = await conn.execute(
            "insert into public.streaming_sessions (avatar_id, quality) values (%s, %s)"
            " returning id, provider, quality, expires_at",
            (body.avatar_id, body.quality),
        )
        session = await cur.fetchone()
        assert session is not None
        await add_event(conn, session["id"], "started", {"provider": session["provider"]})

    try:
        created = await _create_provider_session(principal, session, avatar, settings)
    except ProviderError as exc:
        await _fail_session(db, principal, session["id"], exc)
        raise
    if created.provider_session_id is not None:
        async with db.as_user(principal.claims) as conn:
            await conn.execute(
                "update public.streaming_sessions set provider_session_id = %s where id = %s",
                (created.provider_session_id, session["id"]),
            )
    return StartedSession(
        session_id=session["id"],
        provider=session["provider"],
        credentials=created.credentials,
        expires_at=session["expires_at"],
    )


async def _create_provider_session(
    principal: Principal, session: dict[str, Any], avatar: dict[str, Any], settings: Settings
) -> ProviderSession:
    """The provider's side of a session row; any failure comes back as a ProviderError."""
    request = SessionRequest(
        session_id=session["id"],
        expires_at=session["expires_at"],
        avatar=AvatarSpec(
            avatar_id=avatar["id"],
            provider_avatar_id=avatar["provider_avatar_id"],
            voice=avatar["voice"],
            persona=avatar["persona"],
            greeting=avatar["greeting"],
            quality=session["quality"],
            language=avatar["language"],
            max_session_seconds=avatar["max_session_seconds"],
            idle_timeout_seconds=settings.session_idle_seconds,
        ),
        **_chat_callback(principal, session, avatar, settings),
    )
    try:
        return await get_provider(session["provider"], settings).create_session(request)
    except ProviderError:
        raise
    except Exception as exc:
        # A provider module should raise ProviderError; anything else still must not leave the
        # session looking live.
        failure = ProviderError(session["provider"], f"unexpected failure ({type(exc).__name__})")
        raise failure from exc


async def reconnect_session(
    db: Database, principal: Principal, session_id: uuid.UUID, settings: Settings
) -> StartedSession:
    """Fresh provider credentials for a live session whose stream dropped; the dropped provider
    session is stopped first. A failure leaves the session active (the browser goes on with the
    built-in avatar) and is recorded as an `error` event."""
    async with db.as_user(principal.claims) as conn:
        session = await _lock_own_session(conn, session_id)
        live = session["status"] == "active" and not session["expired"]
        cur = await conn.execute("select * from private.session_avatar(%s)", (session["avatar_id"],))
        avatar = await cur.fetchone()
    if not live:
        await refuse_ended_session(db, principal, session_id, settings)
    if avatar is None:
        raise NotFound("this session's avatar was deleted")
    await stop_provider_session(settings, session["provider"], session["provider_session_id"])
    try:
        created = await _create_provider_session(principal, session, avatar, settings)
    except ProviderError as exc:
        async with db.as_user(principal.claims) as conn:
            await add_event(
                conn,
                session_id,
                "error",
                {
                    "provider": exc.provider,
                    "status": exc.provider_status,
                    "detail": exc.detail,
                    "reconnect": True,
                },
            )
        raise
    async with db.as_user(principal.claims) as conn:
        await conn.execute(
            "update public.streaming_sessions set provider_session_id = %s, last_activity_at = now()"
            " where id = %s",
            (created.provider_session_id, session_id),
        )
        await add_event(conn, session_id, "reconnected", {"provider": session["provider"]})
    return StartedSession(
        session_id=session_id,
        provider=session["provider"],
        credentials=created.credentials,
        expires_at=session["expires_at"],
    )


def _chat_callback(
    principal: Principal, session: dict[str, Any], avatar: dict[str, Any], settings: Settings
) -> dict[str, str]:
    """For a provider that runs the conversation itself (LiveAvatar FULL): where our chat completions
    answer for this session, and a callback token good for that one route of this session only, until
    the session ends (`session_callback_is_live`)."""
    secret = widget_key(settings)
    if session["provider"] != "liveavatar" or settings.public_api_base is None or secret is None:
        return {}
    lifetime = int((session["expires_at"] - datetime.now(UTC)).total_seconds()) + 60
    token = sign_session_callback_token(
        secret,
        session_id=session["id"],
        user_id=principal.user_id,
        avatar_id=avatar["id"],
        ttl_seconds=max(60, lifetime),
    )
    base = settings.public_api_base.rstrip("/")
    return {"chat_completions_base_url": f"{base}/v1/sessions/{session['id']}", "chat_api_key": token}


async def session_callback_is_live(db: Database, principal: Principal, session_id: uuid.UUID) -> bool:
    """Whether the session a callback token is bound to is still running: the token dies with it."""
    async with db.as_user(principal.claims) as conn:
        cur = await conn.execute(
            "select status = 'active' and expires_at > now() as live from public.streaming_sessions"
            " where id = %s and user_id = (select auth.uid()) and channel = 'avatar'",
            (session_id,),
        )
        row = await cur.fetchone()
    return row is not None and bool(row["live"])


async def _fail_session(
    db: Database, principal: Principal, session_id: uuid.UUID, exc: ProviderError
) -> None:
    reason = f"provider_error: {exc.detail}"[:500]
    async with db.as_user(principal.claims) as conn:
        await conn.execute(
            "update public.streaming_sessions set status = 'error', end_reason = %s where id = %s",
            (reason, session_id),
        )
        await add_event(
            conn,
            session_id,
            "error",
            {"provider": exc.provider, "status": exc.provider_status, "detail": exc.detail},
        )


async def _lock_own_session(conn: Conn, session_id: uuid.UUID) -> dict[str, Any]:
    cur = await conn.execute(
        "select id, avatar_id, quality, status, end_reason, duration_seconds, provider,"
        " provider_session_id, expires_at, expires_at <= now() as expired"
        " from public.streaming_sessions where id = %s and user_id = (select auth.uid()) for update",
        (session_id,),
    )
    row = await cur.fetchone()
    if row is None:
        raise NotFound(_SESSION_NOT_FOUND)
    return row


def _ended(session: dict[str, Any]) -> EndedSession:
    return EndedSession(
        status=session["status"],
        duration_seconds=session["duration_seconds"],
        end_reason=session["end_reason"],
    )


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


async def stop_provider_session(settings: Settings, provider: str, provider_session_id: str | None) -> None:
    """Stop the provider's side once our row has ended; a failure is logged for reconciliation."""
    if provider_session_id is None:
        return
    try:
        await get_provider(provider, settings).stop_session(provider_session_id)
    except ProviderError as exc:
        log.warning("stopping %s session %s failed: %s", provider, provider_session_id, exc.detail)


async def end_session(
    db: Database, principal: Principal, session_id: uuid.UUID, reason: str, settings: Settings
) -> EndedSession:
    async with db.as_user(principal.claims) as conn:
        ended = await close_session(conn, session_id, reason)
        if ended is None:
            cur = await conn.execute(
                "select status, duration_seconds, end_reason from public.streaming_sessions"
                " where id = %s and user_id = (select auth.uid())",
                (session_id,),
            )
            earlier = await cur.fetchone()
            if earlier is None:
                raise NotFound(_SESSION_NOT_FOUND)
            return _ended(earlier)
    await stop_provider_session(settings, ended["provider"], ended["provider_session_id"])
    return _ended(ended)


async def refuse_ended_session(
    db: Database, principal: Principal, session_id: uuid.UUID, settings: Settings
) -> NoReturn:
    """Answer 409 for a session that is over; one found past its end is ended here, as `expired`,
    rather than waiting for the cleanup job."""
    async with db.as_user(principal.claims) as conn:
        session = await _lock_own_session(conn, session_id)
        ended = await close_session(conn, session_id, "expired") or session
    if session["status"] == "active":
        await stop_provider_session(settings, session["provider"], session["provider_session_id"])
    raise SessionEnded(f"this session has {ended['status']} ({ended['end_reason']}); start a new one")


async def _touch_live_session(
    db: Database,
    principal: Principal,
    session_id: uuid.UUID,
    settings: Settings,
    event: ClientEvent | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Mark activity on a live session (and record a client event); 409 once it has ended."""
    async with db.as_user(principal.claims) as conn:
        session = await _lock_own_session(conn, session_id)
        if session["status"] == "active" and not session["expired"]:
            cur = await conn.execute(
                "update public.streaming_sessions set last_activity_at = now() where id = %s"
                " returning status, expires_at, last_activity_at",
                (session_id,),
            )
            touched = await cur.fetchone()
            assert touched is not None
            if event is not None:
                await add_event(conn, session_id, event.type, event.data)
            return session, touched
    await refuse_ended_session(db, principal, session_id, settings)


async def keep_alive(
    db: Database, principal: Principal, session_id: uuid.UUID, settings: Settings
) -> KeptAlive:
    session, touched = await _touch_live_session(db, principal, session_id, settings)
    if session["provider_session_id"] is not None:
        await get_provider(session["provider"], settings).keep_alive(session["provider_session_id"])
    return KeptAlive(**touched)


async def record_client_event(
    db: Database, principal: Principal, session_id: uuid.UUID, event: ClientEvent, settings: Settings
) -> None:
    await _touch_live_session(db, principal, session_id, settings, event)
