"""The OpenAI embeddings client at the HTTP boundary: documented request and response shapes."""

import json
from typing import Any

import httpx
import pytest

from functions.core.errors import ProviderError
from functions.core.llm.embeddings import OpenAIEmbeddings, embedder_from_settings
from functions.core.retry import RetryPolicy
from functions.core.settings import Settings

KEY = "sk-test-not-a-real-key"


def embeddings_response(inputs: list[str], *, reverse: bool = False) -> httpx.Response:
    """What OpenAI answers: one `embedding` object per input, each with its `index`."""
    data = [
        {"object": "embedding", "index": i, "embedding": [float(len(text)), float(i), 0.5]}
        for i, text in enumerate(inputs)
    ]
    return httpx.Response(
        200,
        json={
            "object": "list",
            "data": list(reversed(data)) if reverse else data,
            "model": "text-embedding-3-small",
            "usage": {"prompt_tokens": 8, "total_tokens": 8},
        },
    )


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> httpx.Response:
    body = {"error": {"message": message, "type": "server_error", "param": None, "code": None}}
    return httpx.Response(status, json=body, headers=headers)


class Harness:
    """Answers requests from a script: a response, an exception, or None for a correct answer."""

    def __init__(self, *script: httpx.Response | Exception | None) -> None:
        self.script = list(script)
        self.requests: list[dict[str, Any]] = []
        self.headers: list[httpx.Headers] = []
        self.sleeps: list[float] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.requests.append(body)
        self.headers.append(request.headers)
        assert request.method == "POST"
        assert str(request.url) == "https://api.example.test/v1/embeddings"
        item = self.script.pop(0) if self.script else None
        if isinstance(item, Exception):
            raise item
        return item if item is not None else embeddings_response(body["input"])

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    def embedder(self, attempts: int = 5, **kwargs: Any) -> OpenAIEmbeddings:
        return OpenAIEmbeddings(
            api_key=KEY,
            client=httpx.AsyncClient(transport=httpx.MockTransport(self.handle)),
            base_url="https://api.example.test/v1/",
            policy=RetryPolicy(attempts=attempts, sleep=self.sleep),
            **kwargs,
        )


async def test_texts_are_sent_as_input_lists_in_batches_and_vectors_come_back_in_order() -> None:
    harness = Harness()
    texts = [f"text {'x' * i}" for i in range(5)]
    vectors = await harness.embedder(batch_size=2).embed(texts)
    assert [r["input"] for r in harness.requests] == [texts[0:2], texts[2:4], texts[4:5]]
    assert all(r["model"] == "text-embedding-3-small" for r in harness.requests)
    assert all(r["encoding_format"] == "float" for r in harness.requests)
    assert harness.headers[0]["authorization"] == f"Bearer {KEY}"
    assert vectors == [[float(len(t)), float(i % 2), 0.5] for i, t in enumerate(texts)]


async def test_vectors_are_ordered_by_index_whatever_the_response_order() -> None:
    harness = Harness(embeddings_response(["a", "bb", "ccc"], reverse=True))
    assert await harness.embedder().embed(["a", "bb", "ccc"]) == [
        [1.0, 0.0, 0.5],
        [2.0, 1.0, 0.5],
        [3.0, 2.0, 0.5],
    ]


async def test_a_query_is_one_input() -> None:
    harness = Harness()
    assert await harness.embedder().embed_query("how long is the warranty?") == [25.0, 0.0, 0.5]
    assert harness.requests[0]["input"] == ["how long is the warranty?"]


async def test_5xx_until_retries_run_out_is_a_provider_error_with_status_and_body() -> None:
    harness = Harness(*[error_response(503, "The server is overloaded") for _ in range(3)])
    with pytest.raises(ProviderError) as raised:
        await harness.embedder(attempts=3).embed(["hello"])
    error = raised.value
    assert error.provider == "openai"
    assert error.provider_status == 503
    assert error.status == 502
    assert error.body["error"]["message"] == "The server is overloaded"
    assert "The server is overloaded" in error.detail
    assert len(harness.requests) == 3
    assert len(harness.sleeps) == 2
    assert harness.sleeps[0] < harness.sleeps[1]


async def test_a_client_error_is_not_retried_and_never_shows_the_key() -> None:
    harness = Harness(error_response(401, f"Incorrect API key provided: {KEY}"))
    with pytest.raises(ProviderError) as raised:
        await harness.embedder().embed(["hello"])
    assert raised.value.provider_status == 401
    assert KEY not in raised.value.detail
    assert KEY not in json.dumps(raised.value.body)
    assert len(harness.requests) == 1


async def test_timeouts_are_retried_then_reported_as_unavailable() -> None:
    harness = Harness(httpx.ReadTimeout("slow"), None)
    assert await harness.embedder().embed(["hello"]) == [[5.0, 0.0, 0.5]]

    harness = Harness(*[httpx.ReadTimeout("slow") for _ in range(2)])
    with pytest.raises(ProviderError) as raised:
        await harness.embedder(attempts=2).embed(["hello"])
    assert raised.value.status == 503
    assert raised.value.code == "provider_unavailable"
    assert len(harness.requests) == 2


async def test_a_response_with_missing_vectors_is_a_provider_error() -> None:
    harness = Harness(embeddings_response(["only one"]))
    with pytest.raises(ProviderError, match="1 vectors for 2 inputs"):
        await harness.embedder().embed(["one", "two"])
    harness = Harness(httpx.Response(200, json={"object": "list"}))
    with pytest.raises(ProviderError, match="malformed"):
        await harness.embedder().embed(["one"])


async def test_no_key_means_the_local_model_and_a_key_means_openai() -> None:
    local = embedder_from_settings(Settings(openai_api_key=None))
    assert local is not None
    assert local.model == "multilingual-e5-small-q4"
    client = httpx.AsyncClient()
    embedder = embedder_from_settings(
        Settings(openai_api_key=KEY, embedding_model="text-embedding-3-small", embedding_batch_size=16),
        client,
    )
    assert embedder is not None
    assert embedder.model == "text-embedding-3-small"
    await client.aclose()


async def test_a_search_query_retries_with_the_interactive_policy_and_indexing_with_the_patient_one() -> None:
    """A person waits for a query's vector: it gets the short policy; indexing gets the long one."""
    harness = Harness(*[error_response(503, "overloaded") for _ in range(5)], None)
    short = RetryPolicy(attempts=2, sleep=harness.sleep)
    embedder = OpenAIEmbeddings(
        api_key=KEY,
        client=httpx.AsyncClient(transport=httpx.MockTransport(harness.handle)),
        base_url="https://api.example.test/v1/",
        policy=RetryPolicy(attempts=5, deadline_s=60, sleep=harness.sleep),
        query_policy=short,
    )
    with pytest.raises(ProviderError):
        await embedder.embed_query("warranty")
    assert len(harness.requests) == 2
    assert await embedder.embed(["warranty"]) == [[8.0, 0.0, 0.5]]
    assert len(harness.requests) == 6
