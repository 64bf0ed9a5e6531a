"""Chunking knowledge-base documents for retrieval."""

# Full-width punctuation is part of the CJK samples.
# ruff: noqa: RUF001

import itertools
import random

import pytest

from functions.core.text.chunking import Chunk, chunk_document
from functions.core.text.sentences import split_sentences
from functions.core.text.tokens import estimate_tokens

MARKDOWN = """Intro before any heading.

# Guide
Welcome to the guide.

## Install
Run the installer. Then restart.

### Linux
Use the package manager.

## Usage
Call the tool.

# Appendix
The end.
"""


def numbered_sentences(count: int, start: int = 0) -> str:
    return " ".join(f"Sentence number {i} talks about topic {i}." for i in range(start, start + count))


def test_empty_or_blank_input_gives_no_chunks() -> None:
    assert chunk_document("", fmt="markdown") == []
    assert chunk_document(" \n\n\t\n", fmt="text") == []


def test_the_token_estimate_counts_words_punctuation_and_cjk_characters() -> None:
    assert estimate_tokens("Hello, world!") == 4
    assert estimate_tokens("internationalisation") == 3
    assert estimate_tokens("你好。") == 3
    assert estimate_tokens("") == 0


def test_heading_path_is_the_stack_of_headings_above_each_chunk() -> None:
    chunks = chunk_document(MARKDOWN, fmt="markdown")
    assert [(c.heading_path, c.content) for c in chunks] == [
        ((), "Intro before any heading."),
        (("Guide",), "Welcome to the guide."),
        (("Guide", "Install"), "Run the installer. Then restart."),
        (("Guide", "Install", "Linux"), "Use the package manager."),
        (("Guide", "Usage"), "Call the tool."),
        (("Appendix",), "The end."),
    ]


def test_plain_text_has_no_headings() -> None:
    chunks = chunk_document("# Not a heading\n\nBody.", fmt="text")
    assert [(c.heading_path, c.content) for c in chunks] == [((), "# Not a heading\n\nBody.")]


def test_small_paragraphs_are_packed_up_to_the_target() -> None:
    paragraphs = [numbered_sentences(1, i) for i in range(12)]  # 8 tokens each
    chunks = chunk_document("\n\n".join(paragraphs), fmt="text", target_tokens=40, overlap_tokens=0)
    assert [c.content.split("\n\n") for c in chunks] == [paragraphs[0:5], paragraphs[5:10], paragraphs[10:12]]
    assert [c.token_count for c in chunks] == [40, 40, 16]


def test_each_chunk_starts_with_the_last_sentences_of_the_previous_one() -> None:
    paragraphs = [numbered_sentences(2, 2 * i) for i in range(6)]  # 16 tokens each
    chunks = chunk_document("\n\n".join(paragraphs), fmt="text", target_tokens=40, overlap_tokens=10)
    assert len(chunks) > 1
    for previous, chunk in itertools.pairwise(chunks):
        last_sentence = split_sentences(previous.content)[-1]
        assert chunk.content.startswith(last_sentence)
        assert estimate_tokens(last_sentence) <= 10


def test_overlap_does_not_cross_into_another_section() -> None:
    doc = f"# One\n{numbered_sentences(3)}\n# Two\n{numbered_sentences(3, 3)}"
    chunks = chunk_document(doc, fmt="markdown", target_tokens=20, overlap_tokens=10)
    assert chunks[0].heading_path == ("One",)
    second_section = [c for c in chunks if c.heading_path == ("Two",)]
    assert second_section[0].content.startswith("Sentence number 3 ")


def test_a_long_paragraph_is_split_at_sentence_boundaries() -> None:
    paragraph = numbered_sentences(40)
    chunks = chunk_document(paragraph, fmt="text", target_tokens=60, overlap_tokens=0, max_tokens=80)
    assert len(chunks) > 1
    sentences = set(split_sentences(paragraph))
    for chunk in chunks:
        assert chunk.token_count <= 60
        assert all(s in sentences for s in split_sentences(chunk.content))
    assert " ".join(c.content for c in chunks) == paragraph


def test_a_huge_single_sentence_is_split_under_max_tokens() -> None:
    sentence = "word, " * 500 + "https://example.com/" + "x" * 3000 + " end"
    chunks = chunk_document(sentence, fmt="text", target_tokens=50, overlap_tokens=10, max_tokens=60)
    assert len(chunks) > 10
    assert all(0 < c.token_count <= 60 for c in chunks)
    assert "".join(c.content for c in chunks).replace(" ", "") == sentence.replace(" ", "")


def test_a_fenced_code_block_stays_whole_when_it_fits() -> None:
    code = "```python\ndef f(x):\n    return x + 1\n\n\nprint(f(2))\n```"
    doc = f"# Code\n{numbered_sentences(4)}\n{code}\nAfter the code."
    chunks = chunk_document(doc, fmt="markdown", target_tokens=40, overlap_tokens=10, max_tokens=60)
    assert sum(code in c.content for c in chunks) == 1
    assert all(c.content.count("```") in (0, 2) for c in chunks)


def test_a_code_block_too_big_for_one_chunk_is_split_by_lines() -> None:
    code = "```\n" + "\n".join(f"value_{i} = compute({i})" for i in range(60)) + "\n```"
    chunks = chunk_document(code, fmt="markdown", target_tokens=40, overlap_tokens=10, max_tokens=60)
    assert len(chunks) > 1
    assert all(c.token_count <= 60 for c in chunks)
    assert "\n".join(c.content for c in chunks) == code


def test_headings_inside_code_blocks_are_code() -> None:
    chunks = chunk_document("# Real\n```\n# not a heading\n```", fmt="markdown")
    assert [(c.heading_path, c.content) for c in chunks] == [(("Real",), "```\n# not a heading\n```")]


