"""The server-side avatar provider interface: mint browser credentials, keep alive, stop, list."""

import uuid
from datetime import datetime
from typing import Any, Protocol

from pydantic import BaseModel, Field


class AvatarSpec(BaseModel):
    """What a provider needs to know about the avatar a session is held with."""

    avatar_id: uuid.UUID
    provider_avatar_id: str | None = None
    voice: dict[str, Any] = Field(default_factory=dict)
    persona: str = ""
    greeting: str = ""
    quality: str = "medium"
    language: str = "en"
    max_session_seconds: int = 600
    idle_timeout_seconds: int = 300


class SessionRequest(BaseModel):
    session_id: uuid.UUID
    avatar: AvatarSpec
    expires_at: datetime
    # For providers that call back into our OpenAI-compatible chat (LiveAvatar FULL): the base URL
    # they append `/v1/chat/completions` (or `/chat/completions`) to, and the token they send as Bearer.
    chat_completions_base_url: str | None = None
    chat_api_key: str | None = Field(default=None, repr=False)
    # What this deployment imported at the provider earlier, by `kind:source id` (LiveAvatar:
    # `voice:<ElevenLabs voice id>` -> LiveAvatar voice id), so it is imported once.
    assets: dict[str, str] = Field(default_factory=dict)


class ProviderSession(BaseModel):
    """A provider's answer, normalised: what the browser needs, and the provider's own session id."""

    provider: str
    provider_session_id: str | None = None
    credentials: dict[str, Any] = Field(default_factory=dict)
    raw: dict[str, Any] = Field(default_factory=dict, exclude=True)
    # What the provider created beside the session and must delete when it ends (`release`).
    resources: dict[str, str] = Field(default_factory=dict, exclude=True)
    # What it imported for good, to reuse next time (see `SessionRequest.assets`).
    assets: dict[str, str] = Field(default_factory=dict, exclude=True)


class LiveSession(BaseModel):
    provider_session_id: str
    status: str | None = None
    created_at: datetime | None = None


class AvatarProvider(Protocol):
    """One implementation per vendor. Failures raise `ProviderError`; keys never leave the server."""

    name: str

    async def create_session(self, request: SessionRequest) -> ProviderSession:
        """Create (or authorise) a provider session and return browser credentials."""
        ...

    async def keep_alive(self, provider_session_id: str) -> None:
        """Reset the provider's idle countdown."""
        ...

    async def stop_session(self, provider_session_id: str) -> None:
        """Stop the provider session; stopping one already stopped is not an error."""
        ...

    async def list_sessions(self) -> list[LiveSession] | None:
        """The provider's live sessions, or None where the provider cannot list them."""
        ...

    async def release(self, resources: dict[str, str]) -> dict[str, str]:
        """Delete what `create_session` made beside a session; returns what could not be deleted yet."""
        ...
