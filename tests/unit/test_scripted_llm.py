"""The scripted server's `/embeddings`, which the benchmarks embed questions with as a keyed deployment
does: OpenAI's documented response shape (platform.openai.com/docs/api-reference/embeddings/create),
read by our own client, and vectors that rank a text sharing words above one that shares none."""

import asyncio
import math
from typing import Any

import httpx

from functions.core.llm.embeddings import OpenAIEmbeddings
from tests.scripted_llm import EMBEDDING_DIMENSIONS, ScriptedLLM


def _cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_embeddings_answer_in_openai_shape_and_our_client_reads_them() -> None:
    async def embed(url: str) -> tuple[list[float], list[list[float]], dict[str, Any]]:
        async with httpx.AsyncClient() as client:
            embedder = OpenAIEmbeddings(api_key="scripted-key", client=client, base_url=url)
            query = await embedder.embed_query("How do refunds work?")
            texts = await embedder.embed(["Refunds are paid back within five days.", "Parcels ship daily."])
            raw = await client.post(
                f"{url}/embeddings", json={"model": "text-embedding-3-small", "input": "one text"}
            )
            return query, texts, raw.json()

    with ScriptedLLM() as llm:
        query, (refunds, parcels), raw = asyncio.run(embed(llm.url))
        assert llm.embedded_texts == 4
        assert llm.records == []  # embeddings are not chat requests

    assert raw["object"] == "list"
    assert raw["model"] == "text-embedding-3-small"
    assert raw["usage"] == {"prompt_tokens": 2, "total_tokens": 2}
    [item] = raw["data"]
    assert item["object"] == "embedding"
    assert item["index"] == 0
    assert len(query) == len(refunds) == EMBEDDING_DIMENSIONS
    assert math.isclose(_cosine(query, query), 1.0)
    assert _cosine(query, refunds) > 0.15 > 0.01 > abs(_cosine(query, parcels))
