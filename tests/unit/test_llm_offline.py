"""The offline answerer: a grounded, cited, deterministic reply without any network."""

import re
import uuid

from functions.core.llm.base import ChatMessage, ChatModel, Passage
from functions.core.llm.definition import defined
from functions.core.llm.offline import NOT_IN_KNOWLEDGE_BASE, WORD_BUDGET, OfflineAnswerer, compose, unwrap
from functions.core.text.sentences import SentenceSplitter, split_sentences
from functions.core.text.speakable import MARKUP_CHARACTERS, speakable
from functions.core.turns.prompt import Persona, introduction

RETURNS = Passage(
    chunk_id=uuid.UUID(int=1),
    document_title="Store policy",
    heading_path=["Policies", "Returns"],
    content=(
        "## Returns\n"
        "Our shop opened in 2019 in Leeds. "
        "Returns are accepted within 30 days of delivery. "
        "Refunds go back to the original payment method within five working days."
    ),
    score=0.82,
)
SHIPPING = Passage(
    chunk_id=uuid.UUID(int=2),
    document_title="Shipping",
    heading_path=["Shipping"],
    content="- Orders ship from Leeds every weekday.\n- International shipping takes ten days.",
    score=0.41,
)


def made_up(content: str, title: str = "", heading: list[str] | None = None, score: float = 1.0) -> Passage:
    """A retrieved passage of a knowledge base made up for one test."""
    return Passage(
        chunk_id=uuid.uuid4(), document_title=title, heading_path=heading or [], content=content, score=score
    )


async def reply(question: str, passages: list[Passage], *, grounded_only: bool = True) -> list[str]:
    return [p async for p in OfflineAnswerer().answer(question, passages, grounded_only=grounded_only)]


HOURS = Passage(
    chunk_id=uuid.UUID(int=3),
    document_title="The Corner Bakery",
    heading_path=["Visiting us", "Opening hours"],
    content=(
        "We are open from 7 am to 6 pm, Monday to Friday, and our ovens\n"
        "are lit by 5 am.\n"
        "On Saturdays we are open from 8 am to 4 pm.\n"
        "On Sundays we open from 9 am until noon for bread collection only.\n"
        "The café opens an hour after the shop on weekdays."
    ),
    score=0.6,
)
BREAD = Passage(
    chunk_id=uuid.UUID(int=4),
    document_title="The Corner Bakery",
    heading_path=["Our bread"],
    content=(
        "## Our bread\n"
        "The **gluten-free loaf** is\n"
        "baked every Tuesday and Friday in a separate oven [3].\n"
        "Our sourdough uses a `levain` kept since 2011, see\n"
        "[the story](https://example.com/levain).\n"
        "- Rye bread is baked daily.\n"
        "| Loaf | Price |\n"
        "|---|---|\n"
        "| Rye | 4.50 |"
    ),
    score=0.5,
)


async def test_the_reply_does_not_announce_offline_mode() -> None:
    text = "".join(await reply("How many days do I have for returns?", [RETURNS, SHIPPING]))
    assert "offline" not in text.lower()


async def test_the_most_relevant_sentence_is_quoted_with_its_passage_number() -> None:
    text = "".join(await reply("How many days do I have for returns?", [RETURNS, SHIPPING]))
    sentences = split_sentences(text)
    assert sentences[0] == "Returns are accepted within 30 days of delivery [1]."
    assert "2019" not in text
    assert len(sentences) <= 2


async def test_citations_follow_the_order_the_passages_were_given_in() -> None:
    text = "".join(await reply("How long does international shipping take?", [RETURNS, SHIPPING]))
    assert split_sentences(text)[0] == "International shipping takes ten days [2]."


async def test_the_sentence_naming_the_asked_day_wins_over_those_sharing_only_common_words() -> None:
    text = "".join(await reply("Are you open on Sunday?", [HOURS]))
    assert (
        split_sentences(text)[0] == "On Sundays we open from 9 am until noon for bread collection only [1]."
    )
    assert "Monday" not in text


