"""Who may read and write an avatar's tools, their secret headers and the contacts visitors leave.

Tools and their headers are their owner's alone, and a header's value is never selectable, not even by its
owner. A contact is its avatar owner's to read; a visitor may add one to their own live session only.
Every statement runs in a rolled-back transaction, with the role and claims set as the pool does.
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
    create_session,
    matrix_cells,
)

TABLES = ("avatar_tools", "avatar_tool_headers", "contacts")


@dataclass(frozen=True)
class Tools:
    world: World
    tool_id: uuid.UUID
    contact_id: uuid.UUID
    visitor_live_session_id: uuid.UUID
    other_avatar_id: uuid.UUID

    @property
    def params(self) -> dict[str, Any]:
        return {
            **self.world.params,
            "tool_id": self.tool_id,
            "contact_id": self.contact_id,
            "visitor_live_session_id": self.visitor_live_session_id,
            "other_avatar_id": self.other_avatar_id,
        }


@pytest.fixture
def tools(admin: Admin, world: World) -> Tools:
    """An HTTP tool with a secret header on the owner's avatar, a contact left in the owner's session, a
    live session of the visitor, and another user's avatar. Removing the world's users cascades to all."""
    tool = admin.execute(
        "insert into public.avatar_tools (owner_id, avatar_id, kind, name, description, method, url,"
        " signing_secret) values (%s, %s, 'http', 'lookup', 'Looks up.', 'GET', 'https://x.example/q',"
        " repeat('k', 40)) returning id",
        (world.owner_id, world.avatar_id),
    ).fetchone()
    assert tool is not None
    admin.execute(
        "insert into public.avatar_tool_headers (tool_id, owner_id, name, value)"
        " values (%s, %s, 'X-Key', 'v')",
        (tool["id"], world.owner_id),
    )
    contact = admin.execute(
        "insert into public.contacts (session_id, email) values (%s, 'a@example.com') returning id",
        (world.session_id,),
    ).fetchone()
    assert contact is not None
    return Tools(
        world=world,
        tool_id=tool["id"],
        contact_id=contact["id"],
        visitor_live_session_id=create_session(admin, world.visitor_id, world.avatar_id),
        other_avatar_id=create_avatar(admin, world.other_id, "Other"),
    )


STATEMENTS: dict[str, dict[str, str]] = {
    "avatar_tools": {
        "select": "select id from public.avatar_tools where id = %(tool_id)s",
        "insert": "insert into public.avatar_tools (avatar_id, kind, name, signing_secret)"
        " values (%(avatar_id)s, 'end_conversation', 'end_conversation', repeat('s', 40)) returning id",
        "update": "update public.avatar_tools set description = 'Edited' where id = %(tool_id)s returning id",
        "delete": "delete from public.avatar_tools where id = %(tool_id)s returning id",
    },
    "avatar_tool_headers": {
        "select": "select name from public.avatar_tool_headers where tool_id = %(tool_id)s",
        "insert": "insert into public.avatar_tool_headers (tool_id, name, value)"
        " values (%(tool_id)s, 'X-Other', 'w') returning tool_id",
        "update": "update public.avatar_tool_headers set name = 'X-Renamed' where tool_id = %(tool_id)s"
        " returning tool_id",
        "delete": "delete from public.avatar_tool_headers where tool_id = %(tool_id)s returning tool_id",
    },
    "contacts": {
        "select": "select id from public.contacts where id = %(contact_id)s",
        "insert": "insert into public.contacts (session_id, phone) values (%(session_id)s, '+1 555 0100')"
        " returning id",
        "update": "update public.contacts set note = 'Edited' where id = %(contact_id)s returning id",
        "delete": "delete from public.contacts where id = %(contact_id)s returning id",
    },
}

# What each actor may do to the owner's rows; everything not listed is denied. Nobody edits a contact or a
# header (a header is replaced by deleting and adding it).
ALLOWED: dict[str, dict[str, set[str]]] = {
    "owner": {
        "avatar_tools": set(OPERATIONS),
        "avatar_tool_headers": {"select", "insert", "delete"},
        "contacts": {"select", "insert", "delete"},
    },
    "another_user": {},
    "anon": {},
    "visitor": {},
}


CELLS = matrix_cells(ALLOWED, TABLES)


@pytest.mark.parametrize(("actor", "table", "operation", "allowed"), CELLS)
def test_each_actor_may_do_exactly_what_the_matrix_allows(
    admin: Admin, tools: Tools, actor: str, table: str, operation: str, allowed: bool
) -> None:
    outcome = attempt(admin, actor_named(tools.world, actor), STATEMENTS[table][operation], tools.params)
    assert_cell(outcome, operation, allowed)


def test_no_one_reads_a_header_value_or_a_signing_secret(admin: Admin, tools: Tools) -> None:
    for sql in (
        "select value from public.avatar_tool_headers where tool_id = %(tool_id)s",
        "select signing_secret from public.avatar_tools where id = %(tool_id)s",
    ):
        outcome = attempt(admin, tools.world.owner, sql, tools.params)
        assert "permission denied" in str(outcome.error)


def test_the_server_gets_the_headers_and_secret_only_for_an_avatar_the_caller_may_use(
    admin: Admin, tools: Tools
) -> None:
    sql = "select signing_secret, headers from private.session_tools(%(avatar_id)s)"
    for actor in (tools.world.owner, tools.world.visitor):
        assert attempt(admin, actor, sql, tools.params).rows == [
            {"signing_secret": "k" * 40, "headers": {"X-Key": "v"}}
        ]
    stranger = Actor.user(tools.world.other_id, avatar_id=tools.other_avatar_id)
    assert attempt(admin, stranger, sql, tools.params).rows == []


def insert_as(conn: Admin, actor: Actor, sql: str, params: dict[str, Any]) -> str | None:
    """An insert without RETURNING (a visitor may add a contact, not read it): the privilege error, if any."""
    try:
        with acting_as(conn, actor) as acting:
            acting.execute(sql.encode(), params)
    except psycopg.errors.InsufficientPrivilege as exc:
        return str(exc)
    return None


def test_a_visitor_adds_a_contact_to_their_own_live_session_only(admin: Admin, tools: Tools) -> None:
    insert = "insert into public.contacts (session_id, email) values (%(target)s, 'v@example.com')"
    visitor = tools.world.visitor
    assert insert_as(admin, visitor, insert, {"target": tools.visitor_live_session_id}) is None
    for target in (tools.world.visitor_session_id, tools.world.session_id):  # their ended one; the owner's
        assert insert_as(admin, visitor, insert, {"target": target}) is not None
    assert attempt(admin, visitor, "select id from public.contacts", None).rows == []


def test_a_contact_is_filed_under_the_sessions_owner_whatever_is_sent(admin: Admin, tools: Tools) -> None:
    sql = (
        "insert into public.contacts (owner_id, session_id, email)"
        " values (%(other_id)s, %(visitor_live_session_id)s, 'v@example.com')"
    )
    error = insert_as(admin, tools.world.visitor, sql, tools.params)
    assert error is not None
    assert "permission denied" in error
