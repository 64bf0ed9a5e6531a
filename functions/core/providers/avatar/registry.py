"""The avatar providers: a tuple of the classes that declare themselves, and lookup by name."""

from collections.abc import Callable

from functions.core.errors import ProviderError
from functions.core.providers.avatar.base import AvatarProvider, ProviderClass, ProviderOptions
from functions.core.providers.avatar.heygen import HeyGenProvider
from functions.core.providers.avatar.liveavatar import LiveAvatarProvider
from functions.core.providers.avatar.local import LocalAvatarProvider
from functions.core.providers.avatar.simli import SimliProvider
from functions.core.providers.avatar.tavus import TavusProvider
from functions.core.settings import Settings

ProviderFactory = Callable[[Settings], AvatarProvider]

# In the order the studio offers them: HeyGen's Interactive Avatar comes last, as legacy.
PROVIDERS: tuple[
    type[LocalAvatarProvider | LiveAvatarProvider | SimliProvider | TavusProvider | HeyGenProvider], ...
] = (
    LocalAvatarProvider,
    LiveAvatarProvider,
    SimliProvider,
    TavusProvider,
    HeyGenProvider,
)
_BY_NAME = {provider.name: provider for provider in PROVIDERS}

# Providers served in place of the classes above, by name (how tests put in a fake provider): consulted
# first, and made on each lookup.
OVERRIDES: dict[str, ProviderFactory] = {}
_instances: dict[str, AvatarProvider] = {}


def declaration(name: str) -> type[ProviderClass] | None:
    found: type[ProviderClass] | None = _BY_NAME.get(name)
    return found


def options_model(name: str) -> type[ProviderOptions] | None:
    found = _BY_NAME.get(name)
    return None if found is None else found.Options


def forget_providers() -> None:
    """Drops the providers made so far: the next lookup makes each again, with the settings it is given."""
    _instances.clear()


def provider_names() -> list[str]:
    return sorted(OVERRIDES.keys() | _BY_NAME.keys())


def configured(name: str, settings: Settings) -> bool:
    """Whether the deployment has what the provider needs (its key; the built-in avatar runs locally)."""
    provider = _BY_NAME.get(name)
    if provider is None:
        return name in OVERRIDES
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
    declared = _BY_NAME.get(name)
    if declared is None:
        raise ProviderError(name, "this avatar provider is not configured in this deployment")
    made: AvatarProvider = declared.from_settings(settings)
    _instances[name] = made
    return made
