"""The Insights report of a date range: one transaction as the owner, the SQL functions pipelined."""

import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
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


class InvalidRange(AppError):
    """A date range that cannot be reported: refused like any other invalid query parameter."""

    status = 422
    code = "invalid_range"


class DateRange:
    """Whole UTC days, `start` to `end` inclusive."""

    def __init__(self, start: date | None, end: date | None) -> None:
        self.end = end or datetime.now(UTC).date()
        self.start = start or self.end - timedelta(days=DEFAULT_RANGE_DAYS - 1)
        if self.start > self.end:
            raise InvalidRange("'from' must not be after 'to'")
        if (self.end - self.start).days >= MAX_RANGE_DAYS:
            raise InvalidRange(f"a range covers at most {MAX_RANGE_DAYS} days")


STAGES = {1: "retrieval", 2: "first_token", 3: "first_sentence", 4: "first_audible"}


async def insights_report(
    db: Database, principal: Principal, window: DateRange, avatar_id: uuid.UUID | None, settings: Settings
) -> InsightsReport:
    args = (window.start, window.end, avatar_id)
    async with db.as_user(principal.claims) as conn:
        days_cur = await conn.execute("select * from public.insights_days(%s, %s, %s)", args)
        latency_cur = await conn.execute("select * from public.insights_latency(%s, %s, %s)", args)
        overall_cur = await conn.execute("select * from public.insights_latency(%s, %s, %s, false)", args)
        visitors_cur = await conn.execute("select * from public.insights_visitors(%s, %s, %s)", args)
        prices_cur = await conn.execute("select prices from public.insight_prices")
        usage = await owner_usage(conn, principal.user_id, settings)
        day_rows = await days_cur.fetchall()
        latency_rows = await latency_cur.fetchall()
        overall_rows = await overall_cur.fetchall()
        visitors = await visitors_cur.fetchone()
        prices_row = await prices_cur.fetchone()
    assert visitors is not None
    days, minutes, totals = _days(day_rows)
    ended = totals["conversations"] - totals["active"]
    overall = {STAGES[row["stage"]]: row["p90"] for row in overall_rows}
    summary = Summary(
        conversations=totals["conversations"],
        completed=ended - totals["failed"],
        avg_minutes=round(totals["seconds"] / ended / 60, 2) if ended else None,
        avg_messages=round(totals["messages"] / totals["conversations"], 2)
        if totals["conversations"]
        else None,
        visitors=visitors["visitors"],
        returning_visitors=visitors["returning_visitors"],
        turns=totals["turns"],
        rated_up=totals["rated_up"],
        rated_down=totals["rated_down"],
        # What a visitor waited for: the first sound where browsers reported it, else the first sentence.
        response_p90_ms=overall.get("first_audible", overall.get("first_sentence")),
    )
    prices = prices_from_row(None if prices_row is None else prices_row["prices"])
    cost = estimate(
        prices,
        minutes_by_provider={m.provider: m.minutes for m in minutes},
        conversations=summary.conversations,
        prompt_tokens=totals["prompt_tokens"],
        completion_tokens=totals["completion_tokens"],
        tts_characters=totals["tts_characters"],
        stt_seconds=totals["stt_ms"] / 1000,
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
        latency=_latency(latency_rows),
        cost=cost,
        prices=prices,
        measures=success_measures(summary, days, cost),
    )


_DAY_COLUMNS = ("conversations", "by_user", "idle", "expired", "reconnected", "active", "messages")
_TOTALS = (
    "conversations",
    "active",
    "failed",
    "seconds",
    "messages",
    "turns",
    "prompt_tokens",
    "completion_tokens",
    "tts_characters",
    "stt_ms",
    "rated_up",
    "rated_down",
)


def _days(rows: list[dict[str, Any]]) -> tuple[list[DayCount], list[ProviderMinutes], dict[str, int]]:
    """Rows per (day, provider) folded into one count per day, the minutes per provider and the totals."""
    per_day: dict[date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    seconds: dict[str, int] = defaultdict(int)
    totals: dict[str, int] = {name: 0 for name in _TOTALS}
    for row in rows:
        counts = per_day[row["day"]]
        for column in _DAY_COLUMNS:
            counts[column] += row[column]
        counts["error"] += row["failed"]
        seconds[row["provider"]] += row["seconds"]
        for name in _TOTALS:
            totals[name] += row[name]
    days = [DayCount(day=day, **counts) for day, counts in sorted(per_day.items())]
    minutes = [ProviderMinutes(provider=p, minutes=round(s / 60, 1)) for p, s in sorted(seconds.items())]
    return days, minutes, totals


def _latency(rows: list[dict[str, Any]]) -> list[LatencyDay]:
    per_day: dict[date, dict[str, Any]] = {}
    for row in rows:
        day = per_day.setdefault(row["day"], {"day": row["day"], "turns": 0})
        stage = STAGES[row["stage"]]
        day[f"{stage}_p50"], day[f"{stage}_p90"] = row["p50"], row["p90"]
        if stage == "first_sentence":
            day["turns"] = row["turns"]
    empty = {f"{stage}_{p}": None for stage in STAGES.values() for p in ("p50", "p90")}
    return [LatencyDay.model_validate({**empty, **values}) for _, values in sorted(per_day.items())]
