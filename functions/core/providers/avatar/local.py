"""The built-in avatar drawn in the browser: no external service, nothing to stop."""

from typing import ClassVar

from functions.core.providers.avatar.base import (
    Capabilities,
    LiveSession,
    ProviderOptions,
    ProviderSession,
    SessionRequest,
)
from functions.core.settings import Settings


class LocalOptions(ProviderOptions):
    """The built-in avatar has no options of its own (its voice is the avatar's `voice`)."""


class LocalAvatarProvider:
    name: ClassVar[str] = "local"
    label: ClassVar[str] = "Built-in avatar"
    settings: ClassVar[tuple[str, ...]] = ()
    Options: ClassVar[type[ProviderOptions]] = LocalOptions
    capabilities: ClassVar[Capabilities] = Capabilities(takes_audio=True)
    legacy: ClassVar[bool] = False
    minute_price_usd: ClassVar[float] = 0.0  # it streams nothing

    @classmethod
    def from_settings(cls, settings: Settings) -> "LocalAvatarProvider":
        return cls()

    async def create_session(self, request: SessionRequest) -> ProviderSession:
        return ProviderSession(
            provider=self.name,
            credentials={
                "voice": request.avatar.voice,
                "language": request.avatar.language,
            },
        )

    async def keep_alive(self, provider_session_id: str) -> None:
        return None

    async def stop_session(self, provider_session_id: str) -> None:
        return None

    async def list_sessions(self) -> list[LiveSession] | None:
        return None

    async def release(self, resources: dict[str, str]) -> dict[str, str]:
        return {}
