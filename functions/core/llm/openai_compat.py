"""Streamed chat completions from any OpenAI-compatible server (OpenAI, Ollama, llama.cpp, vLLM, ...)."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from functions.core.errors import ProviderError
from functions.core.http_client import ProviderClient
from functions.core.llm.base import ChatMessage, TokenUsage, ToolCall
from functions.core.provider_errors import BODY_LIMIT
from functions.core.retry import INTERACTIVE, RetryPolicy

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

DRAIN_LIMIT_BYTES = 65536  # read after [DONE] to keep the connection; past this it is dropped
# OpenAI's reasoning (o-series) and gpt-5-family models refuse `max_tokens` (they take
# `max_completion_tokens`) and any temperature but the default (platform.openai.com/docs/guides/reasoning;
# openai-python's `completion_create_params`: "max_tokens ... is not compatible with o-series models").
_REASONING_PREFIXES = ("o1", "o3", "o4", "gpt-5")
# The parameters a model may refuse, and what is sent instead (None: left out).
_REPLACEMENTS: dict[str, str | None] = {"max_tokens": "max_completion_tokens", "temperature": None}


def is_reasoning_model(model: str) -> bool:
    name = model.rsplit("/", 1)[-1].lower()
    return name.startswith(_REASONING_PREFIXES)


def refused_parameter(error: ProviderError) -> str | None:
    """The parameter a 400 says this model does not take (`unsupported_parameter` / `unsupported_value`)."""
    if error.provider_status != 400 or not isinstance(error.body, dict):
        return None
    detail = error.body.get("error")
    if not isinstance(detail, dict):
        return None
    param = detail.get("param")
    if param in _REPLACEMENTS and detail.get("code") in ("unsupported_parameter", "unsupported_value"):
        return str(param)
    return None


class OpenAICompatibleChat:
    """`ChatModel` over `POST {base_url}/chat/completions` with `stream: true` (server-sent events).

    Sent through `ProviderClient` as an idempotent request (a completion changes nothing when asked
    again), so retried by the one policy until the answer starts, never after. Every failure raises
    `ProviderError`; a timeout carries status None, so it maps to 503. The API key is only ever put in
    the Authorization header.
    """

    def __init__(
        self,
        *,
        api_key: str | None,
        base_url: str = "https://api.openai.com/v1",
        model: str,
        client: httpx.AsyncClient,
        provider: str = "openai",
        timeout_s: float = 30,
        policy: RetryPolicy = INTERACTIVE,
    ) -> None:
        self.name = provider
        self.model = model
        self._api_key = api_key
        self._url = base_url.rstrip("/") + "/chat/completions"
        self._http = ProviderClient(provider, client, secrets=[api_key], timeout=timeout_s, policy=policy)
        # Parameters this model refused once: not sent again, so one refusal does not fail every turn.
        self._refused: set[str] = set(_REPLACEMENTS) if is_reasoning_model(model) else set()

    def __repr__(self) -> str:
        return f"OpenAICompatibleChat(provider={self.name!r}, model={self.model!r}, url={self._url!r})"

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "text/event-stream"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        return headers

    def _payload(
        self,
        messages: list[ChatMessage],
        max_tokens: int | None,
        temperature: float | None,
        tools: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "model": self.model,
            "messages": [m.wire() for m in messages],
            "stream": True,
            # The final chunk then carries the reply's token counts (OpenAI's `stream_options`).
            "stream_options": {"include_usage": True},
        }
        if tools:
            payload["tools"] = tools
        for name, value in (("max_tokens", max_tokens), ("temperature", temperature)):
            if value is None:
                continue
            if name not in self._refused:
                payload[name] = value
            elif (instead := _REPLACEMENTS[name]) is not None:
                payload[instead] = value
        return payload

    def _redact(self, text: str) -> str:
        return self._http.redact(text)

    def _chunk_error(self, detail: str, data: str) -> ProviderError:
        return ProviderError(self.name, detail, status=None, body=self._redact(data)[:BODY_LIMIT])

    def _content(self, data: str, calls: _CallParts | None = None, usage: TokenUsage | None = None) -> str:
        """The text delta of one `data:` payload ("" when it carries none); tool-call fragments go to
        `calls`, token counts to `usage`."""
        try:
            chunk = json.loads(data)
        except ValueError:
            raise self._chunk_error("malformed stream chunk", data) from None
        if not isinstance(chunk, dict):
            raise self._chunk_error("malformed stream chunk", data)
        if chunk.get("error"):
            # Some compatible servers report a failure mid-stream as an error object.
            error = chunk["error"]
            message = error.get("message") if isinstance(error, dict) else error
            raise self._chunk_error(f"error in stream: {str(message)[:300]}", data)
        if usage is not None:
            _read_usage(chunk.get("usage"), usage)
        choices = chunk.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            return ""  # e.g. the usage-only final chunk
        delta = choices[0].get("delta") or choices[0].get("message")
        if calls is not None and isinstance(delta, dict) and isinstance(delta.get("tool_calls"), list):
            calls.add(delta["tool_calls"])
        content = delta.get("content") if isinstance(delta, dict) else None
        return content if isinstance(content, str) else ""

    async def _deltas(
        self, response: httpx.Response, calls: _CallParts | None = None, usage: TokenUsage | None = None
    ) -> AsyncIterator[str]:
        media_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type == "application/json":
            # A server that ignored `stream: true` and answered in one piece.
            content = self._content(
                self._redact((await response.aread()).decode("utf-8", errors="replace")), calls, usage
            )
            if content:
                yield content
            return
        # Bytes split at b"\n" rather than aiter_lines: no text decoding of partial reads, and every
        # event that arrived in one read becomes one delta, which is what the turn forwards.
        data: list[bytes] = []
        rest = b""
        received_bytes = response.aiter_bytes()
        async for received in received_bytes:
            *lines, rest = (rest + received).split(b"\n")
            pieces: list[str] = []
            finished = False
            for line in lines:
                line = line.rstrip(b"\r")
                if line.startswith(b"data:"):
                    value = line[5:]
                    data.append(value[1:] if value.startswith(b" ") else value)
                    continue
                if line or not data:
                    continue  # comments (": keep-alive"), fields (event:, id:, retry:), blank keep-alives
                payload, data = b"\n".join(data), []
                if payload.strip() == b"[DONE]":
                    finished = True
                    break
                pieces.append(self._content(payload.decode("utf-8", errors="replace"), calls, usage))
            if any(pieces):
                yield "".join(pieces)
            if finished:
                # Read the body to its end (the chunked terminator follows [DONE]), so that the
                # connection goes back to the pool instead of being closed: a new connection per
                # reply costs a TCP (and TLS) handshake.
                drained = 0
                async for received in received_bytes:
                    drained += len(received)
                    if drained > DRAIN_LIMIT_BYTES:
                        break
                return
        if rest.startswith(b"data:"):
            data.append(rest[5:].lstrip(b" "))
        if data and b"\n".join(data).strip() != b"[DONE]":
            # The last event, without the blank line that should have ended it.
            content = self._content(b"\n".join(data).decode("utf-8", errors="replace"), calls, usage)
            if content:
                yield content

    async def stream(
        self,
        messages: list[ChatMessage],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
        usage: TokenUsage | None = None,
    ) -> AsyncGenerator[str, None]:
        """Stream the reply's text deltas; see `ChatModel.stream`."""
        async for piece in self._stream(
            lambda: self._payload(messages, max_tokens, temperature), None, usage
        ):
            yield piece

    async def stream_turn(
        self,
        messages: list[ChatMessage],
        tools: list[dict[str, Any]],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
        usage: TokenUsage | None = None,
    ) -> AsyncGenerator[str | ToolCall, None]:
        """Stream the reply's text deltas, then the tool calls it made; see `ToolCallingChat.stream_turn`."""
        calls = _CallParts()
        async for piece in self._stream(
            lambda: self._payload(messages, max_tokens, temperature, tools), calls, usage
        ):
            yield piece
        for call in calls.complete():
            yield call

    async def _stream(
        self, build: Callable[[], dict[str, Any]], calls: _CallParts | None, usage: TokenUsage | None = None
    ) -> AsyncIterator[str]:
        """The request `build` makes, again once after each parameter the model refuses."""
        payload = build()
        while True:
            try:
                async with self._http.stream(
                    "POST", self._url, idempotent=True, json=payload, headers=self._headers()
                ) as response:
                    reported = TokenUsage()
                    async for piece in self._deltas(response, calls, reported):
                        yield piece
                    if usage is not None:
                        usage.add(reported)
                    return
            except ProviderError as error:
                refused = refused_parameter(error)
                if refused is None or refused in self._refused:
                    raise
                log.warning("%s model %s refuses %s; sending without it", self.name, self.model, refused)
                self._refused.add(refused)
                payload = build()


