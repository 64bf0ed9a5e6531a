"""Knowledge upload, indexing, progress, dedupe, failures, deletion and isolation, over real HTTP."""

import asyncio
import hashlib
import io
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from pypdf import PdfWriter
from pypdf.generic import ContentStream, DictionaryObject, NameObject

from functions.core.db.pool import Database
from functions.core.knowledge import indexing
from functions.core.knowledge.documents import add_document, get_document
from functions.core.knowledge.extract import MAX_PAGES, MAX_PDF_CONTENT_BYTES, MAX_TEXT_CHARS, inspect_upload
from functions.core.knowledge.indexing import index_document
from functions.core.knowledge.ingest import on_behalf_of, seed_demo_knowledge
from functions.core.settings import get_settings
from tests.conftest import User
from tests.functional.support import Api, assert_problem
from tests.unit.test_extract import make_pdf

GUIDE = """# Guide

Welcome to the guide. It explains the whole product.

## Install

Download the installer and run it. The installer asks for a folder.

## Warranty

The warranty lasts two years from the date of purchase.
"""


def upload(
    client: httpx.Client,
    user: User,
    avatar_id: str,
    name: str,
    data: bytes,
    content_type: str = "application/octet-stream",
    **form: str,
) -> httpx.Response:
    return client.post(
        f"/v1/avatars/{avatar_id}/knowledge",
        files={"file": (name, data, content_type)},
        data=form,
        headers=user.headers,
    )


def uploaded(client: httpx.Client, user: User, avatar_id: str, name: str, data: bytes, **form: str) -> str:
    response = upload(client, user, avatar_id, name, data, **form)
    assert response.status_code == 202, response.text
    document_id: str = response.json()["document_id"]
    return document_id


