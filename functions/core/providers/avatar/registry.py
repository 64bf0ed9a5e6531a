"""The avatar providers: the classes that declare themselves, and lookup by name.

Each provider's module is imported the first time something asks for that provider, not when a handler
module loads: a Lambda's cold start then pays only for the providers its requests use."""

import importlib
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING

from functions.core.errors import ProviderError
from functions.core.providers.avatar.base import AvatarProvider, ProviderClass, ProviderOptions
from functions.core.settings import Settings

if TYPE_CHECKING:
    from functions.core.providers.avatar.heygen import HeyGenProvider
    from functions.core.providers.avatar.liveavatar import LiveAvatarProvider
    from functions.core.providers.avatar.local import LocalAvatarProvider
    from functions.core.providers.avatar.simli import SimliProvider
    from functions.core.providers.avatar.tavus import TavusProvider

    Declared = type[LocalAvatarProvider | LiveAvatarProvider | SimliProvider | TavusProvider | HeyGenProvider]

ProviderFactory = Callable[[Settings], AvatarProvider]

# Name -> (module, class), in the order the studio offers them: HeyGen's Interactive Avatar comes last,
# as legacy. Each class's `name` is its key here (tests/providers check it).
DECLARED: dict[str, tuple[str, str]] = {
    "local": ("functions.core.providers.avatar.local", "LocalAvatarProvider"),
    "liveavatar": ("functions.core.providers.avatar.liveavatar", "LiveAvatarProvider"),
    "simli": ("functions.core.providers.avatar.simli", "SimliProvider"),
    "tavus": ("functions.core.providers.avatar.tavus", "TavusProvider"),
    "heygen": ("functions.core.providers.avatar.heygen", "HeyGenProvider"),
}


@cache
def _declared(name: str) -> "Declared":
    module, cls = DECLARED[name]
    found: Declared = getattr(importlib.import_module(module), cls)
    return found


def declared_providers() -> "list[Declared]":
    """Every declared provider class, in the order the studio offers them."""
    return [_declared(name) for name in DECLARED]


# Providers served in place of the classes above, by name (how tests put in a fake provider): consulted
# first, and made on each lookup.
OVERRIDES: dict[str, ProviderFactory] = {}
_instances: dict[str, AvatarProvider] = {}


def declaration(name: str) -> type[ProviderClass] | None:
    found: type[ProviderClass] | None = _declared(name) if name in DECLARED else None
    return found


def options_model(name: str) -> type[ProviderOptions] | None:
    return _declared(name).Options if name in DECLARED else None


def forget_providers() -> None:
    """Drops the providers made so far: the next lookup makes each again, with the settings it is given."""
    _instances.clear()


def provider_names() -> list[str]:
    return sorted(OVERRIDES.keys() | DECLARED.keys())


def configured(name: str, settings: Settings) -> bool:
    """Whether the deployment has what the provider needs (its key; the built-in avatar runs locally)."""
    if name not in DECLARED:
        return name in OVERRIDES
    provider = _declared(name)
    if not provider.settings:
        return settings.is_local
    return getattr(settings, provider.settings[0].lower(), None) is not None


def get_provider(name: str, settings: Settings) -> AvatarProvider:
    """The provider serving `name`, made once; a 503 `ProviderError` naming the missing setting if unset."""
    override = OVERRIDES.get(name)
    if override is not None:
        return override(settings)
    found = _instances.get(name)
    if found is not None:
        return found
    if name not in DECLARED:
        raise ProviderError(name, "this avatar provider is not configured in this deployment")
    made: AvatarProvider = _declared(name).from_settings(settings)
    _instances[name] = made
    return made
