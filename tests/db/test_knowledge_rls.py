"""Who may read and write knowledge documents and chunks, as the functions connect.

Documents are their owner's alone. Chunks are their owner's to write; an avatar's chunks may also be read
by a visitor bound to that avatar (claim `avatar_id`), which is what lets public.match_chunks run as the
caller. Every statement runs in a rolled-back transaction, with the role and claims set as the pool does.
"""

import uuid
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest

from tests.db.rls import (
    OPERATIONS,
    Actor,
    Admin,
    World,
    acting_as,
    actor_named,
    assert_cell,
    attempt,
    create_avatar,
    create_document,
    matrix_cells,
)

TABLES = ("knowledge_documents", "knowledge_chunks")


def create_chunk(
    conn: Admin, document_id: uuid.UUID, content: str = "The warranty lasts two years."
) -> uuid.UUID:
    row = conn.execute(
        "insert into public.knowledge_chunks (document_id, owner_id, avatar_id, position, content)"
        " select d.id, d.owner_id, d.avatar_id, 0, %s from public.knowledge_documents d where d.id = %s"
        " returning id",
        (content, document_id),
    ).fetchone()
    assert row is not None
    chunk_id: uuid.UUID = row["id"]
    return chunk_id


@dataclass(frozen=True)
class Knowledge:
    world: World
    document_id: uuid.UUID
    chunk_id: uuid.UUID
    second_document_id: uuid.UUID
    second_chunk_id: uuid.UUID
    other_avatar_id: uuid.UUID

    @property
    def params(self) -> dict[str, Any]:
        return {
            **self.world.params,
            "document_id": self.document_id,
            "chunk_id": self.chunk_id,
            "second_document_id": self.second_document_id,
            "second_chunk_id": self.second_chunk_id,
            "other_avatar_id": self.other_avatar_id,
        }


@pytest.fixture
def knowledge(admin: Admin, world: World) -> Knowledge:
    """A document with a chunk for each of the owner's avatars; another user's avatar. Removing the
    world's users cascades to all of it."""
    document_id = create_document(admin, world.owner_id, world.avatar_id)
    second_document_id = create_document(admin, world.owner_id, world.second_avatar_id, "Second")
    return Knowledge(
        world=world,
        document_id=document_id,
        chunk_id=create_chunk(admin, document_id),
        second_document_id=second_document_id,
        second_chunk_id=create_chunk(admin, second_document_id),
        other_avatar_id=create_avatar(admin, world.other_id, "Other"),
    )


STATEMENTS: dict[str, dict[str, str]] = {
    "knowledge_documents": {
        "select": "select id from public.knowledge_documents where id = %(document_id)s",
        "insert": "insert into public.knowledge_documents (owner_id, avatar_id, title, content_hash)"
        " values (%(owner_id)s, %(avatar_id)s, 'Matrix', 'matrix-hash') returning id",
        "update": "update public.knowledge_documents set title = 'Renamed'"
        " where id = %(document_id)s returning id",
        "delete": "delete from public.knowledge_documents where id = %(document_id)s returning id",
    },
    "knowledge_chunks": {
        "select": "select id from public.knowledge_chunks where id = %(chunk_id)s",
        "insert": "insert into public.knowledge_chunks (document_id, owner_id, avatar_id, position, content)"
        " values (%(document_id)s, %(owner_id)s, %(avatar_id)s, 1, 'More text') returning id",
        "update": "update public.knowledge_chunks set content = 'Edited'"
        " where id = %(chunk_id)s returning id",
        "delete": "delete from public.knowledge_chunks where id = %(chunk_id)s returning id",
    },
}

# What each actor may do to the owner's rows (of the avatar the visitor is bound to); all else is denied.
ALLOWED: dict[str, dict[str, set[str]]] = {
    "owner": {table: set(OPERATIONS) for table in TABLES},
    "another_user": {},
    "anon": {},
    # A visitor reads the chunks of their avatar (public.match_chunks runs as them), never documents.
    "visitor": {"knowledge_chunks": {"select"}},
}


CELLS = matrix_cells(ALLOWED, TABLES)


@pytest.mark.parametrize(("actor", "table", "operation", "allowed"), CELLS)
def test_each_actor_may_do_exactly_what_the_matrix_allows(
    admin: Admin, knowledge: Knowledge, actor: str, table: str, operation: str, allowed: bool
) -> None:
    outcome = attempt(
        admin, actor_named(knowledge.world, actor), STATEMENTS[table][operation], knowledge.params
    )
    assert_cell(outcome, operation, allowed)


def test_a_visitor_cannot_read_chunks_of_another_avatar_of_the_same_owner(
    admin: Admin, knowledge: Knowledge
) -> None:
    outcome = attempt(
        admin,
        knowledge.world.visitor,
        "select id from public.knowledge_chunks where avatar_id <> %(avatar_id)s",
        knowledge.params,
    )
    assert outcome.rows == []


def test_a_visitor_sees_only_their_avatars_chunks_in_a_full_scan(admin: Admin, knowledge: Knowledge) -> None:
    outcome = attempt(admin, knowledge.world.visitor, "select id from public.knowledge_chunks", None)
    assert [row["id"] for row in outcome.rows] == [knowledge.chunk_id]


def test_a_user_whose_claim_names_an_avatar_sees_nothing_of_another_owners_avatar(
    admin: Admin, knowledge: Knowledge
) -> None:
    intruder = Actor.user(knowledge.world.other_id, avatar_id=knowledge.other_avatar_id)
    outcome = attempt(admin, intruder, "select id from public.knowledge_chunks", None)
    assert outcome.rows == []


