"""HTML to the Markdown-like text the chunker reads: headings become `#` lines, blocks paragraphs."""

import re
from html.parser import HTMLParser

_SKIPPED = frozenset({"head", "script", "style", "noscript", "template", "svg", "iframe", "object"})
_HEADINGS = {f"h{level}": level for level in range(1, 7)}
_BLOCKS = frozenset(
    {
        "address", "article", "aside", "blockquote", "dd", "div", "dl", "dt", "fieldset", "figcaption",
        "figure", "footer", "form", "header", "hr", "li", "main", "nav", "ol", "p", "section", "table",
        "tr", "ul",
    }
)  # fmt: skip
_SPACES = re.compile(r"\s+")
# Text that the chunker would take for a heading or a code fence is escaped.
_MARKUP_START = re.compile(r"^( {0,3})(#|```|~~~)", re.MULTILINE)


class _Converter(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[str] = []
        self._text: list[str] = []
        self._skipping = 0
        self._heading = 0
        self._pre = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self._skipping += 1
        elif self._skipping:
            return
        elif tag in _HEADINGS:
            self._flush()
            self._heading = _HEADINGS[tag]
        elif tag == "pre":
            self._flush()
            self._pre += 1
        elif tag == "br":
            self._text.append("\n")
        elif tag in ("td", "th"):
            self._text.append(" ")
        elif tag in _BLOCKS:
            self._flush()
            if tag == "li":
                self._text.append("- ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self._skipping = max(0, self._skipping - 1)
        elif self._skipping:
            return
        elif tag == "pre" and self._pre:
            self._pre -= 1
            code = "".join(self._text).strip("\n")
            self._text = []
            if code.strip():
                self.blocks.append(f"```\n{code}\n```")
        elif tag in _BLOCKS or tag in _HEADINGS:
            self._flush()

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self._text.append(data if self._pre else _SPACES.sub(" ", data))

    def _flush(self) -> None:
        if self._pre:
            return
        if self._heading:
            # A heading ends at its closing tag or at the next block, whichever comes first.
            title = _SPACES.sub(" ", "".join(self._text)).strip()
            self._text = []
            if title:
                self.blocks.append("#" * self._heading + " " + title)
            self._heading = 0
            return
        lines = (line.strip() for line in "".join(self._text).split("\n"))
        text = "\n".join(line for line in lines if line)
        self._text = []
        if text and text != "-":
            self.blocks.append(_MARKUP_START.sub(r"\1\\\2", text))

    def close(self) -> None:
        super().close()
        self._pre = 0
        self._flush()


def html_to_markdown(html: str) -> str:
    """The readable text of an HTML page: headings as Markdown headings, blocks separated by blank lines,
    `<pre>` as fenced code; scripts, styles and the document head left out."""
    converter = _Converter()
    converter.feed(html)
    converter.close()
    return "\n\n".join(converter.blocks)