def settled(client: httpx.Client, user: User, document_id: str) -> dict[str, Any]:
    """The document once indexing has finished (ready or failed)."""
    deadline = time.monotonic() + 20
    while True:
        response = client.get(f"/v1/knowledge/{document_id}", headers=user.headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if body["status"] in ("ready", "failed") or time.monotonic() > deadline:
            return body
        time.sleep(0.05)


def chunks(admin: psycopg.Connection[Any], document_id: str) -> list[dict[str, Any]]:
    rows = admin.execute(
        "select position, heading_path, content, token_count, embedding_model, owner_id"
        " from public.knowledge_chunks where document_id = %s order by position",
        (document_id,),
    ).fetchall()
    return [dict(row) for row in rows]


@pytest.fixture
def avatar_id(api: Api, owner: User) -> str:
    avatar: dict[str, Any] = api.create_avatar(owner)
    return str(avatar["id"])


def test_markdown_is_indexed_into_chunks_with_heading_paths(
    client: httpx.Client, owner: User, avatar_id: str, admin: psycopg.Connection[Any]
) -> None:
    response = upload(client, owner, avatar_id, "guide.md", GUIDE.encode(), title="Product guide")
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "queued"
    assert response.json()["duplicate"] is False
    document = settled(client, owner, response.json()["document_id"])
    assert document["status"] == "ready", document
    assert document["title"] == "Product guide"
    assert document["source_name"] == "guide.md"
    assert document["mime_type"] == "text/markdown"
    assert document["size_bytes"] == len(GUIDE.encode())
    assert document["error"] is None
    # No embedding key: the local e5 model of the `local` extra embeds the chunks.
    assert document["embedding_model"] == "multilingual-e5-small-q4"
    stored = chunks(admin, document["id"])
    assert [(row["heading_path"], row["content"]) for row in stored] == [
        (["Guide"], "Welcome to the guide. It explains the whole product."),
        (["Guide", "Install"], "Download the installer and run it. The installer asks for a folder."),
        (["Guide", "Warranty"], "The warranty lasts two years from the date of purchase."),
    ]
    assert all(row["token_count"] > 0 and row["owner_id"] == owner.id for row in stored)
    assert all(row["embedding_model"] == "multilingual-e5-small-q4" for row in stored)
    dims = admin.execute(
        "select distinct extensions.vector_dims(embedding) as dims from public.knowledge_chunks"
        " where document_id = %s",
        (document["id"],),
    ).fetchall()
    assert dims == [{"dims": 384}]
    assert document["chunks_done"] == document["chunks_total"] == 3


@pytest.mark.parametrize(
    ("name", "data", "mime_type", "headings", "phrase"),
    [
        ("notes.txt", b"Plain notes.\n\nThe battery lasts ten hours.", "text/plain", [[]], "ten hours"),
        (
            "page.html",
            b"<html><head><title>T</title></head><body><h1>Support</h1><p>Call us on weekdays.</p>"
            b"<h2>Returns</h2><p>Returns are free within 30 days.</p></body></html>",
            "text/html",
            [["Support"], ["Support", "Returns"]],
            "free within 30 days",
        ),
        (
            "manual.pdf",
            make_pdf([["The manual explains setup."], ["Charge the battery overnight."]]),
            "application/pdf",
            [[]],
            "Charge the battery overnight.",
        ),
    ],
)
def test_each_format_is_indexed_to_ready(
    client: httpx.Client,
    owner: User,
    avatar_id: str,
    admin: psycopg.Connection[Any],
    name: str,
    data: bytes,
    mime_type: str,
    headings: list[list[str]],
    phrase: str,
) -> None:
    document = settled(client, owner, uploaded(client, owner, avatar_id, name, data))
    assert document["status"] == "ready", document
    assert document["mime_type"] == mime_type
    assert document["title"] == Path(name).stem
    stored = chunks(admin, document["id"])
    assert [row["heading_path"] for row in stored] == headings
    assert any(phrase in row["content"] for row in stored)
    assert "<" not in "".join(row["content"] for row in stored)


def test_the_same_content_again_is_the_same_document(
    client: httpx.Client, owner: User, avatar_id: str, api: Api
) -> None:
    first = uploaded(client, owner, avatar_id, "guide.md", GUIDE.encode())
    settled(client, owner, first)
    again = upload(client, owner, avatar_id, "copy-of-guide.md", GUIDE.encode())
    assert again.status_code == 202
    assert again.json() == {"document_id": first, "status": "ready", "duplicate": True}
    other_avatar = api.create_avatar(owner, name="Other")["id"]
    elsewhere = upload(client, owner, other_avatar, "guide.md", GUIDE.encode())
    assert elsewhere.json()["duplicate"] is False
    listed = client.get(f"/v1/avatars/{avatar_id}/knowledge", headers=owner.headers).json()
    assert [document["id"] for document in listed] == [first]


@pytest.mark.parametrize(
    ("name", "content_type"), [("slides.pptx", "application/octet-stream"), ("photo", "image/png")]
)
def test_an_unsupported_type_is_refused_with_415(
    client: httpx.Client, owner: User, avatar_id: str, name: str, content_type: str
) -> None:
    response = upload(client, owner, avatar_id, name, b"\x89PNG\r\n\x1a\n", content_type)
    body = assert_problem(response, 415, "unsupported_media_type")
    assert "PDF" in body["detail"]
    assert client.get(f"/v1/avatars/{avatar_id}/knowledge", headers=owner.headers).json() == []


def test_a_file_that_is_not_what_it_claims_is_refused_with_422(
    client: httpx.Client, owner: User, avatar_id: str
) -> None:
    body = assert_problem(
        upload(client, owner, avatar_id, "report.pdf", b"<html>not a pdf</html>"), 422, "unreadable_document"
    )
    assert "not a PDF" in body["detail"]
    assert_problem(upload(client, owner, avatar_id, "empty.md", b""), 422, "unreadable_document")


def test_a_corrupt_pdf_fails_with_the_reason_and_no_chunks(
    client: httpx.Client, owner: User, avatar_id: str, admin: psycopg.Connection[Any]
) -> None:
    pdf = make_pdf([["Some text that will never be read."]])
    corrupt = pdf[: len(pdf) // 3]
    document = settled(client, owner, uploaded(client, owner, avatar_id, "broken.pdf", corrupt))
    assert document["status"] == "failed"
    assert document["error"].startswith("unreadable_document: the PDF could not be read (")
    assert document["chunks_done"] == 0
    assert chunks(admin, document["id"]) == []
    retried = upload(client, owner, avatar_id, "broken.pdf", corrupt)
    assert retried.json() == {"document_id": document["id"], "status": "queued", "duplicate": False}
    assert settled(client, owner, document["id"])["status"] == "failed"


def test_a_pdf_without_text_fails_and_says_why(client: httpx.Client, owner: User, avatar_id: str) -> None:
    document = settled(client, owner, uploaded(client, owner, avatar_id, "scan.pdf", make_pdf([[]])))
    assert document["status"] == "failed"
    assert "no text was found" in document["error"]


def test_deleting_a_document_removes_its_chunks(
    client: httpx.Client, owner: User, avatar_id: str, admin: psycopg.Connection[Any]
) -> None:
    document_id = uploaded(client, owner, avatar_id, "guide.md", GUIDE.encode())
    assert settled(client, owner, document_id)["status"] == "ready"
    assert chunks(admin, document_id)
    response = client.delete(f"/v1/knowledge/{document_id}", headers=owner.headers)
    assert response.status_code == 204
    assert chunks(admin, document_id) == []
    assert_problem(client.get(f"/v1/knowledge/{document_id}", headers=owner.headers), 404, "not_found")
    assert_problem(client.delete(f"/v1/knowledge/{document_id}", headers=owner.headers), 404)


def test_another_user_gets_404_for_the_document_and_the_avatar(
    client: httpx.Client, owner: User, stranger: User, avatar_id: str, admin: psycopg.Connection[Any]
) -> None:
    document_id = uploaded(client, owner, avatar_id, "guide.md", GUIDE.encode())
    settled(client, owner, document_id)
    assert_problem(client.get(f"/v1/knowledge/{document_id}", headers=stranger.headers), 404)
    assert_problem(client.delete(f"/v1/knowledge/{document_id}", headers=stranger.headers), 404)
    assert_problem(client.get(f"/v1/avatars/{avatar_id}/knowledge", headers=stranger.headers), 404)
    assert_problem(upload(client, stranger, avatar_id, "mine.md", b"# Mine\n\nText."), 404)
    assert len(chunks(admin, document_id)) == 3
    row = admin.execute(
        "select count(*) as n from public.knowledge_documents where avatar_id = %s", (avatar_id,)
    )
    assert row.fetchone() == {"n": 1}


def test_uploads_need_a_token_and_a_file(client: httpx.Client, owner: User, avatar_id: str) -> None:
    response = client.post(
        f"/v1/avatars/{avatar_id}/knowledge", files={"file": ("a.md", b"# A", "text/plain")}
    )
    assert_problem(response, 401)
    response = client.post(f"/v1/avatars/{avatar_id}/knowledge", data={"title": "x"}, headers=owner.headers)
    assert_problem(response, 422, "invalid_request")


def test_the_list_is_newest_first(client: httpx.Client, owner: User, avatar_id: str) -> None:
    ids = [uploaded(client, owner, avatar_id, f"n{i}.txt", f"Note number {i}.".encode()) for i in range(3)]
    for document_id in ids:
        settled(client, owner, document_id)
    listed = client.get(f"/v1/avatars/{avatar_id}/knowledge", headers=owner.headers)
    assert listed.status_code == 200
    assert [document["id"] for document in listed.json()] == ids[::-1]
    assert {document["status"] for document in listed.json()} == {"ready"}
    assert set(listed.json()[0]) == {
        "id", "avatar_id", "title", "source_name", "mime_type", "size_bytes", "status", "chunks_done",
        "chunks_total", "error", "embedding_model", "created_at", "updated_at",
    }  # fmt: skip


class GatedEmbedder:
    """A three-dimensional embedder that waits at its second batch until released."""

    model = "gated-3d"

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.waiting = asyncio.Event()
        self.release = asyncio.Event()

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.batches.append(list(texts))
        if len(self.batches) == 2:
            self.waiting.set()
            await self.release.wait()
        return [[float(len(text)), 1.0, 0.0] for text in texts]

    async def embed_query(self, text: str) -> list[float]:
        return (await self.embed([text]))[0]


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    db = Database(database_url)
    yield db
    await db.close()


async def test_progress_is_visible_while_batches_land_and_embeddings_are_stored(
    database: Database, owner: User, avatar_id: str, admin: psycopg.Connection[Any]
) -> None:
    principal = on_behalf_of(owner.id, get_settings())
    text = "\n\n".join(f"Paragraph {i} talks about topic {i}. " * 40 for i in range(5))
    upload_ = inspect_upload("long.txt", None, text.encode())
    accepted = await add_document(database, principal, uuid.UUID(avatar_id), upload_)
    document_id = accepted.uploaded.document_id
    embedder = GatedEmbedder()
    progress: list[tuple[int, int]] = []
    indexing = asyncio.create_task(
        index_document(
            database,
            principal,
            document_id,
            upload_,
            embedder=embedder,
            batch_size=2,
            on_progress=lambda done, total: progress.append((done, total)),
        )
    )
    await asyncio.wait_for(embedder.waiting.wait(), 10)
    midway = await get_document(database, principal, document_id)
    assert midway.status == "indexing"
    assert midway.chunks_done == 2
    assert midway.chunks_total is not None
    assert midway.chunks_total > 4
    embedder.release.set()
    await indexing
    done = await get_document(database, principal, document_id)
    total = done.chunks_total
    assert done.status == "ready"
    assert done.chunks_done == total
    assert done.embedding_model == "gated-3d"
    assert progress[0] == (0, total)
    assert progress[-1] == (total, total)
    assert [n for n, _ in progress] == sorted(n for n, _ in progress)
    rows = admin.execute(
        "select embedding::text as embedding, embedding_model from public.knowledge_chunks"
        " where document_id = %s order by position",
        (document_id,),
    ).fetchall()
    assert len(rows) == total
    assert all(row["embedding_model"] == "gated-3d" and row["embedding"].startswith("[") for row in rows)


async def test_an_embedding_failure_leaves_the_document_failed_with_the_reason(
    database: Database, owner: User, avatar_id: str, admin: psycopg.Connection[Any]
) -> None:
    from functions.core.errors import ProviderError

    class FailingEmbedder(GatedEmbedder):
        async def embed(self, texts: Sequence[str]) -> list[list[float]]:
            raise ProviderError("openai", "embeddings HTTP 503: overloaded", status=503)

    principal = on_behalf_of(owner.id, get_settings())
    upload_ = inspect_upload("guide.md", None, GUIDE.encode())
    accepted = await add_document(database, principal, uuid.UUID(avatar_id), upload_)
    await index_document(
        database, principal, accepted.uploaded.document_id, upload_, embedder=FailingEmbedder(), batch_size=8
    )
    document = await get_document(database, principal, accepted.uploaded.document_id)
    assert document.status == "failed"
    assert document.error == "provider_unavailable: openai: embeddings HTTP 503: overloaded"
    assert chunks(admin, str(document.id)) == []


async def test_the_demo_knowledge_base_is_seeded_once_and_follows_edits(
    database: Database, owner: User, avatar_id: str, tmp_path: Path
) -> None:
    principal = on_behalf_of(owner.id, get_settings())
    readme, api = tmp_path / "README.md", tmp_path / "api.md"
    readme.write_text("# Demo\n\nThe demo avatar answers questions.\n")
    api.write_text("# API\n\nPOST /v1/sessions starts a session.\n")
    first = await seed_demo_knowledge(database, principal, uuid.UUID(avatar_id), [readme, api])
    again = await seed_demo_knowledge(database, principal, uuid.UUID(avatar_id), [readme, api])
    assert [result.document.status for result in first] == ["ready", "ready"]
    assert [result.duplicate for result in again] == [True, True]
    assert [r.document.id for r in again] == [r.document.id for r in first]
    readme.write_text("# Demo\n\nThe demo avatar answers questions, now with citations.\n")
    edited = await seed_demo_knowledge(database, principal, uuid.UUID(avatar_id), [readme])
    async with database.as_user(principal.claims) as conn:
        cur = await conn.execute(
            "select content_hash from public.knowledge_documents where avatar_id = %s and source_name = %s",
            (avatar_id, "README.md"),
        )
        hashes = [row["content_hash"] for row in await cur.fetchall()]
    assert hashes == [hashlib.sha256(readme.read_bytes()).hexdigest()]
    assert edited[0].document.status == "ready"


def _pdf_with_one_huge_flate_stream(lines: int) -> bytes:
    """One page whose content stream repeats a line of text `lines` times, Flate-compressed."""
    writer = PdfWriter()
    page = writer.add_blank_page(width=612, height=792)
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        }
    )
    page[NameObject("/Resources")] = DictionaryObject(
        {NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})}
    )
    stream = ContentStream(None, writer)
    line = "(" + "Compressed text repeats many times over. " * 2 + ") Tj T*\n"
    stream.set_data(("BT /F1 12 Tf 14 TL 72 720 Td\n" + line * lines + "ET").encode())
    page.replace_contents(stream)
    page.compress_content_streams()
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_a_small_pdf_with_a_huge_compressed_stream_fails_with_the_cap_as_reason(
    client: httpx.Client, owner: User, avatar_id: str, admin: psycopg.Connection[Any]
) -> None:
    pdf = _pdf_with_one_huge_flate_stream(100_000)  # 9.3 MB of page content
    assert len(pdf) < 100_000

    started = time.monotonic()
    document = settled(client, owner, uploaded(client, owner, avatar_id, "bomb.pdf", pdf))

    assert document["status"] == "failed"
    assert document["error"].startswith("document_too_large: the PDF's page content is larger than")
    assert f"{MAX_PDF_CONTENT_BYTES:,} bytes" in document["error"]
    assert chunks(admin, document["id"]) == []
    assert time.monotonic() - started < 10


