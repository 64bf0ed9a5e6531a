"""Request and response bodies of a conversation turn."""

import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from functions.core.text.speakable import citations, speakable
from functions.core.turns.ids import TURN_ID_PATTERN as TURN_ID_PATTERN
from functions.core.turns.reply_parts import Source, Timings

# Some character that is not whitespace, by the reckoning of JSON Schema's regexes and pydantic's alike.
NOT_BLANK = r"[^\s\x85\ufeff]"


class TurnRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    turn_id: str = Field(min_length=1, max_length=100, pattern=TURN_ID_PATTERN)
    # Something to answer: not blank, and no NUL (a multipart form's text does not pass the JSON check).
    text: str = Field(min_length=1, max_length=4000, pattern=NOT_BLANK)

    @field_validator("text")
    @classmethod
    def _storable(cls, value: str) -> str:
        if "\x00" in value:
            raise ValueError("text must not contain NUL characters")
        return value


class Interrupt(BaseModel):
    model_config = ConfigDict(extra="forbid")

    heard_text: str = Field(default="", max_length=20000)


class Sentence(BaseModel):
    """One sentence of a reply: `text` as written (for the transcript, citations included), `speech` as it
    is to be said (no markup, no citation markers) and the source numbers it cites."""

    index: int
    text: str
    speech: str
    citations: list[int]

    @classmethod
    def of(cls, index: int, text: str) -> "Sentence":
        return cls(index=index, text=text, speech=speakable(text), citations=citations(text))


class TurnResult(BaseModel):
    turn_id: str
    user_message_id: uuid.UUID
    assistant_message_id: uuid.UUID | None
    reply: str
    sentences: list[Sentence]
    sources: list[Source]
    timings: Timings
    offline: bool
    interrupted: bool = Field(
        default=False,
        description="The reply was cut off (the session ended, or the client left, while it streamed);"
        " `reply` is what was generated before that. A replay of such a turn says so too.",
    )
    tool_calls: list[dict[str, Any]] = Field(
        default=[],
        description="The avatar's tool calls in this reply: name, arguments, ok, status, elapsed_ms (the"
        " endpoints' answers are kept for the owner's History, not sent to the caller)",
    )
    action: Literal["handoff", "end"] | None = Field(
        default=None,
        description="What the conversation does after this reply: `end` (the visitor said goodbye: end the"
        " session once the reply is spoken) or `handoff` (a person on the team was notified)",
    )


class TurnUser(BaseModel):
    """The turn's question as stored (for an audio turn, what was heard)."""

    turn_id: str
    message_id: uuid.UUID
    text: str


class TurnSources(BaseModel):
    sources: list[Source]


class TurnDelta(BaseModel):
    """The next piece of the reply as the model wrote it."""

    text: str


class TurnDone(BaseModel):
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)  # always sent

    assistant_message_id: uuid.UUID | None = Field(
        description="The stored reply; null for a reply cut off before its first word"
    )
    reply: str
    timings: Timings
    offline: bool
    interrupted: bool
    tool_calls: list[dict[str, Any]] = Field(default=[])
    action: Literal["handoff", "end"] | None = None


class Problem(BaseModel):
    """Why the turn failed after its question was stored (the `Problem` of an error response)."""

    model_config = ConfigDict(extra="allow")

    status: int
    code: str
    detail: str


class _Event(BaseModel):
    # `event` is always sent, so the generated TypeScript types narrow a union on it.
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)


class UserEvent(_Event):
    event: Literal["user"] = "user"
    data: TurnUser


class SourcesEvent(_Event):
    event: Literal["sources"] = "sources"
    data: TurnSources


class DeltaEvent(_Event):
    event: Literal["delta"] = "delta"
    data: TurnDelta


class SentenceEvent(_Event):
    event: Literal["sentence"] = "sentence"
    data: Sentence


class DoneEvent(_Event):
    event: Literal["done"] = "done"
    data: TurnDone


class ErrorEvent(_Event):
    event: Literal["error"] = "error"
    data: Problem


# One server-sent event of a turn: `event` is the SSE event name, `data` its JSON. A turn sends `user`,
# then `sources`, then `delta` and `sentence` events as the reply is written, and ends with `done` or
# `error`.
TurnEvent = Annotated[
    UserEvent | SourcesEvent | DeltaEvent | SentenceEvent | DoneEvent | ErrorEvent,
    Field(discriminator="event"),
]


class Interrupted(BaseModel):
    assistant_message_id: uuid.UUID
    heard_content: str
