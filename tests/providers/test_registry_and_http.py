"""The registry builds vendors from settings; the shared HTTP helper retries only what is safe."""

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from functions.core.errors import ProviderError
from functions.core.http_client import app_clients
from functions.core.providers.avatar import registry
from functions.core.providers.avatar.heygen import HeyGenProvider
from functions.core.providers.avatar.http import ProviderHttp
from functions.core.providers.avatar.liveavatar import LiveAvatarProvider
from functions.core.providers.avatar.simli import SimliProvider
from functions.core.providers.avatar.tavus import TavusProvider
from functions.core.retry import RetryPolicy
from functions.core.settings import Settings
from tests.providers.fake import FakeProvider, timeout

VENDORS = {
    "heygen": (HeyGenProvider, "HEYGEN_API_KEY"),
    "liveavatar": (LiveAvatarProvider, "LIVEAVATAR_API_KEY"),
    "simli": (SimliProvider, "SIMLI_API_KEY"),
    "tavus": (TavusProvider, "TAVUS_API_KEY"),
}


@pytest.fixture(autouse=True)
def fresh_registry() -> Iterator[None]:
    """Each test makes its providers with its own settings, and leaves none made with them behind."""
    registry.forget_providers()
    yield
    registry.forget_providers()


def test_each_declared_provider_is_found_under_its_own_name_in_the_studios_order() -> None:
    declared = registry.declared_providers()
    assert [provider.name for provider in declared] == list(registry.DECLARED)
    assert list(registry.DECLARED) == ["local", "liveavatar", "simli", "tavus", "heygen"]
    for name, (cls, _) in VENDORS.items():
        assert registry.declaration(name) is cls
    assert registry.declaration("nobody") is None
    assert registry.options_model("nobody") is None


@pytest.mark.parametrize("name", sorted(VENDORS))
def test_an_unconfigured_vendor_is_a_503_naming_the_missing_setting(name: str) -> None:
    with pytest.raises(ProviderError) as raised:
        registry.get_provider(name, Settings())
    assert raised.value.status == 503
    assert raised.value.provider == name
    assert raised.value.detail.endswith(f"set {VENDORS[name][1]}")


@pytest.mark.parametrize("name", sorted(VENDORS))
def test_a_configured_vendor_is_built_once_with_its_base_url(name: str) -> None:
    settings = Settings(**{f"{name}_api_key": "k-123", f"{name}_api_base": f"https://{name}.proxy.test/"})
    provider = registry.get_provider(name, settings)
    assert isinstance(provider, VENDORS[name][0])
    assert registry.get_provider(name, settings) is provider
    assert provider._http.base_url == f"https://{name}.proxy.test"
    assert name in registry.provider_names()


def http_for(fake: FakeProvider, waits: list[float] | None = None) -> ProviderHttp:
    async def sleep(seconds: float) -> None:
        (waits if waits is not None else []).append(seconds)

    return ProviderHttp(
        provider="heygen",
        base_url="https://p.test",
        headers={"x-api-key": "the-key-123"},
        timeout=5,
        secret="the-key-123",
        client=fake.client(),
        policy=RetryPolicy(sleep=sleep),
    )


def flaky(first: Any, then: httpx.Response) -> Any:
    answers = iter([first, then])

    def answer(request: httpx.Request) -> httpx.Response:
        current = next(answers)
        return current(request) if callable(current) else current

    return answer


@pytest.mark.parametrize("first", [httpx.Response(503), timeout], ids=["503", "timeout"])
async def test_a_safe_call_is_retried_once(first: Any) -> None:
    fake = FakeProvider()
    fake.on("GET", "/list", flaky(first, httpx.Response(200, json={"ok": True})))
    assert await http_for(fake).call("GET", "/list", idempotent=True) == {"ok": True}
    assert len(fake.calls("GET", "/list")) == 2


async def test_an_unsafe_call_is_not_retried_after_a_5xx() -> None:
    fake = FakeProvider()
    fake.on("POST", "/create", flaky(httpx.Response(503), httpx.Response(200, json={})))
    with pytest.raises(ProviderError) as raised:
        await http_for(fake).call("POST", "/create", json_body={})
    assert (raised.value.status, raised.value.provider_status) == (502, 503)
    assert len(fake.calls("POST", "/create")) == 1


async def test_the_key_is_redacted_from_a_kept_error_body() -> None:
    fake = FakeProvider()
    fake.on("POST", "/x", httpx.Response(403, json={"message": "key the-key-123 is disabled"}))
    with pytest.raises(ProviderError) as raised:
        await http_for(fake).call("POST", "/x")
    assert raised.value.body == {"message": "key *** is disabled"}
    assert raised.value.detail == "heygen: HTTP 403: key *** is disabled"


async def test_a_non_json_success_is_a_502() -> None:
    fake = FakeProvider()
    fake.on("GET", "/x", httpx.Response(200, text="<html>proxy login</html>"))
    with pytest.raises(ProviderError) as raised:
        await http_for(fake).call("GET", "/x")
    assert (raised.value.status, raised.value.provider_status) == (502, 200)


async def test_a_retry_waits_as_the_provider_says_in_retry_after() -> None:
    """The avatar providers retry with the one policy (`functions.core.retry`), honouring `Retry-After`."""
    waits: list[float] = []
    fake = FakeProvider()
    fake.on(
        "GET",
        "/list",
        flaky(httpx.Response(503, headers={"retry-after": "1"}), httpx.Response(200, json={"ok": True})),
    )
    assert await http_for(fake, waits).call("GET", "/list", idempotent=True) == {"ok": True}
    assert waits == [1.0]


async def test_a_concurrency_refusal_is_a_429_with_a_retry_after_for_our_caller() -> None:
    fake = FakeProvider()
    refusal = {"message": "User has reached maximum concurrent conversations"}
    fake.on("POST", "/v2/conversations", httpx.Response(400, json=refusal))
    with pytest.raises(ProviderError) as raised:
        await http_for(fake).call("POST", "/v2/conversations", json_body={})
    assert (raised.value.status, raised.value.code) == (429, "provider_busy")
    assert raised.value.headers["Retry-After"] == "30"
    assert len(fake.calls("POST", "/v2/conversations")) == 1


async def test_without_an_injected_client_the_apps_client_factory_is_used() -> None:
    http = ProviderHttp(provider="heygen", base_url="https://p.test", headers={}, timeout=5, secret="")
    client = app_clients().client("avatar-providers")
    assert http._sender()._client is client
    await app_clients().aclose()
    assert client.is_closed
