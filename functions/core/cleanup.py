"""The scheduled sweeper: ends sessions past their end or idle too long, and stops them at the provider.

It runs as `service_role` because it acts for every owner at once; row locks with SKIP LOCKED make
two concurrent runs end each session exactly once.
"""

import logging
from typing import Any

from pydantic import BaseModel

from functions.core.db.pool import Database
from functions.core.sessions.lifecycle import close_session, stop_provider_session
from functions.core.settings import Settings

log = logging.getLogger(__name__)

_DUE = """
select id, provider, provider_session_id,
       case when expires_at <= now() then 'expired' else 'idle_timeout' end as reason
  from public.streaming_sessions
 where status = 'active'
   and (expires_at <= now() or last_activity_at < now() - make_interval(secs => %s))
 order by expires_at
 limit %s
   for update skip locked
"""


class CleanupReport(BaseModel):
    ended: int
    expired: int
    idle: int
    session_ids: list[str]


async def sweep(db: Database, settings: Settings, *, batch_size: int = 200) -> CleanupReport:
    ended: list[dict[str, Any]] = []
    async with db.as_service() as conn:
        cur = await conn.execute(_DUE, (settings.session_idle_seconds, batch_size))
        for session in await cur.fetchall():
            await close_session(conn, session["id"], session["reason"])
            ended.append(session)
    for session in ended:
        await stop_provider_session(settings, session["provider"], session["provider_session_id"])
    expired = sum(1 for session in ended if session["reason"] == "expired")
    report = CleanupReport(
        ended=len(ended),
        expired=expired,
        idle=len(ended) - expired,
        session_ids=[str(session["id"]) for session in ended],
    )
    log.info("cleanup ended %d session(s): %d expired, %d idle", report.ended, report.expired, report.idle)
    return report
