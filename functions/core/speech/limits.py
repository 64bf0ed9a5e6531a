"""How often one session may ask for speech: a fixed window per session, counted in Postgres so that it
holds across stateless function instances."""

import time
import uuid

from functions.core.db.pool import Database
from functions.core.settings import Settings
from functions.core.widget import RateLimited, RateWindow


async def count_speech_request(db: Database, session_id: uuid.UUID, settings: Settings) -> None:
    """Count one speech request of the session; 429 `rate_limited` once its minute is used up."""
    limit = settings.tts_requests_per_session_per_minute
    window = RateWindow(time.time())
    # As service_role: the counters are no user's rows; the bucket is a session the caller holds.
    async with db.as_service() as conn:
        cur = await conn.execute(
            "select private.rate_limit_hit_in(%s, %s, %s) as ok",
            (f"tts:session:{session_id}", window.starts_at, limit),
        )
        row = await cur.fetchone()
    if row is None or not row["ok"]:
        raise RateLimited(
            f"this session asked for speech more than {limit} times this minute; wait a moment", window=window
        )
