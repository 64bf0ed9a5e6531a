"""The Insights report of a date range: one transaction as the owner, the SQL functions pipelined."""

import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from functions.core.auth.tokens import Principal
from functions.core.db.pool import Database
from functions.core.errors import AppError
from functions.core.insights.costs import estimate, prices_from_row
from functions.core.insights.measures import success_measures
from functions.core.insights.models import (
    Allowance,
    DayCount,
    InsightsReport,
    LatencyDay,
    ProviderMinutes,
    Summary,
)
from functions.core.sessions.quota import owner_usage
from functions.core.settings import Settings

MAX_RANGE_DAYS = 366
DEFAULT_RANGE_DAYS = 30


class DateRange:
    """Whole UTC days, `start` to `end` inclusive."""

    def __init__(self, start: date | None, end: date | None) -> None:
        self.end = end or datetime.now(UTC).date()
        self.start = start or self.end - timedelta(days=DEFAULT_RANGE_DAYS - 1)
        if self.start > self.end:
            raise AppError("'from' must not be after 'to'")
        if (self.end - self.start).days >= MAX_RANGE_DAYS:
            raise AppError(f"a range covers at most {MAX_RANGE_DAYS} days")

    @property
    def bounds(self) -> tuple[datetime, datetime]:
        return (
            datetime.combine(self.start, time(), UTC),
            datetime.combine(self.end + timedelta(days=1), time(), UTC),
        )


async def insights_report(
    db: Database, principal: Principal, window: DateRange, avatar_id: uuid.UUID | None, settings: Settings
) -> InsightsReport:
    since, until = window.bounds
    args = (since, until, avatar_id)
    async with db.as_user(principal.claims) as conn:
        days_cur = await conn.execute("select * from public.insights_days(%s, %s, %s)", args)
        latency_cur = await conn.execute("select * from public.insights_latency(%s, %s, %s)", args)
        summary_cur = await conn.execute("select * from public.insights_summary(%s, %s, %s)", args)
        prices_cur = await conn.execute("select prices from public.insight_prices")
        usage = await owner_usage(conn, principal.user_id, settings)
        day_rows = await days_cur.fetchall()
        latency_rows = await latency_cur.fetchall()
        totals = await summary_cur.fetchone()
        prices_row = await prices_cur.fetchone()
    assert totals is not None
    days, minutes = _days(day_rows)
    summary = Summary(
        conversations=totals["conversations"],
        completed=totals["completed"],
        avg_minutes=None if totals["avg_seconds"] is None else round(totals["avg_seconds"] / 60, 2),
        avg_messages=None if totals["avg_messages"] is None else round(totals["avg_messages"], 2),
        visitors=totals["visitors"],
        returning_visitors=totals["returning_visitors"],
        turns=totals["turns"],
        rated_up=totals["rated_up"],
        rated_down=totals["rated_down"],
        response_p90_ms=totals["response_p90_ms"],
    )
    prices = prices_from_row(None if prices_row is None else prices_row["prices"])
    cost = estimate(
        prices,
        minutes_by_provider={m.provider: m.minutes for m in minutes},
        conversations=summary.conversations,
        prompt_tokens=totals["prompt_tokens"],
        completion_tokens=totals["completion_tokens"],
        tts_characters=totals["tts_characters"],
        stt_seconds=totals["stt_seconds"],
    )
    return InsightsReport(
        start=window.start,
        end=window.end,
        avatar_id=avatar_id,
        summary=summary,
        days=days,
        minutes=minutes,
        allowance=Allowance(
            month_start=usage.month_start.date(),
            minutes_used=round(usage.streaming_seconds_used / 60, 1),
            minutes_allowed=round(usage.monthly_streaming_seconds_limit / 60, 1),
        ),
        latency=[LatencyDay.model_validate(row) for row in latency_rows],
        cost=cost,
        prices=prices,
        measures=success_measures(summary, days, cost),
    )


def _days(rows: list[dict[str, Any]]) -> tuple[list[DayCount], list[ProviderMinutes]]:
    """Rows per (day, provider) folded into one count per day and the minutes per provider."""
    per_day: dict[date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    seconds: dict[str, int] = defaultdict(int)
    for row in rows:
        counts = per_day[row["day"]]
        for column, key in (
            ("conversations", "conversations"),
            ("by_user", "by_user"),
            ("idle", "idle"),
            ("expired", "expired"),
            ("failed", "error"),
            ("reconnected", "reconnected"),
            ("active", "active"),
            ("messages", "messages"),
        ):
            counts[key] += row[column]
        seconds[row["provider"]] += row["seconds"]
    days = [DayCount(day=day, **counts) for day, counts in sorted(per_day.items())]
    minutes = [ProviderMinutes(provider=p, minutes=round(s / 60, 1)) for p, s in sorted(seconds.items())]
    return days, minutes
