"""Retrieval: public.match_chunks latency on 50,000 chunks, and recall@5 on the demo knowledge base.

The benchmark starts its own embedded Postgres in a fresh temporary data directory and applies the
migrations. As the migration owner it COPYs a synthetic corpus into one avatar: chunks of words drawn
from a Zipf-distributed vocabulary, each with a random unit vector of 1536 dimensions stored as
`text-embedding-3-small`, so the partial HNSW index serves the vector side (built after the load, as
a restore would). Queries then run as the owner (role `authenticated` with the owner's claims, so RLS
applies as in production): full-text only and hybrid, p50/p95 over `--queries` calls.

Recall@5 ingests README.md and docs/*.md for a second avatar through the product's own ingest path
and asks the questions of bench/data/demo_questions.json. A hit is a top-5 chunk of the expected
document containing the expected phrase. No embedding model is available offline, so the vector side
uses a local hashing embedding (word unigrams and bigrams hashed into 1536 dimensions, L2-normalised,
model name `hashing-1536`): it stands in for a real embedding model and understates semantic recall.

    .venv/bin/python bench/retrieval.py --chunks 50000 --queries 200
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import itertools
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

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from bench.sessions import percentile, start_database, stop_database  # noqa: E402
from functions.core.settings import settings_env_names  # noqa: E402
from functions.core.text.terms import full_text_query  # noqa: E402

DIMS = 1536
MODEL = "text-embedding-3-small"
HASHING_MODEL = "hashing-1536"
QUESTIONS = REPO_ROOT / "bench" / "data" / "demo_questions.json"
_INDEX = "knowledge_chunks_embedding_3_small_idx"
_WORD = re.compile(r"\w+")


class HashingEmbedder:
    """Feature hashing of word unigrams and bigrams into 1536 dimensions, L2-normalised; deterministic."""

    model = HASHING_MODEL

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return [hashing_vector(text) for text in texts]

    async def embed_query(self, text: str) -> list[float]:
        return hashing_vector(text)


def hashing_vector(text: str) -> list[float]:
    words = [word.lower() for word in _WORD.findall(text)]
    vector = [0.0] * DIMS
    for feature in [*words, *(f"{a} {b}" for a, b in itertools.pairwise(words))]:
        digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
        value = int.from_bytes(digest, "little")
        vector[value % DIMS] += 1.0 if value >> 63 else -1.0
    norm = math.sqrt(sum(x * x for x in vector)) or 1.0
    return [x / norm for x in vector]


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


async def ingest_demo(url: str, owner_id: uuid.UUID, avatar_id: uuid.UUID) -> None:
    from functions.core.db.pool import Database
    from functions.core.knowledge.documents import add_document
    from functions.core.knowledge.extract import inspect_upload
    from functions.core.knowledge.indexing import index_document
    from functions.core.knowledge.ingest import demo_knowledge_paths, on_behalf_of
    from functions.core.settings import get_settings

    db = Database(url)
    principal = on_behalf_of(owner_id, get_settings())
    try:
        for path in demo_knowledge_paths():
            upload = inspect_upload(path.name, None, path.read_bytes())
            accepted = await add_document(db, principal, avatar_id, upload)
            await index_document(
                db,
                principal,
                accepted.uploaded.document_id,
                upload,
                embedder=HashingEmbedder(),
                batch_size=64,
            )
    finally:
        await db.close()


def recall(url: str, owner_id: uuid.UUID, avatar_id: uuid.UUID) -> None:
    questions = json.loads(QUESTIONS.read_text())["questions"]
    sql = (
        "select m.content, d.source_name from public.match_chunks(%s, %s, %s::extensions.vector, %s, 5) m"
        " join public.knowledge_documents d on d.id = m.document_id"
    )
    hits = {"full-text": 0, "vector": 0, "hybrid": 0}
    with psycopg.connect(url, autocommit=True) as conn:
        as_owner(conn, owner_id)
        missing = [
            q["phrase"]
            for q in questions
            if not conn.execute(
                "select 1 from public.knowledge_chunks where avatar_id = %s and strpos(content, %s) > 0",
                (avatar_id, q["phrase"]),
            ).fetchone()
        ]
        for q in questions:
            vector = vector_text(hashing_vector(q["question"]))
            # The query the turn engine sends: any content word of the question (and its plural).
            text = full_text_query(q["question"])
            for label, args in (
                ("full-text", (text, None, None)),
                ("vector", ("", vector, HASHING_MODEL)),
                ("hybrid", (text, vector, HASHING_MODEL)),
            ):
                rows = conn.execute(sql, (avatar_id, *args)).fetchall()
                if any(
                    source == Path(q["document"]).name and q["phrase"] in content for content, source in rows
                ):
                    hits[label] += 1
    print(f"recall@5 on {len(questions)} demo questions ({QUESTIONS.relative_to(REPO_ROOT)}):")
    for label, count in hits.items():
        print(f"  {label:22s} {count / len(questions):.2f}  ({count}/{len(questions)})")
    print(f"  vector side: {HASHING_MODEL}, a local hashing embedding standing in for a real embedding model")
    if missing:
        print(f"  phrases no longer in the demo documents (these questions cannot hit): {missing}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--chunks", type=int, default=50_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    for name in settings_env_names():
        os.environ.pop(name, None)
    data_dir = Path(tempfile.mkdtemp(prefix="avatar-studio-bench-retrieval-"))
    try:
        url = start_database(data_dir)
        with psycopg.connect(url, autocommit=True) as conn:
            owner_id = conn.execute(
                "insert into auth.users (email) values ('bench-retrieval@example.test') returning id"
            ).fetchone()[0]  # type: ignore[index]
            avatar_id, demo_avatar_id = (
                conn.execute(
                    "insert into public.avatars (owner_id, name) values (%s, %s) returning id",
                    (owner_id, name),
                ).fetchone()[0]  # type: ignore[index]
                for name in ("Synthetic", "Demo")
            )
        vocabulary = load_corpus(url, owner_id, avatar_id, args.chunks, args.seed)
        latency(url, owner_id, avatar_id, vocabulary, args.queries, args.seed)
        asyncio.run(ingest_demo(url, owner_id, demo_avatar_id))
        recall(url, owner_id, demo_avatar_id)
    finally:
        stop_database(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
