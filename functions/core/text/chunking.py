"""Split a knowledge-base document into heading-aware, overlapping chunks for retrieval."""

import re
from dataclasses import dataclass
from typing import Literal

from functions.core.text.sentences import split_at_clauses, split_sentences
from functions.core.text.tokens import estimate_tokens

_HEADING = re.compile(r" {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")
# A line break inside a paragraph is only wrapping, unless the next line is a list item, quote or table.
_SOFT_BREAK = re.compile(r"\n(?![ \t]*(?:[-*+•][ \t]|\d{1,3}[.)][ \t]|[>|]))")
# A Markdown table: a header row, its delimiter row (| --- | :-: |), then body rows.
_TABLE_ROW = re.compile(r" {0,3}\|")
_TABLE_DELIMITER = re.compile(r" {0,3}\|?(?:[ \t]*:?-+:?[ \t]*\|)+(?:[ \t]*:?-+:?[ \t]*)?$")

_Kind = Literal["paragraph", "sentence", "code", "table", "rows"]  # rows: some rows of a split table
_Block = tuple[_Kind, str]


@dataclass(frozen=True)
class Chunk:
    """One retrievable piece of a document; `heading_path` is the stack of headings above it."""

    position: int
    heading_path: tuple[str, ...]
    content: str
    token_count: int


@dataclass(frozen=True)
class _Unit:
    text: str
    tokens: int
    joiner: str  # the whitespace that separates it from the unit before it in the document
    kind: _Kind


@dataclass
class _Section:
    path: tuple[str, ...]
    blocks: list[_Block]  # "paragraph", "code" or "table", and its text


def _is_table(lines: list[str]) -> bool:
    return (
        len(lines) >= 2
        and all(_TABLE_ROW.match(line) for line in lines)
        and _TABLE_DELIMITER.match(lines[1]) is not None
    )


def _add_paragraph(section: _Section, lines: list[str], markdown: bool) -> None:
    text = "\n".join(lines).strip()
    if text:
        section.blocks.append(("table" if markdown and _is_table(lines) else "paragraph", text))


def _parse(text: str, markdown: bool) -> list[_Section]:
    sections = [_Section((), [])]
    headings: list[tuple[int, str]] = []
    lines: list[str] = []
    fence = ""
    for line in text.splitlines():
        if fence:
            lines.append(line)
            closing = line.strip()
            if closing.startswith(fence) and closing == closing[0] * len(closing):
                sections[-1].blocks.append(("code", "\n".join(lines)))
                lines, fence = [], ""
            continue
        opening = _FENCE.match(line) if markdown else None
        heading = _HEADING.match(line) if markdown else None
        if opening or heading or not line.strip():
            _add_paragraph(sections[-1], lines, markdown)
            lines = []
        if opening:
            fence, lines = opening.group(1), [line]
        elif heading:
            level = len(heading.group(1))
            while headings and headings[-1][0] >= level:
                headings.pop()
            headings.append((level, (heading.group(2) or "").strip()))
            sections.append(_Section(tuple(title for _, title in headings), []))
        elif line.strip():
            lines.append(line)
    if fence:  # an unclosed fence runs to the end of the document
        sections[-1].blocks.append(("code", "\n".join(lines)))
    else:
        _add_paragraph(sections[-1], lines, markdown)
    return sections


def _locate(searched: str, source: str, parts: list[str], joiner: str, kind: _Kind) -> list[_Unit]:
    # Parts are in-order substrings of `searched`, which has the same length as `source`; the units
    # keep the source's text and the whitespace between parts, so joining them rebuilds the source.
    units: list[_Unit] = []
    cursor = 0
    for part in parts:
        at = searched.find(part, cursor)
        text = source[at : at + len(part)]
        units.append(_Unit(text, estimate_tokens(text), source[cursor:at] if units else joiner, kind))
        cursor = at + len(part)
    return units


def _sentence_units(text: str, joiner: str) -> list[_Unit]:
    flat = _SOFT_BREAK.sub(" ", text)  # same length, so positions map back onto the original
    return _locate(flat, text, split_sentences(flat, max_chars=max(1, len(flat))), joiner, "sentence")


