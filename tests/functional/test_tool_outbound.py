"""Requests to owners' tool endpoints: never to a private address in any spelling, signed, bounded."""

import hashlib
import hmac
import ipaddress
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from functions.core.tools.outbound import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    AllowList,
    BlockedAddress,
    ToolCallFailed,
    call_tool,
    checked_address,
    is_public,
)
from tests.functional.loopback import Endpoint, loopback_endpoint

SECRET = "s" * 40
LOOPBACK = AllowList.parse(["127.0.0.1/32"])


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2606:4700:4700::1111", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),  # cloud metadata endpoint
        ("100.64.0.1", False),  # carrier-grade NAT
        ("0.0.0.0", False),  # noqa: S104 - an address to refuse, not one to bind
        ("224.0.0.1", False),
        ("::1", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("::ffff:127.0.0.1", False),  # IPv4-mapped loopback
        ("::ffff:8.8.8.8", True),
    ],
)
def test_only_globally_routable_unicast_addresses_are_public(address: str, public: bool) -> None:
    assert is_public(ipaddress.ip_address(address)) is public


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://2130706433/hook",  # 127.0.0.1 as one decimal number
        "http://0x7f000001/hook",  # ... as hexadecimal
        "http://127.1/hook",  # ... shortened
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://localhost/hook",  # a name that resolves to loopback
        "http://169.254.169.254/latest/meta-data",
        "https://10.0.0.1/hook",
    ],
)
async def test_every_spelling_of_a_private_address_is_refused_before_connecting(url: str) -> None:
    with pytest.raises(BlockedAddress, match="not a public address"):
        await checked_address(httpx.URL(url), AllowList())


async def test_an_allow_list_opens_named_hosts_and_networks() -> None:
    assert str(await checked_address(httpx.URL("http://127.0.0.1/"), LOOPBACK)) == "127.0.0.1"
    assert str(await checked_address(httpx.URL("http://localhost/"), AllowList.parse(["localhost"]))) in {
        "127.0.0.1",
        "::1",
    }
    with pytest.raises(BlockedAddress):
        await checked_address(httpx.URL("http://127.0.0.2/"), LOOPBACK)


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    with loopback_endpoint() as state:
        yield state


async def _call(endpoint: Endpoint, method: str = "POST", path: str = "/hook", **overrides: Any) -> Any:
    options: dict[str, Any] = {
        "method": method,
        "url": f"{endpoint.url}{path}",
        "arguments": {"order": "A-17", "items": 2},
        "headers": {"x-api-key": "owner-system-key"},
        "signing_secret": SECRET,
        "timeout_s": 5.0,
        "max_bytes": 10_000,
        "allow": LOOPBACK,
        **overrides,
    }
    async with httpx.AsyncClient() as client:
        return await call_tool(client, **options)


async def test_a_post_carries_the_arguments_the_owner_headers_and_a_verifiable_signature(
    endpoint: Endpoint,
) -> None:
    answer = await _call(endpoint)
    assert answer.status == 200
    assert answer.body == {"ok": True}
    [request] = endpoint.seen
    assert request.method == "POST"
    assert request.json() == {"order": "A-17", "items": 2}
    headers = request.headers
    assert headers["x-api-key"] == "owner-system-key"
    assert headers["host"] == endpoint.url.removeprefix("http://")
    # What an owner's endpoint does to verify: HMAC-SHA256 of "<timestamp>.<raw body>" with the secret.
    timestamp = headers[TIMESTAMP_HEADER.lower()]
    expected = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + request.body, hashlib.sha256).hexdigest()
    assert headers[SIGNATURE_HEADER.lower()] == f"v1={expected}"


async def test_a_get_sends_the_arguments_as_the_query(endpoint: Endpoint) -> None:
    await _call(endpoint, method="GET", path="/lookup?lang=en")
    [request] = endpoint.seen
    assert request.path == "/lookup?lang=en&order=A-17&items=2"
    assert request.body == b""


async def test_an_error_answer_is_returned_for_the_turn_to_report(endpoint: Endpoint) -> None:
    endpoint.status, endpoint.answer = 500, lambda _request: b"database down"
    answer = await _call(endpoint)
    assert (answer.status, answer.body) == (500, "database down")


async def test_a_redirect_is_not_followed(endpoint: Endpoint) -> None:
    endpoint.status, endpoint.headers = 302, {"location": "http://127.0.0.2:9/internal"}
    with pytest.raises(ToolCallFailed, match="redirect"):
        await _call(endpoint)
    assert len(endpoint.seen) == 1


async def test_an_answer_larger_than_the_limit_is_refused(endpoint: Endpoint) -> None:
    endpoint.answer = lambda _request: b"x" * 20_000
    with pytest.raises(ToolCallFailed, match="larger than 10000 bytes"):
        await _call(endpoint)


async def test_a_tool_that_does_not_answer_in_time_fails_with_the_timeout(endpoint: Endpoint) -> None:
    endpoint.hold = threading.Event()
    with pytest.raises(ToolCallFailed, match=r"within 0\.2 s"):
        await _call(endpoint, timeout_s=0.2)


async def test_a_url_that_is_not_http_is_refused(endpoint: Endpoint) -> None:
    with pytest.raises(BlockedAddress, match="http or https"):
        await _call(endpoint, url="file:///etc/passwd")
    assert endpoint.seen == []
