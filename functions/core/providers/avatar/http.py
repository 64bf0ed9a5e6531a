"""The HTTP boundary shared by the avatar providers: `ProviderClient` with their error shapes.

Requests go through the app's client factory (`functions.core.http_client`, closed when the app shuts
down) unless a client is injected, with the one retry policy, error mapping and key redaction.

Idempotent requests: listing, keep-alive and stop change nothing when repeated, so a timeout or a
500/502/503/504 is retried for them. Minting tokens and creating sessions, conversations or tasks are
not: a lost answer would leave a second, billed or unknown session (Tavus bills from creation) or
speak a sentence twice.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, Self

from functions.core.errors import ProviderError
from functions.core.http_client import ProviderClient, app_clients
from functions.core.provider_errors import BODY_LIMIT
from functions.core.providers.avatar.base import Capabilities, ProviderOptions
from functions.core.retry import INTERACTIVE, RetryPolicy
from functions.core.settings import Settings

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

RETRY_AFTER_DEFAULT = "30"
# Providers that refuse one more session with a 400 and a sentence (Tavus: "User has reached maximum
# concurrent conversations"); they become a 429 to our user.
_CONCURRENCY_WORDS = ("concurrent", "concurrency")


class ProviderHttp:
    """JSON over HTTPS to one provider, with its auth headers and its key kept out of every error."""

    def __init__(
        self,
        *,
        provider: str,
        base_url: str,
        headers: dict[str, str],
        timeout: float,
        secret: str,
        client: httpx.AsyncClient | None = None,
        policy: RetryPolicy = INTERACTIVE,
    ) -> None:
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self._headers = headers
        self._timeout = timeout
        self._secret = secret
        self._injected = client
        self._policy = policy

    def _sender(self) -> ProviderClient:
        # The factory keeps a client per event loop: a Lambda container keeps one loop, so one client.
        client = self._injected or app_clients().client("avatar-providers")
        return ProviderClient(
            self.provider,
            client,
            secrets=[self._secret],
            timeout=self._timeout,
            policy=self._policy,
            message_of=error_message,
        )

    async def call(
        self,
        method: str,
        path: str,
        *,
        json_body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
        bearer: str | None = None,
        idempotent: bool = False,
        already_done: frozenset[int] = frozenset(),
    ) -> Any:
        """The decoded JSON answer (None when empty, or when the status is in `already_done`).

        `bearer` sends a provider session token instead of the API key.
        """
        request_headers = {"authorization": f"Bearer {bearer}"} if bearer else self._headers
        sender = self._sender()
        try:
            response = await sender.request(
                method,
                self.base_url + path,
                idempotent=idempotent,
                accept=already_done,
                json=json_body,
                params=params,
                headers=request_headers,
            )
        except ProviderError as error:
            busy = _busy(error)
            if busy is None:
                raise
            raise busy from error
        if response.status_code in already_done:
            return None
        if not response.content:
            return None
        try:
            return json.loads(response.text)
        except ValueError as exc:
            raise ProviderError(
                self.provider,
                f"HTTP {response.status_code}: the answer is not JSON",
                status=response.status_code,
                body=sender.redact(response.text)[:BODY_LIMIT],
            ) from exc


def _busy(error: ProviderError) -> ProviderError | None:
    """A refused session for concurrency (Tavus answers it with a 400 and a sentence) as a 429 that
    says so, with a `Retry-After` for our caller; None for any other error."""
    status = error.provider_status
    if status is None:
        return None
    text = error.body if isinstance(error.body, str) else json.dumps(error.body)
    if status != 429 and not any(word in text.lower() for word in _CONCURRENCY_WORDS):
        return None
    detail = error.detail.removeprefix(f"{error.provider}: ")
    busy = ProviderError(
        error.provider,
        f"concurrent session limit reached ({detail})",
        status=429,
        body=error.body,
        retryable=True,
    )
    busy.headers["Retry-After"] = error.headers.get("Retry-After", RETRY_AFTER_DEFAULT)
    return busy


class KeyedProvider:
    """A provider reached with one API key in one header: its HTTP boundary, made once.

    Subclasses declare themselves (`ProviderClass`): `settings` names the key setting first, then its
    base URL setting.
    """

    name: ClassVar[str]
    label: ClassVar[str]
    settings: ClassVar[tuple[str, ...]]
    Options: ClassVar[type[ProviderOptions]]
    capabilities: ClassVar[Capabilities]
    legacy: ClassVar[bool] = False
    minute_price_usd: ClassVar[float]
    key_header: ClassVar[str]

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        """The provider with its key and base URL from the settings, or a 503 naming the setting to set."""
        key_setting, base_setting = cls.settings[0], cls.settings[1]
        key = getattr(settings, key_setting.lower())
        if key is None or not key.get_secret_value():
            raise ProviderError(
                cls.name, f"this avatar provider is not configured in this deployment: set {key_setting}"
            )
        return cls(
            api_key=key.get_secret_value(),
            base_url=getattr(settings, base_setting.lower()),
            timeout=settings.provider_timeout_seconds,
        )

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str,
        timeout: float,
        client: httpx.AsyncClient | None = None,
        policy: RetryPolicy = INTERACTIVE,
    ) -> None:
        self._http = ProviderHttp(
            provider=self.name,
            base_url=base_url,
            headers={self.key_header: api_key},
            timeout=timeout,
            secret=api_key,
            client=client,
            policy=policy,
        )

    async def release(self, resources: dict[str, str]) -> dict[str, str]:
        """Nothing is created beside a session unless the provider says otherwise."""
        return {}


def error_message(parsed: Any) -> str | None:
    """The human sentence of an error body, wherever the provider put it; a validation error (a 422's
    `detail: [{loc, msg}]`) names the fields it refused."""
    if not isinstance(parsed, dict):
        return None
    for key in ("message", "error", "detail", "msg"):
        value = parsed.get(key)
        if isinstance(value, dict):
            value = value.get("message")
        if isinstance(value, list):
            value = "; ".join(_field_error(item) for item in value if isinstance(item, dict))
        if isinstance(value, str) and value:
            return value
    return None


def _field_error(item: dict[str, Any]) -> str:
    location = [str(part) for part in item.get("loc") or [] if part != "body"]
    message = str(item.get("msg") or "invalid")
    return f"{'.'.join(location)}: {message}" if location else message


def unwrap(answer: Any) -> dict[str, Any]:
    """The payload of `{code, message, data: {...}}` envelopes, or the answer itself when unwrapped."""
    if isinstance(answer, dict):
        data = answer.get("data")
        if isinstance(data, dict):
            return data
        return answer
    return {}


def require_str(provider: str, answer: Any, *names: str) -> str:
    """The first of `names` in the (unwrapped) answer as a non-empty string, else a 502 saying so."""
    payload = unwrap(answer)
    for name in names:
        value = payload.get(name)
        if isinstance(value, str) and value:
            return value
    message = error_message(answer)
    raise ProviderError(
        provider,
        f"unexpected answer without {' or '.join(names)}" + (f": {message[:300]}" if message else ""),
        status=200,
        body={"keys": sorted(payload)},
    )


def parse_time(value: Any) -> datetime | None:
    """A provider timestamp: epoch seconds or milliseconds, or ISO 8601 (UTC when it has no zone)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000 if value > 1e12 else value, UTC)
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None
