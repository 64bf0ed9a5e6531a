"""A network-free stand-in for the LLM: answer with the knowledge base's sentences that fit the question.

The reply is short and spoken as it is: whole sentences of the retrieved passages (hard-wrapped lines
joined first, table rows read as their cells), in plain words, each followed by its `[n]` citation for
the transcript. A sentence too long to say in about eight seconds is said from its start to the last
clause that fits; fenced code (but for a shell command's comment, said with the command), headings
and bold labels are never said. It does not announce that it is offline: the turn's `done` event says
so and the studio shows it.
"""

import itertools
import math
import re
from collections.abc import AsyncGenerator, Collection
from dataclasses import dataclass
from typing import Literal

from functions.core.llm.base import ChatMessage, Passage, TokenUsage, stream_words
from functions.core.llm.definition import defined
from functions.core.text.sentences import split_at_clauses, split_sentences
from functions.core.text.speakable import speakable
from functions.core.text.terms import STOP_WORDS, content_terms

NOT_IN_KNOWLEDGE_BASE = "I don't know that from the knowledge base."
NO_KNOWLEDGE_YET = (
    "I don't have any knowledge about that yet."
    " Uploading documents to the knowledge base would help me answer."
)

MAX_PASSAGES = 5  # only the best-scored passages are quoted from
MAX_SENTENCE_CHARS = 400
# About eight seconds of speech at Piper's pace, in words and in spoken length (see `_spoken_length`): a
# line of names, paths and numbers takes longer than its word count says. A question asking for more
# gets more.
WORD_BUDGET = 24
MORE_WORD_BUDGET = 80
SPEECH_BUDGET = 130
MORE_SPEECH_BUDGET = 400
# Piper takes about 0.08 s a letter, 0.27 s a digit (said as a word) and 0.14 s a sign such as "." or '"'.
DIGIT_WEIGHT = 3
SIGN_WEIGHT = 2
MAX_SENTENCES = 2
MORE_SENTENCES = 5
FOLLOWER_SHARE = 0.2  # a further sentence must add at least this share of the best one's score
LONG_WORDS = 32  # about thirteen seconds of speech
LONG_SHARE = 0.8
MIN_CLAUSE_WORDS = 4  # a sentence cut short keeps at least this many words
ROW_SHARE = 0.9  # a table row's cells, against a sentence that states the same
PHRASE_WEIGHT = 0.5  # two words of the question side by side in a sentence count half again
QUANTITY_WEIGHT = 0.5  # a number or time, when the question asks when or how much
COMMAND_WEIGHT = 0.5  # a command to run, when the question asks how to do something
PASSAGE_DECAY = 0.25  # the n-th best passage's sentences count 1 / (1 + 0.25 n)
FORM_WEIGHT = 0.8  # another form of a word of the question ("printing" for "print") counts a little less
HEADING_WEIGHT = 0.5  # a word of the headings above a passage counts for all of its sentences, at half weight

