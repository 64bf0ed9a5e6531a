"""Sentence splitting for streamed avatar replies."""

# Full-width punctuation and dashes are the subject of these tests.
# ruff: noqa: RUF001

import random
import time

import pytest

from functions.core.text.sentences import SentenceSplitter, speech_pieces, split_at_clauses, split_sentences

SAMPLES = [
    "Hello there. How are you today? I'm fine!",
    "I met Mr. Smith, Mrs. Jones and Dr. Who on Main St. yesterday. Cats vs. dogs, e.g. fur, i.e. hair.",
    "We left at 9 a.m. and came back at 5 p.m. Then we slept. Fruit, veg, etc. Then more.",
    "J. R. R. Tolkien lived in the U.K. for years. The U.S. economy grew. Pi is 3.14, not 3.",
    "Install v2.1.0 from https://example.com/a.b?x=1 or write to foo@bar.com. Done.",
    'He said "Stop." Then he left. (It was late.) Really?! Wait... what? Yes… Okay.',
    "Steps:\n1. Open the app.\n2. Click save\n- first bullet\n- second bullet\n\nNew paragraph here.",
    "你好。今天天气很好！你要去哪里？我去北京。他说：“好的。”然后走了",
    "A long clause, with commas; and semicolons: and more words – and dashes — everywhere. " * 20,
    "By 7 a.m. Dr. Lee had left. She came back at 4 P.M. Dr. Lee then ate. The U.S. Army base is on p. 12. "
    "Ask Tom and co. about it. 'Go.' he said. Yahoo! in the rain. You and I. Henry I. Brown came. Ok.",
    "1.) Mix the flour 2.) Add eggs 1) Mix 2) Bake. a. Red b. Green • 3. Salt • 4. Pepper ⁃1. Oil ⁃2. Fat",
    "We waited . . . and waited. . . . Then it rained . . . . It stopped.... Nobody [...] knew. Bye. . . .",
]


def stream(text: str, sizes: list[int], max_chars: int = 900) -> list[str]:
    splitter = SentenceSplitter(max_chars)
    out: list[str] = []
    at = 0
    for size in sizes:
        out += splitter.feed(text[at : at + size])
        at += size
    return out + splitter.feed(text[at:]) + splitter.flush()


def test_plain_sentences_split_after_their_terminators() -> None:
    assert split_sentences("Hello there. How are you? Fine!") == ["Hello there.", "How are you?", "Fine!"]


@pytest.mark.parametrize(
    "text",
    [
        "I met Mr. Smith and Mrs. Smith today.",
        "Dr. Who lives on Baker St. near the park.",
        "Use a tool, e.g. a hammer, i.e. something heavy.",
        "It is cats vs. dogs again.",
        "Bring apples, pears, etc. and some bread.",
        "The U.S. economy grew fast.",
        "We met at 9 a.m. and left at 5 p.m. on Friday.",
        "J. R. R. Tolkien wrote it.",
        "The letter was signed by Maria K. Jensen.",
        "The chart is on p. 12 of the report.",
        "We hired Baker & Co. for the move, and Baker & co. at the depot helped.",
        "That was Ken Griffey Sr.'s glove.",
        "She moved to the U.K. last spring.",
        "The parcel went to No. 221 and then to N°. 7 on the high street.",
        "The U.S. Army base has stood for ten years.",
        "By 7 a.m. Dr. Lee had already left the lab.",
        "The ticket costs $12.50 at the door.",
        "Have you met Charles I. Brown?",
    ],
)
def test_abbreviations_and_initials_do_not_end_a_sentence(text: str) -> None:
    assert split_sentences(text) == [text]


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        (
            "The crates came from Baker & Co. They arrived on time.",
            ["The crates came from Baker & Co.", "They arrived on time."],
        ),
        ("He studied in the U.K. Where did you study?", ["He studied in the U.K.", "Where did you study?"]),
        (
            "She came back at 4 P.M. Dr. Lee then ate lunch.",
            ["She came back at 4 P.M.", "Dr. Lee then ate lunch."],
        ),
        ("It was just you and I. Have you met him?", ["It was just you and I.", "Have you met him?"]),
        ("Take vitamin C. It helps.", ["Take vitamin C.", "It helps."]),
        ("The ticket costs $12.50. Children go free.", ["The ticket costs $12.50.", "Children go free."]),
    ],
)
def test_abbreviations_and_initials_end_a_sentence_before_a_word_that_opens_one(
    text: str, sentences: list[str]
) -> None:
    assert split_sentences(text) == sentences


