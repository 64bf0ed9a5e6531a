"""The one retry policy of provider requests (`functions.core.retry`), on a fake clock: nothing waits."""

from collections.abc import Callable

import httpx
import pytest

from functions.core.retry import RetryPolicy

Answer = httpx.Response | httpx.HTTPError


class Clock:
    """A monotonic clock that only moves when the policy sleeps (or a test says so)."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def policy(clock: Clock, **options: float) -> RetryPolicy:
    """Jitter fixed at its largest, so that the waits are exact."""
    return RetryPolicy(clock=clock, sleep=clock.sleep, jitter=lambda _low, high: high, **options)  # type: ignore[arg-type]


class Provider:
    """Answers attempts from a script; records how many were made and which answers were closed."""

    def __init__(self, *answers: Answer, on_attempt: Callable[[], None] | None = None) -> None:
        self.answers = list(answers)
        self.attempts = 0
        self.on_attempt = on_attempt

    async def __call__(self) -> httpx.Response:
        self.attempts += 1
        if self.on_attempt is not None:
            self.on_attempt()
        answer = self.answers.pop(0)
        if isinstance(answer, httpx.HTTPError):
            raise answer
        return answer


def status(code: int, **headers: str) -> httpx.Response:
    return httpx.Response(code, headers=headers, stream=httpx.ByteStream(b"{}"))


async def send(retry: RetryPolicy, provider: Provider, *, idempotent: bool = True) -> httpx.Response:
    return await retry.send(provider, idempotent=idempotent, what="test GET /x")


async def test_retry_after_is_waited_exactly_then_the_answer_is_returned() -> None:
    clock = Clock()
    provider = Provider(status(503, **{"retry-after": "3"}), status(200))
    assert (await send(policy(clock), provider)).status_code == 200
    assert clock.sleeps == [3.0]


async def test_a_retry_after_over_the_cap_ends_the_retries_with_that_answer() -> None:
    clock = Clock()
    provider = Provider(status(429, **{"retry-after": "120"}), status(200))
    answer = await send(policy(clock, retry_after_cap_s=5), provider)
    assert (answer.status_code, answer.headers["retry-after"]) == (429, "120")
    assert (provider.attempts, clock.sleeps) == (1, [])


async def test_an_http_date_retry_after_falls_back_to_the_backoff() -> None:
    clock = Clock()
    provider = Provider(status(503, **{"retry-after": "Wed, 21 Oct 2026 07:28:00 GMT"}), status(200))
    await send(policy(clock, base_s=0.5), provider)
    assert clock.sleeps == [0.5]


async def test_the_backoff_doubles_up_to_its_cap_with_half_of_it_random() -> None:
    clock = Clock()
    provider = Provider(*[status(502) for _ in range(5)], status(200))
    await send(policy(clock, attempts=6, base_s=0.5, cap_s=3, deadline_s=60), provider)
    assert clock.sleeps == [0.5, 1.0, 2.0, 3.0, 3.0]
    low = RetryPolicy(jitter=lambda low, _high: low, base_s=0.5)
    assert [low.delay(n, None) for n in range(3)] == [0.25, 0.5, 1.0]


async def test_the_last_failing_answer_is_returned_when_the_attempts_run_out() -> None:
    clock = Clock()
    provider = Provider(status(503), status(504), status(502))
    assert (await send(policy(clock, attempts=3), provider)).status_code == 502
    assert provider.attempts == 3
    assert len(clock.sleeps) == 2


async def test_no_retry_starts_that_would_end_past_the_deadline() -> None:
    clock = Clock()

    def slow_attempt() -> None:
        clock.now += 4  # each attempt takes 4 s to fail

    provider = Provider(*[status(503, **{"retry-after": "2"}) for _ in range(5)], on_attempt=slow_attempt)
    answer = await send(policy(clock, attempts=5, deadline_s=11), provider)
    # 4 s, the first wait (2 s), 4 s: 10 s; a second wait would end at 12 s, past the 11 s deadline.
    assert answer.status_code == 503
    assert provider.attempts == 2
    assert clock.sleeps == [2.0]


@pytest.mark.parametrize("code", [400, 401, 404, 409, 422, 501])
async def test_other_statuses_are_answered_at_once(code: int) -> None:
    clock = Clock()
    provider = Provider(status(code), status(200))
    assert (await send(policy(clock), provider)).status_code == code
    assert (provider.attempts, clock.sleeps) == (1, [])


@pytest.mark.parametrize(
    ("first", "retried_when_not_idempotent"),
    [
        (httpx.ConnectError("refused"), True),
        (httpx.ConnectTimeout("no answer to SYN"), True),
        (status(429), True),
        (httpx.ReadTimeout("slow"), False),
        (httpx.WriteTimeout("slow"), False),
        (httpx.PoolTimeout("busy pool"), False),
        (httpx.RemoteProtocolError("closed before the answer"), False),
        (status(500), False),
        (status(502), False),
        (status(503), False),
        (status(504), False),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else str(value),
)
async def test_what_is_retried(first: Answer, retried_when_not_idempotent: bool) -> None:
    """A request that never reached the provider, or that it refused (429), is always tried again; one
    that may have been done only when repeating it changes nothing."""
    clock = Clock()
    idempotent = Provider(first, status(200))
    assert (await send(policy(clock), idempotent, idempotent=True)).status_code == 200
    assert idempotent.attempts == 2

    once = Provider(first, status(200))
    if retried_when_not_idempotent:
        assert (await send(policy(clock), once, idempotent=False)).status_code == 200
        assert once.attempts == 2
    elif isinstance(first, httpx.Response):
        assert (await send(policy(clock), once, idempotent=False)).status_code == first.status_code
        assert once.attempts == 1
    else:
        with pytest.raises(type(first)):
            await send(policy(clock), once, idempotent=False)
        assert once.attempts == 1


async def test_the_last_transport_failure_is_raised() -> None:
    clock = Clock()
    provider = Provider(*[httpx.ConnectError("refused") for _ in range(3)])
    with pytest.raises(httpx.ConnectError):
        await send(policy(clock), provider)
    assert provider.attempts == 3


async def test_a_retried_answer_is_closed_before_the_wait() -> None:
    clock = Clock()
    busy = status(503)
    await send(policy(clock), Provider(busy, status(200)))
    assert busy.is_closed


def test_a_policy_attempts_at_least_once() -> None:
    with pytest.raises(ValueError, match="at least once"):
        RetryPolicy(attempts=0)
