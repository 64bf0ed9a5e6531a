"""Provider lookup by name; vendor modules are imported only when an avatar uses them."""

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import SecretStr

from functions.core.errors import ProviderError
from functions.core.providers.avatar.base import AvatarProvider
from functions.core.providers.avatar.local import LocalAvatarProvider
from functions.core.settings import Settings

if TYPE_CHECKING:
    from functions.core.providers.avatar.http import KeyedProvider

ProviderFactory = Callable[[Settings], AvatarProvider]
Vendor = TypeVar("Vendor", bound="KeyedProvider")

# Overrides and additions (tests register fakes here); consulted before the vendors below.
_FACTORIES: dict[str, ProviderFactory] = {
    "local": lambda _settings: LocalAvatarProvider(),
}
_instances: dict[str, AvatarProvider] = {}


def _keyed(
    vendor: type[Vendor],
    setting: str,
    key: SecretStr | None,
    base_url: str,
    settings: Settings,
    **options: Any,
) -> Vendor:
    """The vendor's provider with its key, or a 503 `ProviderError` naming the setting to set."""
    if key is None or not key.get_secret_value():
        raise ProviderError(
            vendor.name, f"this avatar provider is not configured in this deployment: set {setting}"
        )
    return vendor(
        api_key=key.get_secret_value(),
        base_url=base_url,
        timeout=settings.provider_timeout_seconds,
        **options,
    )


def _heygen(settings: Settings) -> AvatarProvider:
    from functions.core.providers.avatar.heygen import HeyGenProvider

    return _keyed(
        HeyGenProvider, "HEYGEN_API_KEY", settings.heygen_api_key, settings.heygen_api_base, settings
    )


def _liveavatar(settings: Settings) -> AvatarProvider:
    from functions.core.providers.avatar.liveavatar import LiveAvatarProvider

    voice_key = settings.elevenlabs_api_key
    return _keyed(
        LiveAvatarProvider,
        "LIVEAVATAR_API_KEY",
        settings.liveavatar_api_key,
        settings.liveavatar_api_base,
        settings,
        # FULL mode imports an avatar's ElevenLabs voice with this deployment's ElevenLabs key.
        elevenlabs_api_key=voice_key.get_secret_value() if voice_key else None,
    )


def _simli(settings: Settings) -> AvatarProvider:
    from functions.core.providers.avatar.simli import SimliProvider

    return _keyed(SimliProvider, "SIMLI_API_KEY", settings.simli_api_key, settings.simli_api_base, settings)


def _tavus(settings: Settings) -> AvatarProvider:
    from functions.core.providers.avatar.tavus import TavusProvider

    return _keyed(TavusProvider, "TAVUS_API_KEY", settings.tavus_api_key, settings.tavus_api_base, settings)


_VENDORS: dict[str, ProviderFactory] = {
    "heygen": _heygen,
    "liveavatar": _liveavatar,
    "simli": _simli,
    "tavus": _tavus,
}


def register_provider(name: str, factory: ProviderFactory) -> None:
    _FACTORIES[name] = factory
    _instances.pop(name, None)


def provider_names() -> list[str]:
    return sorted(_FACTORIES.keys() | _VENDORS.keys())


def get_provider(name: str, settings: Settings) -> AvatarProvider:
    """The provider serving `name`, made once; a 503 `ProviderError` naming the missing setting if unset."""
    provider = _instances.get(name)
    if provider is None:
        factory = _FACTORIES.get(name) or _VENDORS.get(name)
        if factory is None:
            raise ProviderError(name, "this avatar provider is not configured in this deployment")
        provider = _instances[name] = factory(settings)
    return provider
