"""HeyGen LiveAvatar (`api.liveavatar.com`): a session token in FULL or LITE mode; the browser starts it.

FULL: LiveAvatar listens, thinks and speaks, the thinking done by our OpenAI-compatible chat completions
for the session. Per session we create, and delete when it ends (`release`): a context made from the
avatar's persona and greeting (without one a FULL session stays silent), a secret holding the session's
callback token (signed with WIDGET_TOKEN_SECRET, good for this session only), and an LLM configuration
pointing at our chat completions with that secret. An ElevenLabs voice is imported once as a LiveAvatar
voice. LITE (formerly CUSTOM): we send the audio, LiveAvatar renders the video.

References (docs.liveavatar.com): api-reference/secrets/create-secret (`secret_type` enum),
api-reference/llm-configurations/create-llm-configuration (`POST /v1/llm-configurations`),
docs/custom-llm-integration (LiveAvatar calls `<base_url>/v1/chat/completions`),
api-reference/contexts/*, api-reference/voices/import-third-party-voice, openapi.json (session token,
paginated session list).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Self
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, field_validator

from functions.core.errors import ProviderError
from functions.core.providers.avatar.base import (
    Capabilities,
    LiveSession,
    ProviderOptions,
    ProviderSession,
    SessionRequest,
    options_of,
)
from functions.core.providers.avatar.http import KeyedProvider, parse_time, require_str, unwrap
from functions.core.settings import Settings

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

# The SDK treats code 1000 as success while the OpenAPI shows 100 (PROVIDERS.md §2.3, UNCONFIRMED).
_SUCCESS_CODES = frozenset({100, 1000})
_ENDED_STATUSES = frozenset({"closed", "closing", "stopped", "ended", "failed", "error"})
# Our chat completions speak the OpenAI protocol, so the callback token is stored as an OpenAI key
# (the reference's enum is OPENAI_API_KEY | ELEVENLABS_API_KEY | GEMINI_API_KEY).
CALLBACK_SECRET_TYPE = "OPENAI_API_KEY"  # noqa: S105 (a type name, not a secret)
VOICE_SECRET_TYPE = "ELEVENLABS_API_KEY"  # noqa: S105 (a type name, not a secret)
PAGE_SIZE = 100  # the list's maximum page size
MAX_PAGES = 50
DEFAULT_PROMPT = "You are a helpful assistant."
# Deleted in this order: the LLM configuration uses the secret.
_RELEASE_ORDER = (
    ("llm_configuration_id", "/v1/llm-configurations/"),
    ("secret_id", "/v1/secrets/"),
    ("context_id", "/v1/contexts/"),
)


class LiveAvatarVoiceSettings(BaseModel):
    """`avatar_persona.voice_settings` of the session token (docs.liveavatar.com openapi.json)."""

    model_config = ConfigDict(extra="forbid")

    provider: Literal["elevenLabs"] | None = None
    speed: float | None = Field(default=None, gt=0)
    stability: float | None = Field(default=None, ge=0, le=1)
    similarity_boost: float | None = Field(default=None, ge=0, le=1)
    style: float | None = Field(default=None, ge=0, le=1)
    use_speaker_boost: bool | None = None
    model: str | None = None


class LiveAvatarOptions(ProviderOptions):
    """The session token's options (docs.liveavatar.com api-reference/sessions/create-session-token)."""

    mode: Literal["FULL", "LITE"] = Field(
        default="LITE",
        description="FULL: LiveAvatar converses with our knowledge base; LITE: speaks our audio",
    )
    sandbox: bool = Field(default=False, description="Free ~1-minute sandbox sessions")
    video_encoding: Literal["VP8", "H264"] | None = Field(default=None, description="Video encoding")
    voice_settings: LiveAvatarVoiceSettings | None = None
    stt_config: dict[str, Any] | None = None
    interactivity_type: Literal["CONVERSATIONAL", "PUSH_TO_TALK"] | None = Field(
        default=None, description="FULL: how the user takes turns"
    )
    llm_model: str | None = Field(
        default=None, min_length=1, max_length=255, description="FULL: the model name LiveAvatar reports"
    )

    @field_validator("mode", mode="before")
    @classmethod
    def _mode(cls, value: object) -> object:
        # LITE was called CUSTOM before (SDK commit "rename CUSTOM => LITE mode").
        if isinstance(value, str):
            value = value.upper()
            return "LITE" if value == "CUSTOM" else value
        return value


def bare_language(language: str) -> str:
    """LiveAvatar takes bare language codes: `en`, not `en-US`."""
    return language.split("-", 1)[0].lower()


