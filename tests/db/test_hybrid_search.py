"""public.match_chunks: full text (BM25) and vectors fused by reciprocal rank, run as the caller (RLS)."""

import uuid
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest

from tests.db.rls import Actor, Admin, World, acting_as, attempt, create_avatar, create_document, rows_as

SMALL = "text-embedding-3-small"
DIMS = 1536

MATCH = (
    "select * from public.match_chunks(%(avatar)s, %(query)s, %(embedding)s::extensions.vector,"
    " %(model)s, %(limit)s, %(k)s)"
)


def vector(components: dict[int, float], dims: int = DIMS) -> str:
    """A vector literal, zero except for the given components."""
    values = [0.0] * dims
    for index, value in components.items():
        values[index] = value
    return "[" + ",".join(repr(value) for value in values) + "]"


# The query embedding points along axis 0; each chunk's cosine similarity to it is set by its angle.
QUERY = vector({0: 1.0})


@dataclass(frozen=True)
class Corpus:
    world: World
    chunks: dict[str, uuid.UUID]
    other_avatar_id: uuid.UUID


def _chunk(
    conn: Admin,
    document_id: uuid.UUID,
    position: int,
    content: str,
    embedding: str | None = None,
    model: str | None = SMALL,
) -> uuid.UUID:
    row = conn.execute(
        "insert into public.knowledge_chunks"
        " (document_id, owner_id, avatar_id, position, heading_path, content, embedding, embedding_model)"
        " select d.id, d.owner_id, d.avatar_id, %s, array[d.title, 'Section ' || %s], %s,"
        " %s::extensions.vector, %s"
        " from public.knowledge_documents d where d.id = %s returning id",
        (position, position, content, embedding, model if embedding is not None else None, document_id),
    ).fetchone()
    assert row is not None
    chunk_id: uuid.UUID = row["id"]
    return chunk_id


@pytest.fixture
def corpus(admin: Admin, world: World) -> Corpus:
    """The owner's avatar holds a manual; another user's avatar holds a chunk that matches every query
    exactly, by text and by vector. Removing the world's users cascades to all of it."""
    manual = create_document(admin, world.owner_id, world.avatar_id, "Manual", status="ready")
    chunks = {
        # Best by text ("battery" three times), worst by vector (opposite the query).
        "text_best": _chunk(
            admin,
            manual,
            0,
            "Battery care: charge the battery before the battery runs flat.",
            vector({0: -1.0}),
        ),
        # Second on both sides: what fusion should prefer.
        "both_good": _chunk(
            admin, manual, 1, "The battery lasts ten hours of talking.", vector({0: 1.0, 1: 0.5})
        ),
        # Best by vector, no text match.
        "vector_best": _chunk(admin, manual, 2, "Power saving dims the screen.", vector({0: 1.0})),
        "filler_near": _chunk(admin, manual, 3, "The screen is glass.", vector({0: 1.0, 1: 1.0})),
        "filler_far": _chunk(admin, manual, 4, "The case is aluminium.", vector({0: 1.0, 1: 2.0})),
        "warranty": _chunk(admin, manual, 5, "The warranty covers manufacturing defects for two years."),
        # Another model's 3-dimensional embeddings, compared only with that model's queries.
        "tiny_near": _chunk(admin, manual, 6, "Tiny near.", "[1,0,0]", "tiny-3d"),
        "tiny_far": _chunk(admin, manual, 7, "Tiny far.", "[0,1,0]", "tiny-3d"),
    }
    second = create_document(
        admin, world.owner_id, world.second_avatar_id, "Second avatar's notes", status="ready"
    )
    chunks["second_avatar"] = _chunk(admin, second, 0, "Battery warranty notes.", QUERY)
    other_avatar_id = create_avatar(admin, world.other_id, "Rival")
    rival = create_document(admin, world.other_id, other_avatar_id, "Rival secrets", status="ready")
    chunks["rival"] = _chunk(admin, rival, 0, "Battery battery battery warranty warranty secret.", QUERY)
    return Corpus(world=world, chunks=chunks, other_avatar_id=other_avatar_id)