_WORD = re.compile(r"\w+")
# English endings dropped before two words are compared (longest first); a stem keeps four letters.
_SUFFIXES = ("ations", "ation", "ings", "ing", "ers", "er", "ed", "es", "ly", "s")
_TABLE_RULE = re.compile(r"^[ \t]*\|?[ \t]*:?-{2,}:?[ \t]*(?:\|[ \t]*:?-{2,}:?[ \t]*)*\|?[ \t]*$")
_HYPHENATED = re.compile(r"\b([^\W\d_]+)-([^\W\d_]+)\b")
# A sentence set wholly in bold (after a list marker): a label such as "**Supabase project.**".
_LABEL = re.compile(r"\s*(?:[-*+\u2022]|\d{1,3}[.)])?\s*(?:\*\*|__)[^*_]+(?:\*\*|__)\s*$")
# Where a clause ends: after ; : or , (before a space), at a dash between spaces, or before an aside in
# brackets ("keeps the same visitor (a row of ...").
_CLAUSE_BREAK = re.compile(r"[;:,](?=\s)|\s[\u2013\u2014-](?=\s)|\s(?=\()")
_TRAILING_TERMINATOR = re.compile("[.!?…]+[\"'\u201d\u2019)\\]]*$")
_FENCES = ("```", "~~~")  # what opens and closes a block of code
# A line that starts a block of its own: a heading, list item, quote, table row or code fence.
_BLOCK = re.compile(r"[ \t]*(?:#|[-*+•][ \t]|\d{1,3}[.)][ \t]|[>|]|```|~~~)")
# Days said by name meet the words that stand for them ("Are you open at the weekend?" and "Sundays").
_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday")
_CALENDAR: dict[str, frozenset[str]] = {
    "weekend": frozenset({"saturday", "sunday"}),
    "weekday": frozenset(_DAYS),
    "saturday": frozenset({"weekend"}),
    "sunday": frozenset({"weekend"}),
    **{day: frozenset({"weekday"}) for day in _DAYS},
}
# A question about when, how long or how much is answered by a sentence with a number, time or day in it.
_ASKS_QUANTITY = re.compile(
    r"\b(?:when|what time|how (?:long|soon|often|much|many|late|early)|until|cost|price|fee)\b", re.IGNORECASE
)
_QUANTITY = re.compile(
    r"\d|\b(?:noon|midnight|minutes?|hours?|days?|weeks?|months?|years?|daily|weekly|monthly|once|twice"
    r"|free|(?:mon|tues|wednes|thurs|fri|satur|sun)days?|weekends?|weekdays?)\b",
    re.IGNORECASE,
)
# A short command in a shell block with what it does in a comment ("make test    # runs the test suite"):
# how a README says what to run, said as a sentence. A command of paths or options, and other code, is
# never said.
_SHELLS = frozenset({"", "sh", "bash", "shell", "console", "zsh"})
_COMMENTED_COMMAND = re.compile(
    r"^\s*(?:\$\s+)?(?P<command>[\w.+@=-]+(?:[ \t]+[\w.+@=-]+){0,3})[ \t]+#\s+(?P<comment>\w.*\S)\s*$"
)
# "How do I run the tests?" is answered by the command that runs them, where there is one.
_ASKS_HOW = re.compile(r"\bhow (?:do|can|should|would) (?:i|we|you|one)\b|\bhow to\b", re.IGNORECASE)
# "Who are you?": the avatar introduces itself rather than quoting its knowledge base.
_ASKS_WHO = re.compile(
    r"^\W*(?:who|what)\s+are\s+you\W*$|\bwhat(?:'s|\s+is)\s+your\s+name\b|\bintroduce\s+yourself\b",
    re.IGNORECASE,
)
_ASKS_FOR_MORE = re.compile(
    r"\b(?:more|details?|detailed|explain|everything|all about|in depth|elaborate|list)\b", re.IGNORECASE
)


# What a quoted sentence is: a statement of the text, a table row's cells, or a shell command said with
# what its comment says it does.
Kind = Literal["statement", "row", "command"]


@dataclass(frozen=True)
class _Candidate:
    passage: int  # index in the list given; the citation is passage + 1
    position: int  # sentence index within the passage
    text: str  # speakable
    terms: frozenset[str]
    heading_terms: frozenset[str]
    words: int
    length: int  # how long it takes to say, in letters (see `_spoken_length`)
    sequence: tuple[str, ...]  # its content words in order, for phrases of the question
    quantity: bool  # holds a number, a time or a day
    kind: Kind


def _cite(sentence: str, n: int) -> str:
    """Put the marker before the closing punctuation, so the citation stays inside its sentence."""
    m = _TRAILING_TERMINATOR.search(sentence)
    if m is None:
        return f"{sentence} [{n}]."
    return f"{sentence[: m.start()].rstrip()} [{n}]{sentence[m.start() :]}"


def unwrap(content: str) -> str:
    """Join the lines a hard-wrapped paragraph or list item was broken into; blocks and fenced code keep
    their lines."""
    lines: list[str] = []
    fenced = False
    for line in content.split("\n"):
        previous = lines[-1] if lines else ""
        joins = previous.strip() and line.strip() and not _BLOCK.match(line) and not fenced
        if joins and not previous.lstrip().startswith(("#", "|", *_FENCES)):
            lines[-1] = f"{previous.rstrip()} {line.strip()}"
        else:
            lines.append(line)
        fenced ^= line.lstrip().startswith(_FENCES)
    return "\n".join(lines)


