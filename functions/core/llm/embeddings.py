"""Text embeddings for retrieval: OpenAI `POST /embeddings`, batched and retried."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from functions.core.errors import ProviderError
from functions.core.http_client import shared_client
from functions.core.llm.openai_compat import (
    BACKOFF_BASE_S,
    BACKOFF_CAP_S,
    JITTER_S,
    Sleep,
)
from functions.core.provider_errors import BODY_LIMIT, backoff_delay, status_error
from functions.core.settings import Settings

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)


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

    429, 5xx, timeouts and connection failures are retried with exponential backoff (honouring
    `Retry-After` seconds, capped); then, or on any other failure, `ProviderError` with the status and body.
    """

    def __init__(
        self,
        *,
        api_key: str,
        client: httpx.AsyncClient,
        base_url: str = "https://api.openai.com/v1",
        model: str = "text-embedding-3-small",
        batch_size: int = 64,
        max_retries: int = 4,
        timeout_s: float = 30,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        import httpx

        if batch_size < 1 or max_retries < 0:
            raise ValueError("batch_size must be positive and max_retries not negative")
        self.model = model
        self._api_key = api_key
        self._url = base_url.rstrip("/") + "/embeddings"
        self._client = client
        self._batch_size = batch_size
        self._max_retries = max_retries
        self._timeout = httpx.Timeout(timeout_s)
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"OpenAIEmbeddings(model={self.model!r}, url={self._url!r})"

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self._batch_size):
            vectors += await self._request(list(texts[start : start + self._batch_size]))
        return vectors

    async def embed_query(self, text: str) -> list[float]:
        return (await self._request([text]))[0]

    async def _request(self, batch: list[str]) -> list[list[float]]:
        import httpx

        payload = {"model": self.model, "input": batch, "encoding_format": "float"}
        headers = {"Authorization": f"Bearer {self._api_key}"}
        attempt = 0
        while True:
            try:
                response = await self._client.post(
                    self._url, json=payload, headers=headers, timeout=self._timeout
                )
            except (httpx.TimeoutException, httpx.ConnectError) as exc:
                error = ProviderError("openai", f"embeddings {type(exc).__name__}", retryable=True)
                retry_after = None
            except httpx.HTTPError as exc:
                raise ProviderError("openai", f"embeddings transport failure: {type(exc).__name__}") from exc
            else:
                if response.status_code < 400:
                    return self._vectors(response, len(batch))
                error = self._status_error(response)
                retry_after = response.headers.get("retry-after")
            if not error.retryable or attempt >= self._max_retries:
                raise error
            delay = backoff_delay(
                attempt, retry_after, base_s=BACKOFF_BASE_S, cap_s=BACKOFF_CAP_S, jitter_s=JITTER_S
            )
            log.warning("openai embeddings: %s, retry %d in %.2fs", error.detail, attempt + 1, delay)
            await self._sleep(delay)
            attempt += 1

    def _redact(self, text: str) -> str:
        return text.replace(self._api_key, "***")

    def _status_error(self, response: httpx.Response) -> ProviderError:
        return status_error("openai", response.status_code, self._redact(response.text), prefix="embeddings ")

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
                body=self._redact(response.text)[:BODY_LIMIT],
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
        client=client or shared_client("openai"),
        base_url=settings.openai_api_base,
        model=settings.embedding_model,
        batch_size=settings.embedding_batch_size,
        timeout_s=settings.provider_timeout_seconds * 2,
    )