def table(rows: int) -> str:
    body = [
        f"| `PARAM_{i}` | {i} | What parameter {i} changes, in a sentence of its own. |" for i in range(rows)
    ]
    return "\n".join(["| Name | Default | What it does |", "| --- | :-: | --- |", *body])


def test_a_table_that_fits_stays_whole_with_the_text_around_it() -> None:
    doc = f"# Settings\nThese are the settings.\n\n{table(3)}\n\nThat is all."
    chunks = chunk_document(doc, fmt="markdown")
    assert [c.content for c in chunks] == [f"These are the settings.\n\n{table(3)}\n\nThat is all."]


def test_a_big_table_is_split_into_groups_of_rows_each_under_its_header() -> None:
    header = "| Name | Default | What it does |\n| --- | :-: | --- |"
    doc = f"# Settings\nThese are the settings.\n\n{table(60)}\n\nThat is all."
    chunks = chunk_document(doc, fmt="markdown", target_tokens=300, overlap_tokens=50, max_tokens=450)
    rows = [c for c in chunks if "PARAM_" in c.content]
    # Each group of rows is a chunk of its own, under the header, about a third of the target long.
    assert all(c.content.startswith(header + "\n| `PARAM_") for c in rows)
    assert all(c.token_count <= 300 // 3 for c in rows)
    assert 60 // 3 <= len(rows) < 60
    assert chunks[0].content == "These are the settings."
    assert chunks[-1].content == "That is all."
    # Every row is in exactly one chunk, in order; no row is cut.
    found = [line for c in rows for line in c.content.split("\n")[2:]]
    assert found == table(60).split("\n")[2:]
    assert all(c.heading_path == ("Settings",) for c in chunks)


def test_a_table_row_longer_than_the_target_is_split_within_the_limit() -> None:
    long_row = "| a | " + " ".join(f"clause {i}, and more" for i in range(300)) + " |"
    doc = "\n".join(["| Key | Value |", "|---|---|", long_row, "| b | short |"])
    chunks = chunk_document(doc, fmt="markdown", target_tokens=100, overlap_tokens=20, max_tokens=150)
    assert len(chunks) > 5
    assert all(c.token_count <= 150 for c in chunks)
    assert chunks[0].content.startswith("| Key | Value |\n|---|---|\n| a | clause 0,")
    assert chunks[-1].content == "| Key | Value |\n|---|---|\n| b | short |"
    assert "".join(c.content for c in chunks[:-1]).replace(" ", "").endswith("clause299,andmore|")


def test_lines_starting_with_a_bar_without_a_delimiter_row_are_text() -> None:
    text = "\n".join(f"| not a table row {i}. It goes on a while, sentence {i}." for i in range(40))
    chunks = chunk_document(text, fmt="markdown", target_tokens=60, overlap_tokens=10, max_tokens=90)
    assert len(chunks) > 3
    # Text, not row groups: no chunk repeats the first line as a header, and chunks overlap.
    assert not any(c.content.startswith("| not a table row 0.") for c in chunks[1:])
    assert all(b.content[:20] in a.content for a, b in itertools.pairwise(chunks))


def test_plain_text_has_no_tables() -> None:
    chunks = chunk_document(table(40), fmt="text", target_tokens=120, overlap_tokens=20, max_tokens=180)
    assert sum(c.content.startswith("| Name | Default") for c in chunks) == 1


def test_cjk_text_is_chunked_at_sentence_ends_within_limits() -> None:
    text = "今天天气很好，我们去公园散步。" * 60
    chunks = chunk_document(text, fmt="text", target_tokens=100, overlap_tokens=20, max_tokens=120)
    assert len(chunks) > 1
    for chunk in chunks:
        assert chunk.token_count <= 120
        assert chunk.content.endswith("。")
        assert chunk.content.startswith("今天")
    assert chunks[1].content.startswith("今天天气很好，我们去公园散步。今天")


def test_positions_run_from_zero_to_n_minus_one() -> None:
    doc = MARKDOWN + "\n\n".join(numbered_sentences(5, i) for i in range(30))
    chunks = chunk_document(doc, fmt="markdown", target_tokens=60, overlap_tokens=15, max_tokens=90)
    assert [c.position for c in chunks] == list(range(len(chunks)))


def test_no_chunk_exceeds_max_tokens_for_random_documents() -> None:
    rng = random.Random(42)
    words = ["alpha", "beta,", "gamma.", "delta;", "你好。", "x" * 40, "3.14", "e.g.", "Mr.", "end!"]
    for _ in range(40):
        blocks = []
        for _ in range(rng.randint(1, 12)):
            body = " ".join(rng.choice(words) for _ in range(rng.randint(1, 400)))
            blocks.append(rng.choice(["# Head", "## Sub", "```", ""]) + "\n" + body)
        chunks = chunk_document("\n\n".join(blocks), fmt="markdown", target_tokens=80, max_tokens=100)
        assert all(0 < c.token_count <= 100 and c.content == c.content.strip() for c in chunks)
        assert [c.position for c in chunks] == list(range(len(chunks)))


def test_chunks_are_frozen() -> None:
    chunk = chunk_document("Hello.", fmt="text")[0]
    assert chunk == Chunk(0, (), "Hello.", 2)
    with pytest.raises(AttributeError):
        chunk.content = "changed"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("target", "overlap", "maximum"),
    [(0, 0, 10), (20, 0, 10), (20, 20, 30), (20, -1, 30)],
)
def test_inconsistent_limits_are_rejected(target: int, overlap: int, maximum: int) -> None:
    with pytest.raises(ValueError, match="target_tokens"):
        chunk_document("x", fmt="text", target_tokens=target, overlap_tokens=overlap, max_tokens=maximum)
