"""A token count without a tokenizer: chunking sizes knowledge with it, and the chat completions route
reports usage with it (apart from the chunker, which the streaming function does not import)."""

import re

_CJK = re.compile(r"[\u2e80-\u2fff\u3001-\u9fff\uac00-\ud7af\uf900-\ufaff\uff01-\uffef]")
_PIECE = re.compile(r"\w{1,8}|[^\w\s]")


def estimate_tokens(text: str) -> int:
    """Estimate the token count without a tokenizer, deterministically.

    Every CJK character and every punctuation mark counts as one token; a run of letters and digits
    counts one token per started 8 characters ("the" is 1, "internationalisation" is 3).
    """
    cjk = len(_CJK.findall(text))
    return cjk + len(_PIECE.findall(_CJK.sub(" ", text) if cjk else text))
