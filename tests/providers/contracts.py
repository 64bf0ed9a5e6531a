"""Typed models of the providers' documented request schemas; the fakes refuse what they refuse.

A body the real API would answer 422 fails here the same way, so a wrong field name, a value outside an
enum or a missing required field fails a test instead of the first call with a real key. Extra fields are
forbidden, so a misspelt optional field fails too.

LiveAvatar: docs.liveavatar.com/openapi.json ("Live avatar API" 0.1.0) and its api-reference pages:
sessions/create-session-token, sessions/stop-session, sessions/keep-session-alive, secrets/create-secret,
llm-configurations/create-llm-configuration, contexts/create-context, voices/import-third-party-voice.
HeyGen: docs.heygen.com/reference/new-session, …/create-session-token, …/send-task, …/close-session,
…/keep-alive; the lowercase emotion values of `@heygen/streaming-avatar` 2.1.0 (`VoiceEmotion`).
Simli: docs.simli.com/api-reference/compose-session-token (`StartStreamingSessionRequest`).
Tavus: docs.tavus.io/api-reference/conversations/create-conversation.
"""

import uuid
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class LiveAvatarSecret(Strict):
    secret_type: Literal["OPENAI_API_KEY", "ELEVENLABS_API_KEY", "GEMINI_API_KEY"]
    secret_value: str = Field(min_length=1)
    secret_name: str = Field(min_length=1)


class LiveAvatarLlmConfiguration(Strict):
    display_name: str = Field(min_length=1, max_length=255)
    model_name: str = Field(min_length=1, max_length=255)
    secret_id: str = Field(min_length=1, max_length=36)
    base_url: str | None = None


class LiveAvatarContextLink(Strict):
    url: str
    faq: str | None = None


class LiveAvatarContext(Strict):
    name: str = Field(min_length=1)
    prompt: str = Field(min_length=1)
    opening_text: str | None = None
    links: list[LiveAvatarContextLink] | None = None


class LiveAvatarThirdPartyVoice(Strict):
    secret_id: str = Field(min_length=1)
    voice_id: str = Field(min_length=1)


class LiveAvatarVideoSettings(Strict):
    quality: Literal["very_high", "high", "medium", "low"] | None = None
    encoding: Literal["VP8", "H264"] | None = None


class LiveAvatarVoiceSettings(Strict):
    provider: Literal["elevenLabs"] | None = None
    speed: float | None = None
    stability: float | None = None
    similarity_boost: float | None = None
    style: float | None = None
    use_speaker_boost: bool | None = None
    model: str | None = None


class LiveAvatarPersona(Strict):
    # A LiveAvatar voice and context are UUIDs; the language a bare code (`en`, not `en-US`).
    voice_id: str | None = Field(
        default=None, pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
    )
    context_id: str | None = Field(
        default=None, pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
    )
    language: str | None = Field(default=None, pattern=r"^[a-z]{2,3}$")
    voice_settings: LiveAvatarVoiceSettings | None = None
    stt_config: dict[str, Any] | None = None


class LiveAvatarFullToken(Strict):
    mode: Literal["FULL"]
    avatar_id: str = Field(pattern=r"^[0-9a-f-]{36}$")
    avatar_persona: LiveAvatarPersona
    is_sandbox: bool = False
    video_settings: LiveAvatarVideoSettings | None = None
    max_session_duration: int | None = None
    interactivity_type: Literal["CONVERSATIONAL", "PUSH_TO_TALK"] | None = None
    llm_configuration_id: str | None = None


class LiveAvatarLiteToken(Strict):
    mode: Literal["LITE"]
    avatar_id: str = Field(pattern=r"^[0-9a-f-]{36}$")
    is_sandbox: bool = False
    video_settings: LiveAvatarVideoSettings | None = None


