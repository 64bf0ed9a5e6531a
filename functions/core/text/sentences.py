"""Cut streamed LLM text into speakable sentences as soon as each one is certainly complete."""

# Full-width and typographic punctuation is what this module is about, not a look-alike slip.
# ruff: noqa: RUF001, RUF002

import re

from functions.core.text.cjk import is_cjk

_CJK_TERMINATORS = "。！？｡"
_CLOSERS = "\"'”’»)]}」』）】〉》*_"
_CLUSTER = frozenset(".!?…" + _CJK_TERMINATORS + _CLOSERS)
_OPENERS = "\"'“‘«([{「『（【〈《*_"
_BULLETS = "•‣⁃◦▪"
# Where a decision can be needed: terminators, the ")" of a list marker, and inline bullets.
_SPECIAL = re.compile(r"[\n.!?…。！？｡)•‣⁃◦▪]")
_NONSPACE = re.compile(r"\S")
_ALNUM = re.compile(r"[^\W_]")
_LETTERS = re.compile(r"[^\W\d_]+")
_LIST_MARKER = re.compile(r"\d{1,3}|[A-Za-z]")
_MARKER_STYLES = frozenset({".", ".)", ")"})
_DOTTED = re.compile(r"(?:[a-z]\.)+[a-z]")  # u.s, a.m, p.m, u.s.a
# Titles and Latin abbreviations are followed by more of the same sentence, so they never end one.
_NEVER_ENDS = frozenset(
    {"mr", "mrs", "ms", "mx", "dr", "prof", "rev", "fr", "st", "mt", "gen", "col", "capt", "lt", "sgt"}
    | {"gov", "sen", "rep", "hon", "vs", "e.g", "i.e", "cf", "viz", "approx", "fig", "figs", "vol", "pp"}
    | {"ca", "esp", "incl", "dept"}
)
# These end a sentence unless the next word carries on in lower case or is a number ("No. 5", "p. 55").
_MAY_END = frozenset(
    {"etc", "inc", "ltd", "co", "corp", "jr", "sr", "bros", "al", "ph.d", "no", "nos", "nr", "n°"}
)
# Dotted abbreviations (U.S., a.m.) and initials are as often followed by a name ("the U.S. Government")
# as by a new sentence; they end one only before a word that commonly opens a sentence.
_OPENING_WORDS = frozenset(
    {"i", "you", "he", "she", "it", "we", "they", "this", "that", "these", "those", "there", "here", "one"}
    | {"the", "a", "an", "my", "our", "your", "his", "her", "its", "their", "some", "many", "most", "all"}
    | {"each", "every", "any", "both", "no", "not", "yes", "please", "thanks", "thank"}
    | {"what", "when", "where", "who", "whom", "whose", "why", "how", "which", "while"}
    | {"and", "but", "or", "so", "then", "however", "also", "still", "yet", "if", "as", "because"}
    | {"although", "though", "since", "once", "now", "today", "meanwhile", "instead", "otherwise"}
    | {"therefore", "thus", "finally", "first", "next", "in", "on", "at", "for", "with", "from", "to", "by"}
    | {"after", "before", "during", "is", "are", "was", "were", "do", "does", "did", "can", "could"}
    | {"would", "should", "will", "shall", "may", "might", "must", "have", "has", "had", "let"}
    | {"mr", "mrs", "ms", "dr", "prof"}
)
_LONGEST_OPENING_WORD = max(map(len, _OPENING_WORDS))
# "At 5 a.m." is a fronted phrase, not a sentence: a sentence of at most this many words that begins
# with one of these prepositions does not end at a dotted abbreviation or an initial.
_PREPOSITIONS = frozenset(
    {"at", "by", "before", "after", "until", "till", "from", "around", "about", "since", "on", "in"}
    | {"during", "past", "near", "toward", "towards"}
)
_FRONTED_WORDS = 4
# Longer "words" are never abbreviations; the bound keeps the backward look cheap.
_MAX_WORD = 32
_CLAUSE_CUTS = (
    re.compile(r"[;:](?=\s)|[；：]"),
    re.compile(r",(?=\s)|[，、]"),
    re.compile(r"\s[–—](?=\s)"),
)
# What the word before a "." says about a sentence end: it always ends one, never does, ends one unless
# the next word is lower case or a number, or ends one only before a word that opens sentences.
_ALWAYS, _NEVER, _WEAK, _STRONG = range(4)


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
    Pieces without a letter or digit are left out.
    """
    if max_chars < 1:
        raise ValueError("max_chars must be at least 1")
    rest, pieces = text.strip(), []
    while len(rest) > max_chars:
        p = _cut(rest, max_chars)
        pieces.append(rest[:p].rstrip())
        rest = rest[p:].lstrip()
    pieces.append(rest)
    return [piece for piece in pieces if _ALNUM.search(piece)]


class SentenceSplitter:
    """Incremental sentence splitter for streamed text.

    `feed` returns the sentences completed by a delta; `flush` returns the rest at the end of the stream.
    A terminator is only trusted once the next non-space character is known: "3." may become "3.14", a
    closing quote may be followed by "she said", and ". . ." may go on. After a dotted abbreviation or an
    initial ("U.S.", "E.") it waits for the whole next word, which tells a name from a new sentence.
    Sentences longer than `max_chars` are cut at clause boundaries, and those pieces are emitted as soon
    as they are known. Text without a letter or digit is never emitted. Work is linear in the length of
    the stream, whatever the delta sizes.
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
        self._item = False  # the pending sentence opens with a list marker
        self._next_marker: tuple[str, str] | None = None  # the marker that would continue the list

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
        if _ALNUM.search(text):
            out.extend(split_at_clauses(text, self._max))
        self._start = self._pos = end
        self._cs = None
        self._item = False

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
            if buf[k] == ")":
                decision = self._paren(k, final)
            elif buf[k] in _BULLETS:
                decision = self._bullet(k)
            else:
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
        piece = buf[cs : cs + p].rstrip()
        if _ALNUM.search(piece):
            out.append(piece)
        self._start = cs + p
        following = _NONSPACE.search(buf, self._start)
        assert following is not None
        self._cs = following.start()
        self._line_start = False
        return True

    def _bullet(self, k: int) -> tuple[bool, int]:
        # An item that opens with a bullet ends where the same bullet comes again after a space.
        buf, cs = self._buf, self._cs
        if (
            cs is not None
            and cs < k
            and buf[cs] == buf[k]
            and buf[k - 1].isspace()
            and _ALNUM.search(buf, cs, k)
        ):
            return True, k
        return False, k + 1

    def _paren(self, k: int, final: bool) -> tuple[bool, int] | None:
        # A ")" matters only as part of a list marker ("1) The first item 2) The second item").
        n = len(self._buf)
        if k + 1 == n:
            return None if not final else (False, n)
        if not self._buf[k + 1].isspace():
            return False, k + 1
        marker = self._list_marker(k, ")")
        if marker is None or marker[0]:
            return False, k + 1
        return True, marker[1]

    def _list_marker(self, k: int, style: str) -> tuple[bool, int] | None:
        # Is the word before k, followed by `style`, a list marker ("1.", "b.", "2.)", "3)")? Returns
        # (True, where it begins) when it opens the pending sentence (and remembers the marker that would
        # come next), (False, where it begins) when it is that next marker further on, which starts a new
        # item there; None otherwise.
        buf, i = self._buf, k
        while i > self._start and k - i <= 4 and not buf[i - 1].isspace():
            i -= 1
        word = buf[i:k].lstrip(_BULLETS)
        if style not in _MARKER_STYLES or not _LIST_MARKER.fullmatch(word):
            return None
        if i > self._start and not buf[i - 1].isspace():
            return None
        assert self._cs is not None
        if not buf[self._cs : i].strip(_BULLETS + " \t"):
            if not (self._line_start or (word, style) == self._next_marker):
                return None
            self._item = True
            self._next_marker = (_successor(word), style)
            return True, i
        if self._item and (word, style) == self._next_marker:
            return False, i
        return None

    def _decide(self, k: int, final: bool) -> tuple[bool, int] | None:
        # Returns (is_boundary, where the sentence ends or else scanning resumes), or None when more
        # text is needed to tell.
        buf, n = self._buf, len(self._buf)
        j = k + 1
        while j < n and buf[j] in _CLUSTER:
            j += 1
        if j == n and not final:
            return None
        cluster = buf[k:j]
        if any(c in _CJK_TERMINATORS for c in cluster):
            return True, j
        if j < n and not buf[j].isspace() and not is_cjk(buf[j]):
            return False, j  # 3.14, v2.1.0, example.com, a.b?x=1, Jr.'s
        if k > self._start and buf[k - 1] in "[(":
            return False, j  # an omission, "[...]"
        if "!" in cluster or "?" in cluster:
            kind = _ALWAYS
        elif "…" in cluster or ".." in cluster:
            kind = _WEAK
        else:
            marker = self._list_marker(k, cluster)
            if marker is not None:
                opens, i = marker
                return (False, j) if opens else (True, i)
            kind = self._word_kind(k)
            if kind == _NEVER:
                return False, j
        return self._look_ahead(k, j, kind, final)

    def _look_ahead(self, k: int, j: int, kind: int, final: bool) -> tuple[bool, int] | None:
        # The terminators k:j are followed by whitespace or the end: what comes next decides.
        buf, n = self._buf, len(self._buf)
        end = j
        while end + 1 < n and buf[end] == " " and buf[end + 1] == ".":  # a spaced ellipsis, ". . ."
            end += 2
            while end < n and buf[end] in _CLUSTER:
                end += 1
        if end < n and not buf[end].isspace():
            return False, end
        m = _NONSPACE.search(buf, end)
        if m is None:
            return (True, end) if final or "\n" in buf[end:] else None
        if "\n" in buf[end : m.start()]:
            return True, end
        following = m.group()
        if following.islower():
            return False, end  # "'This is great.' she said", "Yahoo! in the", "Co. at noon"
        if end > j:
            # Three spaced dots mark an omission within the sentence. With a fourth, the sentence ends:
            # at the period when it touches the word ("word. . . . Next"), else after the dots.
            if buf.count(".", k, end) == 3:
                return False, end
            return True, (j if k > self._start and not buf[k - 1].isspace() else end)
        if kind == _ALWAYS:
            return True, j
        if kind == _WEAK or not following.isalpha():
            return not following.isdigit(), j
        word = _LETTERS.match(buf, m.start())
        assert word is not None
        if word.end() == n and not final and len(word.group()) <= _LONGEST_OPENING_WORD:
            return None
        return word.group().lower() in _OPENING_WORDS and not self._fronted(k), j

    def _fronted(self, k: int) -> bool:
        assert self._cs is not None
        words = self._buf[self._cs : k].split()
        return 0 < len(words) <= _FRONTED_WORDS and words[0].lstrip(_OPENERS).lower() in _PREPOSITIONS

    def _word_kind(self, k: int) -> int:
        buf, i = self._buf, k
        while i > self._start and k - i <= _MAX_WORD and not buf[i - 1].isspace():
            i -= 1
        word = buf[i:k].lstrip(_OPENERS)
        if not word or k - i > _MAX_WORD:
            return _ALWAYS
        lower = word.lower()
        if lower in _NEVER_ENDS:
            return _NEVER
        if lower in _MAY_END or (len(word) == 1 and word.islower()):
            return _WEAK
        if _DOTTED.fullmatch(lower):
            return _STRONG
        # A lone capital is an initial (J. R. R. Tolkien); "I" only after a name (Albert I. Jones).
        if len(word) == 1 and word.isupper():
            before = buf[max(self._start, i - _MAX_WORD) : i].split()
            if word != "I" or (before and before[-1].lstrip(_OPENERS)[:1].isupper()):
                return _STRONG
        return _ALWAYS


def _successor(marker: str) -> str:
    if marker.isdigit():
        return str(int(marker) + 1)
    return "" if marker in "zZ" else chr(ord(marker) + 1)


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
