"""Contact details visitors leave (the capture_contact tool, or the widget's form), for the avatar's owner."""

import csv
import io
import uuid
from collections.abc import AsyncIterator
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator

from functions.core.auth.tokens import Principal
from functions.core.db.pool import Conn, Database
from functions.core.errors import Forbidden, NotFound, SessionEnded
from functions.core.sessions.state import SESSION_NOT_FOUND
from functions.core.settings import Settings
from functions.core.speech.limits import count_session_request

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
PHONE_PATTERN = r"^[0-9 +().-]{5,40}$"
CSV_COLUMNS = ("created_at", "name", "email", "phone", "note", "avatar_id", "session_id")


class ContactIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(default="", max_length=200)
    email: str | None = Field(default=None, max_length=320, pattern=EMAIL_PATTERN)
    phone: str | None = Field(default=None, max_length=40, pattern=PHONE_PATTERN)
    note: str = Field(default="", max_length=2000)

    @model_validator(mode="after")
    def _reachable(self) -> "ContactIn":
        if not self.email and not self.phone:
            raise ValueError("leave an email address or a phone number")
        return self


class ContactOut(BaseModel):
    id: uuid.UUID
    avatar_id: uuid.UUID | None
    session_id: uuid.UUID | None
    name: str
    email: str | None
    phone: str | None
    note: str
    created_at: datetime


_COLUMNS = "id, avatar_id, session_id, name, email, phone, note, created_at"


class ContactSaved(BaseModel):
    id: uuid.UUID


async def save_contact(conn: Conn, session_id: uuid.UUID, contact: ContactIn) -> uuid.UUID:
    """In the caller's transaction, for a live session of the caller's own (RLS refuses anything else).

    The id is made here: a visitor may add a contact but not read it back (no RETURNING).
    """
    contact_id = uuid.uuid4()
    await conn.execute(
        "insert into public.contacts (id, session_id, name, email, phone, note)"
        " values (%s, %s, %s, %s, %s, %s)",
        (contact_id, session_id, contact.name, contact.email or None, contact.phone or None, contact.note),
    )
    return contact_id


async def leave_contact(
    db: Database,
    principal: Principal,
    session_id: uuid.UUID,
    contact: ContactIn,
    settings: Settings,
    now: float,
) -> ContactSaved:
    """The widget's "Leave your details" form (or any caller's own session): counted per session and minute,
    so a script cannot fill the owner's list."""
    async with db.as_user(principal.claims) as conn:
        cur = await conn.execute(
            "select s.user_id = (select auth.uid()) as own, private.session_is_live(s) as live"
            " from public.streaming_sessions s where s.id = %s",
            (session_id,),
        )
        session = await cur.fetchone()
        if session is None:
            raise NotFound(SESSION_NOT_FOUND)
        if not session["own"]:
            raise Forbidden("a contact can be left only in a conversation of your own")
        if not session["live"]:
            raise SessionEnded("this conversation has ended; start a new one to leave your details")
    limit = settings.contacts_per_session_per_minute
    await count_session_request(
        db,
        f"contact:session:{session_id}",
        limit,
        now,
        f"this conversation left contact details more than {limit} times this minute; wait a moment",
    )
    async with db.as_user(principal.claims) as conn:
        return ContactSaved(id=await save_contact(conn, session_id, contact))


async def list_contacts(
    db: Database, principal: Principal, avatar_id: uuid.UUID | None, limit: int
) -> list[ContactOut]:
    async with db.as_user(principal.claims) as conn:
        cur = await conn.execute(
            f"select {_COLUMNS} from public.contacts"  # noqa: S608 - a constant column list
            " where %(avatar)s::uuid is null or avatar_id = %(avatar)s"
            " order by created_at desc, id limit %(limit)s",
            {"avatar": avatar_id, "limit": limit},
        )
        rows = await cur.fetchall()
    return [ContactOut(**row) for row in rows]


EXPORT_PAGE = 500


async def export_csv(db: Database, principal: Principal, avatar_id: uuid.UUID | None) -> AsyncIterator[bytes]:
    """Every contact the owner may read, oldest first, as CSV: a page of rows per transaction, so memory
    and transaction time stay bounded however many there are."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    after: tuple[datetime, uuid.UUID] | None = None
    while True:
        async with db.as_user(principal.claims) as conn:
            cur = await conn.execute(
                f"select {', '.join(CSV_COLUMNS)}, id from public.contacts"  # noqa: S608 - constant columns
                " where (%(avatar)s::uuid is null or avatar_id = %(avatar)s)"
                " and (%(at)s::timestamptz is null or (created_at, id) > (%(at)s, %(id)s))"
                " order by created_at, id limit %(limit)s",
                {
                    "avatar": avatar_id,
                    "at": after[0] if after else None,
                    "id": after[1] if after else None,
                    "limit": EXPORT_PAGE,
                },
            )
            rows = await cur.fetchall()
        for row in rows:
            writer.writerow([_cell(row[column]) for column in CSV_COLUMNS])
        yield out.getvalue().encode()
        out.seek(0)
        out.truncate()
        if len(rows) < EXPORT_PAGE:
            return
        after = (rows[-1]["created_at"], rows[-1]["id"])


def _cell(value: object) -> str:
    text = "" if value is None else value.isoformat() if isinstance(value, datetime) else str(value)
    # A spreadsheet runs a cell that starts with these as a formula: keep the visitor's text as text.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


async def delete_contact(db: Database, principal: Principal, contact_id: uuid.UUID) -> None:
    async with db.as_user(principal.claims) as conn:
        cur = await conn.execute("delete from public.contacts where id = %s returning id", (contact_id,))
        if await cur.fetchone() is None:
            raise NotFound("no such contact")
