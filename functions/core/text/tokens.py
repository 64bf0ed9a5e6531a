"""A token count without a tokenizer: chunking sizes knowledge with it, and the chat completions route
reports usage with it (apart from the chunker, which the streaming function does not import)."""

import re

from functions.core.text.cjk import cjk_pattern

_PIECE = re.compile(r"\w{1,8}|[^\w\s]")


def estimate_tokens(text: str) -> int:
    """Estimate the token count without a tokenizer, deterministically.

    Every CJK character and every punctuation mark counts as one token; a run of letters and digits
    counts one token per started 8 characters ("the" is 1, "internationalisation" is 3).
    """
    pattern = cjk_pattern()
    cjk = len(pattern.findall(text))
    return cjk + len(_PIECE.findall(pattern.sub(" ", text) if cjk else text))
