"""Provider lookup by name; vendor modules are imported only when an avatar uses them."""

from collections.abc import Callable

from functions.core.errors import ProviderError
from functions.core.providers.avatar.base import AvatarProvider
from functions.core.providers.avatar.local import LocalAvatarProvider
from functions.core.settings import Settings

ProviderFactory = Callable[[Settings], AvatarProvider]

_FACTORIES: dict[str, ProviderFactory] = {
    "local": lambda _settings: LocalAvatarProvider(),
}
_instances: dict[str, AvatarProvider] = {}


def register_provider(name: str, factory: ProviderFactory) -> None:
    _FACTORIES[name] = factory
    _instances.pop(name, None)


def get_provider(name: str, settings: Settings) -> AvatarProvider:
    provider = _instances.get(name)
    if provider is None:
        factory = _FACTORIES.get(name)
        if factory is None:
            raise ProviderError(name, "this avatar provider is not configured in this deployment")
        provider = _instances[name] = factory(settings)
    return provider
