"""Cut streamed LLM text into speakable sentences as soon as each one is certainly complete."""

# Full-width and typographic punctuation is what this module is about, not a look-alike slip.
# ruff: noqa: RUF001, RUF002

import re

_CJK_TERMINATORS = "。！？｡"
_CLOSERS = "\"'”’»)]}」』）】〉》*_"
_CLUSTER = frozenset(".!?…" + _CJK_TERMINATORS + _CLOSERS)
_OPENERS = "\"'“‘«([{「『（【〈《*_"
_SPECIAL = re.compile(r"[\n.!?…。！？｡]")
_NONSPACE = re.compile(r"\S")
_CJK = re.compile(r"[\u2e80-\u2fff\u3001-\u9fff\uac00-\ud7af\uf900-\ufaff\uff01-\uffef]")
_LIST_MARKER = re.compile(r"\d{1,3}|[A-Za-z]")
_DOTTED = re.compile(r"(?:[a-z]\.)+[a-z]")  # u.s, a.m, p.m, u.s.a
# Titles and Latin abbreviations are followed by more of the same sentence, so they never end one.
_NEVER_ENDS = frozenset(
    {"mr", "mrs", "ms", "mx", "dr", "prof", "rev", "fr", "st", "mt", "gen", "col", "capt", "lt", "sgt"}
    | {"gov", "sen", "rep", "hon", "vs", "e.g", "i.e", "cf", "viz", "approx", "fig", "figs", "vol", "pp"}
    | {"ca", "esp", "incl", "dept"}
)
# These end a sentence only when the next word does not carry on in lower case.
_MAY_END = frozenset({"etc", "inc", "ltd", "co", "corp", "jr", "sr", "bros", "al", "ph.d"})
# Longer "words" are never abbreviations; the bound keeps the backward look cheap.
_MAX_WORD = 32
_CLAUSE_CUTS = (
    re.compile(r"[;:](?=\s)|[；：]"),
    re.compile(r",(?=\s)|[，、]"),
    re.compile(r"\s[–—](?=\s)"),
)
_ALWAYS, _NEVER, _AMBIGUOUS = range(3)


