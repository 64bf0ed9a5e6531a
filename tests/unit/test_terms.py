"""The full-text query made from a question: its content words, in the forms a document may use."""

import pytest

from functions.core.text.terms import content_terms, full_text_query, word_forms


def terms_of(query: str) -> list[str]:
    return [term.strip('"') for term in query.split(" or ")]


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("linter", "lint"),
        ("checks", "check"),
        ("indexing", "index"),
        ("types", "type"),
        ("installed", "installs"),
        ("interrupt", "interrupted"),
        ("upload", "uploading"),
        ("share", "shared"),
        ("stopped", "stop"),
        ("shared", "share"),
        ("libraries", "library"),
        ("copied", "copy"),
        ("used", "use"),
        ("refund", "refunds"),
        ("refunds", "refund"),
    ],
)
def test_a_word_meets_the_forms_a_document_says_it_in(word: str, expected: str) -> None:
    assert word_forms(word)[:1] in ([word], [word[:-1]])
    assert expected in word_forms(word)


def test_short_words_and_identifiers_are_not_cut() -> None:
    assert word_forms("bus") == ["bus", "buss"]
    assert word_forms("is") == ["is", "iss"]
    assert word_forms("hs256") == ["hs256", "hs256s"]
    assert "us" not in word_forms("uses")


def test_the_query_ors_every_form_of_every_content_word_once() -> None:
    query = full_text_query("Which command runs the type checks and the linter?")
    assert query.count(" or ") == len(terms_of(query)) - 1
    assert len(set(terms_of(query))) == len(terms_of(query))
    assert {"command", "run", "runs", "type", "check", "checks", "linter", "lint"} <= set(terms_of(query))
    assert not {"which", "the", "and"} & set(terms_of(query))


def test_words_that_only_frame_a_question_are_not_searched() -> None:
    searched = set(terms_of(full_text_query("What does an error response look like?")))
    assert {"error", "errors", "response", "responses"} <= searched
    assert not {"look", "looks", "like", "likes"} & searched
    assert "happens" not in full_text_query("What happens when the allowance is used up?")


def test_the_answerers_content_words_keep_their_stop_list() -> None:
    assert content_terms("What does it look like?") == {"look", "like"}


def test_a_question_of_only_stop_words_gives_an_empty_query() -> None:
    assert full_text_query("What is it like?") == ""


def test_the_number_of_words_searched_is_capped() -> None:
    question = " ".join(f"word{i}x" for i in range(40))
    assert len(terms_of(full_text_query(question, max_terms=5))) == 10
