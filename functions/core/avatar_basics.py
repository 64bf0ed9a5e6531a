"""What the other functions know of an avatar without its configuration models (functions/core/avatars.py,
which only the avatars function routes): its voice and the built-in avatar's appearance, and the voice
input default."""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from functions.core.settings import AvatarProviderName

# How long the visitor's silence ends an utterance in voice input; shorter answers sooner, longer lets
# slow speakers pause between words. 500 ms is what voice agents default to: LiveKit Agents' endpointing
# `minDelay` and OpenAI Realtime's server VAD `silence_duration_ms` (Pipecat's VAD waits 0.8 s, less with
# its turn model). The one default: the web client reads it from /v1/config, the database from a migration.
END_OF_SPEECH_DEFAULT_MS = 500


class Voice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provider: Literal[AvatarProviderName, "elevenlabs"] = "local"
    voice_id: str | None = Field(default=None, max_length=200)
    settings: dict[str, Any] = Field(default={})


Look = Literal["ada", "kai", "noor"]


class Appearance(BaseModel):
    """How the built-in avatar looks: an illustrated character and the theme colour of its clothes."""

    model_config = ConfigDict(extra="forbid")

    look: Look = "ada"
    theme: str = Field(default="#2563eb", pattern=r"^#[0-9a-fA-F]{6}$")
