"""A network-free stand-in for the LLM: quote the knowledge base's most relevant sentences, with citations."""

import asyncio
import re
from collections.abc import AsyncIterator

from functions.core.llm.base import ChatMessage, Passage
from functions.core.text.sentences import split_sentences
from functions.core.text.terms import content_terms

OFFLINE_LEAD = "I'm running in offline mode, so here is what the knowledge base says."
NOT_IN_KNOWLEDGE_BASE = "I'm running in offline mode, and I don't know that from the knowledge base."
NO_KNOWLEDGE_YET = (
    "I'm running in offline mode, and I don't have any knowledge about that yet. "
    "Uploading documents to the knowledge base would help me answer."
)

MAX_SENTENCES = 3
MAX_PASSAGES = 5  # only the best-scored passages are quoted from
MAX_SENTENCE_CHARS = 300

_WORD = re.compile(r"\w+")
_PIECE = re.compile(r"\S+\s*")
_MARKUP = re.compile(r"^(?:#{1,6}\s+|[-*+>]\s+|\d{1,3}[.)]\s+)+")
_TRAILING_TERMINATOR = re.compile("[.!?…]+[\"'\u201d\u2019)\\]]*$")


def _cite(sentence: str, n: int) -> str:
    """Put the marker before the closing punctuation, so the citation stays inside its sentence."""
    m = _TRAILING_TERMINATOR.search(sentence)
    if m is None:
        return f"{sentence} [{n}]."
    return f"{sentence[: m.start()].rstrip()} [{n}]{sentence[m.start() :]}"


def _sentences(content: str) -> list[str]:
    out = []
    for sentence in split_sentences(content, max_chars=MAX_SENTENCE_CHARS):
        if sentence.lstrip().startswith("#"):
            continue  # a heading is not an answer
        text = _MARKUP.sub("", sentence).strip()
        if len(_WORD.findall(text)) >= 3:
            out.append(text)
    return out


def compose(question: str, passages: list[Passage], *, grounded_only: bool) -> str:
    """The whole offline reply: the offline-mode lead, then up to three cited sentences."""
    if not passages:
        return NOT_IN_KNOWLEDGE_BASE if grounded_only else NO_KNOWLEDGE_YET
    wanted = content_terms(question)
    best = sorted(range(len(passages)), key=lambda i: (-passages[i].score, i))[:MAX_PASSAGES]
    # (overlap, passage score, passage index, sentence index, sentence); citation n is passage index + 1.
    candidates = [
        (len(wanted & content_terms(sentence)), passages[i].score, i, j, sentence)
        for i in best
        for j, sentence in enumerate(_sentences(passages[i].content))
    ]
    if not candidates:
        return NOT_IN_KNOWLEDGE_BASE if grounded_only else NO_KNOWLEDGE_YET
    relevant = [c for c in candidates if c[0] > 0]
    if relevant:
        chosen = sorted(relevant, key=lambda c: (-c[0], -c[1], c[2], c[3]))[:MAX_SENTENCES]
    else:
        # The retriever judged the passages relevant even without shared words: quote the best one's opening.
        chosen = [min(candidates, key=lambda c: (-c[1], c[2], c[3]))]
    return " ".join([OFFLINE_LEAD, *(_cite(c[4], c[2] + 1) for c in chosen)])


async def stream_words(text: str) -> AsyncIterator[str]:
    for m in _PIECE.finditer(text):
        yield m.group()
        await asyncio.sleep(0)  # let the consumer speak a finished sentence while the rest is "generated"


class OfflineAnswerer:
    """Answers without a network by extracting sentences from retrieved passages. Deterministic.

    The reply's first sentence says it is in offline mode; quoted sentences carry `[n]` markers, where n is
    the 1-based position of the passage in the list given.
    """

    name = "offline"

    def __init__(self) -> None:
        pass

    def answer(self, question: str, passages: list[Passage], *, grounded_only: bool) -> AsyncIterator[str]:
        """Stream a short grounded reply to `question` from `passages`, a word at a time."""
        return stream_words(compose(question, passages, grounded_only=grounded_only))

    def stream(
        self,
        messages: list[ChatMessage],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> AsyncIterator[str]:
        """`ChatModel.stream` without passages: there is nothing to quote, so say so (see `answer`)."""
        question = next((m.content for m in reversed(messages) if m.role == "user"), "")
        return self.answer(question, [], grounded_only=False)
