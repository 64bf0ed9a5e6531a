"""Start, keep alive, record events and end streaming sessions; the backend owns their lifetime."""

import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from functions.core.auth.tokens import Principal, sign_session_callback_token, widget_key
from functions.core.db.pool import Database, jsonb
from functions.core.errors import NotFound, ProviderError
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
from functions.core.sessions.state import (
    SESSION_NOT_FOUND,
    add_event,
    close_session,
    lock_own_session,
    refuse_ended_session,
    stop_provider_session,
)
from functions.core.settings import Settings
from functions.core.speech.stt import voice_input

log = logging.getLogger(__name__)

# The avatar and its owner's usage in one round trip; the lock serialises starts per owner.
_AVATAR_WITH_USAGE = (
    "select a.*, u.* from private.session_avatar(%s) a"
    " left join lateral private.owner_usage(a.owner_id, true) u on true"
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
            "insert into public.streaming_sessions (avatar_id, quality, visitor_key, page_url)"
            " values (%s, %s, %s, %s) returning id, provider, quality, expires_at",
            (body.avatar_id, body.quality, body.visitor_key, body.page_url),
        )
        session = await cur.fetchone()
        assert session is not None
        await add_event(conn, session["id"], "started", {"provider": session["provider"]})

    try:
        created = await _create_provider_session(db, principal, session, avatar, settings)
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
        voice_input=voice_input(settings, avatar["language"]),
    )


async def _create_provider_session(
    db: Database,
    principal: Principal,
    session: dict[str, Any],
    avatar: dict[str, Any],
    settings: Settings,
) -> ProviderSession:
    """The provider's side of a session row; any failure comes back as a ProviderError.

    What the provider made beside the session is recorded for `release_provider_resources`, and what it
    imported for good is kept for the next session.
    """
    request = SessionRequest(
        session_id=session["id"],
        expires_at=session["expires_at"],
        avatar=AvatarSpec(
            avatar_id=avatar["id"],
            provider_avatar_id=avatar["provider_avatar_id"],
            voice=avatar["voice"],
            options=avatar["provider_options"],
            persona=avatar["persona"],
            greeting=avatar["greeting"],
            quality=session["quality"],
            language=avatar["language"],
            max_session_seconds=avatar["max_session_seconds"],
            idle_timeout_seconds=settings.session_idle_seconds,
        ),
        assets=await _provider_assets(db, session["provider"], avatar["voice"]),
        **_chat_callback(principal, session, avatar, settings),
    )
    try:
        created = await get_provider(session["provider"], settings).create_session(request)
    except ProviderError:
        raise
    except Exception as exc:
        # A provider module should raise ProviderError; anything else still must not leave the
        # session looking live.
        failure = ProviderError(session["provider"], f"unexpected failure ({type(exc).__name__})")
        raise failure from exc
    if created.resources or created.assets:
        async with db.as_service() as conn:
            if created.resources:
                await conn.execute(
                    "insert into private.provider_resources (session_id, provider, resources)"
                    " values (%s, %s, %s)",
                    (session["id"], session["provider"], jsonb(created.resources)),
                )
            for key, asset_id in created.assets.items():
                kind, _, source_id = key.partition(":")
                await conn.execute(
                    "insert into private.provider_assets (provider, kind, source_id, asset_id)"
                    " values (%s, %s, %s, %s) on conflict do nothing",
                    (session["provider"], kind, source_id, asset_id),
                )
    return created


async def _provider_assets(db: Database, provider: str, voice: dict[str, Any]) -> dict[str, str]:
    """What this deployment imported at the provider for the avatar's voice, by `kind:source id`: only a
    voice of another vendor is imported (LiveAvatar FULL imports an ElevenLabs voice)."""
    voice_id = voice.get("voice_id")
    if voice.get("provider") in (provider, "local", None) or not isinstance(voice_id, str) or not voice_id:
        return {}
    async with db.as_service() as conn:
        cur = await conn.execute(
            "select kind, source_id, asset_id from private.provider_assets"
            " where provider = %s and source_id = %s",
            (provider, voice_id),
        )
        rows = await cur.fetchall()
    return {f"{row['kind']}:{row['source_id']}": row["asset_id"] for row in rows}


async def reconnect_session(
    db: Database, principal: Principal, session_id: uuid.UUID, settings: Settings
) -> StartedSession:
    """Fresh provider credentials for a live session whose stream dropped; the dropped provider
    session is stopped first. A failure leaves the session active (the browser goes on with the
    built-in avatar) and is recorded as an `error` event."""
    async with db.as_user(principal.claims) as conn:
        session = await lock_own_session(conn, session_id)
        cur = await conn.execute("select * from private.session_avatar(%s)", (session["avatar_id"],))
        avatar = await cur.fetchone()
    if not session["live"]:
        await refuse_ended_session(db, principal, session_id, settings)
    if avatar is None:
        raise NotFound("this session's avatar was deleted")
    await stop_provider_session(db, settings, session_id, session["provider"], session["provider_session_id"])
    try:
        created = await _create_provider_session(db, principal, session, avatar, settings)
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
        voice_input=voice_input(settings, avatar["language"]),
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


def _ended(session: dict[str, Any]) -> EndedSession:
    return EndedSession(
        status=session["status"],
        duration_seconds=session["duration_seconds"],
        end_reason=session["end_reason"],
    )


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
                raise NotFound(SESSION_NOT_FOUND)
            return _ended(earlier)
    await stop_provider_session(db, settings, session_id, ended["provider"], ended["provider_session_id"])
    return _ended(ended)


async def _touch_live_session(
    db: Database,
    principal: Principal,
    session_id: uuid.UUID,
    settings: Settings,
    event: ClientEvent | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Mark activity on a live session (and record a client event); 409 once it has ended."""
    async with db.as_user(principal.claims) as conn:
        session = await lock_own_session(conn, session_id)
        if session["live"]:
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