def match(
    admin: Admin,
    actor: Actor,
    avatar: uuid.UUID,
    query: str,
    embedding: str | None = None,
    model: str | None = None,
    limit: int = 6,
    k: int = 60,
) -> list[dict[str, Any]]:
    params = {
        "avatar": avatar,
        "query": query,
        "embedding": embedding,
        "model": model,
        "limit": limit,
        "k": k,
    }
    return rows_as(admin, actor, MATCH, params)


def _names(corpus: Corpus, rows: list[dict[str, Any]]) -> list[str]:
    by_id = {chunk_id: name for name, chunk_id in corpus.chunks.items()}
    return [by_id[row["chunk_id"]] for row in rows]


def test_full_text_finds_the_matching_chunk_with_its_document(admin: Admin, corpus: Corpus) -> None:
    rows = match(admin, corpus.world.owner, corpus.world.avatar_id, "warranty defects")
    assert _names(corpus, rows) == ["warranty"]
    [row] = rows
    assert row["document_title"] == "Manual"
    assert row["heading_path"] == ["Manual", "Section 5"]
    assert row["content"] == "The warranty covers manufacturing defects for two years."
    assert (row["fts_rank"], row["vector_rank"]) == (1, None)
    assert row["score"] == pytest.approx(1 / 61)


def test_full_text_ranks_the_chunk_saying_the_word_more_often_first(admin: Admin, corpus: Corpus) -> None:
    rows = match(admin, corpus.world.owner, corpus.world.avatar_id, "battery")
    assert _names(corpus, rows) == ["text_best", "both_good"]
    assert [row["fts_rank"] for row in rows] == [1, 2]


def test_full_text_weighs_a_rare_word_above_a_common_one_said_often(admin: Admin, corpus: Corpus) -> None:
    # "battery" is in two of the three matching chunks, three times in one; "warranty" in one, once.
    rows = match(admin, corpus.world.owner, corpus.world.avatar_id, "battery or warranty")
    assert _names(corpus, rows) == ["warranty", "text_best", "both_good"]


def _headed_chunk(admin: Admin, corpus: Corpus, heading_path: list[str], content: str) -> uuid.UUID:
    row = admin.execute(
        "insert into public.knowledge_chunks"
        " (document_id, owner_id, avatar_id, position, heading_path, content)"
        " select document_id, owner_id, avatar_id, 30, %s, %s from public.knowledge_chunks where id = %s"
        " returning id",
        (heading_path, content, corpus.chunks["warranty"]),
    ).fetchone()
    assert row is not None
    chunk_id: uuid.UUID = row["id"]
    return chunk_id


def test_full_text_finds_the_words_of_the_headings_above_a_chunk(admin: Admin, corpus: Corpus) -> None:
    hours = _headed_chunk(
        admin, corpus, ["Visiting us", "Opening hours"], "We open at nine and close at six."
    )
    rows = match(admin, corpus.world.owner, corpus.world.avatar_id, "opening")
    assert [row["chunk_id"] for row in rows] == [hours]


def test_a_word_in_the_headings_outweighs_the_same_word_said_often_in_the_text(
    admin: Admin, corpus: Corpus
) -> None:
    # Headings are a field of their own: "refunds" naming the section counts once in full, on top of
    # the chunk's own count, where three mentions in another chunk's text saturate.
    section = _headed_chunk(
        admin, corpus, ["Guide", "Refunds"], "Send the form back within thirty days and we pay you."
    )
    mentions = _headed_chunk(
        admin,
        corpus,
        ["Guide", "Shipping"],
        "A refund for shipping is rare; a refund for a late parcel is paid as credit; a refund takes a week.",
    )
    rows = match(admin, corpus.world.owner, corpus.world.avatar_id, '"refund" or "refunds"')
    assert [row["chunk_id"] for row in rows] == [section, mentions]


