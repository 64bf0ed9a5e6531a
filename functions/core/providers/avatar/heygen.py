"""HeyGen Interactive Avatar (`/v1/streaming.*`): the backend mints the token and creates the session.

Creating the session here (`streaming.new`, as `startAvatar(req, sessionInfo)` of the SDK allows)
rather than in the browser gives the backend the provider session id, so it can stop, keep alive
and reconcile it, and a client holding the token cannot open sessions of its own.
"""

from typing import Any, ClassVar, Literal

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
from functions.core.text.sentences import split_at_clauses

# The code of HeyGen's answer to a stop of a session that does not exist (any more).
SESSION_GONE = 400004
# streaming.task fails above 1000 characters (HeyGen StreamingAvatar #18).
TASK_TEXT_LIMIT = 1000


class HeyGenElevenLabsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stability: float | None = Field(default=None, ge=0, le=1)
    similarity_boost: float | None = Field(default=None, ge=0, le=1)
    style: float | None = Field(default=None, ge=0, le=1)
    use_speaker_boost: bool | None = None
    model_id: Literal["eleven_flash_v2_5", "eleven_multilingual_v2"] | None = None


class HeyGenOptions(ProviderOptions):
    """docs.heygen.com/reference/new-session (`voice`, `video_encoding`); `server_speech` is ours."""

    rate: float | None = Field(default=None, ge=0.5, le=1.5, description="Speaking rate")
    emotion: Literal["excited", "serious", "friendly", "soothing", "broadcaster"] | None = Field(
        default=None, description="Voice emotion"
    )
    elevenlabs_settings: HeyGenElevenLabsSettings | None = None
    video_encoding: Literal["H264", "VP8"] | None = Field(default=None, description="Video encoding")
    server_speech: bool = Field(
        default=False, description="Speak each sentence from the backend (streaming.task)"
    )

    @field_validator("emotion", mode="before")
    @classmethod
    def _lowercase(cls, value: object) -> object:
        # HeyGen's emotion values are lowercase (the SDK's VoiceEmotion); older avatars stored "Friendly".
        return value.lower() if isinstance(value, str) else value


def _clamp(value: int, low: int, high: int) -> int:
    return max(low, min(high, value))


class HeyGenProvider(KeyedProvider):
    """Token (`x-api-key`) → `streaming.new` (Bearer token, `version: v2`); the browser starts it."""

    name: ClassVar[str] = "heygen"
    label: ClassVar[str] = "HeyGen Interactive Avatar (legacy)"
    settings: ClassVar[tuple[str, ...]] = ("HEYGEN_API_KEY", "HEYGEN_API_BASE")
    Options: ClassVar[type[ProviderOptions]] = HeyGenOptions
    capabilities: ClassVar[Capabilities] = Capabilities(speaks_text=True, lists_sessions=True)
    # HeyGen recommends LiveAvatar instead ("Interactive Avatar is getting upgraded to LiveAvatar").
    legacy: ClassVar[bool] = True
    minute_price_usd: ClassVar[float] = 0.10  # one API credit per speaking minute
    key_header: ClassVar[str] = "x-api-key"

    def _new_session_body(self, request: SessionRequest) -> dict[str, Any]:
        avatar = request.avatar
        options = options_of(self.name, HeyGenOptions, avatar)
        body: dict[str, Any] = {
            "version": "v2",
            "quality": avatar.quality,
            "activity_idle_timeout": _clamp(avatar.idle_timeout_seconds, 30, 3600),
            "language": avatar.language,
        }
        if avatar.provider_avatar_id:
            # The docs name it avatar_id; the SDK still sends avatar_name.
            body["avatar_id"] = body["avatar_name"] = avatar.provider_avatar_id
        voice = options.model_dump(include={"rate", "emotion", "elevenlabs_settings"}, exclude_none=True)
        if avatar.voice.get("voice_id"):
            voice["voice_id"] = avatar.voice["voice_id"]
        if voice:
            body["voice"] = voice
        if options.video_encoding:
            body["video_encoding"] = options.video_encoding
        return body

    async def create_session(self, request: SessionRequest) -> ProviderSession:
        minted = await self._http.call("POST", "/v1/streaming.create_token", json_body={})
        token = require_str(self.name, minted, "token")
        created = await self._http.call(
            "POST",
            "/v1/streaming.new",
            json_body=self._new_session_body(request),
            bearer=token,
        )
        session = unwrap(created)
        session_id = require_str(self.name, created, "session_id")
        options = options_of(self.name, HeyGenOptions, request.avatar)
        credentials: dict[str, Any] = {
            "api_base": self._http.base_url,
            "token": token,
            "session_id": session_id,
            "url": session.get("url"),
            "access_token": session.get("access_token"),
            "session_duration_limit": session.get("session_duration_limit"),
            "server_speech": options.server_speech,
        }
        return ProviderSession(provider=self.name, provider_session_id=session_id, credentials=credentials)

    async def keep_alive(self, provider_session_id: str) -> None:
        await self._http.call(
            "POST",
            "/v1/streaming.keep_alive",
            json_body={"session_id": provider_session_id},
            idempotent=True,
        )

    async def stop_session(self, provider_session_id: str) -> None:
        """Stopping a session that no longer exists answers HTTP 400 with code 400004
        ("Session does not exist"): it is already stopped (by the browser's stopAvatar, or a timeout)."""
        try:
            await self._http.call(
                "POST",
                "/v1/streaming.stop",
                json_body={"session_id": provider_session_id},
                idempotent=True,
                already_done=frozenset({404, 410}),
            )
        except ProviderError as exc:
            if (
                exc.provider_status == 400
                and isinstance(exc.body, dict)
                and exc.body.get("code") == SESSION_GONE
            ):
                return
            raise

    async def list_sessions(self) -> list[LiveSession] | None:
        answer = await self._http.call("GET", "/v1/streaming.list", idempotent=True)
        sessions = unwrap(answer).get("sessions") or []
        return [
            LiveSession(
                provider_session_id=item["session_id"],
                status=item.get("status"),
                created_at=parse_time(item.get("created_at")),
            )
            for item in sessions
            if isinstance(item, dict) and isinstance(item.get("session_id"), str)
        ]

    async def speak(self, provider_session_id: str, text: str) -> None:
        """Say `text` word for word (`repeat`, async) in a started session; long text goes in pieces."""
        for piece in split_at_clauses(text, TASK_TEXT_LIMIT):
            await self._http.call(
                "POST",
                "/v1/streaming.task",
                json_body={
                    "session_id": provider_session_id,
                    "text": piece,
                    "task_type": "repeat",
                    "task_mode": "async",
                },
            )
