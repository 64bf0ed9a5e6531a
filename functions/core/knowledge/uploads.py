"""Uploads that fit Lambda: the browser sends a file straight to storage, and it is indexed on arrival.

Lambda refuses synchronous payloads over 6 MB (and HTTP API base64-encodes binary bodies), so a
document is not sent through the functions. Instead:

1. `POST /v1/avatars/{id}/knowledge/uploads` records the document (status `queued`, as today) and
   hands out a presigned POST (url + form fields) for the key `uploads/<owner>/<document>`, limited to
   MAX_UPLOAD_BYTES by the signature itself.
2. The browser posts the file there. In the cloud that is the private uploads bucket, whose
   ObjectCreated event invokes the indexer function (up to 15 minutes, asynchronously). Locally the
   same form goes to `POST /v1/uploads` on the local server, which stores the file under DATA_DIR and
   calls the same `index_uploaded`.
3. `index_uploaded` checks the file as the synchronous route does, then indexes it with the same
   progress (`chunks_done` of `chunks_total`) and the same failure reasons on the document.
"""

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePath
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from functions.core.auth.tokens import Principal
from functions.core.avatar_access import require_avatar
from functions.core.db.pool import Conn, Database
from functions.core.errors import AppError, Forbidden, PayloadTooLarge, ServiceUnavailable
from functions.core.knowledge.extract import MIME_TYPES, detect_format, inspect_upload
from functions.core.settings import Settings, local_secret

log = logging.getLogger(__name__)

TICKET_SECONDS = 900
_PENDING = "upload:"


class UploadRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    filename: str = Field(min_length=1, max_length=500)
    content_type: str | None = Field(default=None, max_length=200)
    size_bytes: int = Field(ge=1)
    title: str | None = Field(default=None, max_length=300)


class UploadTicket(BaseModel):
    document_id: uuid.UUID
    url: str
    fields: dict[str, str]
    expires_at: datetime


class UploadStorage(Protocol):
    def presign(self, key: str, max_bytes: int, expires_seconds: int) -> tuple[str, dict[str, str]]: ...

    async def read(self, key: str) -> bytes: ...

    async def delete(self, key: str) -> None: ...


@dataclass(frozen=True)
class S3UploadStorage:
    """The private uploads bucket; a presigned POST pins the key and the size range."""

    bucket: str
    client: Any

    def presign(self, key: str, max_bytes: int, expires_seconds: int) -> tuple[str, dict[str, str]]:
        post = self.client.generate_presigned_post(
            Bucket=self.bucket,
            Key=key,
            Conditions=[["content-length-range", 1, max_bytes]],
            ExpiresIn=expires_seconds,
        )
        return str(post["url"]), {name: str(value) for name, value in post["fields"].items()}

    async def read(self, key: str) -> bytes:
        response = await asyncio.to_thread(self.client.get_object, Bucket=self.bucket, Key=key)
        data: bytes = await asyncio.to_thread(response["Body"].read)
        return data

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self.client.delete_object, Bucket=self.bucket, Key=key)


@dataclass(frozen=True)
class LocalUploadStorage:
    """Files under DATA_DIR, posted to the local server's /v1/uploads with an HMAC-signed policy."""

    directory: Path
    secret: str
    url: str

    def _signature(self, policy: str) -> str:
        return hmac.new(self.secret.encode(), policy.encode(), hashlib.sha256).hexdigest()

    def presign(self, key: str, max_bytes: int, expires_seconds: int) -> tuple[str, dict[str, str]]:
        policy = base64.urlsafe_b64encode(
            json.dumps(
                {"key": key, "max_bytes": max_bytes, "expires": int(time.time()) + expires_seconds}
            ).encode()
        ).decode()
        return self.url, {"key": key, "policy": policy, "signature": self._signature(policy)}

    def accept(self, key: str, policy: str, signature: str, size: int) -> None:
        """Checks a posted form as S3 checks a presigned POST: signature, key, expiry, size."""
        if not hmac.compare_digest(self._signature(policy).encode(), signature.encode()):
            raise Forbidden("the upload form's signature does not match")
        terms = json.loads(base64.urlsafe_b64decode(policy.encode()))
        if terms["key"] != key:
            raise Forbidden("the upload form was signed for another key")
        if terms["expires"] < time.time():
            raise Forbidden("the upload form has expired; ask for a new one")
        if size > terms["max_bytes"]:
            raise PayloadTooLarge(f"the file is larger than {terms['max_bytes']} bytes")

    def path(self, key: str) -> Path:
        return self.directory / PurePath(key).as_posix()

    async def write(self, key: str, data: bytes) -> None:
        path = self.path(key)
        await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
        await asyncio.to_thread(path.write_bytes, data)

    async def read(self, key: str) -> bytes:
        return await asyncio.to_thread(self.path(key).read_bytes)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self.path(key).unlink, True)


