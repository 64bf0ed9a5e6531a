"""The cloud avatar vendors under test, in one place: each provider class built with its test key and fake
base URL on a FakeProvider's transport, and served to the app for one test."""

from typing import Any, TypeVar

import pytest

from functions.core.providers.avatar.heygen import HeyGenProvider
from functions.core.providers.avatar.liveavatar import LiveAvatarProvider
from functions.core.providers.avatar.simli import SimliProvider
from functions.core.providers.avatar.tavus import TavusProvider
from tests.functional.support import use_provider
from tests.providers.fake import (
    HEYGEN_BASE,
    HEYGEN_KEY,
    LIVEAVATAR_BASE,
    LIVEAVATAR_KEY,
    SIMLI_BASE,
    SIMLI_KEY,
    TAVUS_BASE,
    TAVUS_KEY,
    FakeProvider,
)

KEYS = {"heygen": HEYGEN_KEY, "liveavatar": LIVEAVATAR_KEY, "simli": SIMLI_KEY, "tavus": TAVUS_KEY}
BASES = {"heygen": HEYGEN_BASE, "liveavatar": LIVEAVATAR_BASE, "simli": SIMLI_BASE, "tavus": TAVUS_BASE}

Vendor = TypeVar("Vendor", HeyGenProvider, LiveAvatarProvider, SimliProvider, TavusProvider)


def vendor(cls: type[Vendor], fake: FakeProvider, **options: Any) -> Vendor:
    """The vendor's provider, talking to `fake` with the vendor's test key (`options`: its extra settings)."""
    return cls(api_key=KEYS[cls.name], base_url=BASES[cls.name], timeout=5, client=fake.client(), **options)


def serve(
    monkeypatch: pytest.MonkeyPatch, cls: type[Vendor], fake: FakeProvider, **options: Any
) -> FakeProvider:
    """Serves the vendor's avatars through `fake` for one test; returns `fake`."""
    use_provider(monkeypatch, cls.name, vendor(cls, fake, **options))
    return fake