def _table_row(line: str, previous: str, following: str) -> str | None:
    """A table's body row as a sentence of its cells; the header row and the rule under it are not."""
    if _TABLE_RULE.match(line) or _TABLE_RULE.match(following):
        return None
    text = speakable(line)
    if not text or (not _TABLE_RULE.match(previous) and not previous.lstrip().startswith("|")):
        return None  # a lone row with no table around it says too little to quote
    return text if text.endswith((".", "!", "?")) else text + "."


def _sentences(content: str) -> list[tuple[str, Kind]]:
    """The passage's quotable sentences in order, in plain words, each with its kind."""
    lines = unwrap(content).split("\n")
    out: list[tuple[str, Kind]] = []
    prose: list[str] = []

    def flush() -> None:
        for sentence in split_sentences("\n".join(prose), max_chars=MAX_SENTENCE_CHARS):
            if _LABEL.match(sentence) or sentence.rstrip().endswith(":"):
                continue  # a label set in bold names what follows, and "Do it in this order:" leads into it
            text = speakable(sentence)
            if text.endswith("?"):
                continue  # a question (an FAQ entry's own) is not an answer either
            # A passage can begin inside a sentence (a long one cut at a clause): such a tail is not
            # quoted. Only the passage's first sentence can be one; it starts in lower case.
            tail = not out and sentence.lstrip()[:1].islower()
            if len(_WORD.findall(text)) >= 3 and not tail:
                out.append((text, "statement"))
        prose.clear()

    fenced = False
    shell = False
    for n, line in enumerate(lines):
        start = line.lstrip()
        command = _COMMENTED_COMMAND.match(line) if fenced and shell else None
        if command is not None:
            out.append((_said_command(command.group("command"), command.group("comment")), "command"))
        elif start.startswith(_FENCES) or fenced or start.startswith("#"):
            # Code cannot be said and a heading is not an answer: both end the prose before them.
            flush()
            if start.startswith(_FENCES):
                fenced = not fenced
                shell = start[3:].strip().lower() in _SHELLS
        elif start.startswith("|"):
            flush()
            row = _table_row(line, lines[n - 1] if n else "", lines[n + 1] if n + 1 < len(lines) else "")
            if row is not None and len(_WORD.findall(row)) >= 3:
                out.append((row, "row"))
        else:
            prose.append(line)
    flush()
    return out


def _said_command(command: str, comment: str) -> str:
    """A shell line and its comment as a sentence: "make test  # runs the whole test suite" is said "make
    test runs the whole test suite." (the comment's verb has the command as its subject)."""
    comment = comment.strip().rstrip(".")
    first = comment.split()[0]
    joined = f"{command} {comment}" if first.islower() and first.endswith("s") else f"{command}: {comment}"
    return speakable(joined) + "."


def _stem(word: str) -> str:
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def _close(a: str, b: str) -> bool:
    """Two forms of one word: "open" and "opening", "bus" and "buse" (from "buses"), "reserved" and
    "reservation", "linter" and "lint"."""
    if a == b:
        return True
    short, long = sorted((a, b), key=len)
    if len(short) >= 3 and long.startswith(short) and len(long) - len(short) <= (1 if len(short) == 3 else 3):
        return True
    stem_a, stem_b = _stem(a), _stem(b)
    return len(stem_a) >= 4 and stem_a == stem_b


def _matches(term: str, terms: Collection[str]) -> bool:
    forms = _CALENDAR.get(term, frozenset()) | {term}
    return any(form in terms or any(_close(form, other) for other in terms) for form in forms)


def _sequence(text: str) -> tuple[str, ...]:
    """Content words in order, normalised as `content_terms` normalises them."""
    return tuple(
        w[:-1] if len(w) > 3 and w.endswith("s") else w
        for w in (w.lower() for w in _WORD.findall(text))
        if w not in STOP_WORDS
    )


def _phrases(question: tuple[str, ...], sequence: tuple[str, ...]) -> list[tuple[str, str]]:
    """Pairs of the question's consecutive content words that the sentence has side by side too."""
    return [
        (a, b)
        for a, b in itertools.pairwise(question)
        if any(_close(a, x) and _close(b, y) for x, y in itertools.pairwise(sequence))
    ]


def _score(wanted: set[str], candidate: _Candidate, weights: dict[str, float]) -> float:
    score = 0.0
    for term in wanted:
        if term in candidate.terms:
            score += weights[term]
        elif _matches(term, candidate.terms):
            score += weights[term] * FORM_WEIGHT
        elif _matches(term, candidate.heading_terms):
            score += weights[term] * HEADING_WEIGHT
    return score