def test_ambiguous_abbreviations_end_a_sentence_before_a_capitalised_word() -> None:
    assert split_sentences("I live in the U.S. It is big.") == ["I live in the U.S.", "It is big."]
    assert split_sentences("Fruit, veg, etc. Then bread.") == ["Fruit, veg, etc.", "Then bread."]
    assert split_sentences("Neither did I. Then we left.") == ["Neither did I.", "Then we left."]


def test_decimals_versions_urls_and_emails_stay_whole() -> None:
    text = "Pi is 3.14 and v2.1.0 is out. See https://example.com/a.b?x=1 or foo@bar.com. Bye."
    assert split_sentences(text) == [
        "Pi is 3.14 and v2.1.0 is out.",
        "See https://example.com/a.b?x=1 or foo@bar.com.",
        "Bye.",
    ]


def test_ellipses_end_a_sentence_only_before_a_new_one() -> None:
    text = "Wait... what? Well… maybe. Hmm... Okay."
    assert split_sentences(text) == ["Wait... what?", "Well… maybe.", "Hmm...", "Okay."]


def test_spaced_ellipses_stay_inside_their_sentences() -> None:
    assert split_sentences("We waited . . . and waited . . . Nobody came.") == [
        "We waited . . . and waited . . . Nobody came."
    ]
    # A period on the word, then the ellipsis: the sentence ends at the period, the ellipsis opens the next.
    assert split_sentences("It rained. . . . Then it stopped. . . .") == [
        "It rained.",
        ". . . Then it stopped. . . .",
    ]
    # An ellipsis, then a period: the sentence ends after the fourth dot.
    assert split_sentences("It rained . . . . Then it stopped.") == ["It rained . . . .", "Then it stopped."]
    assert split_sentences("It rained.... Then it stopped.") == ["It rained....", "Then it stopped."]
    assert split_sentences('"Nobody [...] knew [...]" (Lee 4).') == ['"Nobody [...] knew [...]" (Lee 4).']
    assert split_sentences("Then she said. . . .”") == ["Then she said. . . .”"]


@pytest.mark.parametrize(
    "text", ["Well . . . . Okay.", "Hi! . . . Bye.", "One. ... . Two.", "Fine. :) Good.", "A.\n---\n***\nB."]
)
def test_no_sentence_is_without_a_letter_or_digit(text: str) -> None:
    sentences = split_sentences(text)
    assert sentences
    assert all(any(c.isalnum() for c in s) for s in sentences)
    assert stream(text, [1] * len(text)) == sentences


def test_text_without_a_letter_or_digit_is_never_emitted() -> None:
    assert split_sentences(". . . ! ? …\n--- *") == []
    assert split_at_clauses("word ... ... ... ...", 5) == ["word"]


