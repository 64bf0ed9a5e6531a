"""Provider lookup by name; vendor modules are imported only when an avatar uses them."""

from collections.abc import Callable

from pydantic import SecretStr

from functions.core.errors import ProviderError
from functions.core.providers.avatar.base import AvatarProvider
from functions.core.providers.avatar.local import LocalAvatarProvider
from functions.core.settings import Settings

ProviderFactory = Callable[[Settings], AvatarProvider]

# Overrides and additions (tests register fakes here); consulted before the vendors below.
_FACTORIES: dict[str, ProviderFactory] = {
    "local": lambda _settings: LocalAvatarProvider(),
}
_instances: dict[str, AvatarProvider] = {}


def _key(name: str, setting: str, value: SecretStr | None) -> str:
    if value is None or not value.get_secret_value():
        raise ProviderError(name, f"this avatar provider is not configured in this deployment: set {setting}")
    return value.get_secret_value()


def _heygen(settings: Settings) -> AvatarProvider:
    from functions.core.providers.avatar.heygen import HeyGenProvider

    return HeyGenProvider(
        api_key=_key("heygen", "HEYGEN_API_KEY", settings.heygen_api_key),
        base_url=settings.heygen_api_base,
        timeout=settings.provider_timeout_seconds,
    )


def _liveavatar(settings: Settings) -> AvatarProvider:
    from functions.core.providers.avatar.liveavatar import LiveAvatarProvider

    return LiveAvatarProvider(
        api_key=_key("liveavatar", "LIVEAVATAR_API_KEY", settings.liveavatar_api_key),
        base_url=settings.liveavatar_api_base,
        timeout=settings.provider_timeout_seconds,
    )


def _simli(settings: Settings) -> AvatarProvider:
    from functions.core.providers.avatar.simli import SimliProvider

    return SimliProvider(
        api_key=_key("simli", "SIMLI_API_KEY", settings.simli_api_key),
        base_url=settings.simli_api_base,
        timeout=settings.provider_timeout_seconds,
    )


def _tavus(settings: Settings) -> AvatarProvider:
    from functions.core.providers.avatar.tavus import TavusProvider

    return TavusProvider(
        api_key=_key("tavus", "TAVUS_API_KEY", settings.tavus_api_key),
        base_url=settings.tavus_api_base,
        timeout=settings.provider_timeout_seconds,
    )


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
