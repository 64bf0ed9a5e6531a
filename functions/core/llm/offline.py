"""A network-free stand-in for the LLM: answer with the knowledge base's sentences that fit the question.

The reply is short and spoken as it is: whole sentences of the retrieved passages (hard-wrapped lines
joined first), in plain words, each followed by its `[n]` citation for the transcript. It does not
announce that it is offline: the turn's `done` event says so and the studio shows it.
"""

import asyncio
import math
import re
from collections.abc import AsyncGenerator
from dataclasses import dataclass

from functions.core.llm.base import ChatMessage, Passage, TokenUsage
from functions.core.text.sentences import split_sentences
from functions.core.text.speakable import speakable
from functions.core.text.terms import content_terms

NOT_IN_KNOWLEDGE_BASE = "I don't know that from the knowledge base."
NO_KNOWLEDGE_YET = (
    "I don't have any knowledge about that yet."
    " Uploading documents to the knowledge base would help me answer."
)

MAX_PASSAGES = 5  # only the best-scored passages are quoted from
MAX_SENTENCE_CHARS = 400
# About eight seconds of speech at Piper's pace; a question asking for more gets more.
WORD_BUDGET = 24
MORE_WORD_BUDGET = 80
MAX_SENTENCES = 2
MORE_SENTENCES = 5
FOLLOWER_SHARE = 0.2  # a further sentence must add at least this share of the best one's score
LONG_WORDS = 32  # about thirteen seconds of speech
LONG_SHARE = 0.8
HEADING_WEIGHT = 0.5  # a word of the headings above a passage counts for all of its sentences, at half weight

_WORD = re.compile(r"\w+")
_PIECE = re.compile(r"\S+\s*")
_TRAILING_TERMINATOR = re.compile("[.!?…]+[\"'\u201d\u2019)\\]]*$")
# A line that starts a block of its own: a heading, list item, quote, table row or code fence.
_BLOCK = re.compile(r"[ \t]*(?:#|[-*+•][ \t]|\d{1,3}[.)][ \t]|[>|]|```|~~~)")
_ASKS_FOR_MORE = re.compile(
    r"\b(?:more|details?|detailed|explain|everything|all about|in depth|elaborate|list)\b", re.IGNORECASE
)


@dataclass(frozen=True)
class _Candidate:
    passage: int  # index in the list given; the citation is passage + 1
    position: int  # sentence index within the passage
    text: str  # speakable
    terms: frozenset[str]
    heading_terms: frozenset[str]
    words: int


def _cite(sentence: str, n: int) -> str:
    """Put the marker before the closing punctuation, so the citation stays inside its sentence."""
    m = _TRAILING_TERMINATOR.search(sentence)
    if m is None:
        return f"{sentence} [{n}]."
    return f"{sentence[: m.start()].rstrip()} [{n}]{sentence[m.start() :]}"


def unwrap(content: str) -> str:
    """Join the lines a hard-wrapped paragraph or list item was broken into; blocks keep their lines."""
    lines: list[str] = []
    for line in content.split("\n"):
        previous = lines[-1] if lines else ""
        joins = previous.strip() and line.strip() and not _BLOCK.match(line)
        if joins and not previous.lstrip().startswith(("#", "|", "```", "~~~")):
            lines[-1] = f"{previous.rstrip()} {line.strip()}"
        else:
            lines.append(line)
    return "\n".join(lines)


def _sentences(content: str) -> list[str]:
    out = []
    for sentence in split_sentences(unwrap(content), max_chars=MAX_SENTENCE_CHARS):
        if sentence.lstrip().startswith(("#", "|", "```", "~~~")):
            continue  # a heading or a table row is not an answer, and code cannot be said
        text = speakable(sentence)
        first = next((c for c in text if c.isalpha()), "")
        if text.endswith("?"):
            continue  # a question (an FAQ entry's own) is not an answer either
        if len(_WORD.findall(text)) >= 3 and not first.islower():
            out.append(text)  # a chunk can begin inside a sentence; such a tail is not quoted
    return out


def _close(a: str, b: str) -> bool:
    """One word is the other plus a short suffix: "open" and "opening", "bus" and "buse" (from "buses")."""
    short, long = sorted((a, b), key=len)
    if len(short) < 3 or not long.startswith(short):
        return False
    return len(long) - len(short) <= (1 if len(short) == 3 else 3)


def _matches(term: str, terms: frozenset[str]) -> bool:
    return term in terms or any(_close(term, other) for other in terms)


