"""Request and response bodies of the session API."""

import json
import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from functions.core.speech.stt import VoiceInput
from functions.core.turns.reply_parts import Source, Timings

MAX_EVENT_DATA_BYTES = 2048
MAX_EVENT_DATA_FIELDS = 20

Quality = Literal["low", "medium", "high"]
SessionStatus = Literal["active", "ended", "error"]
ClientEventType = Literal["speaking", "listening", "idle", "disconnected"]


class StrictBody(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StartSession(StrictBody):
    avatar_id: uuid.UUID
    quality: Quality | None = None
    # The widget's own id for this browser, kept in its storage: how returning visitors are counted.
    visitor_key: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{8,64}$")
    page_url: str | None = Field(default=None, max_length=2000)


class EndSession(StrictBody):
    reason: str = Field(default="user_ended", min_length=1, max_length=200, pattern=r"^[a-z0-9_:.\- ]+$")


class ClientEvent(StrictBody):
    type: ClientEventType
    # A few fields of context (provider, fallback...), not a payload: visitors can send events too.
    data: dict[str, Any] = Field(default={}, max_length=MAX_EVENT_DATA_FIELDS)

    @field_validator("data")
    @classmethod
    def _small(cls, value: dict[str, Any]) -> dict[str, Any]:
        if len(json.dumps(value, separators=(",", ":"))) > MAX_EVENT_DATA_BYTES:
            raise ValueError(f"event data must be at most {MAX_EVENT_DATA_BYTES} bytes of JSON")
        return value


class StartedSession(BaseModel):
    session_id: uuid.UUID
    provider: str
    credentials: dict[str, Any]
    expires_at: datetime
    voice_input: VoiceInput


class EndedSession(BaseModel):
    status: SessionStatus
    duration_seconds: int | None
    end_reason: str | None


class SessionOut(BaseModel):
    id: uuid.UUID
    avatar_id: uuid.UUID | None
    user_id: uuid.UUID
    status: SessionStatus
    end_reason: str | None
    provider: str
    provider_session_id: str | None
    quality: str | None
    started_at: datetime
    ended_at: datetime | None
    expires_at: datetime
    last_activity_at: datetime
    duration_seconds: int | None
    message_count: int
    by_owner: bool  # the avatar's owner held it (a test from the studio), not a visitor
    page_url: str | None


class SessionPage(BaseModel):
    items: list[SessionOut]
    next_cursor: str | None


class MessageOut(BaseModel):
    id: uuid.UUID
    session_id: uuid.UUID
    role: Literal["user", "assistant"]
    content: str
    turn_id: str | None
    sources: list[Source]
    timings: Timings
    interrupted: bool
    heard_content: str | None
    audio_duration_ms: int | None
    created_at: datetime
    tool_calls: list[dict[str, Any]] = Field(
        default=[],
        description="The reply's tool calls (name, arguments, ok, status, elapsed_ms, result); for the owner,"
        " empty for a visitor",
    )


class KeptAlive(BaseModel):
    status: SessionStatus
    expires_at: datetime
    last_activity_at: datetime


class Usage(BaseModel):
    month_start: datetime
    streaming_seconds_used: int
    monthly_streaming_seconds_limit: int
    active_sessions: int
    concurrent_sessions_limit: int