def _bonus(
    question: tuple[str, ...],
    asks: tuple[bool, bool],
    candidate: _Candidate,
    weights: dict[str, float],
) -> float:
    """Words of the question said in the same order, a number or time for "when" and "how much", and a
    command for "how do I" (`asks`: whether the question asks for a quantity, and how to do something)."""
    bonus = sum((weights[a] + weights[b]) * PHRASE_WEIGHT for a, b in _phrases(question, candidate.sequence))
    asks_quantity, asks_how = asks
    if asks_quantity and candidate.quantity:
        bonus += max(weights.values(), default=0.0) * QUANTITY_WEIGHT
    if asks_how and candidate.kind == "command":
        bonus += max(weights.values(), default=0.0) * COMMAND_WEIGHT
    return bonus


def _terms(text: str) -> frozenset[str]:
    """Content words, and a hyphenated word also as one ("Wi-Fi" meets "wifi", "e-books" "ebooks")."""
    joined = " ".join(a + b for a, b in _HYPHENATED.findall(text))
    return frozenset(content_terms(f"{text} {joined}"))


def _candidate(
    passage: int, position: int, text: str, headings: frozenset[str], *, kind: Kind = "statement"
) -> _Candidate:
    return _Candidate(
        passage,
        position,
        text,
        _terms(text),
        headings,
        len(_WORD.findall(text)),
        _spoken_length(text),
        _sequence(text),
        bool(_QUANTITY.search(text)),
        kind,
    )


def _as_sentence(clause: str) -> str:
    """A clause cut from a longer sentence, capitalised and ended with a full stop."""
    clause = clause.strip().rstrip(",;:\u2013\u2014- ")
    if not _TRAILING_TERMINATOR.search(clause):
        clause += "."
    return clause[:1].upper() + clause[1:]


def _spoken_length(text: str) -> int:
    """How long `text` takes to say, in letters: a digit or a sign counts for more, a space for nothing."""
    return sum(
        1 if c.isalpha() else DIGIT_WEIGHT if c.isdigit() else 0 if c.isspace() else SIGN_WEIGHT for c in text
    )


def _opening(sentence: str) -> str:
    """`sentence` from its start to the last clause boundary (outside brackets) that keeps it within
    `WORD_BUDGET` words and `SPEECH_BUDGET` spoken letters, said as a sentence of its own; with no such
    boundary, to the last space that does."""
    words = len(_WORD.findall(sentence))
    length = _spoken_length(sentence)
    if words <= WORD_BUDGET and length <= SPEECH_BUDGET:
        return _as_sentence(sentence)
    limit = max(1, int(len(sentence) * min(WORD_BUDGET / max(words, 1), SPEECH_BUDGET / length)))
    head = sentence[: limit + 1]
    cuts = [
        m.start()
        for m in _CLAUSE_BREAK.finditer(head)
        if len(_WORD.findall(head[: m.start()])) >= MIN_CLAUSE_WORDS
        and head[: m.start()].count("(") == head[: m.start()].count(")")
    ]
    if cuts:
        return _as_sentence(head[: cuts[-1]])
    return _as_sentence(split_at_clauses(sentence, limit)[0])


def _ranked(passages: list[Passage]) -> list[int]:
    """The passages' indexes, best score first (the earlier of two with one score first)."""
    return sorted(range(len(passages)), key=lambda i: (-passages[i].score, i))


def _candidates(passages: list[Passage]) -> list[_Candidate]:
    best = _ranked(passages)[:MAX_PASSAGES]
    out = []
    for i in best:
        headings = frozenset(content_terms(" ".join([passages[i].document_title, *passages[i].heading_path])))
        for j, (text, kind) in enumerate(_sentences(passages[i].content)):
            out.append(_candidate(i, j, text, headings, kind=kind))
    return out


def _lead(question: str, passages: list[Passage], candidates: list[_Candidate]) -> _Candidate | None:
    """The first statement of the best-ranked passage, when it is of the document titled after what the
    question asks about (retrieval puts that document's opening there)."""
    best = _ranked(passages)[0]
    if defined(question, passages) is not passages[best]:
        return None
    return next((c for c in candidates if c.passage == best and c.kind == "statement"), None)


