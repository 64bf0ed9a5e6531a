"""How often one session may ask for something: a fixed window per session, counted in Postgres so that it
holds across stateless function instances."""

import uuid

from functions.core.db.pool import Database
from functions.core.rate_limits import RateLimited, RateWindow, rate_limit_hit
from functions.core.settings import Settings


async def count_session_request(db: Database, bucket: str, limit: int, now: float, too_many: str) -> None:
    """Count one request in `bucket` (a session's); 429 `rate_limited` saying `too_many` once the window's
    `limit` is used up."""
    window = RateWindow(now)
    # As service_role: the counters are no user's rows; the bucket is a session the caller holds.
    async with db.as_service() as conn:
        counted = await rate_limit_hit(conn, bucket, window, limit)
    if not counted:
        raise RateLimited(too_many, window=window)


async def count_speech_request(db: Database, session_id: uuid.UUID, settings: Settings, now: float) -> None:
    """Count one speech request of the session at `now` (epoch seconds); 429 `rate_limited` once its
    minute is used up."""
    limit = settings.tts_requests_per_session_per_minute
    await count_session_request(
        db,
        f"tts:session:{session_id}",
        limit,
        now,
        f"this session asked for speech more than {limit} times this minute; wait a moment",
    )