async def test_hard_wrapped_lines_are_joined_so_quotes_are_whole_sentences() -> None:
    text = "".join(await reply("When is the gluten-free loaf baked?", [BREAD]))
    assert (
        split_sentences(text)[0]
        == "The gluten-free loaf is baked every Tuesday and Friday in a separate oven [1]."
    )
    weekdays = "".join(await reply("When do your ovens get lit?", [HOURS]))
    assert "and our ovens are lit by 5 am [1]." in weekdays


async def test_quoted_sentences_carry_no_markup_and_only_their_own_citation() -> None:
    text = "".join(await reply("What does the sourdough use?", [BREAD]))
    assert split_sentences(text)[0] == "Our sourdough uses a levain kept since 2011, see the story [1]."
    spoken = speakable(text)
    assert not MARKUP_CHARACTERS & set(spoken)
    assert spoken == "Our sourdough uses a levain kept since 2011, see the story."


async def test_a_reply_stays_short_unless_more_is_asked_for() -> None:
    question = "When are you open on weekdays, Saturdays and Sundays?"
    short = speakable("".join(await reply(question, [HOURS])))
    longer = speakable(
        "".join(await reply(f"Tell me more about when you are open on {question[14:]}", [HOURS]))
    )
    assert len(short.split()) <= WORD_BUDGET + 20  # the best sentence is always whole
    assert len(split_sentences(short)) <= 2
    assert len(split_sentences(longer)) > len(split_sentences(short))


def test_unwrap_keeps_headings_list_items_and_table_rows_on_their_own_lines() -> None:
    assert unwrap(BREAD.content).split("\n") == [
        "## Our bread",
        "The **gluten-free loaf** is baked every Tuesday and Friday in a separate oven [3]. Our sourdough"
        " uses a `levain` kept since 2011, see [the story](https://example.com/levain).",
        "- Rye bread is baked daily.",
        "| Loaf | Price |",
        "|---|---|",
        "| Rye | 4.50 |",
    ]


async def test_the_reply_is_streamed_in_small_pieces_a_splitter_can_follow() -> None:
    pieces = await reply("When do refunds arrive?", [RETURNS])
    assert len(pieces) > 10
    assert all(len(p.split()) == 1 for p in pieces)
    splitter = SentenceSplitter()
    streamed = [s for p in pieces for s in splitter.feed(p)] + splitter.flush()
    assert streamed == split_sentences("".join(pieces))
    assert "Refunds go back to the original payment method within five working days [1]." in streamed


async def test_passages_sharing_no_words_still_yield_the_best_passage_opening() -> None:
    text = "".join(await reply("Zebra?", [SHIPPING, RETURNS]))
    assert split_sentences(text) == ["Our shop opened in 2019 in Leeds [2]."]


async def test_grounded_only_without_passages_says_plainly_it_does_not_know() -> None:
    text = "".join(await reply("What is the capital of France?", [], grounded_only=True))
    assert "offline" not in text
    assert "don't know" in text
    assert "knowledge base" in text
    assert "[" not in text


async def test_without_passages_and_not_grounded_it_suggests_uploading_documents() -> None:
    text = "".join(await reply("What is the capital of France?", [], grounded_only=False))
    assert "don't have any knowledge" in text
    assert "Uploading documents" in text


async def test_the_same_question_always_gets_the_same_pieces() -> None:
    question = "Tell me more: where do orders ship from, and how fast are refunds?"
    first = await reply(question, [RETURNS, SHIPPING])
    assert first == await reply(question, [RETURNS, SHIPPING])
    assert "[1]" in "".join(first)
    assert "[2]" in "".join(first)


async def test_it_can_stand_in_wherever_a_chat_model_is_expected() -> None:
    model: ChatModel = OfflineAnswerer()
    assert model.name == "offline"
    pieces = [p async for p in model.stream([ChatMessage(role="user", content="Hi?")])]
    assert "don't have any knowledge" in split_sentences("".join(pieces))[0]


