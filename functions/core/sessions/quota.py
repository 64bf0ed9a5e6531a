"""Per-owner limits: monthly streaming seconds and concurrent sessions."""

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from functions.core.db.pool import Conn
from functions.core.errors import QuotaExceeded
from functions.core.sessions.models import Usage
from functions.core.settings import Settings


async def owner_usage(conn: Conn, owner_id: uuid.UUID, settings: Settings) -> Usage:
    cur = await conn.execute("select * from private.owner_usage(%s)", (owner_id,))
    return usage_from_row(await cur.fetchone(), settings)


def usage_from_row(row: Mapping[str, Any] | None, settings: Settings) -> Usage:
    """A `private.owner_usage` row with the deployment's defaults where no usage_limits row overrides."""
    if row is None or row["month_start"] is None:
        return Usage(
            month_start=datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0),
            streaming_seconds_used=0,
            monthly_streaming_seconds_limit=settings.default_monthly_streaming_seconds,
            active_sessions=0,
            concurrent_sessions_limit=settings.default_concurrent_sessions,
        )
    return Usage(
        month_start=row["month_start"],
        streaming_seconds_used=row["used_seconds"],
        monthly_streaming_seconds_limit=_or_default(
            row["monthly_limit"], settings.default_monthly_streaming_seconds
        ),
        active_sessions=row["active_sessions"],
        concurrent_sessions_limit=_or_default(row["concurrent_limit"], settings.default_concurrent_sessions),
    )


def _or_default(value: int | None, default: int) -> int:
    return default if value is None else value


def _seconds_to_next_month(now: datetime) -> int:
    month = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    following = (
        month.replace(year=month.year + 1, month=1)
        if month.month == 12
        else month.replace(month=month.month + 1)
    )
    return int((following - now).total_seconds())


def enforce_quota(usage: Usage, *, idle_seconds: int) -> None:
    """Refuse a new session when the owner's month or concurrency is used up."""
    if usage.streaming_seconds_used >= usage.monthly_streaming_seconds_limit:
        raise QuotaExceeded(
            "This avatar has used all of its streaming minutes for this month. "
            "The allowance renews at the start of next month.",
            retry_after=_seconds_to_next_month(datetime.now(UTC)),
        )
    if usage.active_sessions >= usage.concurrent_sessions_limit:
        raise QuotaExceeded(
            f"This avatar already has {usage.active_sessions} live conversation(s),"
            " the most allowed at once. "
            "Please try again in a minute.",
            retry_after=min(60, idle_seconds),
        )


def enforce_visitor_caps(
    counts: Mapping[str, Any] | None, usage: Usage, settings: Settings, *, idle_seconds: int
) -> None:
    """Refuse a visitor's new session past their own cap, or when visitors already hold every session
    the owner has not kept for themself (`private.session_counts`)."""
    visitor_sessions = 0 if counts is None else counts["visitor_sessions"]
    caller_sessions = 0 if counts is None else counts["caller_sessions"]
    if caller_sessions >= settings.visitor_concurrent_sessions:
        raise QuotaExceeded(
            f"You already have {caller_sessions} live conversation(s) with this avatar, the most allowed"
            " at once. End it (or close its other tab) to start a new one.",
            retry_after=min(60, idle_seconds),
        )
    if visitor_sessions >= max(0, usage.concurrent_sessions_limit - settings.owner_reserved_sessions):
        raise QuotaExceeded(
            "This avatar is talking with as many visitors as it can right now. Please try again in a minute.",
            retry_after=min(60, idle_seconds),
        )