def test_at_most_two_chunks_of_one_section_come_before_the_other_sections(
    admin: Admin, corpus: Corpus
) -> None:
    table = [
        _headed_chunk(admin, corpus, ["Guide", "Parcels"], f"| parcel {n} | parcel | parcel |")
        for n in range(3)
    ]
    returns = _headed_chunk(admin, corpus, ["Guide", "Returns"], "A parcel can come back to us for a week.")
    rows = match(admin, corpus.world.owner, corpus.world.avatar_id, "parcel", limit=3)
    assert [row["chunk_id"] for row in rows][2] == returns
    assert {row["chunk_id"] for row in rows[:2]} <= set(table)
    # The section's third chunk is not dropped: it follows the other sections' chunks.
    rows = match(admin, corpus.world.owner, corpus.world.avatar_id, "parcel", limit=6)
    assert len(rows) == 4
    assert rows[2]["chunk_id"] == returns
    assert {row["chunk_id"] for row in rows} == {*table, returns}
    assert rows[3]["fts_rank"] < rows[2]["fts_rank"]


def test_full_text_reads_paths_and_identifiers_as_their_words(admin: Admin, corpus: Corpus) -> None:
    route = _headed_chunk(
        admin, corpus, ["API"], "`POST /v1/sessions/{id}/interrupt` keeps what was heard; see docs/api.md."
    )
    for query in ("interrupt", "sessions", "api", "docs/api.md", "/v1/sessions/{id}/interrupt"):
        rows = match(admin, corpus.world.owner, corpus.world.avatar_id, query)
        assert [row["chunk_id"] for row in rows] == [route], query


def test_websearch_syntax_excludes_terms(admin: Admin, corpus: Corpus) -> None:
    rows = match(admin, corpus.world.owner, corpus.world.avatar_id, "battery -charge")
    assert _names(corpus, rows) == ["both_good"]


def test_vectors_rank_by_cosine_similarity(admin: Admin, corpus: Corpus) -> None:
    rows = match(admin, corpus.world.owner, corpus.world.avatar_id, "", QUERY, SMALL, limit=5)
    assert _names(corpus, rows) == ["vector_best", "both_good", "filler_near", "filler_far", "text_best"]
    assert [row["vector_rank"] for row in rows] == [1, 2, 3, 4, 5]
    assert all(row["fts_rank"] is None for row in rows)


def test_fusion_prefers_a_chunk_that_ranks_well_on_both_sides(admin: Admin, corpus: Corpus) -> None:
    rows = match(admin, corpus.world.owner, corpus.world.avatar_id, "battery", QUERY, SMALL, limit=3)
    assert _names(corpus, rows) == ["both_good", "text_best", "vector_best"]
    best = rows[0]
    assert (best["fts_rank"], best["vector_rank"]) == (2, 2)
    assert best["score"] == pytest.approx(2 / 62)
    assert rows[1]["score"] == pytest.approx(1 / 61 + 1 / 65)
    assert [row["score"] for row in rows] == sorted((row["score"] for row in rows), reverse=True)


def test_the_rrf_constant_changes_the_fusion(admin: Admin, corpus: Corpus) -> None:
    rows = match(admin, corpus.world.owner, corpus.world.avatar_id, "battery", QUERY, SMALL, limit=1, k=0)
    # With k = 0 a first place (1/1) outweighs two second places (1/2 + 1/2) only on a tie; the tie
    # goes to the best single rank.
    assert rows[0]["score"] == pytest.approx(1.0)


def test_another_models_embeddings_are_compared_only_with_that_model(admin: Admin, corpus: Corpus) -> None:
    rows = match(admin, corpus.world.owner, corpus.world.avatar_id, "", "[1,0.1,0]", "tiny-3d")
    assert _names(corpus, rows) == ["tiny_near", "tiny_far"]
    assert [row["vector_rank"] for row in rows] == [1, 2]