class _CallParts:
    """Tool calls as they stream: the first fragment of each (by `index`) names it, the rest append to
    its arguments (OpenAI's chat completions streaming format, which compatible servers follow)."""

    def __init__(self) -> None:
        self._parts: dict[int, dict[str, str]] = {}

    def add(self, fragments: list[Any]) -> None:
        for position, fragment in enumerate(fragments):
            if not isinstance(fragment, dict):
                continue
            index = fragment.get("index", position)
            part = self._parts.setdefault(index if isinstance(index, int) else position, {})
            raw_function = fragment.get("function")
            function: dict[str, Any] = raw_function if isinstance(raw_function, dict) else {}
            if isinstance(fragment.get("id"), str) and fragment["id"]:
                part["id"] = fragment["id"]
            if isinstance(function.get("name"), str) and function["name"]:
                part["name"] = part.get("name", "") + function["name"]
            if isinstance(function.get("arguments"), str):
                part["arguments"] = part.get("arguments", "") + function["arguments"]

    def complete(self) -> list[ToolCall]:
        """Every call that got a name, in index order; a call without an id gets one."""
        return [
            ToolCall(
                id=part.get("id") or f"call_{index}", name=part["name"], arguments=part.get("arguments", "")
            )
            for index, part in sorted(self._parts.items())
            if part.get("name")
        ]


def _read_usage(reported: object, usage: TokenUsage) -> None:
    """The counts of a chunk's `usage` object (OpenAI sends it once, in the last chunk before [DONE])."""
    if not isinstance(reported, dict):
        return
    prompt, completion = reported.get("prompt_tokens"), reported.get("completion_tokens")
    if isinstance(prompt, int) and prompt >= 0:
        usage.prompt_tokens = prompt
    if isinstance(completion, int) and completion >= 0:
        usage.completion_tokens = completion
