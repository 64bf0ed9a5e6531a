"""The chat-model interface: stream an answer's text as it is generated, and the tool calls it makes."""

import asyncio
import re
import uuid
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, Field

Role = Literal["system", "user", "assistant", "tool"]
_PIECE = re.compile(r"\S+\s*")


class ToolCall(BaseModel):
    """One complete call the model asked for: `arguments` is the JSON text it generated, unchecked."""

    id: str
    name: str
    arguments: str = ""


class ChatMessage(BaseModel):
    """One turn of a conversation, in the shape every OpenAI-compatible server accepts.

    An assistant message may carry the tool calls it made; a `tool` message answers one of them.
    """

    role: Role
    content: str
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None

    def wire(self) -> dict[str, Any]:
        """As the chat completions API takes it."""
        message: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.tool_calls:
            message["content"] = self.content or None
            message["tool_calls"] = [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                for c in self.tool_calls
            ]
        if self.tool_call_id is not None:
            message["tool_call_id"] = self.tool_call_id
        return message


class Passage(BaseModel):
    """A retrieved knowledge-base chunk an answer may be grounded on; `score` is higher when more relevant."""

    chunk_id: uuid.UUID
    document_id: uuid.UUID | None = None
    document_title: str
    heading_path: list[str] = Field(default=[])
    content: str
    score: float


@dataclass
class TokenUsage:
    """The tokens a model reported for one reply (summed over its requests when it called tools); filled
    in by `ChatModel.stream` as the stream ends. Stays None where the model reports nothing (an older
    compatible server, the offline answerer)."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None

    def add(self, other: "TokenUsage") -> None:
        if other.prompt_tokens is not None:
            self.prompt_tokens = (self.prompt_tokens or 0) + other.prompt_tokens
        if other.completion_tokens is not None:
            self.completion_tokens = (self.completion_tokens or 0) + other.completion_tokens


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
    ) -> AsyncGenerator[str, None]:
        """Stream the assistant's reply to `messages` as text deltas, in order.

        Joining the deltas gives the whole reply; a delta may end mid-word or mid-sentence. `None` leaves
        `max_tokens` and `temperature` to the model's defaults. Closing the iterator early abandons the
        request. A failure before the first delta may be retried by the implementation; a failure after it
        raises, since text already handed out cannot be taken back. Given `usage`, the tokens the model
        reports for the reply are added there.
        """
        ...


@runtime_checkable
class ToolCallingChat(ChatModel, Protocol):
    """A model that can be offered tools: its turn streams text deltas and, at the end, the calls it made."""

    def stream_turn(
        self,
        messages: list[ChatMessage],
        tools: list[dict[str, Any]],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
        usage: TokenUsage | None = None,
    ) -> AsyncGenerator[str | ToolCall, None]:
        """Like `stream`, with `tools` offered in OpenAI's function format; each complete call is yielded
        once its arguments have fully arrived, after the text deltas."""
        ...


async def stream_words(text: str) -> AsyncGenerator[str, None]:
    """A fixed text streamed as a model streams its answer, a word at a time."""
    for m in _PIECE.finditer(text):
        yield m.group()
        await asyncio.sleep(0)  # let the consumer speak a finished sentence while the rest is "generated"