class LiveAvatarProvider(KeyedProvider):
    """`POST /v1/sessions/token` with `X-API-KEY`; stop, keep-alive and list with the same key."""

    name: ClassVar[str] = "liveavatar"
    label: ClassVar[str] = "HeyGen LiveAvatar"
    settings: ClassVar[tuple[str, ...]] = ("LIVEAVATAR_API_KEY", "LIVEAVATAR_API_BASE")
    Options: ClassVar[type[ProviderOptions]] = LiveAvatarOptions
    capabilities: ClassVar[Capabilities] = Capabilities(
        speaks_text=True, takes_audio=True, converses=True, lists_sessions=True
    )
    minute_price_usd: ClassVar[float] = 0.10  # LITE: one credit per minute at the $0.10 overage
    key_header: ClassVar[str] = "X-API-KEY"

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str,
        timeout: float,
        client: httpx.AsyncClient | None = None,
        elevenlabs_api_key: str | None = None,
    ) -> None:
        super().__init__(api_key=api_key, base_url=base_url, timeout=timeout, client=client)
        self._elevenlabs_api_key = elevenlabs_api_key

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        provider = super().from_settings(settings)
        # FULL mode imports an avatar's ElevenLabs voice with this deployment's ElevenLabs key.
        voice_key = settings.elevenlabs_api_key
        provider._elevenlabs_api_key = voice_key.get_secret_value() if voice_key else None
        return provider

    async def create_session(self, request: SessionRequest) -> ProviderSession:
        avatar = request.avatar
        options = options_of(self.name, LiveAvatarOptions, avatar)
        mode = options.mode
        if not avatar.provider_avatar_id:
            raise ProviderError(self.name, "the avatar has no provider_avatar_id (a LiveAvatar avatar id)")
        video: dict[str, Any] = {"quality": avatar.quality}
        if options.video_encoding:
            video["encoding"] = options.video_encoding
        body: dict[str, Any] = {
            "mode": mode,
            "avatar_id": avatar.provider_avatar_id,
            "is_sandbox": options.sandbox,
            "video_settings": video,
        }
        resources: dict[str, str] = {}
        assets: dict[str, str] = {}
        try:
            if mode == "FULL":
                body.update(await self._full_mode(request, options, resources, assets))
            answer = await self._http.call("POST", "/v1/sessions/token", json_body=body)
            if isinstance(answer, dict) and answer.get("code") not in _SUCCESS_CODES:
                log.warning("liveavatar token answered code %r", answer.get("code"))
            session_id = require_str(self.name, answer, "session_id")
            session_token = require_str(self.name, answer, "session_token")
        except Exception:
            # Nothing made for a session that never started may stay behind at LiveAvatar.
            await self.release(resources)
            raise
        return ProviderSession(
            provider=self.name,
            provider_session_id=session_id,
            credentials={
                "mode": mode,
                "api_base": self._http.base_url,
                "session_id": session_id,
                "session_token": session_token,
            },
            resources=resources,
            assets=assets,
        )

    async def _full_mode(
        self,
        request: SessionRequest,
        options: LiveAvatarOptions,
        resources: dict[str, str],
        assets: dict[str, str],
    ) -> dict[str, Any]:
        base_url, key = request.chat_completions_base_url, request.chat_api_key
        if not base_url or not key:
            raise ProviderError(
                self.name,
                "FULL mode needs our chat-completions URL (PUBLIC_API_BASE) and WIDGET_TOKEN_SECRET to sign"
                " its session token; without them LiveAvatar would answer without the avatar's knowledge:"
                " use LITE instead",
            )
        avatar = request.avatar
        persona: dict[str, Any] = {"language": bare_language(avatar.language)}
        voice_id = await self._voice(request, assets)
        if voice_id:
            persona["voice_id"] = voice_id
        persona.update(options.model_dump(include={"voice_settings", "stt_config"}, exclude_none=True))
        label = f"avatar-studio-{request.session_id}"
        context = await self._http.call(
            "POST",
            "/v1/contexts",
            json_body={
                "name": label,
                "prompt": avatar.persona.strip() or DEFAULT_PROMPT,
                "opening_text": avatar.greeting.strip(),
            },
        )
        persona["context_id"] = resources["context_id"] = require_str(self.name, context, "id", "context_id")
        secret = await self._http.call(
            "POST",
            "/v1/secrets",
            json_body={"secret_type": CALLBACK_SECRET_TYPE, "secret_value": key, "secret_name": label},
        )
        resources["secret_id"] = require_str(self.name, secret, "id", "secret_id")
        created = await self._http.call(
            "POST",
            "/v1/llm-configurations",
            json_body={
                "display_name": label,
                "model_name": options.llm_model or f"avatar-{avatar.avatar_id}",
                "secret_id": resources["secret_id"],
                "base_url": base_url,
            },
        )
        resources["llm_configuration_id"] = require_str(self.name, created, "id", "llm_configuration_id")
        full: dict[str, Any] = {
            "avatar_persona": persona,
            "max_session_duration": avatar.max_session_seconds,
            "llm_configuration_id": resources["llm_configuration_id"],
        }
        if options.interactivity_type:
            full["interactivity_type"] = options.interactivity_type
        return full

    async def _voice(self, request: SessionRequest, assets: dict[str, str]) -> str | None:
        """A LiveAvatar voice id: the avatar's own, or its ElevenLabs voice imported once."""
        voice = request.avatar.voice
        voice_id = voice.get("voice_id")
        if not isinstance(voice_id, str) or not voice_id:
            return None
        if voice.get("provider") != "elevenlabs":
            return voice_id
        known = request.assets.get(f"voice:{voice_id}")
        if known:
            return known
        if not self._elevenlabs_api_key:
            raise ProviderError(
                self.name,
                "this avatar speaks with an ElevenLabs voice, which LiveAvatar must import with our"
                " ElevenLabs key: set ELEVENLABS_API_KEY, or pick a LiveAvatar voice",
            )
        secret = await self._http.call(
            "POST",
            "/v1/secrets",
            json_body={
                "secret_type": VOICE_SECRET_TYPE,
                "secret_value": self._elevenlabs_api_key,
                "secret_name": f"avatar-studio-elevenlabs-{voice_id}",
            },
        )
        imported = await self._http.call(
            "POST",
            "/v1/voices/third_party",
            json_body={"secret_id": require_str(self.name, secret, "id", "secret_id"), "voice_id": voice_id},
        )
        assets[f"voice:{voice_id}"] = found = require_str(self.name, imported, "id", "voice_id")
        return found

    async def release(self, resources: dict[str, str]) -> dict[str, str]:
        """Delete the session's LLM configuration, secret and context; a 404 is one already gone."""
        left: dict[str, str] = {}
        for name, path in _RELEASE_ORDER:
            resource_id = resources.get(name)
            if not resource_id:
                continue
            try:
                await self._http.call(
                    "DELETE",
                    path + quote(resource_id, safe=""),
                    idempotent=True,
                    already_done=frozenset({404, 410}),
                )
            except ProviderError as exc:
                log.warning("deleting liveavatar %s %s failed: %s", name, resource_id, exc.detail)
                left[name] = resource_id
        return left

    async def keep_alive(self, provider_session_id: str) -> None:
        await self._http.call(
            "POST",
            "/v1/sessions/keep-alive",
            json_body={"session_id": provider_session_id},
            idempotent=True,
        )

    async def stop_session(self, provider_session_id: str) -> None:
        await self._http.call(
            "POST",
            "/v1/sessions/stop",
            json_body={"session_id": provider_session_id, "reason": "USER_CLOSED"},
            idempotent=True,
            already_done=frozenset({404, 410}),
        )

    async def list_sessions(self) -> list[LiveSession] | None:
        """Every page of the active sessions (the list is paginated, 20 a page by default)."""
        live: list[LiveSession] = []
        for page in range(1, MAX_PAGES + 1):
            answer = await self._http.call(
                "GET",
                "/v1/sessions",
                params={"type": "active", "page": str(page), "page_size": str(PAGE_SIZE)},
                idempotent=True,
            )
            items = _items(answer)
            for item in items:
                session_id = item.get("session_id") or item.get("id")
                status = item.get("status")
                if not isinstance(session_id, str) or str(status).lower() in _ENDED_STATUSES:
                    continue
                live.append(
                    LiveSession(
                        provider_session_id=session_id,
                        status=None if status is None else str(status),
                        created_at=parse_time(item.get("created_at")),
                    )
                )
            if not unwrap(answer).get("next") or not items:
                break
        return live


def _items(answer: Any) -> list[dict[str, Any]]:
    """The sessions of a list answer: bare, in `data`, or paginated under `results`/`sessions`."""
    for _ in range(3):
        if isinstance(answer, list):
            return [item for item in answer if isinstance(item, dict)]
        if not isinstance(answer, dict):
            return []
        answer = next((answer[key] for key in ("data", "results", "sessions") if key in answer), None)
    return []