class LiveAvatarStop(Strict):
    session_id: str | None = None
    reason: Literal[
        "UNKNOWN",
        "USER_DISCONNECTED",
        "SERVER_ERROR",
        "IDLE_TIMEOUT",
        "NO_CREDITS",
        "USER_CLOSED",
        "AVATAR_DELETED",
        "MAX_DURATION_REACHED",
        "ZOMBIE_SESSION_REAP",
        "AGENT_HANG_UP",
    ]


class LiveAvatarKeepAlive(Strict):
    session_id: str | None = None


class HeyGenVoice(Strict):
    voice_id: str | None = None
    rate: float | None = Field(default=None, ge=0.5, le=1.5)
    emotion: Literal["excited", "serious", "friendly", "soothing", "broadcaster"] | None = None
    elevenlabs_settings: dict[str, Any] | None = None


class HeyGenNewSession(Strict):
    quality: Literal["high", "medium", "low"] | None = None
    avatar_id: str | None = None
    avatar_name: str | None = None
    voice: HeyGenVoice | None = None
    stt_settings: dict[str, Any] | None = None
    video_encoding: Literal["H264", "VP8"] | None = None
    knowledge_base: str | None = None
    knowledge_base_id: str | None = None
    version: Literal["v2"] | None = None
    disable_idle_timeout: bool | None = None
    activity_idle_timeout: int | None = Field(default=None, ge=30, le=3600)
    language: str | None = None


class HeyGenTask(Strict):
    session_id: str
    text: str = Field(min_length=1, max_length=1000)
    task_type: Literal["repeat", "chat", "talk"] | None = None
    task_mode: Literal["sync", "async"] | None = None


class HeyGenSessionOnly(Strict):
    session_id: str = Field(min_length=1)


class SimliToken(Strict):
    faceId: str = Field(min_length=1)
    apiVersion: str | None = None
    sessionAggregator: str | None = None
    handleSilence: bool | None = None
    maxSessionLength: int | None = Field(default=None, gt=0)
    maxIdleTime: int | None = Field(default=None, gt=0)
    startFrame: int | None = None
    audioInputFormat: str | None = None
    model: Literal["fasttalk", "artalk"] | None = None


class TavusProperties(Strict):
    max_call_duration: int | None = Field(default=None, gt=0, le=3600)
    participant_left_timeout: int | None = Field(default=None, ge=0)
    participant_absent_timeout: int | None = Field(default=None, ge=0)
    enable_recording: bool | None = None
    enable_closed_captions: bool | None = None
    enable_transcription: bool | None = None
    apply_greenscreen: bool | None = None
    # A full language name ("english"), not a code.
    language: str | None = Field(default=None, pattern=r"^[a-z]+( [a-z]+)*$|^multilingual$")
    recording_s3_bucket_name: str | None = None
    recording_s3_bucket_region: str | None = None
    aws_assume_role_arn: str | None = None


class TavusConversation(Strict):
    replica_id: str | None = None
    persona_id: str | None = None
    audio_only: bool | None = None
    callback_url: str | None = None
    conversation_name: str | None = None
    conversational_context: str | None = None
    custom_greeting: str | None = None
    memory_stores: list[str] | None = None
    document_ids: list[str] | None = None
    require_auth: bool | None = None
    test_mode: bool | None = None
    properties: TavusProperties | None = None


def liveavatar_token_model(body: Any) -> type[Strict]:
    mode = body.get("mode") if isinstance(body, dict) else None
    return LiveAvatarFullToken if mode == "FULL" else LiveAvatarLiteToken


def refusal(model: type[BaseModel], body: Any) -> httpx.Response | None:
    """The 422 the provider answers for a body its schema refuses (FastAPI's shape), else None."""
    try:
        model.model_validate(body)
    except ValidationError as exc:
        detail = [
            {"type": error["type"], "loc": ["body", *error["loc"]], "msg": error["msg"]}
            for error in exc.errors()
        ]
        return httpx.Response(422, json={"detail": detail})
    return None


def new_id() -> str:
    return str(uuid.uuid4())