def test_list_items_are_sentences_of_their_own() -> None:
    text = "Steps:\n1. Open the app.\n2. Click save\n10. Done\n- first bullet\n* second bullet"
    assert split_sentences(text) == [
        "Steps:",
        "1. Open the app.",
        "2. Click save",
        "10. Done",
        "- first bullet",
        "* second bullet",
    ]


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        ("1. Preheat the oven 2. Mix the flour", ["1. Preheat the oven", "2. Mix the flour"]),
        ("1. Preheat the oven. 2. Mix the flour.", ["1. Preheat the oven.", "2. Mix the flour."]),
        ("1.) Preheat the oven 2.) Mix the flour", ["1.) Preheat the oven", "2.) Mix the flour"]),
        ("1) Preheat the oven 2) Mix the flour", ["1) Preheat the oven", "2) Mix the flour"]),
        ("1) Preheat the oven. 2) Mix the flour.", ["1) Preheat the oven.", "2) Mix the flour."]),
        ("a. Red b. Green c. Blue", ["a. Red", "b. Green", "c. Blue"]),
        ("• 9. Salt • 10. Pepper", ["• 9. Salt", "• 10. Pepper"]),
        ("⁃1. Oil ⁃2. Fat", ["⁃1. Oil", "⁃2. Fat"]),
        ("Buy 2. Then 3. Done", ["Buy 2.", "Then 3.", "Done"]),
        ("See (a) and (b) below. Fine", ["See (a) and (b) below.", "Fine"]),
    ],
)
def test_list_items_on_one_line_are_sentences_of_their_own(text: str, sentences: list[str]) -> None:
    assert split_sentences(text) == sentences


def test_closing_quotes_and_brackets_stay_with_their_sentence() -> None:
    text = "He said \"Stop.\" Then he left. (It was late.) She wrote 'done.' Fine."
    assert split_sentences(text) == [
        'He said "Stop."',
        "Then he left.",
        "(It was late.)",
        "She wrote 'done.'",
        "Fine.",
    ]


@pytest.mark.parametrize(
    "text",
    [
        "'Time to go.' he whispered.",
        '"We won!" she shouted, and "Really?" he asked.',
        "The bridge (It was finished in 1932.) still carries trains.",
        "He works at Yahoo! in the sales team.",
        "It weighs approx. two kilos, i.e. not much.",
    ],
)
def test_a_terminator_followed_by_a_lower_case_word_does_not_end_the_sentence(text: str) -> None:
    assert split_sentences(text) == [text]


def test_repeated_terminators_form_one_boundary() -> None:
    assert split_sentences("Really?! Yes!!! No?? Ok.") == ["Really?!", "Yes!!!", "No??", "Ok."]


def test_newlines_and_paragraph_breaks_are_boundaries() -> None:
    assert split_sentences("# Title\nFirst line\n\n\nSecond paragraph") == [
        "# Title",
        "First line",
        "Second paragraph",
    ]


def test_chinese_and_japanese_split_without_spaces() -> None:
    assert split_sentences("你好。今天天气很好！你要去哪里？我去北京") == [
        "你好。",
        "今天天气很好！",
        "你要去哪里？",
        "我去北京",
    ]
    assert split_sentences("こんにちは。元気ですか？はい！") == ["こんにちは。", "元気ですか？", "はい！"]
    assert split_sentences("他说：“好的。”然后走了。") == ["他说：“好的。”", "然后走了。"]


def test_a_terminator_at_the_end_of_the_buffer_waits_for_the_next_character() -> None:
    splitter = SentenceSplitter()
    assert splitter.feed("The value is 3.") == []
    assert splitter.feed("14 exactly. Next") == ["The value is 3.14 exactly."]
    assert splitter.flush() == ["Next"]


def test_a_sentence_is_emitted_as_soon_as_the_next_non_space_character_arrives() -> None:
    splitter = SentenceSplitter()
    assert splitter.feed("Hello") == []
    assert splitter.feed(" there.") == []
    assert splitter.feed(" ") == []  # ". . ." or "she said" may follow
    assert splitter.feed("H") == ["Hello there."]
    assert splitter.feed("ow你好。") == []
    assert splitter.feed("好") == ["How你好。"]


def test_after_a_dotted_abbreviation_the_splitter_waits_for_the_whole_next_word() -> None:
    splitter = SentenceSplitter()
    assert splitter.feed("I live in the U.S. Go") == []
    assert splitter.feed("vernment") == []
    assert splitter.feed(" is big. Wh") == ["I live in the U.S. Government is big."]
    assert splitter.feed("o? Me. He") == ["Who?", "Me."]
    assert splitter.feed("llo") == []
    assert splitter.flush() == ["Hello"]
    assert splitter.feed("She is from the U.S. How") == []
    assert splitter.feed(" ") == ["She is from the U.S."]