def test_an_owner_cannot_add_a_document_to_another_users_avatar(admin: Admin, knowledge: Knowledge) -> None:
    outcome = attempt(
        admin,
        knowledge.world.owner,
        "insert into public.knowledge_documents (avatar_id, title, content_hash)"
        " values (%(other_avatar_id)s, 'Planted', 'planted') returning id",
        knowledge.params,
    )
    assert outcome.error is not None, outcome


def test_an_owner_cannot_move_a_document_to_another_users_avatar(admin: Admin, knowledge: Knowledge) -> None:
    outcome = attempt(
        admin,
        knowledge.world.owner,
        "update public.knowledge_documents set avatar_id = %(other_avatar_id)s"
        " where id = %(document_id)s returning id",
        knowledge.params,
    )
    assert outcome.error is not None, outcome


def test_a_chunk_must_belong_to_its_documents_avatar(admin: Admin, knowledge: Knowledge) -> None:
    outcome = attempt(
        admin,
        knowledge.world.owner,
        "insert into public.knowledge_chunks (document_id, avatar_id, position, content)"
        " values (%(document_id)s, %(second_avatar_id)s, 1, 'Misfiled') returning id",
        knowledge.params,
    )
    assert outcome.error is not None, outcome


def test_another_user_cannot_add_chunks_to_the_owners_document_as_themselves(
    admin: Admin, knowledge: Knowledge
) -> None:
    outcome = attempt(
        admin,
        knowledge.world.other,
        "insert into public.knowledge_chunks (document_id, avatar_id, position, content)"
        " values (%(document_id)s, %(avatar_id)s, 1, 'Planted') returning id",
        knowledge.params,
    )
    assert outcome.error is not None, outcome


def test_an_owner_can_add_a_document_and_chunk_with_defaults(admin: Admin, knowledge: Knowledge) -> None:
    with acting_as(admin, knowledge.world.owner) as conn:
        document = conn.execute(
            "insert into public.knowledge_documents (avatar_id, title, content_hash)"
            " values (%s, 'Guide', 'guide-hash') returning owner_id, status, chunks_done",
            (knowledge.world.avatar_id,),
        ).fetchone()
        assert document == {"owner_id": knowledge.world.owner_id, "status": "queued", "chunks_done": 0}


def test_the_same_content_is_one_document_per_avatar(admin: Admin, knowledge: Knowledge) -> None:
    hash_row = admin.execute(
        "select content_hash from public.knowledge_documents where id = %s", (knowledge.document_id,)
    ).fetchone()
    assert hash_row is not None
    with acting_as(admin, knowledge.world.owner) as conn, pytest.raises(psycopg.errors.UniqueViolation):
        conn.execute(
            "insert into public.knowledge_documents (avatar_id, title, content_hash)"
            " values (%s, 'Again', %s)",
            (knowledge.world.avatar_id, hash_row["content_hash"]),
        )


def test_the_same_content_may_serve_two_avatars(admin: Admin, knowledge: Knowledge) -> None:
    hash_row = admin.execute(
        "select content_hash from public.knowledge_documents where id = %s", (knowledge.document_id,)
    ).fetchone()
    assert hash_row is not None
    outcome = attempt(
        admin,
        knowledge.world.owner,
        "insert into public.knowledge_documents (avatar_id, title, content_hash)"
        " values (%(avatar)s, 'Shared', %(hash)s) returning id",
        {"avatar": knowledge.world.second_avatar_id, "hash": hash_row["content_hash"]},
    )
    assert outcome.allowed, outcome


def test_deleting_a_document_deletes_its_chunks(admin: Admin, knowledge: Knowledge) -> None:
    with acting_as(admin, knowledge.world.owner) as conn:
        conn.execute("delete from public.knowledge_documents where id = %s", (knowledge.document_id,))
        left = conn.execute(
            "select count(*) as n from public.knowledge_chunks where document_id = %s",
            (knowledge.document_id,),
        ).fetchone()
    assert left == {"n": 0}


def test_updating_a_document_touches_updated_at(admin: Admin, knowledge: Knowledge) -> None:
    admin.execute(
        "update public.knowledge_documents set updated_at = now() - interval '1 day' where id = %s",
        (knowledge.document_id,),
    )
    with acting_as(admin, knowledge.world.owner) as conn:
        row = conn.execute(
            "update public.knowledge_documents set status = 'indexing', chunks_total = 3"
            " where id = %s returning updated_at > now() - interval '1 minute' as fresh",
            (knowledge.document_id,),
        ).fetchone()
    assert row == {"fresh": True}


def test_a_small_model_embedding_must_have_1536_dimensions(admin: Admin, knowledge: Knowledge) -> None:
    with acting_as(admin, knowledge.world.owner) as conn, pytest.raises(psycopg.errors.CheckViolation):
        conn.execute(
            "update public.knowledge_chunks set embedding = '[1,2,3]',"
            " embedding_model = 'text-embedding-3-small' where id = %s",
            (knowledge.chunk_id,),
        )


def test_an_embedding_needs_its_model(admin: Admin, knowledge: Knowledge) -> None:
    with acting_as(admin, knowledge.world.owner) as conn, pytest.raises(psycopg.errors.CheckViolation):
        conn.execute(
            "update public.knowledge_chunks set embedding = '[1,2,3]' where id = %s", (knowledge.chunk_id,)
        )


def test_chunk_text_is_indexed_for_full_text_search_without_stemming(
    admin: Admin, knowledge: Knowledge
) -> None:
    row = admin.execute(
        "select fts::text as fts from public.knowledge_chunks where id = %s", (knowledge.chunk_id,)
    )
    fetched = row.fetchone()
    assert fetched is not None
    assert "'warranty'" in fetched["fts"]
    assert "'lasts'" in fetched["fts"]
