"""Visitor tokens for the embeddable widget: one per browser visit, bound to an avatar and its site."""

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from functions.core.auth.tokens import Principal, sign_visitor_token, verify_visitor_token, widget_key
from functions.core.avatar_basics import Appearance
from functions.core.db.pool import Conn, Database
from functions.core.errors import Forbidden, NotFound, ServiceUnavailable, Unauthorized
from functions.core.origins import normalise_origin
from functions.core.rate_limits import RateLimited, RateWindow, rate_limit_hit
from functions.core.settings import WIDGET_TOKEN_MAX_TTL_SECONDS, Settings


class OriginNotAllowed(Forbidden):
    code = "origin_not_allowed"


class WidgetTokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    avatar_public_id: str = Field(min_length=1, max_length=64)
    visitor_token: str | None = Field(default=None, max_length=4096)


class WidgetAvatar(BaseModel):
    id: uuid.UUID
    public_id: str
    name: str
    greeting: str
    provider: str
    language: str
    appearance: Appearance
    end_of_speech_ms: int
    contact_form: bool = Field(
        default=False,
        description="Offer the visitor a form to leave their details: the avatar has capture_contact on and"
        " the server has no LLM key to call it in the conversation",
    )


class WidgetToken(BaseModel):
    token: str
    expires_at: datetime
    visitor_id: uuid.UUID
    avatar: WidgetAvatar


async def issue_visitor_token(
    db: Database,
    settings: Settings,
    body: WidgetTokenRequest,
    *,
    origin: str | None,
    client_ip: str | None,
    own_origins: Iterable[str] = (),
    now: float,
) -> WidgetToken:
    """Checks the caller's origin and rate limits, then signs a token for a new or returning visitor.

    `own_origins` (the studio's and the API's own) may show every avatar: the studio's demo page is there.
    `now` (seconds since the epoch) places the call in its rate-limit window."""
    secret = widget_key(settings)
    if secret is None:
        raise ServiceUnavailable("widget tokens are not configured: set WIDGET_TOKEN_SECRET")
    # As service_role: the caller has no token yet, so there is no user for RLS to decide about. The
    # queries are limited to one avatar by its public id and to this endpoint's rate-limit counters.
    window = RateWindow(now)
    async with db.as_service() as conn:
        ip_ok = await rate_limit_hit(
            conn,
            f"widget-token:ip:{client_ip or 'unknown'}",
            window,
            settings.widget_tokens_per_ip_per_minute,
        )
        avatar = await _avatar(conn, body.avatar_public_id) if ip_ok else None
    if not ip_ok:
        raise RateLimited("too many widget tokens from this address; wait a minute", window=window)
    if avatar is None:
        raise NotFound("no avatar has this public id")
    site = _check_origin(origin, [*avatar["allowed_origins"], *own_origins])
    returning = _returning_visitor(secret, body.visitor_token, avatar["id"], settings.jwt_audience)
    async with db.as_service() as conn:
        avatar_ok = await rate_limit_hit(
            conn, f"widget-token:avatar:{avatar['id']}", window, settings.widget_tokens_per_avatar_per_minute
        )
        visitor_id = await _visitor(conn, returning, avatar["id"]) if avatar_ok else None
    if visitor_id is None:
        raise RateLimited("this avatar is handing out too many visitor tokens; wait a minute", window=window)
    token, expires_at = sign_visitor_token(
        secret,
        visitor_id=visitor_id,
        avatar_id=avatar["id"],
        origin=site,
        audience=settings.jwt_audience,
        ttl_seconds=settings.widget_token_ttl_seconds,
    )
    contact_form = not settings.llm_configured and await _captures_contacts(
        db, verify_visitor_token(secret, token, audience=settings.jwt_audience), avatar["id"]
    )
    return WidgetToken(
        token=token,
        expires_at=expires_at,
        visitor_id=visitor_id,
        avatar=WidgetAvatar(**avatar, contact_form=contact_form),
    )


async def _captures_contacts(db: Database, visitor: Principal, avatar_id: uuid.UUID) -> bool:
    """Whether the avatar has capture_contact on, asked as the visitor (the tools are not service_role's)."""
    async with db.as_user(visitor.claims) as conn:
        cur = await conn.execute(
            "select exists (select 1 from private.session_tools(%s) where kind = 'capture_contact')"
            " as captures",
            (avatar_id,),
        )
        row = await cur.fetchone()
    return bool(row and row["captures"])


async def _visitor(conn: Conn, returning: uuid.UUID | None, avatar_id: uuid.UUID) -> uuid.UUID:
    """The returning visitor, marked seen, while their row is kept; otherwise a new visitor."""
    row = None
    if returning is not None:
        cur = await conn.execute(
            "update public.widget_visitors set last_seen_at = now()"
            " where id = %s and avatar_id = %s returning id",
            (returning, avatar_id),
        )
        row = await cur.fetchone()
    if row is None:
        cur = await conn.execute(
            "insert into public.widget_visitors (avatar_id) values (%s) returning id", (avatar_id,)
        )
        row = await cur.fetchone()
    assert row is not None
    visitor_id: uuid.UUID = row["id"]
    return visitor_id


async def sweep_visitors(conn: Conn) -> int:
    """Remove visitors whose every token has expired and who hold no active session; the count removed.

    A token is never valid for longer than WIDGET_TOKEN_MAX_TTL_SECONDS after its visitor was last
    seen, whatever the TTL setting was when it was signed, so such a visitor can never return.
    """
    cur = await conn.execute(
        "with gone as (delete from public.widget_visitors v"
        "   where v.last_seen_at < now() - make_interval(secs => %s)"
        "     and not exists (select 1 from public.streaming_sessions s"
        "                      where s.user_id = v.id and s.status = 'active')"
        "   returning 1)"
        " select count(*) as n from gone",
        (WIDGET_TOKEN_MAX_TTL_SECONDS,),
    )
    row = await cur.fetchone()
    assert row is not None
    removed: int = row["n"]
    return removed


async def _avatar(conn: Conn, public_id: str) -> dict[str, Any] | None:
    cur = await conn.execute(
        "select id, public_id, name, greeting, provider, language, appearance, end_of_speech_ms,"
        " allowed_origins"
        " from public.avatars where public_id = %s",
        (public_id,),
    )
    return await cur.fetchone()


def _check_origin(origin: str | None, allowed: list[str]) -> str:
    site = normalise_origin(origin)
    if origin is None:
        raise OriginNotAllowed(
            "the request has no Origin header; the widget must run in a web page on one of the"
            " avatar's allowed origins"
        )
    if site is None or site not in {normalise_origin(value) for value in allowed}:
        raise OriginNotAllowed(
            f"{origin} is not one of this avatar's allowed widget origins; its owner can add it in the studio"
        )
    return site


def _returning_visitor(
    secret: str, token: str | None, avatar_id: uuid.UUID, audience: str
) -> uuid.UUID | None:
    """The visitor a still-valid token for the same avatar stands for; otherwise a new visitor is made."""
    if token is None:
        return None
    try:
        principal = verify_visitor_token(secret, token, audience=audience)
    except Unauthorized:
        return None
    return principal.user_id if principal.avatar_id == avatar_id else None