def test_emitted_sentences_are_stripped_and_never_empty() -> None:
    splitter = SentenceSplitter()
    out = [s for delta in ["  ", "\n\n", " Hi. ", "  \n", "\n", "  Bye. ", " "] for s in splitter.feed(delta)]
    assert out + splitter.flush() == ["Hi.", "Bye."]
    assert SentenceSplitter().flush() == []
    assert split_sentences(" \n \n ") == []


def test_flush_makes_the_splitter_reusable() -> None:
    splitter = SentenceSplitter()
    splitter.feed("First stream")
    assert splitter.flush() == ["First stream"]
    assert splitter.feed("1. Item one\n") == ["1. Item one"]


def test_long_sentences_are_cut_at_the_nearest_clause_boundary_below_the_limit() -> None:
    text = "one two three, four five; six seven eight nine ten eleven twelve"
    assert split_sentences(text, max_chars=30) == [
        "one two three, four five;",
        "six seven eight nine ten",
        "eleven twelve",
    ]


def test_long_sentences_without_clauses_are_cut_at_whitespace_or_mid_word() -> None:
    assert split_at_clauses("aaaa bbbb cccc", 10) == ["aaaa bbbb", "cccc"]
    assert split_at_clauses("abcdefghijkl", 5) == ["abcde", "fghij", "kl"]
    assert split_at_clauses("left – right side here", 12) == ["left –", "right side", "here"]


def test_pieces_of_an_overlong_sentence_stream_out_before_it_ends() -> None:
    splitter = SentenceSplitter(max_chars=20)
    out = splitter.feed("alpha beta gamma delta epsilon zeta eta")
    assert out == ["alpha beta gamma", "delta epsilon zeta"]
    assert splitter.flush() == ["eta"]


def test_default_limit_keeps_every_sentence_within_900_characters() -> None:
    sentences = split_sentences("word, " * 1000 + "end.")
    assert len(sentences) > 1
    assert all(len(s) <= 900 for s in sentences)


def test_a_limit_below_one_is_rejected() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        SentenceSplitter(0)


@pytest.mark.parametrize("text", SAMPLES)
def test_any_chunking_of_the_stream_gives_the_same_sentences_as_the_whole_text(text: str) -> None:
    rng = random.Random(1234)
    for max_chars in (900, 25):
        expected = split_sentences(text, max_chars=max_chars)
        for _ in range(60):
            sizes = [rng.randint(1, 12) for _ in range(len(text))]
            assert stream(text, sizes, max_chars) == expected


def test_feeding_200_kb_in_small_deltas_takes_well_under_two_seconds() -> None:
    text = " ".join(SAMPLES) * (200_000 // len(" ".join(SAMPLES)) + 1)
    rng = random.Random(7)
    sizes = [rng.randint(1, 6) for _ in range(len(text) // 3)]
    began = time.perf_counter()
    sentences = stream(text, sizes)
    assert time.perf_counter() - began < 2
    assert "".join(sentences).replace(" ", "") == "".join(text.split())


def test_speech_pieces_bound_an_unpunctuated_text_and_keep_every_word() -> None:
    text = " ".join(["word", "another", "thing"] * 1700)  # 5,100 words, one "sentence"

    pieces = speech_pieces(text, 120)

    assert all(0 < len(piece) <= 120 for piece in pieces)
    assert " ".join(pieces) == text


def test_speech_pieces_pack_whole_sentences_up_to_the_bound() -> None:
    text = "One. Two words. Three more words here. " + "A longer sentence that goes on, and on, and on."

    assert speech_pieces(text, 40) == [
        "One. Two words. Three more words here.",
        "A longer sentence that goes on, and on,",
        "and on.",
    ]
