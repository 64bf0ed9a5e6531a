"""The built-in avatar drawn in the browser: no external service, nothing to stop."""

from functions.core.providers.avatar.base import LiveSession, ProviderSession, SessionRequest


class LocalAvatarProvider:
    name = "local"

    async def create_session(self, request: SessionRequest) -> ProviderSession:
        return ProviderSession(
            provider=self.name,
            credentials={
                "kind": "local",
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