def test_a_question_in_a_passage_is_not_quoted_as_the_answer() -> None:
    passage = made_up(
        "What are your opening hours?\n\nThe shop opens at nine and closes at six.", title="FAQ"
    )
    reply = compose("What are your opening hours?", [passage], grounded_only=True)
    assert reply == "The shop opens at nine and closes at six [1]."


REFERENCE = Passage(
    chunk_id=uuid.UUID(int=5),
    document_title="README",
    heading_path=["Quick start"],
    content=(
        "Needs Python 3.11 and make.\n\n"
        "`make dev` starts an embedded Postgres under `.data/`, then serves the studio.\n\n"
        "| Setting | Default | Meaning |\n"
        "|---|---|---|\n"
        "| `DATA_DIR` | `.data` | Where local mode keeps its database and token secret |\n"
        "| `PORT` | 8000 | Port of `make dev` |"
    ),
    score=0.7,
)


def test_a_sentence_opening_with_code_is_quoted_and_only_a_passages_first_tail_is_not() -> None:
    text = compose("What does make dev start?", [REFERENCE], grounded_only=True)
    assert (
        split_sentences(text)[0]
        == "make dev starts an embedded Postgres under dot data, then serves the studio [1]."
    )
    tail = made_up("then serves the studio on port 8000.")
    assert compose("Which port does the studio use?", [tail], grounded_only=True) == NOT_IN_KNOWLEDGE_BASE


def test_a_table_row_is_quoted_as_its_cells_and_the_header_row_is_not() -> None:
    text = compose("Which port does make dev use?", [REFERENCE], grounded_only=True)
    assert split_sentences(text)[0] == "PORT, 8000, Port of make dev [1]."
    assert "Setting" not in compose("What is the default setting?", [REFERENCE], grounded_only=True)


def test_forms_of_a_word_meet_beyond_a_plural() -> None:
    reservations = made_up(
        "Books can be renewed online. A reservation waits on the shelf for seven days. "
        "Late books cost nothing.",
        title="Borrowing",
    )
    text = compose("How long is a reserved book kept?", [reservations], grounded_only=True)
    assert split_sentences(text)[0] == "A reservation waits on the shelf for seven days [1]."


async def test_the_weekend_is_answered_by_the_days_that_make_it() -> None:
    text = "".join(await reply("Can I come at the weekend?", [HOURS]))
    assert split_sentences(text)[0].startswith("On Saturdays")
    assert "Monday" not in text


def test_a_when_question_is_answered_by_a_sentence_with_a_time() -> None:
    passage = made_up(
        "The book club meets in the reading room. The book club meets every Thursday at 6 pm.", title="Events"
    )
    text = compose("When does the book club meet?", [passage], grounded_only=True)
    assert split_sentences(text)[0] == "The book club meets every Thursday at 6 pm [1]."


def test_the_question_s_words_side_by_side_win_over_the_same_words_apart() -> None:
    passage = made_up(
        "Each provider has a key of its own, and the manager keeps the secrets. "
        "The secrets manager holds every provider key.",
        title="Keys",
    )
    text = compose("Where is the secrets manager?", [passage], grounded_only=True)
    assert split_sentences(text)[0] == "The secrets manager holds every provider key [1]."


def test_a_sentence_too_long_to_say_in_eight_seconds_is_said_from_its_start() -> None:
    long = made_up(
        "Sessions are owned by the backend: a session expires an hour after it starts, ends after five"
        " minutes without activity, and the cleanup function, which runs on a schedule in the cloud and"
        " in the server locally, ends both kinds every five minutes and records why each one ended.",
        title="Sessions",
    )
    text = speakable(compose("When does an idle session end without activity?", [long], grounded_only=True))
    assert "ends after five minutes without activity" in text
    assert len(text.split()) <= WORD_BUDGET
    assert text.endswith(".")
    assert text[0].isupper()
    more = speakable(compose("Tell me more about when a session ends", [long], grounded_only=True))
    assert "records why each one ended." in more


