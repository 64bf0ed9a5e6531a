"""The chat-model interface: stream an answer's text as it is generated."""

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Literal, Protocol

from pydantic import BaseModel, Field

Role = Literal["system", "user", "assistant"]


class ChatMessage(BaseModel):
    """One turn of a conversation, in the shape every OpenAI-compatible server accepts."""

    role: Role
    content: str


class Passage(BaseModel):
    """A retrieved knowledge-base chunk an answer may be grounded on; `score` is higher when more relevant."""

    chunk_id: uuid.UUID
    document_id: uuid.UUID | None = None
    document_title: str
    heading_path: list[str] = Field(default_factory=list)
    content: str
    score: float


@dataclass
class TokenUsage:
    """The tokens a model reported for one reply; filled in by `ChatModel.stream` when the stream ends.

    Stays None where the model reports nothing (an older compatible server, the offline answerer)."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None


class ChatModel(Protocol):
    """One implementation per kind of model. Failures raise `ProviderError`; keys never leave the server."""

    name: str

    def stream(
        self,
        messages: list[ChatMessage],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
        usage: TokenUsage | None = None,
    ) -> AsyncIterator[str]:
        """Stream the assistant's reply to `messages` as text deltas, in order.

        Joining the deltas gives the whole reply; a delta may end mid-word or mid-sentence. `None` leaves
        `max_tokens` and `temperature` to the model's defaults. Closing the iterator early abandons the
        request. A failure before the first delta may be retried by the implementation; a failure after it
        raises, since text already handed out cannot be taken back. Given `usage`, the tokens the model
        reports for the reply are written there.
        """
        ...
