"""The one retry policy of every request to a provider (avatar vendors, OpenAI, ElevenLabs, the JWKS).

What is retried:
- a connection that failed (refused, or its connect timed out): the request never reached the provider;
- 429: the provider refused it without doing it;
- a timeout, a dropped connection before the answer, and 500/502/503/504, only for an idempotent request
  (one that changes nothing when repeated: listing, stopping, keep-alive, a chat completion, a
  transcription). Creating a session, a conversation or a token is not retried after it may have
  reached the provider: a lost answer would leave a second, billed session. A 500 is a provider's
  transient fault as often as a lasting one (OpenAI's error guide says to retry it), so an idempotent
  request gets the same few tries; 501 and the 4xx other than 429 never change on a retry.

How long to wait: the provider's `Retry-After` seconds when it sends them (a wait longer than
`retry_after_cap_s` ends the retries at once: the caller answers 429/503 carrying it instead of
making a person wait), else `base_s` doubled per attempt up to `cap_s`, half of it random (jitter,
so that many clients do not retry in step). No retry starts once it would end past `deadline_s`
after the first attempt. The clock, the sleeper and the random source are injected, so the tests
never wait.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
NOT_PROCESSED_STATUSES = frozenset({429})  # retried even when the request is not idempotent

Sleep = Callable[[float], Awaitable[None]]


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds from a `Retry-After` header; HTTP dates and junk are ignored (backoff applies instead)."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def retryable(failure: httpx.Response | httpx.HTTPError, *, idempotent: bool) -> bool:
    """Whether an answer or a transport failure may be tried again (see the module's rules)."""
    import httpx  # here, not at import: a handler's cold start does not pay for it

    if isinstance(failure, httpx.Response):
        status = failure.status_code
        return status in NOT_PROCESSED_STATUSES or (idempotent and status in RETRY_STATUSES)
    if isinstance(failure, httpx.ConnectError | httpx.ConnectTimeout):
        return True
    return idempotent and isinstance(failure, httpx.TimeoutException | httpx.TransportError)


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3
    base_s: float = 0.25
    cap_s: float = 2.0  # the longest backoff wait: a person is usually waiting for the avatar
    retry_after_cap_s: float = 5.0  # the longest Retry-After honoured
    deadline_s: float = 15.0  # no retry ends later than this after the first attempt started
    clock: Callable[[], float] = field(default=time.monotonic, compare=False)
    sleep: Sleep = field(default=asyncio.sleep, compare=False)
    jitter: Callable[[float, float], float] = field(default=random.uniform, compare=False)

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("a request is attempted at least once")

    def delay(self, attempt: int, retry_after: str | None) -> float | None:
        """Seconds to wait before retrying after failed `attempt` (0 for the first); None when the
        provider asks for longer than `retry_after_cap_s`."""
        asked = retry_after_seconds(retry_after)
        if asked is not None:
            return asked if asked <= self.retry_after_cap_s else None
        wait = min(self.cap_s, self.base_s * 2.0**attempt)
        return wait / 2 + self.jitter(0, wait / 2)

    async def send(
        self, attempt: Callable[[], Awaitable[httpx.Response]], *, idempotent: bool, what: str
    ) -> httpx.Response:
        """The first answer that is not to be retried, or the last one; the last transport failure
        is raised. A retried answer is closed before the wait (it may be a stream)."""
        import httpx

        started = self.clock()
        number = 0
        while True:
            failure: httpx.Response | httpx.HTTPError
            try:
                failure = await attempt()
            except httpx.HTTPError as exc:
                failure = exc
            if isinstance(failure, httpx.Response) and failure.status_code not in RETRY_STATUSES:
                return failure
            wait = self._wait(failure, number, started, idempotent=idempotent)
            if wait is None:
                if isinstance(failure, httpx.Response):
                    return failure
                raise failure
            if isinstance(failure, httpx.Response):
                await failure.aclose()
            reason = failure.status_code if isinstance(failure, httpx.Response) else type(failure).__name__
            log.warning("%s: %s, retry %d in %.2fs", what, reason, number + 1, wait)
            await self.sleep(wait)
            number += 1

    def _wait(
        self, failure: httpx.Response | httpx.HTTPError, number: int, started: float, *, idempotent: bool
    ) -> float | None:
        import httpx

        if number + 1 >= self.attempts or not retryable(failure, idempotent=idempotent):
            return None
        retry_after = failure.headers.get("retry-after") if isinstance(failure, httpx.Response) else None
        wait = self.delay(number, retry_after)
        if wait is None or self.clock() + wait - started > self.deadline_s:
            return None
        return wait


INTERACTIVE = RetryPolicy()
"""A person is waiting: three attempts within 15 seconds."""
BACKGROUND = RetryPolicy(attempts=5, cap_s=8.0, retry_after_cap_s=30.0, deadline_s=60.0)
"""Indexing a knowledge base: more patience, nobody is waiting on the answer."""
