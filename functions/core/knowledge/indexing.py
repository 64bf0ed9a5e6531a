"""Indexing a queued document: extract, chunk, embed in batches, store chunks; progress as batches land.

Every step runs in its own transaction as the document's owner, so RLS decides here as in the API.
"""

import asyncio
import logging
import uuid
from collections.abc import Callable, Sequence

from functions.core.auth.tokens import Principal
from functions.core.db.pool import Database
from functions.core.errors import AppError
from functions.core.knowledge.documents import HEARTBEAT_SECONDS
from functions.core.knowledge.extract import UnreadableDocument, Upload, extract_text
from functions.core.llm.embeddings import Embedder, embedder_from_settings
from functions.core.settings import Settings
from functions.core.text.chunking import Chunk, chunk_document

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
"""Called with (chunks stored, chunks in total) once the total is known and after every batch."""

_INSERT_CHUNK = (
    "insert into public.knowledge_chunks"
    " (document_id, avatar_id, position, heading_path, content, embedding, embedding_model, token_count)"
    " values (%s, %s, %s, %s, %s, %s::extensions.vector, %s, %s)"
)


def _embedding_input(chunk: Chunk) -> str:
    # The headings above a chunk say what it is about; embedding them with it helps retrieval.
    return "\n".join([*chunk.heading_path, chunk.content])


def vector_literal(vector: Sequence[float]) -> str:
    return "[" + ",".join(repr(float(value)) for value in vector) + "]"


async def _set(db: Database, principal: Principal, document_id: uuid.UUID, assignments: str) -> None:
    async with db.as_user(principal.claims) as conn:
        await conn.execute(
            f"update public.knowledge_documents set {assignments} where id = %s",  # noqa: S608
            (document_id,),
        )


async def _heartbeat(db: Database, principal: Principal, document_id: uuid.UUID) -> None:
    """Touch the document while it is being indexed, so that it is never taken for a stuck one."""
    while True:
        await asyncio.sleep(HEARTBEAT_SECONDS)
        await _set(db, principal, document_id, "status = status")


async def _index(
    db: Database,
    principal: Principal,
    document_id: uuid.UUID,
    upload: Upload,
    embedder: Embedder | None,
    batch_size: int,
    on_progress: Progress | None,
) -> None:
    async with db.as_user(principal.claims) as conn:
        cur = await conn.execute(
            "update public.knowledge_documents set status = 'indexing', chunks_done = 0, chunks_total = null"
            " where id = %s and status = 'queued' returning avatar_id",
            (document_id,),
        )
        claimed = await cur.fetchone()
    if claimed is None:
        return  # deleted meanwhile, or already taken by another indexer
    text, fmt = await asyncio.to_thread(extract_text, upload)
    chunks = await asyncio.to_thread(chunk_document, text, fmt=fmt)
    if not chunks:
        hint = " (a scanned PDF needs text recognition first)" if upload.fmt == "pdf" else ""
        raise UnreadableDocument(f"no text was found in the document{hint}")
    await _set(db, principal, document_id, f"chunks_total = {len(chunks)}")
    if on_progress is not None:
        on_progress(0, len(chunks))
    model = None if embedder is None else embedder.model
    for start in range(0, len(chunks), batch_size):
        batch = chunks[start : start + batch_size]
        vectors: list[str | None] = [None] * len(batch)
        if embedder is not None:
            embedded = await embedder.embed([_embedding_input(chunk) for chunk in batch])
            vectors = [vector_literal(vector) for vector in embedded]
        rows = [
            (document_id, claimed["avatar_id"], chunk.position, list(chunk.heading_path), chunk.content,
             vector, model, chunk.token_count)
            for chunk, vector in zip(batch, vectors, strict=True)
        ]  # fmt: skip
        done = start + len(batch)
        async with db.as_user(principal.claims) as conn:
            await conn.cursor().executemany(_INSERT_CHUNK, rows)
            await conn.execute(
                "update public.knowledge_documents set chunks_done = %s where id = %s", (done, document_id)
            )
        if on_progress is not None:
            on_progress(done, len(chunks))
    await _set(db, principal, document_id, "status = 'ready', error = null")


async def mark_failed(db: Database, principal: Principal, document_id: uuid.UUID, reason: str) -> None:
    try:
        async with db.as_user(principal.claims) as conn:
            await conn.execute("delete from public.knowledge_chunks where document_id = %s", (document_id,))
            await conn.execute(
                "update public.knowledge_documents set status = 'failed', error = %s, chunks_done = 0"
                " where id = %s",
                (reason[:2000], document_id),
            )
    except Exception:
        log.exception("could not mark knowledge document %s failed (%s)", document_id, reason)


async def index_document(
    db: Database,
    principal: Principal,
    document_id: uuid.UUID,
    upload: Upload,
    *,
    embedder: Embedder | None,
    batch_size: int,
    on_progress: Progress | None = None,
) -> None:
    """Index a queued document; on any failure it ends `failed` with the reason and no chunks."""
    heartbeat = asyncio.create_task(_heartbeat(db, principal, document_id))
    try:
        await _index(db, principal, document_id, upload, embedder, batch_size, on_progress)
    except AppError as exc:
        await mark_failed(db, principal, document_id, f"{exc.code}: {exc.detail}")
    except Exception as exc:
        log.exception("indexing knowledge document %s failed", document_id)
        await mark_failed(db, principal, document_id, f"indexing failed unexpectedly ({type(exc).__name__})")
    except asyncio.CancelledError:
        reason = "indexing was interrupted; upload the file again"
        await asyncio.shield(mark_failed(db, principal, document_id, reason))
        raise
    finally:
        heartbeat.cancel()


async def run_indexing(
    db: Database,
    principal: Principal,
    document_id: uuid.UUID,
    upload: Upload,
    settings: Settings,
    on_progress: Progress | None = None,
) -> None:
    """`index_document` with the embedder the settings choose (none without OPENAI_API_KEY)."""
    await index_document(
        db,
        principal,
        document_id,
        upload,
        embedder=embedder_from_settings(settings),
        batch_size=settings.embedding_batch_size,
        on_progress=on_progress,
    )
