"""Text embeddings for retrieval: OpenAI `POST /embeddings`, batched and retried."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from functions.core.errors import ProviderError
from functions.core.http_client import ProviderClient, app_clients
from functions.core.provider_errors import BODY_LIMIT
from functions.core.retry import BACKGROUND, INTERACTIVE, RetryPolicy
from functions.core.settings import Settings

if TYPE_CHECKING:
    import httpx


class Embedder(Protocol):
    """Turns texts into vectors of one model; only vectors of the same `model` are ever compared."""

    model: str

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text, in order. Failures raise `ProviderError`."""
        ...

    async def embed_query(self, text: str) -> list[float]:
        """The vector of one search query."""
        ...


class OpenAIEmbeddings:
    """`Embedder` over `POST {base_url}/embeddings` with `input` as a list, `batch_size` texts per request.

    Sent through `ProviderClient` as idempotent requests: texts to index with the patient `policy`
    (nobody waits on them), a search query with `query_policy` (a person waits for the reply); then,
    or on any other failure, `ProviderError` with the status and body.
    """

    def __init__(
        self,
        *,
        api_key: str,
        client: httpx.AsyncClient,
        base_url: str = "https://api.openai.com/v1",
        model: str = "text-embedding-3-small",
        batch_size: int = 64,
        timeout_s: float = 30,
        policy: RetryPolicy = BACKGROUND,
        query_policy: RetryPolicy = INTERACTIVE,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be positive")
        self.model = model
        self._api_key = api_key
        self._url = base_url.rstrip("/") + "/embeddings"
        self._batch_size = batch_size
        self._http = ProviderClient(
            "openai", client, secrets=[api_key], timeout=timeout_s, policy=policy, prefix="embeddings "
        )
        self._query_policy = query_policy

    def __repr__(self) -> str:
        return f"OpenAIEmbeddings(model={self.model!r}, url={self._url!r})"

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self._batch_size):
            vectors += await self._request(list(texts[start : start + self._batch_size]))
        return vectors

    async def embed_query(self, text: str) -> list[float]:
        return (await self._request([text], self._query_policy))[0]

    async def _request(self, batch: list[str], policy: RetryPolicy | None = None) -> list[list[float]]:
        payload = {"model": self.model, "input": batch, "encoding_format": "float"}
        headers = {"Authorization": f"Bearer {self._api_key}"}
        response = await self._http.request(
            "POST", self._url, idempotent=True, policy=policy, json=payload, headers=headers
        )
        return self._vectors(response, len(batch))

    def _vectors(self, response: httpx.Response, expected: int) -> list[list[float]]:
        try:
            items = response.json()["data"]
            ordered = sorted(items, key=lambda item: item["index"])
            vectors = [[float(value) for value in item["embedding"]] for item in ordered]
        except (ValueError, KeyError, TypeError) as exc:
            raise ProviderError(
                "openai",
                "malformed embeddings response",
                status=response.status_code,
                body=self._http.redact(response.text)[:BODY_LIMIT],
            ) from exc
        if len(vectors) != expected:
            raise ProviderError(
                "openai",
                f"embeddings response has {len(vectors)} vectors for {expected} inputs",
                status=response.status_code,
            )
        return vectors


def embedder_from_settings(settings: Settings, client: httpx.AsyncClient | None = None) -> Embedder | None:
    """OpenAI embeddings when OPENAI_API_KEY is set, else the local e5 model when the `local` extra is
    installed; None means chunks go unembedded (full-text retrieval)."""
    key = settings.openai_key()
    if key is None:
        from functions.core.llm import local_embeddings

        return local_embeddings.LocalEmbeddings() if local_embeddings.available() else None
    return OpenAIEmbeddings(
        api_key=key,
        client=client or app_clients().client("openai"),
        base_url=settings.openai_api_base,
        model=settings.embedding_model,
        batch_size=settings.embedding_batch_size,
        timeout_s=settings.provider_timeout_seconds * 2,
    )
