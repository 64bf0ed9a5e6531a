"""One way to turn a provider's HTTP error answer into a `ProviderError` that keeps status and body,
and one way to wait before retrying it."""

import json
import random
from collections.abc import Callable
from typing import Any

from functions.core.errors import ProviderError

BODY_LIMIT = 2000  # characters of a provider's error body kept on the ProviderError


def openai_error_message(parsed: dict[str, Any]) -> object:
    """OpenAI's shape, which compatible servers copy: `{"error": {"message": ...}}` or `{"error": "..."}`."""
    error = parsed.get("error")
    return error.get("message") if isinstance(error, dict) else error


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
    a small JSON object, else as truncated text. 429 and 5xx are marked retryable.
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


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds from a `Retry-After` header; HTTP dates and junk are ignored (backoff applies instead)."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def backoff_delay(
    attempt: int, retry_after: str | None, *, base_s: float, cap_s: float, jitter_s: float
) -> float:
    """Seconds to wait before retry `attempt + 1`: the provider's `Retry-After` seconds when it sent
    them, else `base_s` doubled per attempt; plus up to `jitter_s`, and never more than `cap_s`."""
    seconds = retry_after_seconds(retry_after)
    wait = seconds if seconds is not None else base_s * 2**attempt
    return min(cap_s, wait + random.uniform(0, jitter_s))
