"""The prompt of a turn: the avatar's persona, numbered sources and a bounded window of history."""

import re
from collections.abc import Sequence
from dataclasses import dataclass

from functions.core.llm.base import ChatMessage, Passage

# Said, in any mode, by a grounded-only avatar when retrieval found nothing: no model call needed.
GROUNDED_REFUSAL = "I don't know that from my knowledge base, so I can't answer it."

_SPOKEN = (
    "Your replies are spoken aloud by a talking avatar: answer in plain sentences, briefly (two to four "
    "sentences unless asked for more), with no Markdown, lists, tables, code or URLs read out."
)
_CITE = "Cite the sources you use with their numbers in square brackets, like [1]."
_GROUNDED = (
    "Answer only from the numbered sources. If they do not contain the answer, say plainly that you "
    "do not know that from your knowledge base, and do not guess."
)
_OPEN = (
    "Prefer the numbered sources when they are relevant; otherwise answer from general knowledge and "
    "say so when you are unsure."
)
MAX_SOURCE_CHARS = 2400
_YOU_ARE = re.compile(r"^\s*you\s+are\s+(?P<who>[^.!?\n]+)", re.IGNORECASE)


@dataclass(frozen=True)
class Persona:
    name: str
    persona: str
    language: str
    grounded_only: bool


def introduction(persona: Persona) -> str:
    """How the avatar says who it is without a model: the persona's opening "You are ..." in the first
    person ("You are Ava, the friendly guide." is "I am Ava, the friendly guide."), else its name."""
    you_are = _YOU_ARE.match(persona.persona)
    return f"I am {you_are.group('who').strip()}." if you_are else f"I am {persona.name}."


def _source_block(passages: Sequence[Passage]) -> str:
    if not passages:
        return "Sources: none were found for this question."
    parts = []
    for n, passage in enumerate(passages, start=1):
        where = " > ".join([passage.document_title, *passage.heading_path])
        parts.append(f"[{n}] {where}\n{passage.content[:MAX_SOURCE_CHARS]}")
    return "Sources:\n\n" + "\n\n".join(parts)


def system_prompt(persona: Persona, passages: Sequence[Passage]) -> str:
    lines = [
        persona.persona.strip() or f"You are {persona.name}, a helpful assistant.",
        f"Your name is {persona.name}. Reply in the language of the user's message"
        f" (default: {persona.language}).",
        _SPOKEN,
        _GROUNDED if persona.grounded_only else _OPEN,
        _CITE,
        _source_block(passages),
    ]
    return "\n\n".join(lines)


def build_messages(
    persona: Persona,
    passages: Sequence[Passage],
    history: Sequence[ChatMessage],
    question: str,
) -> list[ChatMessage]:
    """System prompt, then history oldest first, then the question. History is already bounded."""
    return [
        ChatMessage(role="system", content=system_prompt(persona, passages)),
        *history,
        ChatMessage(role="user", content=question),
    ]