def upload_storage(settings: Settings, local_url: str) -> UploadStorage:
    if settings.knowledge_bucket:
        import boto3

        return S3UploadStorage(settings.knowledge_bucket, boto3.client("s3"))
    if settings.is_local:
        return LocalUploadStorage(
            settings.data_dir / "uploads", local_secret(settings.data_dir, "local-upload-secret"), local_url
        )
    raise ServiceUnavailable("uploads are not configured: set KNOWLEDGE_BUCKET")


async def fail_abandoned_uploads(conn: Conn) -> int:
    """Fail the documents whose file never arrived before their form expired; the count failed."""
    cur = await conn.execute(
        "with failed as (update public.knowledge_documents"
        "   set status = 'failed', error = 'the file never arrived; upload it again'"
        "   where status = 'queued' and content_hash like %s"
        "     and created_at < now() - make_interval(secs => %s)"
        "   returning 1)"
        " select count(*) as n from failed",
        (f"{_PENDING}%", 2 * TICKET_SECONDS),
    )
    row = await cur.fetchone()
    assert row is not None
    failed: int = row["n"]
    return failed


def upload_key(owner_id: uuid.UUID, document_id: uuid.UUID) -> str:
    return f"uploads/{owner_id}/{document_id}"


def parse_key(key: str) -> tuple[uuid.UUID, uuid.UUID] | None:
    parts = key.split("/")
    if len(parts) != 3 or parts[0] != "uploads":
        return None
    try:
        return uuid.UUID(parts[1]), uuid.UUID(parts[2])
    except ValueError:
        return None


async def create_ticket(
    db: Database,
    principal: Principal,
    avatar_id: uuid.UUID,
    body: UploadRequest,
    storage: UploadStorage,
    settings: Settings,
) -> UploadTicket:
    """Record the document (queued until its file arrives) and sign the form that uploads it."""
    if body.size_bytes > settings.max_upload_bytes:
        raise PayloadTooLarge(f"the file is larger than {settings.max_upload_bytes} bytes")
    source_name = PurePath(body.filename).name
    fmt = detect_format(source_name, body.content_type, b"")
    title = (body.title or "").strip() or PurePath(source_name).stem.strip() or "Untitled"
    async with db.as_user(principal.claims) as conn:
        await require_avatar(conn, avatar_id)
        cur = await conn.execute(
            "insert into public.knowledge_documents"
            " (avatar_id, title, source_name, content_hash, mime_type, size_bytes)"
            " values (%s, %s, %s, %s, %s, %s) returning id",
            (avatar_id, title[:300], source_name[:500], f"{_PENDING}{uuid.uuid4()}", MIME_TYPES[fmt],
             body.size_bytes),
        )  # fmt: skip
        row = await cur.fetchone()
    assert row is not None
    url, fields = storage.presign(
        upload_key(principal.user_id, row["id"]), settings.max_upload_bytes, TICKET_SECONDS
    )
    expires_at = datetime.fromtimestamp(time.time() + TICKET_SECONDS, UTC)
    return UploadTicket(document_id=row["id"], url=url, fields=fields, expires_at=expires_at)


async def index_uploaded(db: Database, storage: UploadStorage, key: str, settings: Settings) -> None:
    """Index the file that arrived under `key`, as the document's owner; the file is removed after.

    Storage events may arrive more than once: a document whose file was taken already is left alone.
    """
    import psycopg

    # The indexing (embeddings, chunking) runs here only: the functions that hand out tickets never import it.
    from functions.core.knowledge.indexing import mark_failed, run_indexing
    from functions.core.knowledge.ingest import on_behalf_of

    parsed = parse_key(key)
    if parsed is None:
        log.warning("ignored an upload under an unknown key %s", key)
        return
    owner_id, document_id = parsed
    principal = on_behalf_of(owner_id, settings)
    async with db.as_user(principal.claims) as conn:
        cur = await conn.execute(
            "select title, source_name, mime_type, content_hash"
            " from public.knowledge_documents where id = %s",
            (document_id,),
        )
        document = await cur.fetchone()
    if document is None or not document["content_hash"].startswith(_PENDING):
        if document is None:
            await storage.delete(key)
        return
    try:
        data = await storage.read(key)
        upload = inspect_upload(
            document["source_name"],
            document["mime_type"],
            data,
            title=document["title"],
            max_bytes=settings.max_upload_bytes,
        )
        try:
            async with db.as_user(principal.claims) as conn:
                await conn.execute(
                    "update public.knowledge_documents set content_hash = %s, size_bytes = %s, mime_type = %s"
                    " where id = %s",
                    (upload.content_hash, upload.size_bytes, upload.mime_type, document_id),
                )
        except psycopg.errors.UniqueViolation:
            await mark_failed(
                db, principal, document_id, "duplicate: this file is already in the avatar's knowledge base"
            )
            return
        await run_indexing(db, principal, document_id, upload, settings)
    except AppError as exc:
        await mark_failed(db, principal, document_id, f"{exc.code}: {exc.detail}")
    finally:
        await storage.delete(key)