def test_an_embedding_without_its_model_is_refused(admin: Admin, corpus: Corpus) -> None:
    with pytest.raises(psycopg.errors.InvalidParameterValue):
        match(admin, corpus.world.owner, corpus.world.avatar_id, "battery", QUERY, None)


def test_an_empty_query_without_embedding_returns_nothing(admin: Admin, corpus: Corpus) -> None:
    assert match(admin, corpus.world.owner, corpus.world.avatar_id, "  ") == []


@pytest.mark.parametrize(("limit", "k"), [(0, 60), (101, 60), (6, -1)])
def test_out_of_range_limits_are_refused(admin: Admin, corpus: Corpus, limit: int, k: int) -> None:
    with pytest.raises(psycopg.errors.InvalidParameterValue):
        match(admin, corpus.world.owner, corpus.world.avatar_id, "battery", limit=limit, k=k)


def test_another_owners_chunks_never_come_back_even_when_they_match_best(
    admin: Admin, corpus: Corpus
) -> None:
    owner = corpus.world.owner
    mine = match(admin, owner, corpus.world.avatar_id, "battery warranty secret", QUERY, SMALL, limit=20)
    assert "rival" not in _names(corpus, mine)
    assert "second_avatar" not in _names(corpus, mine)
    assert match(admin, owner, corpus.other_avatar_id, "battery warranty secret", QUERY, SMALL) == []


def test_the_rival_owner_gets_only_their_own(admin: Admin, corpus: Corpus) -> None:
    rival = corpus.world.other
    assert _names(corpus, match(admin, rival, corpus.other_avatar_id, "battery", QUERY, SMALL)) == ["rival"]
    assert match(admin, rival, corpus.world.avatar_id, "battery", QUERY, SMALL) == []


def test_a_visitor_bound_to_an_avatar_searches_only_that_avatar(admin: Admin, corpus: Corpus) -> None:
    visitor = corpus.world.visitor
    rows = match(admin, visitor, corpus.world.avatar_id, "battery", QUERY, SMALL, limit=3)
    assert _names(corpus, rows) == ["both_good", "text_best", "vector_best"]
    # The title comes back although documents themselves are owner-only.
    assert {row["document_title"] for row in rows} == {"Manual"}
    assert attempt(admin, visitor, "select id from public.knowledge_documents", None).rows == []
    assert match(admin, visitor, corpus.world.second_avatar_id, "battery", QUERY, SMALL) == []
    assert match(admin, visitor, corpus.other_avatar_id, "battery", QUERY, SMALL) == []


def test_a_visitor_cannot_read_titles_of_other_avatars_documents(admin: Admin, corpus: Corpus) -> None:
    rows = rows_as(
        admin,
        corpus.world.visitor,
        "select private.knowledge_document_title(document_id) as title from public.knowledge_chunks",
    )
    assert {row["title"] for row in rows} == {"Manual"}
    rival_document = admin.execute(
        "select document_id from public.knowledge_chunks where id = %s", (corpus.chunks["rival"],)
    ).fetchone()
    assert rival_document is not None
    title = rows_as(
        admin,
        corpus.world.visitor,
        "select private.knowledge_document_title(%(id)s) as title",
        {"id": rival_document["document_id"]},
    )
    assert title == [{"title": None}]


def test_anon_may_not_call_match_chunks(admin: Admin, corpus: Corpus) -> None:
    params = {"avatar": corpus.world.avatar_id, "query": "battery", "embedding": None, "model": None}
    outcome = attempt(admin, Actor.anon(), MATCH, {**params, "limit": 6, "k": 60})
    assert isinstance(outcome.error, psycopg.errors.InsufficientPrivilege), outcome


