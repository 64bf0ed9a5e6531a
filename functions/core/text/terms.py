"""Content words of a question: for the offline answerer's overlap and the full-text query."""

import re

_WORD = re.compile(r"\w+")
_STOP_TEXT = """
a about above after again against all am an and any are as at be because been before being below
between both but by can could did do does doing down during each few for from further had has have
having he her here hers herself him himself his how i if in into is it its itself just me more most
my myself no nor not now of off on once only or other our ours ourselves out over own same she
should so some such than that the their theirs them themselves then there these they this those
through to too under until up very was we were what when where which while who whom why will with
would you your yours yourself yourselves tell know please thanks thank hi hello hey s t m re ll ve d
let lets much many also
"""
STOP_WORDS = frozenset(_STOP_TEXT.split())


def content_terms(text: str) -> set[str]:
    """Content words, lower-cased, with a plural/possessive "s" dropped so "refunds" meets "refund"."""
    words = (w.lower() for w in _WORD.findall(text))
    return {w[:-1] if len(w) > 3 and w.endswith("s") else w for w in words if w not in STOP_WORDS}


def full_text_query(question: str, *, max_terms: int = 24) -> str:
    """A `websearch_to_tsquery` query matching any content word of the question (and its plural).

    A question's own words joined by AND would demand every word ("how", "do"...) in one chunk; OR of
    the content words lets ranking (ts_rank_cd) decide. Words are quoted so none is read as an operator.
    """
    words: list[str] = []
    for word in (w.lower() for w in _WORD.findall(question)):
        if word in STOP_WORDS:
            continue
        forms = [word[:-1], word] if len(word) > 3 and word.endswith("s") else [word, word + "s"]
        words.extend(f for f in forms if f not in words)
    return " or ".join(f'"{w}"' for w in words[: max_terms * 2])
