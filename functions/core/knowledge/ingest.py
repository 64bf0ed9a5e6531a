"""Ingesting files from disk as an owner (CLI, demo knowledge base): the API's code path, in-process."""

import asyncio
import mimetypes
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from functions.core.auth.tokens import Principal
from functions.core.avatar_access import require_avatar
from functions.core.db.pool import Database
from functions.core.knowledge.documents import DocumentOut, add_document, get_document
from functions.core.knowledge.extract import inspect_upload
from functions.core.knowledge.indexing import Progress, run_indexing
from functions.core.settings import Settings, get_settings

REPO_ROOT = Path(__file__).resolve().parents[3]


@dataclass(frozen=True)
class Ingested:
    document: DocumentOut
    duplicate: bool


def on_behalf_of(user_id: uuid.UUID, settings: Settings) -> Principal:
    """The claims a verified token of this user would carry, for work done on the user's behalf outside a
    request (the CLI, seeding the demo), so that RLS applies as it would to the user's own calls."""
    return Principal(
        user_id=user_id, claims={"sub": str(user_id), "role": "authenticated", "aud": settings.jwt_audience}
    )


async def resolve_avatar(db: Database, principal: Principal, avatar: str) -> uuid.UUID:
    """The caller's avatar by id or public id (404 otherwise)."""
    try:
        avatar_id = uuid.UUID(avatar)
    except ValueError:
        async with db.as_user(principal.claims) as conn:
            cur = await conn.execute("select id from public.avatars where public_id = %s", (avatar,))
            row = await cur.fetchone()
        avatar_id = uuid.uuid4() if row is None else row["id"]
    async with db.as_user(principal.claims) as conn:
        await require_avatar(conn, avatar_id)
    return avatar_id


async def ingest_path(
    db: Database,
    principal: Principal,
    avatar_id: uuid.UUID,
    path: Path,
    settings: Settings,
    on_progress: Progress | None = None,
) -> Ingested:
    """Upload one file and, unless it is a duplicate, index it before returning."""
    data = await asyncio.to_thread(path.read_bytes)
    upload = inspect_upload(
        path.name, mimetypes.guess_type(path.name)[0], data, max_bytes=settings.max_upload_bytes
    )
    accepted = await add_document(db, principal, avatar_id, upload)
    document_id = accepted.uploaded.document_id
    if accepted.needs_indexing:
        await run_indexing(db, principal, document_id, upload, settings, on_progress)
    return Ingested(await get_document(db, principal, document_id), accepted.uploaded.duplicate)


def demo_knowledge_paths(root: Path = REPO_ROOT) -> list[Path]:
    """The product's own documentation: the demo avatar's knowledge base."""
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


async def seed_demo_knowledge(
    db: Database,
    principal: Principal,
    avatar_id: uuid.UUID,
    paths: Iterable[Path],
    *,
    settings: Settings | None = None,
) -> list[Ingested]:
    """Ingest each file once; a file whose content changed replaces its earlier version."""
    settings = settings or get_settings()
    results: list[Ingested] = []
    for path in paths:
        ingested = await ingest_path(db, principal, avatar_id, path, settings)
        async with db.as_user(principal.claims) as conn:
            await conn.execute(
                "delete from public.knowledge_documents where avatar_id = %s and source_name = %s"
                " and id <> %s",
                (avatar_id, ingested.document.source_name, ingested.document.id),
            )
        results.append(ingested)
    return results
