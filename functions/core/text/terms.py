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
# Words that frame a question rather than say what it is about ("what does it look like", "what happens
# when"): left out of the full-text query, where they would match chunks for saying "like" or "happens".
_FRAMING_TEXT = """
look looks looking like happen happens happened happening way ways thing things something anything
kind sort exactly actually possible able
"""
_QUERY_STOP_WORDS = STOP_WORDS | frozenset(_FRAMING_TEXT.split())
# English inflections, longest first; what remains must keep three letters (or two before an "e").
_SUFFIXES = ("ings", "ing", "ers", "er", "ies", "ied", "ed", "es", "s")


def content_terms(text: str) -> set[str]:
    """Content words, lower-cased, with a plural/possessive "s" dropped so "refunds" meets "refund"."""
    words = (w.lower() for w in _WORD.findall(text))
    return {w[:-1] if len(w) > 3 and w.endswith("s") else w for w in words if w not in STOP_WORDS}


def word_forms(word: str) -> list[str]:
    """The word and the forms the same English word may take in a document, for a search that does not
    stem (the 'simple' configuration): "linter" finds "lint", "checks" "check", "types" "type",
    "interrupt" "interrupted" and "installed" "installs". Forms that are no word cost nothing: they
    match nothing.
    """
    forms = [word[:-1], word] if len(word) > 3 and word.endswith("s") else [word, word + "s"]
    if not word.isalpha() or len(word) < 4:
        return forms
    bases = [word]
    for suffix in _SUFFIXES:
        stem = word[: -len(suffix)]
        if not word.endswith(suffix) or len(stem) < 2:
            continue
        if suffix in ("ies", "ied"):
            bases = [stem + "y"]
        else:
            # "stopped" was "stop", "shared" was "share", "checks" was "check".
            bases = [stem] if len(stem) >= 3 else []
            if len(stem) >= 4 and stem[-1] == stem[-2] and stem[-1] not in "aeiouls":
                bases.append(stem[:-1])
            if suffix != "s" and stem[-1] not in "aeiouy":
                bases.append(stem + "e")
        break
    for base in bases:
        if base.endswith("y"):
            inflected = [base, base[:-1] + "ies", base[:-1] + "ied", base + "ing"]
        elif base.endswith("e"):
            inflected = [base, base + "s", base + "d", base[:-1] + "ing"]
        else:
            inflected = [base, base + "s", base + "ed", base + "ing"]
        forms.extend(f for f in inflected if f not in forms)
    return forms


def full_text_query(question: str, *, max_terms: int = 24) -> str:
    """A `websearch_to_tsquery` query matching any content word of the question in any of its forms.

    A question's own words joined by AND would demand every word ("how", "do"...) in one chunk; OR of
    the content words lets ranking (BM25) decide. Words are quoted so none is read as an operator.
    Words that only frame the question ("look like", "happens") are left out.
    """
    terms: list[str] = []
    forms: list[str] = []
    for word in (w.lower() for w in _WORD.findall(question)):
        if word in _QUERY_STOP_WORDS or word in terms:
            continue
        terms.append(word)
        if len(terms) <= max_terms:
            forms.extend(f for f in word_forms(word) if f not in forms)
    return " or ".join(f'"{w}"' for w in forms)