def compose(
    question: str, passages: list[Passage], *, grounded_only: bool, introduction: str | None = None
) -> str:
    """The whole offline reply: the sentences that best answer `question`, each with its citation.

    A word of the question counts for more the fewer sentences contain it, so "Are you open on Sunday?"
    picks the sentence about Sunday over the many about opening hours. The best sentence is always
    said whole; others nearly as relevant follow while the reply stays within about eight seconds of speech.
    """
    if introduction is not None and _ASKS_WHO.search(question):
        return introduction
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
    sequence = _sequence(question)
    asks = (bool(_ASKS_QUANTITY.search(question)), bool(_ASKS_HOW.search(question)))
    order = {i: n for n, i in enumerate(_ranked(passages))}

    def relevance(c: _Candidate) -> float:
        # Among sentences nearly as relevant, one of a passage the retriever ranked higher (it weighs
        # meaning, not only shared words) wins, a long one (a reference line) yields to a short one and
        # a table row to a sentence that states the same.
        prior = 1 / (1 + PASSAGE_DECAY * order[c.passage])
        score = _score(wanted, c, weights) + _bonus(sequence, asks, c, weights)
        form = LONG_SHARE if c.words > LONG_WORDS else ROW_SHARE if c.kind == "row" else 1
        return score * prior * form

    scored = sorted(candidates, key=lambda c: (relevance(c), *rank[id(c)]), reverse=True)
    lead = _lead(question, passages, candidates)
    if lead is not None:
        # "What is Acme?" with the document titled Acme ranked first: what it says first is the answer.
        scored.remove(lead)
        scored.insert(0, lead)
    more = bool(_ASKS_FOR_MORE.search(question))
    if lead is None and _score(wanted, scored[0], weights) == 0:
        # The retriever judged the passages relevant even without shared words: quote the best one's first
        # statement (a number for "how many"), a table row only when it has none, within the same budget.
        opening = min(
            candidates,
            key=lambda c: (-passages[c.passage].score, c.passage, -relevance(c), c.kind == "row", c.position),
        )
        return _cite(opening.text if more else _opening(opening.text), opening.passage + 1)
    budget, speech, limit = (
        (MORE_WORD_BUDGET, MORE_SPEECH_BUDGET, MORE_SENTENCES)
        if more
        else (WORD_BUDGET, SPEECH_BUDGET, MAX_SENTENCES)
    )
    if (scored[0].words > WORD_BUDGET or scored[0].length > SPEECH_BUDGET) and not more:
        # A sentence too long to say in about eight seconds (a reference line of the docs) is said from its
        # start, where its subject and main statement are, to the last clause that fits: a later clause
        # said alone ("the bill is cancelled when the item comes back") would lose what it depends on.
        best = scored[0]
        scored[0] = _candidate(best.passage, best.position, _opening(best.text), best.heading_terms)
    chosen = [scored[0]]
    words = scored[0].words
    length = scored[0].length
    enough = _score(wanted, scored[0], weights) * FOLLOWER_SHARE
    # A further sentence must add to the answer: it is scored on the words not yet answered, unless the
    # question asks for more about the same thing.
    for candidate in scored[1:]:
        if len(chosen) == limit:
            break
        open_terms = (
            wanted if more else wanted - {t for t in wanted if any(_matches(t, c.terms) for c in chosen)}
        )
        fits = words + candidate.words <= budget and length + candidate.length <= speech
        adds = _score(open_terms, candidate, weights)
        if fits and candidate.text not in {c.text for c in chosen} and adds >= enough and adds > 0:
            chosen.append(candidate)
            words += candidate.words
            length += candidate.length
    return " ".join(_cite(c.text, c.passage + 1) for c in chosen)


class OfflineAnswerer:
    """Answers without a network by extracting sentences from retrieved passages. Deterministic.

    Quoted sentences carry `[n]` markers, where n is the 1-based position of the passage in the list
    given; the turn's spoken text drops them (see `functions.core.text.speakable`).
    """

    name = "offline"

    def __init__(self) -> None:
        pass

    def answer(
        self, question: str, passages: list[Passage], *, grounded_only: bool, introduction: str | None = None
    ) -> AsyncGenerator[str, None]:
        """Stream a short grounded reply to `question` from `passages`, a word at a time (`introduction`:
        what the avatar says when asked who it is)."""
        return stream_words(
            compose(question, passages, grounded_only=grounded_only, introduction=introduction)
        )

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
