"""Fixed one-minute windows, counted in Postgres so that a limit holds across stateless function instances:
widget tokens per address and per avatar, and what one session may ask for (speech, contact details)."""

from datetime import UTC, datetime

from functions.core.db.pool import Conn
from functions.core.errors import AppError

RATE_WINDOW_SECONDS = 60


class RateLimited(AppError):
    status = 429
    code = "rate_limited"

    def __init__(self, detail: str, *, window: "RateWindow") -> None:
        super().__init__(detail, headers={"Retry-After": str(window.seconds_left)})


class RateWindow:
    """The fixed window of RATE_WINDOW_SECONDS that `now` (seconds since the epoch) falls in."""

    def __init__(self, now: float) -> None:
        self.start = int(now) - int(now) % RATE_WINDOW_SECONDS
        self.seconds_left = max(1, self.start + RATE_WINDOW_SECONDS - int(now))

    @property
    def starts_at(self) -> datetime:
        return datetime.fromtimestamp(self.start, UTC)


async def rate_limit_hit(conn: Conn, bucket: str, window: RateWindow, limit: int) -> bool:
    """Count one hit of `bucket` in `window` (as service_role); False once `limit` hits are used up."""
    cur = await conn.execute(
        "select private.rate_limit_hit_in(%s, %s, %s) as ok", (bucket, window.starts_at, limit)
    )
    row = await cur.fetchone()
    assert row is not None
    ok: bool = row["ok"]
    return ok