def _fit(unit: _Unit, budget: int) -> list[_Unit]:
    if unit.tokens <= budget:
        return [unit]
    # Aim the character limit at the budget using this text's own characters-per-token ratio, then
    # refine any piece that is still too dense; pieces shrink every round, so this ends.
    limit = max(1, len(unit.text) * budget // unit.tokens)
    parts = split_at_clauses(unit.text, limit)
    pieces = _locate(unit.text, unit.text, parts, unit.joiner, unit.kind)
    return [fitted for piece in pieces for fitted in _fit(piece, budget)]


def _table_units(text: str, target: int) -> list[_Unit]:
    """A table too big for one chunk, as groups of rows of about a third of the target each, every group
    under the table's header and delimiter rows: a row read alone keeps what its columns are, and a few
    rows make a chunk small enough for one row's words to count."""
    lines = text.split("\n")
    header = "\n".join(lines[:2])
    budget = max(1, target // 3 - estimate_tokens(header))
    groups: list[list[str]] = []
    size = 0
    for row in lines[2:]:
        tokens = estimate_tokens(row)
        if groups and size + tokens <= budget:
            groups[-1].append(row)
            size += tokens
        else:
            groups.append([row])
            size = tokens
    units: list[_Unit] = []
    for rows in groups:
        group = "\n".join([header, *rows])
        units += _fit(_Unit(group, estimate_tokens(group), "\n\n", "rows"), target)
    return units


def _units(blocks: list[_Block], target: int, max_tokens: int) -> list[_Unit]:
    units: list[_Unit] = []
    for kind, text in blocks:
        is_code = kind == "code"
        whole = _Unit(text, estimate_tokens(text), "\n\n", kind)
        if whole.tokens <= (max_tokens if is_code else target):
            units.append(whole)
            continue
        if kind == "table":
            units += _table_units(text, target)
            continue
        if is_code:
            lines = [line for line in text.split("\n") if line.strip()]
            parts = _locate(text, text, lines, "\n\n", "code")
        else:
            parts = _sentence_units(text, "\n\n")
        units += [fitted for part in parts for fitted in _fit(part, target)]
    return units


def _overlap(previous: list[_Unit], limit: int) -> list[_Unit]:
    taken: list[_Unit] = []
    size = 0
    for unit in reversed(previous):
        if unit.kind in ("code", "table", "rows"):
            break
        sentences = [unit] if unit.kind == "sentence" else _sentence_units(unit.text, unit.joiner)
        for sentence in reversed(sentences):
            if size + sentence.tokens > limit:
                return taken
            taken.insert(0, sentence)
            size += sentence.tokens
    return taken


def _pack(units: list[_Unit], target: int, overlap: int, max_tokens: int) -> list[list[_Unit]]:
    chunks: list[list[_Unit]] = []
    current: list[_Unit] = []
    size = fresh = 0  # fresh: units in `current` that are not overlap
    for index, unit in enumerate(units):
        # Rows of a split table make chunks of their own, neither joined to text nor to other rows.
        apart = unit.kind == "rows" or (index > 0 and units[index - 1].kind == "rows")
        if fresh and (apart or size + unit.tokens > target):
            chunks.append(current)
            current = [] if apart else _overlap(current, min(overlap, max_tokens - unit.tokens))
            size, fresh = sum(u.tokens for u in current), 0
        current.append(unit)
        size += unit.tokens
        fresh += 1
    if fresh:
        chunks.append(current)
    return chunks


def chunk_document(
    text: str,
    *,
    fmt: Literal["markdown", "text"],
    target_tokens: int = 400,
    overlap_tokens: int = 60,
    max_tokens: int = 500,
) -> list[Chunk]:
    """Chunk a document for retrieval; token counts use `estimate_tokens`.

    Markdown ATX headings (# to ######) open sections, and `heading_path` is the stack of headings above
    a chunk; heading lines themselves are not content. Paragraphs (separated by blank lines) are packed
    up to about `target_tokens`; paragraphs over the target are split into sentences, and sentences
    over it at clause boundaries. Fenced code blocks stay whole when they fit in `max_tokens`, else
    they split by line. A table (header row, delimiter row, rows) over the target is split into groups
    of rows, each a chunk of its own under the table's header (a row over the target splits at clauses,
    as text does). Each chunk after the first in a section
    starts with the last sentences of the previous chunk, up to `overlap_tokens`. No chunk exceeds
    `max_tokens`. Plain text has no headings, code blocks or tables.

    The sizes were chosen with bench/retrieval.py: 400 tokens (of this estimate) gave the local e5
    model's vectors more to go on than 200 or 300, and less than its 512-token window.
    """
    if fmt not in ("markdown", "text"):
        raise ValueError(f"unknown document format: {fmt!r}")
    if not 0 < target_tokens <= max_tokens or not 0 <= overlap_tokens < target_tokens:
        raise ValueError("need 0 < target_tokens <= max_tokens and 0 <= overlap_tokens < target_tokens")
    chunks: list[Chunk] = []
    for section in _parse(text, fmt == "markdown"):
        units = _units(section.blocks, target_tokens, max_tokens)
        for packed in _pack(units, target_tokens, overlap_tokens, max_tokens):
            content = packed[0].text + "".join(u.joiner + u.text for u in packed[1:])
            chunks.append(Chunk(len(chunks), section.path, content, estimate_tokens(content)))
    return chunks