def _score(wanted: set[str], candidate: _Candidate, weights: dict[str, float]) -> float:
    score = 0.0
    for term in wanted:
        if _matches(term, candidate.terms):
            score += weights[term]
        elif _matches(term, candidate.heading_terms):
            score += weights[term] * HEADING_WEIGHT
    return score


def _candidates(passages: list[Passage]) -> list[_Candidate]:
    best = sorted(range(len(passages)), key=lambda i: (-passages[i].score, i))[:MAX_PASSAGES]
    out = []
    for i in best:
        headings = frozenset(content_terms(" ".join([passages[i].document_title, *passages[i].heading_path])))
        for j, text in enumerate(_sentences(passages[i].content)):
            terms = frozenset(content_terms(text))
            out.append(_Candidate(i, j, text, terms, headings, len(_WORD.findall(text))))
    return out


def compose(question: str, passages: list[Passage], *, grounded_only: bool) -> str:
    """The whole offline reply: the sentences that best answer `question`, each with its citation.

    A word of the question counts for more the fewer sentences contain it, so "Are you open on Sunday?"
    picks the sentence about Sunday over the many about opening hours. The best sentence is always
    said whole; others nearly as relevant follow while the reply stays within about eight seconds of speech.
    """
    if not passages:
        return NOT_IN_KNOWLEDGE_BASE if grounded_only else NO_KNOWLEDGE_YET
    candidates = _candidates(passages)
    if not candidates:
        return NOT_IN_KNOWLEDGE_BASE if grounded_only else NO_KNOWLEDGE_YET
    wanted = content_terms(question)
    weights = {
        term: math.log(1 + len(candidates) / (1 + sum(_matches(term, c.terms) for c in candidates)))
        for term in wanted
    }
    rank = {id(c): (passages[c.passage].score, -c.passage, -c.position) for c in candidates}
    # Among sentences nearly as relevant, a long one (a reference line of the docs) yields to a short one.
    scored = sorted(
        candidates,
        key=lambda c: (
            _score(wanted, c, weights) * (LONG_SHARE if c.words > LONG_WORDS else 1),
            *rank[id(c)],
        ),
        reverse=True,
    )
    if _score(wanted, scored[0], weights) == 0:
        # The retriever judged the passages relevant even without shared words: quote the best one's opening.
        opening = min(candidates, key=lambda c: (-passages[c.passage].score, c.passage, c.position))
        return _cite(opening.text, opening.passage + 1)
    more = bool(_ASKS_FOR_MORE.search(question))
    budget, limit = (MORE_WORD_BUDGET, MORE_SENTENCES) if more else (WORD_BUDGET, MAX_SENTENCES)
    chosen = [scored[0]]
    words = scored[0].words
    enough = _score(wanted, scored[0], weights) * FOLLOWER_SHARE
    # A further sentence must add to the answer: it is scored on the words not yet answered, unless the
    # question asks for more about the same thing.
    for candidate in scored[1:]:
        if len(chosen) == limit:
            break
        open_terms = (
            wanted if more else wanted - {t for t in wanted if any(_matches(t, c.terms) for c in chosen)}
        )
        fits = words + candidate.words <= budget and candidate.text not in {c.text for c in chosen}
        if fits and _score(open_terms, candidate, weights) >= enough:
            chosen.append(candidate)
            words += candidate.words
    return " ".join(_cite(c.text, c.passage + 1) for c in chosen)


async def stream_words(text: str) -> AsyncGenerator[str, None]:
    for m in _PIECE.finditer(text):
        yield m.group()
        await asyncio.sleep(0)  # let the consumer speak a finished sentence while the rest is "generated"


class OfflineAnswerer:
    """Answers without a network by extracting sentences from retrieved passages. Deterministic.

    Quoted sentences carry `[n]` markers, where n is the 1-based position of the passage in the list
    given; the turn's spoken text drops them (see `functions.core.text.speakable`).
    """

    name = "offline"

    def __init__(self) -> None:
        pass

    def answer(
        self, question: str, passages: list[Passage], *, grounded_only: bool
    ) -> AsyncGenerator[str, None]:
        """Stream a short grounded reply to `question` from `passages`, a word at a time."""
        return stream_words(compose(question, passages, grounded_only=grounded_only))

    def stream(
        self,
        messages: list[ChatMessage],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
        usage: TokenUsage | None = None,
    ) -> AsyncGenerator[str, None]:
        """`ChatModel.stream` without passages: there is nothing to quote, so say so (see `answer`)."""
        question = next((m.content for m in reversed(messages) if m.role == "user"), "")
        return self.answer(question, [], grounded_only=False)
