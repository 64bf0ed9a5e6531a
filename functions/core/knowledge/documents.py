"""Knowledge documents an owner uploads for an avatar: accept (deduplicated by content), read, delete."""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from functions.core.auth.tokens import Principal
from functions.core.avatar_access import require_avatar
from functions.core.db.pool import Conn, Database
from functions.core.errors import Conflict, NotFound
from functions.core.knowledge.extract import Upload

Status = Literal["queued", "indexing", "ready", "failed"]

_DOCUMENT_NOT_FOUND = "no such knowledge document"
# The file of a queued or indexing document lives only in its indexer's memory. An indexer touches
# its document at least every HEARTBEAT_SECONDS; one untouched for STALE_SECONDS has stopped (the
# process died), so the cleanup sweep fails it and uploading the file again retries it.
HEARTBEAT_SECONDS = 60
STALE_SECONDS = 600
STUCK_REASON = "indexing stopped before it finished (the indexer went away); upload the file again"
_COLUMNS = (
    "d.id, d.avatar_id, d.title, d.source_name, d.mime_type, d.size_bytes, d.status, d.chunks_done,"
    " d.chunks_total, d.error, d.created_at, d.updated_at,"
    " (select c.embedding_model from public.knowledge_chunks c"
    "   where c.document_id = d.id and c.embedding_model is not null limit 1) as embedding_model"
)


class DocumentOut(BaseModel):
    id: uuid.UUID
    avatar_id: uuid.UUID
    title: str
    source_name: str
    mime_type: str
    size_bytes: int
    status: Status
    chunks_done: int
    chunks_total: int | None
    error: str | None
    embedding_model: str | None = Field(
        description="The model of the stored embeddings; null while none are stored, and for a document"
        " indexed without an embedding provider, which is then found by full-text search only."
    )
    created_at: datetime
    updated_at: datetime


class Uploaded(BaseModel):
    document_id: uuid.UUID
    status: Status
    duplicate: bool


@dataclass(frozen=True)
class Accepted:
    uploaded: Uploaded
    needs_indexing: bool


async def add_document(db: Database, principal: Principal, avatar_id: uuid.UUID, upload: Upload) -> Accepted:
    """Record an upload as a queued document, or find the avatar's document with the same content.

    A document that failed earlier, or is stuck (queued or indexing with no progress for
    `STALE_SECONDS`), is queued again, so uploading the file again retries it.
    """
    async with db.as_user(principal.claims) as conn:
        await require_avatar(conn, avatar_id)
        cur = await conn.execute(
            "insert into public.knowledge_documents"
            " (avatar_id, title, source_name, content_hash, mime_type, size_bytes)"
            " values (%s, %s, %s, %s, %s, %s)"
            " on conflict (avatar_id, content_hash) do nothing returning id, status",
            (avatar_id, upload.title, upload.source_name, upload.content_hash, upload.mime_type,
             upload.size_bytes),
        )  # fmt: skip
        created = await cur.fetchone()
        if created is not None:
            return Accepted(Uploaded(document_id=created["id"], status="queued", duplicate=False), True)
        cur = await conn.execute(
            "select id, status, status in ('queued', 'indexing')"
            " and updated_at < now() - make_interval(secs => %s) as stuck"
            " from public.knowledge_documents where avatar_id = %s and content_hash = %s for update",
            (STALE_SECONDS, avatar_id, upload.content_hash),
        )
        existing = await cur.fetchone()
        if existing is None:
            raise Conflict("the same file was just uploaded and removed; upload it again")
        if existing["status"] != "failed" and not existing["stuck"]:
            uploaded = Uploaded(document_id=existing["id"], status=existing["status"], duplicate=True)
            return Accepted(uploaded, False)
        await conn.execute("delete from public.knowledge_chunks where document_id = %s", (existing["id"],))
        await conn.execute(
            "update public.knowledge_documents set status = 'queued', error = null, chunks_done = 0,"
            " chunks_total = null, title = %s, source_name = %s where id = %s",
            (upload.title, upload.source_name, existing["id"]),
        )
    return Accepted(Uploaded(document_id=existing["id"], status="queued", duplicate=False), True)


async def get_document(db: Database, principal: Principal, document_id: uuid.UUID) -> DocumentOut:
    async with db.as_user(principal.claims) as conn:
        cur = await conn.execute(
            f"select {_COLUMNS} from public.knowledge_documents d where d.id = %s",  # noqa: S608
            (document_id,),
        )
        row = await cur.fetchone()
    if row is None:
        raise NotFound(_DOCUMENT_NOT_FOUND)
    return DocumentOut(**row)


async def list_documents(db: Database, principal: Principal, avatar_id: uuid.UUID) -> list[DocumentOut]:
    """The avatar's documents, newest first."""
    async with db.as_user(principal.claims) as conn:
        await require_avatar(conn, avatar_id)
        cur = await conn.execute(
            f"select {_COLUMNS} from public.knowledge_documents d"  # noqa: S608
            " where d.avatar_id = %s order by d.created_at desc, d.id desc",
            (avatar_id,),
        )
        rows = await cur.fetchall()
    return [DocumentOut(**row) for row in rows]


async def delete_document(db: Database, principal: Principal, document_id: uuid.UUID) -> None:
    """Delete the document; its chunks go with it (on delete cascade)."""
    async with db.as_user(principal.claims) as conn:
        cur = await conn.execute(
            "delete from public.knowledge_documents where id = %s returning id", (document_id,)
        )
        if await cur.fetchone() is None:
            raise NotFound(_DOCUMENT_NOT_FOUND)


async def fail_stuck_documents(conn: Conn) -> list[uuid.UUID]:
    """As the cleanup job: fail every document stuck queued or indexing, with the reason, and remove the
    chunks it had stored; SKIP LOCKED leaves one being re-uploaded to that upload."""
    cur = await conn.execute(
        "with stuck as ("
        "  select id from public.knowledge_documents"
        "   where status in ('queued', 'indexing') and updated_at < now() - make_interval(secs => %s)"
        "   for update skip locked"
        "), cleared as (delete from public.knowledge_chunks c using stuck where c.document_id = stuck.id)"
        " update public.knowledge_documents d set status = 'failed', error = %s, chunks_done = 0"
        " from stuck where d.id = stuck.id returning d.id",
        (STALE_SECONDS, STUCK_REASON),
    )
    return [row["id"] for row in await cur.fetchall()]
