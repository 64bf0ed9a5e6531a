"""The offline answerer: a grounded, cited, deterministic reply without any network."""

import uuid

from functions.core.llm.base import ChatMessage, ChatModel, Passage
from functions.core.llm.offline import OfflineAnswerer
from functions.core.text.sentences import SentenceSplitter, split_sentences

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


async def reply(question: str, passages: list[Passage], *, grounded_only: bool = True) -> list[str]:
    return [p async for p in OfflineAnswerer().answer(question, passages, grounded_only=grounded_only)]


async def test_the_first_sentence_says_it_is_in_offline_mode() -> None:
    text = "".join(await reply("How many days do I have for returns?", [RETURNS, SHIPPING]))
    assert "offline mode" in split_sentences(text)[0]


async def test_the_most_relevant_sentence_is_quoted_with_its_passage_number() -> None:
    text = "".join(await reply("How many days do I have for returns?", [RETURNS, SHIPPING]))
    sentences = split_sentences(text)
    assert sentences[1] == "Returns are accepted within 30 days of delivery [1]."
    assert "2019" not in text
    assert len(sentences) <= 4


async def test_citations_follow_the_order_the_passages_were_given_in() -> None:
    text = "".join(await reply("How long does international shipping take?", [RETURNS, SHIPPING]))
    assert split_sentences(text)[1] == "International shipping takes ten days [2]."


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
    assert split_sentences(text)[1] == "Our shop opened in 2019 in Leeds [2]."


async def test_grounded_only_without_passages_says_plainly_it_does_not_know() -> None:
    text = "".join(await reply("What is the capital of France?", [], grounded_only=True))
    assert "offline mode" in text
    assert "don't know" in text
    assert "knowledge base" in text
    assert "[" not in text


async def test_without_passages_and_not_grounded_it_suggests_uploading_documents() -> None:
    text = "".join(await reply("What is the capital of France?", [], grounded_only=False))
    assert "don't have any knowledge" in text
    assert "Uploading documents" in text


async def test_the_same_question_always_gets_the_same_pieces() -> None:
    question = "Where do orders ship from, and how fast are refunds?"
    first = await reply(question, [RETURNS, SHIPPING])
    assert first == await reply(question, [RETURNS, SHIPPING])
    assert "[1]" in "".join(first)
    assert "[2]" in "".join(first)


async def test_it_can_stand_in_wherever_a_chat_model_is_expected() -> None:
    model: ChatModel = OfflineAnswerer()
    assert model.name == "offline"
    pieces = [p async for p in model.stream([ChatMessage(role="user", content="Hi?")])]
    assert "offline mode" in split_sentences("".join(pieces))[0]
