"""Transcripts of a range as CSV or JSON Lines, streamed in pages, each page read as the owner (RLS)."""

import csv
import io
import json
import uuid
from collections.abc import AsyncIterator
from datetime import date
from typing import Any, Literal

from functions.core.auth.tokens import Principal
from functions.core.db.pool import Database

Format = Literal["csv", "jsonl"]
PAGE = 1000
COLUMNS = (
    "session_id",
    "started_at",
    "avatar_id",
    "page_url",
    "visitor",
    "status",
    "end_reason",
    "message_id",
    "role",
    "content",
    "created_at",
    "sources",
    "rating",
    "comment",
)
MEDIA_TYPES: dict[Format, str] = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}

_PAGE = """
select s.id as session_id, s.started_at, s.avatar_id, s.page_url,
       case when s.user_id = s.owner_id then 'owner' else 'visitor' end as visitor,
       s.status, s.end_reason, m.id as message_id, m.role, m.content, m.created_at,
       (select coalesce(string_agg(src ->> 'title', '; ' order by (src ->> 'index')::int), '')
          from jsonb_array_elements(m.sources) src) as sources,
       case f.rating when 1 then 'up' when -1 then 'down' end as rating, f.comment
  from public.streaming_sessions s
  join public.streaming_messages m on m.session_id = s.id
  left join public.message_feedback f on f.message_id = m.id
 where s.owner_id = (select auth.uid())
   and s.started_at >= %(start)s::timestamp at time zone 'utc'
   and s.started_at < (%(end)s::date + 1)::timestamp at time zone 'utc'
   and (%(avatar_id)s::uuid is null or s.avatar_id = %(avatar_id)s::uuid)
   and (s.started_at, s.id, m.created_at, m.id)
       > (%(after_started)s, %(after_session)s, %(after_created)s, %(after_id)s)
 order by s.started_at, s.id, m.created_at, m.id
 limit %(page)s
"""
_BEFORE_ALL = ("-infinity", uuid.UUID(int=0), "-infinity", uuid.UUID(int=0))


def _line(row: dict[str, Any], fmt: Format) -> str:
    values = {
        k: (v.isoformat() if hasattr(v, "isoformat") else str(v) if isinstance(v, uuid.UUID) else v)
        for k, v in row.items()
    }
    if fmt == "jsonl":
        return json.dumps(values, ensure_ascii=False) + "\n"
    out = io.StringIO()
    csv.writer(out).writerow(["" if values[c] is None else values[c] for c in COLUMNS])
    return out.getvalue()


async def export_transcripts(
    db: Database, principal: Principal, start: date, end: date, avatar_id: uuid.UUID | None, fmt: Format
) -> AsyncIterator[str]:
    if fmt == "csv":
        out = io.StringIO()
        csv.writer(out).writerow(COLUMNS)
        yield out.getvalue()
    after: tuple[Any, ...] = _BEFORE_ALL
    while True:
        params = {
            "start": start,
            "end": end,
            "avatar_id": avatar_id,
            "page": PAGE,
            "after_started": after[0],
            "after_session": after[1],
            "after_created": after[2],
            "after_id": after[3],
        }
        async with db.as_user(principal.claims) as conn:
            cur = await conn.execute(_PAGE, params)
            rows = await cur.fetchall()
        if not rows:
            return
        yield "".join(_line(row, fmt) for row in rows)
        last = rows[-1]
        after = (last["started_at"], last["session_id"], last["created_at"], last["message_id"])
        if len(rows) < PAGE:
            return