def _cut(text: str, limit: int) -> int:
    # text starts with a non-space and is longer than limit; the piece is text[:result].
    window = text[: limit + 1]
    for pattern in _CLAUSE_CUTS:
        # A clause cut in the first half would leave a tiny piece; prefer a weaker cut nearer the limit.
        ends = [m.end() for m in pattern.finditer(window) if limit // 2 <= m.end() <= limit]
        if ends:
            return ends[-1]
    for p in range(min(limit, len(window) - 1), 0, -1):
        if window[p].isspace():
            return p
    return limit


def split_at_clauses(text: str, max_chars: int) -> list[str]:
    """Split `text` into stripped pieces of at most `max_chars` characters.

    Cuts after the last `;`/`:`, else `,`, else ` – `/` — `, else at the last whitespace below the limit
    (clause cuts are only taken in the second half of the window), else mid-word at the limit.
    """
    if max_chars < 1:
        raise ValueError("max_chars must be at least 1")
    rest, pieces = text.strip(), []
    while len(rest) > max_chars:
        p = _cut(rest, max_chars)
        pieces.append(rest[:p].rstrip())
        rest = rest[p:].lstrip()
    if rest:
        pieces.append(rest)
    return pieces


class SentenceSplitter:
    """Incremental sentence splitter for streamed text.

    `feed` returns the sentences completed by a delta; `flush` returns the rest at the end of the stream.
    A terminator is only trusted once the following character is known ("3." may become "3.14").
    Sentences longer than `max_chars` are cut at clause boundaries, and those pieces are emitted as soon
    as they are known. Work is linear in the length of the stream, whatever the delta sizes.
    """

    def __init__(self, max_chars: int = 900) -> None:
        if max_chars < 1:
            raise ValueError("max_chars must be at least 1")
        self._max = max_chars
        self._reset()

    def _reset(self) -> None:
        self._buf = ""
        self._start = 0  # where the pending sentence begins in _buf
        self._pos = 0  # everything before it is scanned and holds no boundary of the pending sentence
        self._cs: int | None = None  # first non-space character of the pending sentence
        self._line_start = True  # the pending sentence begins a line (so "1." is a list marker)

    def feed(self, delta: str) -> list[str]:
        """Add a delta of the stream; return the sentences it completed."""
        if not delta:
            return []
        self._buf += delta
        out = self._scan(final=False)
        if self._start:
            # Drop what was emitted once per delta, so the buffer only ever holds the pending sentence.
            self._buf = self._buf[self._start :]
            self._pos -= self._start
            if self._cs is not None:
                self._cs -= self._start
            self._start = 0
        return out

    def flush(self) -> list[str]:
        """End the stream: return every remaining sentence and make the splitter ready for a new one."""
        out = self._scan(final=True)
        self._emit(len(self._buf), out)
        self._reset()
        return out

    def _emit(self, end: int, out: list[str]) -> None:
        text = self._buf[self._start : end]
        if not text.isspace():
            out.extend(split_at_clauses(text, self._max))
        self._start = self._pos = end
        self._cs = None

    def _scan(self, final: bool) -> list[str]:
        out: list[str] = []
        buf, n = self._buf, len(self._buf)
        while True:
            m = _SPECIAL.search(buf, self._pos)
            k = m.start() if m else n
            if self._cs is None:
                first = _NONSPACE.search(buf, self._pos, min(k + 1, n))
                self._cs = first.start() if first else None
            if self._cs is not None and self._cut_if_too_long(k, out):
                continue
            if k == n:
                self._pos = n
                return out
            if buf[k] == "\n":
                self._emit(k + 1, out)
                self._line_start = True
                continue
            decision = self._decide(k, final)
            if decision is None:
                self._pos = k
                return out
            boundary, j = decision
            if boundary:
                self._emit(j, out)
                self._line_start = False
            self._pos = j

    def _cut_if_too_long(self, k: int, out: list[str]) -> bool:
        # Once a non-space sits max_chars past the start, the sentence will be cut no matter how it
        # ends, and its first piece is fixed, so it can go out now instead of waiting for the end.
        assert self._cs is not None
        buf, cs = self._buf, self._cs
        limit = cs + self._max
        if limit > k:
            return False
        if _NONSPACE.search(buf, max(limit, self._pos), min(k + 1, len(buf))) is None:
            return False
        p = _cut(buf[cs : limit + 1], self._max)
        out.append(buf[cs : cs + p].rstrip())
        self._start = cs + p
        following = _NONSPACE.search(buf, self._start)
        assert following is not None
        self._cs = following.start()
        self._line_start = False
        return True

    def _decide(self, k: int, final: bool) -> tuple[bool, int] | None:
        # Returns (is_boundary, where scanning resumes), or None when more text is needed to tell.
        buf, n = self._buf, len(self._buf)
        j = k + 1
        while j < n and buf[j] in _CLUSTER:
            j += 1
        if j == n and not final:
            return None
        cluster = buf[k:j]
        if any(c in _CJK_TERMINATORS for c in cluster):
            return True, j
        if j < n and not buf[j].isspace() and not _CJK.match(buf[j]):
            return False, j  # 3.14, v2.1.0, example.com, a.b?x=1
        if "!" in cluster or "?" in cluster:
            return True, j
        kind = _AMBIGUOUS if "…" in cluster or ".." in cluster else self._word_kind(k)
        if kind != _AMBIGUOUS:
            return kind == _ALWAYS, j
        m = _NONSPACE.search(buf, j)
        if m is None:
            return (True, j) if final or "\n" in buf[j:] else None
        following = m.group()
        return "\n" in buf[j : m.start()] or not (following.islower() or following.isdigit()), j

    def _word_kind(self, k: int) -> int:
        buf, i = self._buf, k
        while i > self._start and k - i <= _MAX_WORD and not buf[i - 1].isspace():
            i -= 1
        word = buf[i:k].lstrip(_OPENERS)
        if not word or k - i > _MAX_WORD:
            return _ALWAYS
        if self._line_start and i == self._cs and _LIST_MARKER.fullmatch(word):
            return _NEVER
        lower = word.lower()
        # A lone capital is an initial (J. R. R. Tolkien), except the pronoun "I".
        if lower in _NEVER_ENDS or (len(word) == 1 and word.isupper() and word != "I"):
            return _NEVER
        if lower in _MAY_END or _DOTTED.fullmatch(lower):
            return _AMBIGUOUS
        return _ALWAYS


def split_sentences(text: str, *, max_chars: int = 900) -> list[str]:
    """Split a whole text exactly as `SentenceSplitter` would when fed it in any pieces."""
    splitter = SentenceSplitter(max_chars)
    return splitter.feed(text) + splitter.flush()


def speech_pieces(text: str, max_chars: int) -> list[str]:
    """`text` as pieces of at most `max_chars` characters for a speech engine, each one or more whole
    sentences where sentences fit (an overlong sentence is cut at a clause or a space).

    A synthesizer's memory and time grow with the length of what it is given at once, and an
    unpunctuated text is a single sentence however long; bounded pieces bound both.
    """
    pieces: list[str] = []
    for sentence in split_sentences(text, max_chars=max_chars):
        if pieces and len(pieces[-1]) + 1 + len(sentence) <= max_chars:
            pieces[-1] += " " + sentence
        else:
            pieces.append(sentence)
    return pieces
