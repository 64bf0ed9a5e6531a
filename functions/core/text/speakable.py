"""What an avatar says aloud: Markdown, code, links, citation markers and tables turned into plain words.

A reply's text (the transcript) may carry `[n]` citation markers and Markdown; its speech must not: a
text-to-speech engine reads "**Hello** there [3]." as stars, brackets and numbers. `speakable` is applied
to every sentence before it is spoken (the turn's `sentence` events, backend speech, the TTS route), for
every chat model and the offline answerer alike, and `citations` keeps the markers as data.
"""

import re

# No character of this set survives `speakable`; the answers benchmark counts them in spoken text.
MARKUP_CHARACTERS = frozenset("*_`#[]|<>~{}\\")

_FENCED = re.compile(r"^[ \t]*(`{3,}|~{3,})[^\n]*\n.*?(?:^[ \t]*\1[ \t]*$|\Z)", re.MULTILINE | re.DOTALL)
_HTML_TAG = re.compile(r"</?[A-Za-z][^<>\n]*>")
_IMAGE = re.compile(r"!\[([^\]\n]*)\]\([^)\n]*\)")
_LINK = re.compile(r"\[([^\]\n]+)\](?:\([^)\n]*\)|\[[^\]\n]*\])")
_CITATION = re.compile(
    r"\s*(?:(?<!\w)\[\^?\d{1,3}(?:\s*[,;\u2013-]\s*\^?\d{1,3})*\]|\u3010\d{1,3}(?:[^\u3011\n]{0,40})\u3011)"
)
_CITED_NUMBER = re.compile(r"\d{1,3}")
_CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.DOTALL)
_URL = re.compile(
    r"\b(?:https?|wss?)://(?:www\.)?([^/\s:?#]+?)(?::(\d{1,5}))?(?:[/?#][^\s)]*?)?(?=[.,;:!?]*(?:\s|\)|$))"
)
# A path: two or more slash-separated names ("docs/PROVIDERS.md", "/work/data", "./run",
# "/v1/avatars/{id}/knowledge", "/app/<stage>/"), or one name ending in a slash (a folder: "web/").
_NAME = r"[.-]*(?:\w|\{\w+\}|<\w+>)(?:[.-]*(?:\w|\{\w+\}|<\w+>))*"  # dots and hyphens only inside
_PATH = re.compile(
    rf"(?<![\w/.}}>-])(?:(?:\.{{0,2}}/)?{_NAME}(?:/{_NAME})+/?|\.{{1,2}}/{_NAME}|{_NAME}/(?![\w/]))"
)
# A name that starts with a dot (".venv", ".env", ".NET") is said with it: "dot venv".
_DOT_NAME = re.compile(r"(?<![\w.])\.(?=[A-Za-z])")
_EXTENSION = re.compile(r"\.(\w{1,5})$")
# A slash between spaces offers a choice ("SSM / Secrets Manager"): said "or".
_CHOICE = re.compile(r"[ \t]+/[ \t]+")
_EMPHASIS = (
    re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1"),
    re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])"),
    re.compile(r"(?<![\w_])_(?=\S)([^_\n]+?)(?<=\S)_(?![\w_])"),
    re.compile(r"~~(?=\S)(.+?)(?<=\S)~~"),
)
_TABLE_RULE = re.compile(
    r"^[ \t]*\|?[ \t]*:?-{2,}:?[ \t]*(?:\|[ \t]*:?-{2,}:?[ \t]*)*\|?[ \t]*$", re.MULTILINE
)
_RULE = re.compile(r"^[ \t]*(?:[-*_][ \t]*){3,}$", re.MULTILINE)
_HEADING = re.compile(r"^[ \t]{0,3}#{1,6}[ \t]+(.*?)[ \t#]*$", re.MULTILINE)
_LINE_MARKER = re.compile(r"^[ \t]*(?:>[ \t]?)*(?:[-*+•][ \t]+|\d{1,3}[.)][ \t]+)?", re.MULTILINE)
_NUMBER_SIGN = re.compile(r"#(?=\d)")
_ARROW = re.compile(r"\s*(?:->|=>|→)\s*")
_DASH_RUN = re.compile(r"[-=]{3,}")
_LEFTOVER = re.compile(r"[*_`#\[\]|<>~{}\\]+")
_SPACE_BEFORE_PUNCTUATION = re.compile(r"\s+([,.;:!?…])")
_REPEATED_PUNCTUATION = re.compile(r"([,;:])(?:\s*[,;:])+")
_SPACES = re.compile(r"[ \t\r\f\v]+")
_TERMINATED = re.compile(r"[.!?…:;,]$")