def test_the_question_s_own_word_counts_a_little_more_than_another_form_of_it() -> None:
    passage = made_up("Printing costs 10p per page. You can print at the front desk.", title="Services")
    text = compose("Where can I print?", [passage], grounded_only=True)
    assert split_sentences(text)[0] == "You can print at the front desk [1]."


def test_a_long_sentence_is_not_said_as_a_later_clause_that_lost_its_subject() -> None:
    overdue = made_up(
        "If a tool is more than four weeks overdue we treat it as lost and charge you for a new one,"
        " and the charge is cancelled when the tool comes back to any of our three sheds.",
        title="Tool library",
        heading=["Late returns"],
    )
    text = speakable(compose("What if I never bring the drill back?", [overdue], grounded_only=True))
    assert text.startswith("If a tool is more than four weeks overdue we treat it as lost")
    assert len(text.split()) <= WORD_BUDGET


def test_a_table_row_yields_to_a_sentence_that_states_the_same() -> None:
    rooms = made_up(
        "| Room | Seats |\n|---|---|\n| Oak room | 12 seats |\n| Elm hall | 40 seats |\n\n"
        "The Oak room seats 12 people around one table.",
        title="Community centre",
        heading=["Rooms"],
    )
    text = speakable(compose("How many seats does the Oak room have?", [rooms], grounded_only=True))
    assert text.startswith("The Oak room seats 12 people")
    row = speakable(compose("How many seats does the Elm hall have?", [rooms], grounded_only=True))
    assert row.startswith("Elm hall, 40 seats"), "a row that answers better is still quoted"


def test_a_hyphenated_word_meets_the_same_word_written_as_one() -> None:
    cafe = made_up(
        "The café opens at 8 am on weekdays. Free Wi-Fi covers the café and the garden.",
        title="The Corner Bakery",
        heading=["Café"],
    )
    text = speakable(compose("Is there wifi in the café?", [cafe], grounded_only=True))
    assert text.startswith("Free Wi-Fi covers the café")


def test_with_no_word_shared_the_first_statement_answers_before_a_table_row() -> None:
    loans = made_up(
        "| Item | Loan |\n|---|---|\n| Drills | 1 week |\n| Ladders | 2 days |\n\n"
        "Members can have up to 3 things out at a time.",
        title="Tool library",
        heading=["Loans"],
    )
    text = speakable(compose("How many can I take home together?", [loans], grounded_only=True))
    assert text == "Members can have up to 3 things out at a time."


def garden_setup(shell: str, after: str = "") -> Passage:
    """The garden planner's quick start, with `shell` as its shell block and `after` following it."""
    return made_up(
        f"## Quick start\n\nNeeds Python and a browser.\n\n```sh\n{shell}```\n\n{after}",
        title="Garden planner",
        heading=["Setting up"],
    )


def test_code_blocks_labels_and_lead_ins_are_not_quoted() -> None:
    setup = garden_setup(
        ".venv/bin/planner --config planner.toml serve   # serves the planner on port 8000\n"
        "planner check --all   # checks the whole test suite\n",
        "```python\nplanner.check(everything=True)  # checks the test suite from Python\n```\n\n"
        "Do it in this order:\n\n"
        "1. **Database and schema.** Create a database, then apply the schema with the setup command.\n",
    )
    served = speakable(compose("Which port serves the planner?", [setup], grounded_only=True))
    assert "serves the planner" not in served, "a command of paths and options is not said"
    checks = speakable(compose("How do I check the test suite from Python?", [setup], grounded_only=True))
    assert "from Python" not in checks, "a Python block is code, whatever its comments say"
    schema = speakable(compose("How do I set up the database schema?", [setup], grounded_only=True))
    assert schema.startswith("Create a database, then apply the schema")
    assert "order" not in schema


