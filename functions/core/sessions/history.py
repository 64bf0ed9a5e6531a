"""Reading sessions and messages; RLS decides what the caller sees."""

import uuid
from datetime import UTC, datetime, timedelta

from functions.core.auth.tokens import Principal
from functions.core.db.pool import Database
from functions.core.errors import NotFound
from functions.core.sessions.models import MessageOut, SessionOut, SessionPage, Usage
from functions.core.sessions.quota import owner_usage
from functions.core.sessions.state import SESSION_NOT_FOUND
from functions.core.settings import Settings

_SESSION_COLUMNS = (
    "id, avatar_id, user_id, status, end_reason, provider, provider_session_id, quality, started_at,"
    " ended_at, expires_at, last_activity_at, duration_seconds, message_count,"
    " user_id = owner_id as by_owner, page_url"
)


# A page's end: its last session's start (microseconds since the epoch) and id. Every string of this
# shape is a valid position, so the route's pattern is the whole check.
CURSOR_PATTERN = r"^[0-9]{1,16}_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _encode_cursor(started_at: datetime, session_id: uuid.UUID) -> str:
    return f"{(started_at - _EPOCH) // _MICROSECOND}_{session_id}"


def _decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    started, session_id = cursor.split("_")
    return _EPOCH + int(started) * _MICROSECOND, uuid.UUID(session_id)


async def list_sessions(
    db: Database,
    principal: Principal,
    limit: int,
    cursor: str | None,
    *,
    avatar_id: uuid.UUID | None = None,
    search: str | None = None,
) -> SessionPage:
    """The caller's sessions and, for an owner, the sessions visitors held with their avatars; newest
    first, keyset-paginated; optionally of one avatar, or where a question or answer contains `search`."""
    where = "(user_id = %s or owner_id = %s)"
    params_extra: tuple[object, ...] = ()
    if avatar_id is not None:
        where += " and avatar_id = %s"
        params_extra += (avatar_id,)
    if search:
        where += (
            " and exists (select 1 from public.streaming_messages m"
            " where m.session_id = streaming_sessions.id and m.content ilike %s)"
        )
        params_extra += ("%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%",)
    if cursor is not None:
        where += " and (started_at, id) < (%s, %s)"
        params_extra += _decode_cursor(cursor)
    async with db.as_user(principal.claims) as conn:
        cur = await conn.execute(
            f"select {_SESSION_COLUMNS} from public.streaming_sessions where {where}"  # noqa: S608
            " order by started_at desc, id desc limit %s",
            (principal.user_id, principal.user_id, *params_extra, limit + 1),
        )
        rows = await cur.fetchall()
    items = [SessionOut(**row) for row in rows[:limit]]
    next_cursor = _encode_cursor(items[-1].started_at, items[-1].id) if len(rows) > limit else None
    return SessionPage(items=items, next_cursor=next_cursor)


async def get_session(db: Database, principal: Principal, session_id: uuid.UUID) -> SessionOut:
    async with db.as_user(principal.claims) as conn:
        cur = await conn.execute(
            f"select {_SESSION_COLUMNS} from public.streaming_sessions where id = %s",  # noqa: S608
            (session_id,),
        )
        row = await cur.fetchone()
    if row is None:
        raise NotFound(SESSION_NOT_FOUND)
    return SessionOut(**row)


async def list_messages(db: Database, principal: Principal, session_id: uuid.UUID) -> list[MessageOut]:
    async with db.as_user(principal.claims) as conn:
        cur = await conn.execute("select 1 from public.streaming_sessions where id = %s", (session_id,))
        if await cur.fetchone() is None:
            raise NotFound(SESSION_NOT_FOUND)
        cur = await conn.execute(
            "select id, session_id, role, content, turn_id, sources, timings, interrupted, heard_content,"
            " audio_duration_ms, created_at, tool_calls from public.streaming_messages"
            " where session_id = %s order by created_at, id",
            (session_id,),
        )
        rows = await cur.fetchall()
    # What the owner's systems answered is the owner's to read, not the visitor's.
    return [
        MessageOut(**{**row, "tool_calls": [] if principal.is_visitor else row["tool_calls"]}) for row in rows
    ]


async def usage(db: Database, principal: Principal, settings: Settings) -> Usage:
    async with db.as_user(principal.claims) as conn:
        return await owner_usage(conn, principal.user_id, settings)