def citations(text: str) -> list[int]:
    """The source numbers cited in `text` by `[n]`, `[n, m]`, `[^n]` or `【n】` markers, first seen first."""
    seen: list[int] = []
    for marker in _CITATION.finditer(text):
        for number in _CITED_NUMBER.findall(marker.group()):
            if int(number) not in seen:
                seen.append(int(number))
    return seen


def _path_words(match: re.Match[str]) -> str:
    if not any(c.isalpha() for c in match.group()):
        return match.group()  # "24/7", "1/2": a number, not a path
    names = [name.strip("{}<>") for name in match.group().split("/") if name.strip(".")]
    if not names:
        return " "
    names[-1] = _EXTENSION.sub(r" dot \1", names[-1])
    return " ".join(name.replace("_", " ").replace("-", " ") for name in names)


def _url_words(match: re.Match[str]) -> str:
    """A URL as its host, and its port when it names one ("127.0.0.1 port 8000")."""
    host, port = match.group(1), match.group(2)
    return f"{host} port {port}" if port else host


def _code_words(match: re.Match[str]) -> str:
    code = _URL.sub(_url_words, match.group(2).strip())
    code = _PATH.sub(_path_words, code)
    return code.replace("_", " ")


def _lines_as_sentences(text: str) -> str:
    # Headings, list items and table rows are separate lines: each is spoken as its own sentence.
    out = []
    for line in text.split("\n"):
        line = line.strip()
        if not line:
            continue
        if line.startswith("|") or line.endswith("|"):
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            line = ", ".join(cell for cell in cells if cell)
        out.append(line)
    if len(out) <= 1:
        return out[0] if out else ""
    return " ".join(line if _TERMINATED.search(line) else line + "." for line in out)


def speakable(text: str) -> str:
    """`text` as words a voice can say: no Markdown, code spans, link syntax, citations, tables or paths.

    Link and image text stays and their addresses go; a URL is read as its host, and its port when it
    names one; a code span keeps its words; a path is read as its names ("docs/setup.md" becomes "docs
    setup dot md", "/v1/avatars/{id}" "v1 avatars id"), a name that starts with a dot is said with it
    ("dot venv") and a slash between spaces as "or"; fenced code is dropped; a table row becomes its
    cells separated by commas. The result holds none of `MARKUP_CHARACTERS`, and applying `speakable`
    again changes nothing.
    """
    text = _FENCED.sub("\n", text)
    # Code first: what a code span holds is literal ("/app/<stage>/" is a path, not an HTML tag).
    text = _CODE_SPAN.sub(_code_words, text)
    text = _HTML_TAG.sub(" ", text)
    text = _IMAGE.sub(r"\1", text)
    text = _CITATION.sub("", text)
    text = _LINK.sub(r"\1", text)
    text = _URL.sub(_url_words, text)
    for pattern in _EMPHASIS:
        text = pattern.sub(lambda m: m.group(m.lastindex or 1), text)
    text = _TABLE_RULE.sub("", text)
    text = _RULE.sub("", text)
    text = _HEADING.sub(r"\1", text)
    text = _LINE_MARKER.sub("", text)
    text = _PATH.sub(_path_words, text)
    text = _DOT_NAME.sub("dot ", text)
    text = _CHOICE.sub(" or ", text)
    text = _lines_as_sentences(text)
    text = _NUMBER_SIGN.sub("number ", text)
    text = _ARROW.sub(" to ", text)
    text = _DASH_RUN.sub(" ", text)
    text = _LEFTOVER.sub(" ", text)
    text = _SPACES.sub(" ", text)
    text = _SPACE_BEFORE_PUNCTUATION.sub(r"\1", text)
    text = _REPEATED_PUNCTUATION.sub(r"\1", text)
    return text.strip(" ,;:")
