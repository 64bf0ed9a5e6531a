"""The scheduled sweeper: ends sessions past their end or idle too long, and stops them at the provider.

It also removes widget visitors that can never return (every token they held has expired), and fails
knowledge documents whose uploaded file never arrived.

Then it reconciles with every configured provider that lists its live sessions, stopping those our
table says are over or does not know (orphans), and fails knowledge documents stuck queued or indexing
(their indexer went away: see `knowledge.documents`). It runs as `service_role` because it acts for every
owner at once; row locks with SKIP LOCKED make two concurrent runs end each session exactly once, and a
transaction-level advisory lock per provider lets only one run reconcile a provider at a time.
"""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel

from functions.core.db.pool import Conn, Database
from functions.core.errors import ProviderError
from functions.core.knowledge.documents import fail_stuck_documents
from functions.core.knowledge.uploads import fail_abandoned_uploads
from functions.core.providers.avatar.base import AvatarProvider, LiveSession
from functions.core.providers.avatar.registry import get_provider, provider_names
from functions.core.sessions.state import (
    add_event,
    close_session,
    release_provider_resources,
    stop_provider_session,
)
from functions.core.settings import Settings
from functions.core.widget import sweep_visitors

log = logging.getLogger(__name__)

# Sessions still marked active that are no longer live, or idle too long.
_DUE = """
select id, provider, provider_session_id,
       case when not private.session_is_live(s) then 'expired' else 'idle_timeout' end as reason
  from public.streaming_sessions s
 where status = 'active'
   and (not private.session_is_live(s) or last_activity_at < now() - make_interval(secs => %s))
 order by expires_at
 limit %s
   for update skip locked
"""


# Sessions that ended with something still to delete at their provider.
_LEFT_OVER = """
select distinct r.session_id
  from private.provider_resources r
  join public.streaming_sessions s on s.id = r.session_id
 where s.status <> 'active'
 limit %s
"""
_RECONCILE_LOCK = "select pg_try_advisory_xact_lock(hashtext('avatar-studio:reconcile:' || %s)) as locked"
# Our rows for the provider's live sessions, and whether an orphan stop was recorded already.
_KNOWN = """
select s.id, s.status, s.provider_session_id,
       exists (select 1 from public.avatar_session_events e
                where e.session_id = s.id and e.event_type = 'error' and e.data ->> 'reason' = 'orphan')
         as recorded
  from public.streaming_sessions s
 where s.provider = %s and s.provider_session_id = any(%s)
"""
# A start whose provider session exists but whose id is not stored yet must not look like an orphan.
_STARTING = """
select exists (select 1 from public.streaming_sessions
                where provider = %s and status = 'active' and provider_session_id is null
                  and started_at > now() - make_interval(secs => %s)) as starting
"""


class CleanupReport(BaseModel):
    ended: int
    expired: int
    idle: int
    session_ids: list[str]
    orphans_stopped: int
    orphans_failed: int
    orphans: list[str]
    documents_failed: list[str]  # knowledge documents stuck queued or indexing, now failed with the reason
    visitors_removed: int
    uploads_abandoned: int


@dataclass(frozen=True)
class _Orphan:
    provider_session_id: str
    session: dict[str, Any] | None


def _grace_seconds(settings: Settings) -> float:
    """How long a provider session unknown to us may be a start still writing its id."""
    return 60 + 4 * settings.provider_timeout_seconds


async def _orphans(conn: Conn, name: str, live: list[LiveSession], settings: Settings) -> list[_Orphan]:
    cur = await conn.execute(_KNOWN, (name, [session.provider_session_id for session in live]))
    known = {row["provider_session_id"]: row for row in await cur.fetchall()}
    cur = await conn.execute(_STARTING, (name, _grace_seconds(settings)))
    starting_row = await cur.fetchone()
    starting = bool(starting_row and starting_row["starting"])
    young = datetime.now(UTC) - timedelta(seconds=_grace_seconds(settings))
    orphans: list[_Orphan] = []
    for session in live:
        row = known.get(session.provider_session_id)
        if row is not None:
            if row["status"] != "active":
                orphans.append(_Orphan(session.provider_session_id, row))
        elif not (starting if session.created_at is None else session.created_at > young):
            orphans.append(_Orphan(session.provider_session_id, None))
    return orphans


