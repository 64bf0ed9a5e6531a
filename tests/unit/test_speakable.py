"""Spoken text: Markdown, code, links, citation markers, tables and paths become words a voice can say."""

import pytest

from functions.core.text.speakable import MARKUP_CHARACTERS, citations, speakable


@pytest.mark.parametrize(
    ("written", "said"),
    [
        ("**Hello** there [3].", "Hello there."),
        (
            "Run `make dev` then open `bench/retrieval.py` [1][2].",
            "Run make dev then open bench retrieval dot py.",
        ),
        (
            "See [the guide](https://example.com/guide) or https://www.example.org/a?b=1.",
            "See the guide or example.org.",
        ),
        ("![A smiling avatar](face.png) waves.", "A smiling avatar waves."),
        (
            "## Opening hours\n- Weekdays 7 to 6\n- Sundays 9 to 12",
            "Opening hours. Weekdays 7 to 6. Sundays 9 to 12.",
        ),
        ("| Day | Hours |\n|---|:--:|\n| Sunday | 9 to 12 |", "Day, Hours. Sunday, 9 to 12."),
        (
            "Set the _api_key_ in ~~one~~ two places, as in issue #3.",
            "Set the api key in one two places, as in issue number 3.",
        ),
        ("Open 24/7, answers [1, 2] and notes [^4].", "Open 24/7, answers and notes."),
        ("Before\n```python\nprint('hi')\n```\nafter.", "Before. after."),
        ("The <b>bold</b> move -> the next one.", "The bold move to the next one."),
        ("Sources say so【3†guide】.", "Sources say so."),
        ("> Quoted *advice* here.", "Quoted advice here."),
        # Names in docs: a dotted name, a folder, a route with its placeholder, a path with a tag-like part.
        (
            "It installs into `.venv` and reads .env files.",
            "It installs into dot venv and reads dot env files.",
        ),
        ("The client is in `web/`, the tests in tests/.", "The client is in web, the tests in tests."),
        ("`POST /v1/avatars/{id}/api-keys` makes one.", "POST v1 avatars id api keys makes one."),
        ("Secrets live under `/avatar-studio/<stage>/`.", "Secrets live under avatar studio stage."),
        ("See `https://example.com/setup` first.", "See example.com first."),
        # A port is part of where to go: a local server is found by it.
        ("It serves on http://127.0.0.1:8000/studio/.", "It serves on 127.0.0.1 port 8000."),
        ("Keys stay in SSM / Secrets Manager.", "Keys stay in SSM or Secrets Manager."),
    ],
)
def test_markup_becomes_plain_words(written: str, said: str) -> None:
    assert speakable(written) == said


@pytest.mark.parametrize(
    "written",
    [
        "**Hello** there [3].",
        "`a*b` | c | <x> {y} \\z ~w~ #",
        "Use __init__ and `**kwargs` [12] in ./src/main.py",
        "1. First\n2. Second\n\n---\n\n* third",
    ],
)
def test_no_markup_character_survives_and_a_second_pass_changes_nothing(written: str) -> None:
    said = speakable(written)
    assert not MARKUP_CHARACTERS & set(said)
    assert speakable(said) == said


def test_plain_sentences_are_left_as_they_are() -> None:
    sentence = "Returns are accepted within 30 days, and refunds take 5 working days (by card)."
    assert speakable(sentence) == sentence


def test_citations_are_kept_as_data_in_order_of_first_mention() -> None:
    assert citations("Refunds take five days [2]. Parcels ship daily [1][2], see [3, 4] and [^5].") == [
        2,
        1,
        3,
        4,
        5,
    ]
    assert citations("No markers in [brackets] or arrays like x[0].") == []