def test_a_short_shell_command_is_said_with_what_its_comment_says_it_does() -> None:
    quick_start = garden_setup(
        "make run    # installs what is missing, then serves the planner on port 8000\n"
        "make test   # runs the checks and the whole test suite\n"
        "$ make seed  # Sample beds and plants for a first look\n"
    )
    tests = speakable(compose("How do I run the tests?", [quick_start], grounded_only=True))
    assert tests == "make test runs the checks and the whole test suite."
    sample = speakable(compose("Is there sample data for a first look?", [quick_start], grounded_only=True))
    assert sample == "make seed: Sample beds and plants for a first look."
    assert unwrap(quick_start.content).count("\nmake ") == 2, "the block's lines are not joined"


def test_a_line_of_names_and_numbers_is_cut_by_how_long_it_takes_to_say_not_only_by_its_words() -> None:
    importer = made_up(
        "The importer reads setting 2019.11.29, setting 2021.03.14 and setting 20261129,"
        " then writes them out in a single pass.",
        title="Release notes",
        heading=["Upgrading"],
    )
    text = speakable(compose("What does the importer read?", [importer], grounded_only=True))
    assert len(re.findall(r"\w+", importer.content)) <= WORD_BUDGET, "its words alone would fit"
    assert text.startswith("The importer reads setting 2019.11.29")
    assert "single pass" not in text


def test_a_sentence_cut_short_ends_at_a_clause_outside_brackets() -> None:
    tokens = made_up(
        "A returning visitor keeps their token while it is still valid, and the page stores it (in a row"
        " of the visitors table, never in a user account, for a day) until it expires.",
        title="Widget",
        heading=["Visitors"],
    )
    text = speakable(compose("Does a returning visitor keep their token?", [tokens], grounded_only=True))
    # The last boundary that fits is where the aside in brackets begins: the aside is left out whole.
    assert text == "A returning visitor keeps their token while it is still valid, and the page stores it."


def test_a_two_part_question_gets_both_sentences_of_ordinary_prose_within_the_budget() -> None:
    ferry = made_up(
        "The Kestrel island ferry departs the harbour every Thursday at noon with the post.\n"
        "Passengers wait in the sheltered room beside the eastern quay.",
        title="Island ferry",
        heading=["Timetable"],
    )
    question = "When does the Kestrel island ferry depart, and where do passengers wait?"
    text = speakable(compose(question, [ferry], grounded_only=True))
    assert "every Thursday at noon" in text
    assert "sheltered room beside the eastern quay" in text


def test_a_question_asking_what_something_is_is_answered_by_the_opening_of_the_document_titled_after_it() -> (
    None
):
    opening = made_up(
        "Open every day in Leeds, we lend tools to our members. Membership is free.",
        title="About",
        heading=["Tool library"],
        score=0.5,
    )
    drills = made_up("The tool library lends drills for a week; tool library members book them.", "Loans")
    assert defined("What is the tool library?", [drills, opening]) is opening
    assert defined("Tell me about the Tool Library", [drills, opening]) is opening
    assert defined("What is the fee?", [drills, opening]) is None, "no title names a fee"
    assert defined("Who are you?", [drills, opening]) is None
    first = made_up(opening.content, opening.document_title, opening.heading_path, score=1.0)
    said = speakable(compose("What is the tool library?", [first, drills], grounded_only=True))
    assert said.startswith("Open every day in Leeds, we lend tools to our members.")


def test_asked_who_it_is_the_avatar_introduces_itself_from_its_persona() -> None:
    ava = Persona(
        name="Ava",
        persona="You are Ava, the guide to the tool library. Be brief.",
        language="en",
        grounded_only=True,
    )
    plain = Persona(name="Max", persona="Answer as the library's host.", language="en", grounded_only=True)
    assert introduction(ava) == "I am Ava, the guide to the tool library."
    assert introduction(plain) == "I am Max."
    for question in ("Who are you?", "What's your name?", "Please introduce yourself"):
        assert compose(question, [HOURS], grounded_only=True, introduction=introduction(ava)) == introduction(
            ava
        )
    assert compose("Who are you?", [HOURS], grounded_only=True) != introduction(ava), "without one, it quotes"
