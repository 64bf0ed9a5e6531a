"""One way to turn a provider's HTTP error answer into a `ProviderError` that keeps status and body."""

import json
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
