"""The one error mapping of provider requests: an HTTP error answer or a transport failure becomes a
`ProviderError` (our problem codes: 429 provider_busy, 502 provider_error/provider_unavailable, 503
when it never answered), with the provider's keys redacted from everything kept."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

from functions.core.errors import ProviderError

BODY_LIMIT = 2000  # characters of a provider's error body kept on the ProviderError


def openai_error_message(parsed: dict[str, Any]) -> object:
    """OpenAI's shape, which compatible servers copy: `{"error": {"message": ...}}` or `{"error": "..."}`."""
    error = parsed.get("error")
    return error.get("message") if isinstance(error, dict) else error


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with every (non-empty) secret replaced by `***`."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def transport_error(provider: str, exc: httpx.HTTPError) -> ProviderError:
    """A request that got no answer: a 503 saying why (a connection or a timeout may pass, so retryable)."""
    import httpx

    name = type(exc).__name__
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
        return ProviderError(provider, f"cannot connect: {name}", retryable=True)
    if isinstance(exc, httpx.TimeoutException):
        return ProviderError(provider, f"timed out: {name}", retryable=True)
    return ProviderError(provider, f"transport failure: {name}")


def status_error(
    provider: str,
    status: int,
    text: str,
    *,
    prefix: str = "",
    message_of: Callable[[dict[str, Any]], object] = openai_error_message,
) -> ProviderError:
    """The error for an HTTP answer of `status` whose body is `text` (already stripped of any key).

    The detail is `"{prefix}HTTP {status}"` plus the body's message; the body is kept parsed when it is
    a small JSON object, else as truncated text. 429 and 5xx are marked retryable; a 429's numeric
    `Retry-After` is passed on to our caller by `response_error`.
    """
    body: Any = text[:BODY_LIMIT]
    detail = f"{prefix}HTTP {status}"
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        message = message_of(parsed)
        if isinstance(message, str) and message:
            detail = f"{detail}: {message[:300]}"
        if len(text) <= BODY_LIMIT:
            body = parsed
    return ProviderError(provider, detail, status=status, body=body, retryable=status == 429 or status >= 500)


def response_error(
    provider: str,
    response: httpx.Response,
    text: str,
    *,
    prefix: str = "",
    message_of: Callable[[dict[str, Any]], object] = openai_error_message,
) -> ProviderError:
    """`status_error` for a read `response` whose body is `text` (redacted), keeping a 429's `Retry-After`."""
    error = status_error(provider, response.status_code, text, prefix=prefix, message_of=message_of)
    retry_after = response.headers.get("retry-after", "")
    if error.status == 429 and retry_after.isdigit():
        error.headers["Retry-After"] = retry_after
    return error
