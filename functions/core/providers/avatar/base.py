"""The server-side avatar provider interface: mint browser credentials, keep alive, stop, list.

Each provider class also declares itself (`ProviderClass`): its name and label, the settings it needs,
the typed model of the options an avatar sets for it (`Options`, stored in `avatars.provider_options`),
and what it can do (`Capabilities`). The registry is a tuple of these classes and `/v1/config` publishes
them, so the studio builds its provider form from the declarations.
"""

import uuid
from datetime import datetime
from typing import Any, ClassVar, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from functions.core.errors import ProviderError


class Capabilities(BaseModel):
    """What a provider does, for the studio and the turn engine."""

    speaks_text: bool = False  # says text we send it (a sentence, word for word)
    takes_audio: bool = False  # renders speech audio we push
    converses: bool = False  # listens and answers by itself (its own call, or its custom LLM calling us)
    lists_sessions: bool = False  # lists its live sessions, so the cleanup job can reconcile it


class ProviderOptions(BaseModel):
    """Base of every provider's options model: unknown options are refused, not silently kept."""

    model_config = ConfigDict(extra="forbid")


OptionsModel = TypeVar("OptionsModel", bound=ProviderOptions)


class ProviderClass(Protocol):
    """What a provider module declares about itself."""

    name: ClassVar[str]
    label: ClassVar[str]
    settings: ClassVar[tuple[str, ...]]  # the environment settings it needs, its key first
    Options: ClassVar[type[ProviderOptions]]
    capabilities: ClassVar[Capabilities]
    legacy: ClassVar[bool]
    # The published price of a streamed minute in US dollars: the default of the owner's cost estimate.
    minute_price_usd: ClassVar[float]


# The models of a provider call are built when a session first needs one (`defer_build`), not at the cold
# start of every function that imports the provider declarations.
_BUILT_ON_FIRST_USE = ConfigDict(defer_build=True)


class AvatarSpec(BaseModel):
    """What a provider needs to know about the avatar a session is held with."""

    model_config = _BUILT_ON_FIRST_USE

    avatar_id: uuid.UUID
    provider_avatar_id: str | None = None
    voice: dict[str, Any] = Field(default={})
    options: dict[str, Any] = Field(default={})
    persona: str = ""
    greeting: str = ""
    quality: str = "medium"
    language: str = "en"
    max_session_seconds: int = 600
    idle_timeout_seconds: int = 300


class SessionRequest(BaseModel):
    model_config = _BUILT_ON_FIRST_USE

    session_id: uuid.UUID
    avatar: AvatarSpec
    expires_at: datetime
    # For providers that call back into our OpenAI-compatible chat (LiveAvatar FULL): the base URL
    # they append `/v1/chat/completions` (or `/chat/completions`) to, and the session callback token they
    # send as Bearer (signed with WIDGET_TOKEN_SECRET for this session's user and avatar; no avatar API key).
    chat_completions_base_url: str | None = None
    chat_api_key: str | None = Field(default=None, repr=False)
    # What this deployment imported at the provider earlier, by `kind:source id` (LiveAvatar:
    # `voice:<ElevenLabs voice id>` -> LiveAvatar voice id), so it is imported once.
    assets: dict[str, str] = Field(default={})


class ProviderSession(BaseModel):
    """A provider's answer, normalised: what the browser needs, and the provider's own session id."""

    model_config = _BUILT_ON_FIRST_USE

    provider: str
    provider_session_id: str | None = None
    credentials: dict[str, Any] = Field(default={})
    # What the provider created beside the session and must delete when it ends (`release`).
    resources: dict[str, str] = Field(default={}, exclude=True)
    # What it imported for good, to reuse next time (see `SessionRequest.assets`).
    assets: dict[str, str] = Field(default={}, exclude=True)


class LiveSession(BaseModel):
    model_config = _BUILT_ON_FIRST_USE

    provider_session_id: str
    status: str | None = None
    created_at: datetime | None = None


class AvatarProvider(Protocol):
    """One implementation per vendor. Failures raise `ProviderError`; keys never leave the server."""

    @property
    def name(self) -> str: ...

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


def options_of(provider: str, model: type[OptionsModel], spec: AvatarSpec) -> OptionsModel:
    """The avatar's provider options, typed; stored options the model refuses fail the start plainly."""
    try:
        return model.model_validate(spec.options)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "options"
        raise ProviderError(
            provider, f"the avatar's provider option {where} is invalid: {first['msg']}"
        ) from exc