def test_the_small_model_search_can_use_the_partial_hnsw_index(admin: Admin, corpus: Corpus) -> None:
    """The function's statement shape (expression, operator, predicate) is served by the index."""
    with acting_as(admin, corpus.world.owner) as conn:
        # Tiny tables favour a scan and a sort; forbid both so the plan shows whether the index applies.
        conn.execute("set local enable_seqscan = off")
        conn.execute("set local enable_sort = off")
        plan = conn.execute(
            "explain (costs off) select c.id from public.knowledge_chunks c"
            " where c.avatar_id = %(avatar)s and c.embedding_model = 'text-embedding-3-small'"
            " order by c.embedding::extensions.vector(1536)"
            " operator(extensions.<=>) %(q)s::extensions.vector::extensions.vector(1536) limit 24",
            {"avatar": corpus.world.avatar_id, "q": QUERY},
        ).fetchall()
    assert "knowledge_chunks_embedding_3_small_idx" in "\n".join(row["QUERY PLAN"] for row in plan)


TEXT_HELPER = (
    "select * from private.match_chunk_text(%(avatar)s, websearch_to_tsquery('simple', %(query)s), 24)"
)


def test_the_text_search_helper_answers_only_callers_who_may_read_the_avatars_chunks(
    admin: Admin, corpus: Corpus
) -> None:
    """It runs as its definer (so the full-text index applies), and enforces what RLS would."""
    world = corpus.world
    params = {"avatar": world.avatar_id, "query": "battery or warranty"}
    assert len(rows_as(admin, world.owner, TEXT_HELPER, params)) == 3
    assert len(rows_as(admin, world.visitor, TEXT_HELPER, params)) == 3
    assert rows_as(admin, world.other, TEXT_HELPER, params) == []
    assert rows_as(admin, world.visitor, TEXT_HELPER, {**params, "avatar": world.second_avatar_id}) == []
    assert rows_as(admin, world.visitor, TEXT_HELPER, {**params, "avatar": corpus.other_avatar_id}) == []
    assert len(rows_as(admin, Actor("service_role", {}), TEXT_HELPER, params)) == 3
    outcome = attempt(admin, Actor.anon(), TEXT_HELPER, params)
    assert isinstance(outcome.error, psycopg.errors.InsufficientPrivilege), outcome


E5 = "multilingual-e5-small-q4"


def test_the_local_models_chunks_have_their_own_index_and_size(admin: Admin, corpus: Corpus) -> None:
    document = admin.execute(
        "select document_id from public.knowledge_chunks where id = %s", (corpus.chunks["warranty"],)
    ).fetchone()
    assert document is not None
    near = _chunk(admin, document["document_id"], 20, "Local near.", vector({0: 1.0}, 384), E5)
    _chunk(admin, document["document_id"], 21, "Local far.", vector({1: 1.0}, 384), E5)
    with pytest.raises(psycopg.errors.CheckViolation):
        _chunk(admin, document["document_id"], 22, "Wrong size.", vector({0: 1.0}, 383), E5)
    rows = match(admin, corpus.world.owner, corpus.world.avatar_id, "", vector({0: 1.0, 1: 0.1}, 384), E5)
    assert [row["chunk_id"] for row in rows][:1] == [near]
    assert len(rows) == 2
    with acting_as(admin, corpus.world.owner) as conn:
        conn.execute("set local enable_seqscan = off")
        conn.execute("set local enable_sort = off")
        plan = conn.execute(
            "explain (costs off) select c.id from public.knowledge_chunks c"
            f" where c.avatar_id = %(avatar)s and c.embedding_model = '{E5}'"
            " order by c.embedding::extensions.vector(384)"
            " operator(extensions.<=>) %(q)s::extensions.vector::extensions.vector(384) limit 24",
            {"avatar": corpus.world.avatar_id, "q": vector({0: 1.0}, 384)},
        ).fetchall()
    assert "knowledge_chunks_embedding_e5_small_idx" in "\n".join(row["QUERY PLAN"] for row in plan)
