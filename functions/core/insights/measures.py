"""The success measures of the product's plan, each against its target."""

from functions.core.insights.models import Cost, DayCount, Measure, Summary


def _measure(key: str, label: str, value: float | None, target: str, unit: str, ok: bool | None) -> Measure:
    return Measure(
        key=key,
        label=label,
        value=None if value is None else round(value, 2),
        target=target,
        unit=unit,
        met=ok,
    )


def _between(value: float | None, low: float, high: float) -> bool | None:
    return None if value is None else low <= value <= high


def _above(value: float | None, floor: float) -> bool | None:
    return None if value is None else value > floor


def _below(value: float | None, ceiling: float) -> bool | None:
    return None if value is None else value < ceiling


def _share(part: int, whole: int) -> float | None:
    return part / whole * 100 if whole else None


def success_measures(summary: Summary, days: list[DayCount], cost: Cost) -> list[Measure]:
    finished = summary.conversations - sum(d.active for d in days)
    failed = sum(d.error for d in days)
    dropped = sum(d.reconnected for d in days)
    rated = summary.rated_up + summary.rated_down
    # Thumbs on a five-point scale: up is 5, down is 1.
    satisfaction = (summary.rated_up * 5 + summary.rated_down) / rated if rated else None
    seconds = None if summary.response_p90_ms is None else summary.response_p90_ms / 1000
    completion = _share(finished - failed, finished)
    uptime = _share(finished - failed - dropped, finished)
    returning = _share(summary.returning_visitors, summary.visitors)
    return [
        _measure(
            "session_minutes",
            "Average conversation",
            summary.avg_minutes,
            "3 to 5 min",
            "min",
            _between(summary.avg_minutes, 3, 5),
        ),
        _measure(
            "session_messages",
            "Messages per conversation",
            summary.avg_messages,
            "10 to 15",
            "",
            _between(summary.avg_messages, 10, 15),
        ),
        _measure("returning", "Returning visitors", returning, "> 40 %", "%", _above(returning, 40)),
        _measure("latency_p90", "Response latency p90", seconds, "< 2 s", "s", _below(seconds, 2)),
        _measure("uptime", "Stream uptime", uptime, "> 99 %", "%", _above(uptime, 99)),
        _measure("completion", "Session completion", completion, "> 95 %", "%", _above(completion, 95)),
        _measure(
            "cost",
            "Cost per conversation",
            cost.per_conversation,
            "< $0.50",
            "$",
            _below(cost.per_conversation, 0.5),
        ),
        _measure("satisfaction", "Satisfaction", satisfaction, "> 4.5 / 5", "/ 5", _above(satisfaction, 4.5)),
    ]