async def _reconcile_provider(
    db: Database, name: str, provider: AvatarProvider, settings: Settings
) -> tuple[list[str], int]:
    """Stop this provider's orphans; the stops done and the number that failed."""
    stopped: list[str] = []
    failed = 0
    async with db.as_service() as conn:
        cur = await conn.execute(_RECONCILE_LOCK, (name,))
        lock = await cur.fetchone()
        if not (lock and lock["locked"]):
            return stopped, failed
        try:
            live = await provider.list_sessions()
        except ProviderError as exc:
            log.warning("listing %s sessions failed: %s", name, exc.detail)
            return stopped, failed
        for orphan in await _orphans(conn, name, live or [], settings):
            try:
                await provider.stop_session(orphan.provider_session_id)
            except ProviderError as exc:
                failed += 1
                log.warning("stopping %s orphan %s failed: %s", name, orphan.provider_session_id, exc.detail)
                continue
            stopped.append(f"{name}:{orphan.provider_session_id}")
            if orphan.session is None:
                log.info(
                    "stopped %s session %s that no session of ours knows", name, orphan.provider_session_id
                )
            elif not orphan.session["recorded"]:
                await add_event(
                    conn,
                    orphan.session["id"],
                    "error",
                    {
                        "reason": "orphan",
                        "provider": name,
                        "provider_session_id": orphan.provider_session_id,
                        "session_status": orphan.session["status"],
                    },
                )
    return stopped, failed


async def reconcile(db: Database, settings: Settings) -> tuple[list[str], int]:
    """Reconcile every configured provider that can list its live sessions."""
    stopped: list[str] = []
    failed = 0
    for name in provider_names():
        try:
            provider = get_provider(name, settings)
        except ProviderError:
            continue
        done, failures = await _reconcile_provider(db, name, provider, settings)
        stopped += done
        failed += failures
    return stopped, failed


async def _release_left_over(db: Database, settings: Settings, batch_size: int) -> None:
    """Retry deleting what ended sessions made at a provider (a delete that failed when they ended)."""
    async with db.as_service() as conn:
        cur = await conn.execute(_LEFT_OVER, (batch_size,))
        session_ids = [row["session_id"] for row in await cur.fetchall()]
    for session_id in session_ids:
        await release_provider_resources(db, settings, session_id)


async def sweep(db: Database, settings: Settings, *, batch_size: int = 200) -> CleanupReport:
    ended: list[dict[str, Any]] = []
    async with db.as_service() as conn:
        cur = await conn.execute(_DUE, (settings.session_idle_seconds, batch_size))
        for session in await cur.fetchall():
            await close_session(conn, session["id"], session["reason"])
            ended.append(session)
        stuck = await fail_stuck_documents(conn)
    for session in ended:
        await stop_provider_session(
            db, settings, session["id"], session["provider"], session["provider_session_id"]
        )
    await _release_left_over(db, settings, batch_size)
    orphans, orphans_failed = await reconcile(db, settings)
    async with db.as_service() as conn:
        visitors_removed = await sweep_visitors(conn)
        uploads_abandoned = await fail_abandoned_uploads(conn)
    expired = sum(1 for session in ended if session["reason"] == "expired")
    report = CleanupReport(
        ended=len(ended),
        expired=expired,
        idle=len(ended) - expired,
        session_ids=[str(session["id"]) for session in ended],
        orphans_stopped=len(orphans),
        orphans_failed=orphans_failed,
        orphans=orphans,
        documents_failed=[str(document_id) for document_id in stuck],
        visitors_removed=visitors_removed,
        uploads_abandoned=uploads_abandoned,
    )
    # A sweep that found nothing is not news (the local server sweeps every minute).
    quiet = not (
        report.ended
        or report.orphans_stopped
        or report.orphans_failed
        or report.documents_failed
        or report.visitors_removed
        or report.uploads_abandoned
    )
    log.log(
        logging.DEBUG if quiet else logging.INFO,
        "cleanup ended %d session(s): %d expired, %d idle; stopped %d orphan(s), %d failed;"
        " failed %d stuck document(s); removed %d widget visitor(s); failed %d upload(s) whose file never"
        " arrived",
        report.ended,
        report.expired,
        report.idle,
        report.orphans_stopped,
        report.orphans_failed,
        len(report.documents_failed),
        report.visitors_removed,
        report.uploads_abandoned,
    )
    return report