def test_a_pdf_with_too_many_pages_fails_with_the_page_cap_as_reason(
    client: httpx.Client, owner: User, avatar_id: str
) -> None:
    pdf = make_pdf([["A page."]] * (MAX_PAGES + 1))

    document = settled(client, owner, uploaded(client, owner, avatar_id, "long.pdf", pdf))

    assert document["status"] == "failed"
    assert document["error"] == (
        f"document_too_large: the PDF has {MAX_PAGES + 1:,} pages; at most {MAX_PAGES:,} are indexed:"
        " split it into smaller files"
    )


def test_a_text_longer_than_the_cap_fails_with_the_reason(
    client: httpx.Client, owner: User, avatar_id: str
) -> None:
    text = ("A line of plain text that repeats.\n" * (MAX_TEXT_CHARS // 35 + 10)).encode()

    document = settled(client, owner, uploaded(client, owner, avatar_id, "long.txt", text))

    assert document["status"] == "failed"
    assert document["error"].startswith("document_too_large: the document's text is longer than 2,000,000")


async def test_an_indexer_waiting_on_a_slow_step_keeps_touching_its_document(
    database: Database,
    owner: User,
    avatar_id: str,
    admin: psycopg.Connection[Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A live indexer is never taken for a stuck one: while it waits (here on an embedding batch that
    does not come back), its heartbeat moves the document's updated_at on."""
    monkeypatch.setattr(indexing, "HEARTBEAT_SECONDS", 0.05)
    principal = on_behalf_of(owner.id, get_settings())
    text = "\n\n".join(f"Paragraph {i} talks about topic {i}. " * 40 for i in range(5))
    upload_ = inspect_upload("long.txt", None, text.encode())
    accepted = await add_document(database, principal, uuid.UUID(avatar_id), upload_)
    document_id = accepted.uploaded.document_id
    embedder = GatedEmbedder()
    running = asyncio.create_task(
        index_document(database, principal, document_id, upload_, embedder=embedder, batch_size=2)
    )
    await asyncio.wait_for(embedder.waiting.wait(), 10)

    def touched() -> Any:
        row = admin.execute(
            "select updated_at from public.knowledge_documents where id = %s", (document_id,)
        ).fetchone()
        assert row is not None
        return row["updated_at"]

    first = touched()
    deadline = time.monotonic() + 10
    while touched() == first:
        assert time.monotonic() < deadline, "the document was not touched while its indexer waited"
        await asyncio.sleep(0.05)
    assert (await get_document(database, principal, document_id)).status == "indexing"
    embedder.release.set()
    await running
    assert (await get_document(database, principal, document_id)).status == "ready"
