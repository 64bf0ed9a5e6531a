"""Requests to an owner's tool endpoint: public addresses only, signed, bounded in time and size.

The host is resolved here and every address it resolves to is checked before connecting; the request then
goes to the checked address itself (TLS still verifies the certificate against the host name, sent as
SNI), so a DNS answer that changes between the check and the connection (rebinding) cannot redirect it.
Redirects are not followed: a tool answers where it was configured to.

Each request carries `X-Avatar-Studio-Timestamp` (Unix seconds) and `X-Avatar-Studio-Signature`
(`v1=` and the hex HMAC-SHA256, keyed with the tool's signing secret, of `<timestamp>.<body>`), which the
owner's endpoint verifies as docs/api.md shows.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import json
import socket
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from functions.core.errors import AppError

if TYPE_CHECKING:
    import httpx

SIGNATURE_HEADER = "X-Avatar-Studio-Signature"
TIMESTAMP_HEADER = "X-Avatar-Studio-Timestamp"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class ToolCallFailed(AppError):
    """A tool request that was refused before it left, timed out, or got no usable answer."""

    status = 502
    code = "tool_failed"


class BlockedAddress(ToolCallFailed):
    status = 422
    code = "tool_address_blocked"


@dataclass(frozen=True, slots=True)
class AllowList:
    """Hosts and networks a tool may reach although they are not public (tests, private deployments)."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> AllowList:
        hosts: set[str] = set()
        networks: list[IPNetwork] = []
        for entry in entries:
            try:
                networks.append(ipaddress.ip_network(entry.strip(), strict=False))
            except ValueError:
                hosts.add(entry.strip().lower().rstrip("."))
        return cls(frozenset(hosts), tuple(networks))

    def allows(self, host: str, address: IPAddress) -> bool:
        return host.lower().rstrip(".") in self.hosts or any(address in network for network in self.networks)


def is_public(address: IPAddress) -> bool:
    """Globally routable unicast: not loopback, private, link-local, shared, reserved or multicast."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address the host resolves to (an IP literal, in any form the resolver reads, is itself)."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ToolCallFailed(f"the tool's host {host} does not resolve") from exc
    addresses: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


async def checked_address(url: httpx.URL, allow: AllowList) -> IPAddress:
    """The address to connect to; BlockedAddress if any address of the host is not allowed."""
    host = url.host
    port = url.port or (443 if url.scheme == "https" else 80)
    addresses = await resolve(host, port)
    blocked = [str(a) for a in addresses if not is_public(a) and not allow.allows(host, a)]
    if blocked or not addresses:
        raise BlockedAddress(
            f"the tool's host {host} resolves to {', '.join(blocked) or 'nothing'},"
            " which is not a public address"
        )
    return addresses[0]


def sign(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"v1={digest}"


@dataclass(frozen=True, slots=True)
class ToolResponse:
    status: int
    body: Any
    elapsed_ms: float


async def call_tool(
    client: httpx.AsyncClient,
    *,
    method: str,
    url: str,
    arguments: Mapping[str, Any],
    headers: Mapping[str, str],
    signing_secret: str,
    timeout_s: float,
    max_bytes: int,
    allow: AllowList,
) -> ToolResponse:
    """One request to a tool: GET sends the arguments as the query, other methods as a JSON body."""
    import httpx

    target = httpx.URL(url)
    if target.scheme not in ("http", "https"):
        raise BlockedAddress(f"a tool's URL must be http or https, not {target.scheme}")
    body = b"" if method == "GET" else json.dumps(dict(arguments), separators=(",", ":")).encode()
    if method == "GET":
        target = target.copy_merge_params({key: _query_value(value) for key, value in arguments.items()})
    began = time.monotonic()
    try:
        async with asyncio.timeout(timeout_s):
            address = await checked_address(target, allow)
            timestamp = int(time.time())
            request = client.build_request(
                method,
                target.copy_with(host=str(address)),
                content=body or None,
                headers={
                    **headers,
                    "host": target.netloc.decode("ascii"),
                    "content-type": "application/json",
                    "user-agent": "InteractiveAvatarStudio-Tool/1",
                    TIMESTAMP_HEADER: str(timestamp),
                    SIGNATURE_HEADER: sign(signing_secret, timestamp, body),
                },
                extensions={"sni_hostname": target.host},
            )
            response = await client.send(request, stream=True, follow_redirects=False)
            try:
                raw = await _read_bounded(response, max_bytes)
            finally:
                await response.aclose()
    except TimeoutError as exc:
        raise ToolCallFailed(f"the tool did not answer within {timeout_s:g} s") from exc
    except httpx.HTTPError as exc:
        raise ToolCallFailed(f"the tool could not be reached ({type(exc).__name__})") from exc
    elapsed_ms = (time.monotonic() - began) * 1000
    if response.is_redirect:
        raise ToolCallFailed(
            f"the tool answered with a redirect ({response.status_code}), which is not followed"
        )
    return ToolResponse(response.status_code, _decode(raw), elapsed_ms)


def _query_value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


async def _read_bounded(response: httpx.Response, max_bytes: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise ToolCallFailed(f"the tool's answer is larger than {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _decode(raw: bytes) -> Any:
    text = raw.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text
