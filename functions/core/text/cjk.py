"""CJK characters: the ideographs, kana, hangul and full-width forms that sentence splitting and token
counting treat apart, since these scripts write no spaces between words."""

import functools
import re

# The code point ranges, inclusive.
_RANGES = ((0x2E80, 0x2FFF), (0x3001, 0x9FFF), (0xAC00, 0xD7AF), (0xF900, 0xFAFF), (0xFF01, 0xFFEF))


def is_cjk(char: str) -> bool:
    """Whether one character is CJK, without a regex (see `cjk_pattern`)."""
    code = ord(char)
    return any(low <= code <= high for low, high in _RANGES)


@functools.cache
def cjk_pattern() -> re.Pattern[str]:
    """A character class of the CJK characters, compiled on first use: the compiler walks every code
    point of these ranges, about 3 ms that a function answering English turns would pay at cold start."""
    return re.compile("[" + "".join(f"{chr(low)}-{chr(high)}" for low, high in _RANGES) + "]")
