"""Widget visitors live in public.widget_visitors, not in auth.users: who may read and write them."""

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import make_conninfo
from psycopg.rows import dict_row

from functions.core.db.migrate import DEFAULT_MIGRATIONS_DIR, apply_migrations, bootstrap_if_needed
from tests.db.rls import AS_ROLE, Actor, Admin, World, acting_as, attempt, create_visitor, rows_as

SERVICE = Actor("service_role", {"role": "service_role"})
VISITORS_MIGRATION = "20261129190001_widget_visitors.sql"


def test_a_visitor_reads_their_own_row_and_no_other_visitors(admin: Admin, world: World) -> None:
    other_visitor = create_visitor(admin, world.avatar_id)
    rows = rows_as(admin, world.visitor, "select id from public.widget_visitors")
    assert rows == [{"id": world.visitor_id}]
    assert other_visitor != world.visitor_id


def test_an_owner_reads_the_visitors_of_their_avatars_and_another_user_none(
    admin: Admin, world: World
) -> None:
    second = create_visitor(admin, world.second_avatar_id)
    owner_rows = rows_as(admin, world.owner, "select id from public.widget_visitors")
    assert {row["id"] for row in owner_rows} == {world.visitor_id, second}
    assert rows_as(admin, world.other, "select id from public.widget_visitors") == []


def test_a_visitor_of_another_avatar_sees_nothing_of_this_one(admin: Admin, world: World) -> None:
    elsewhere = Actor.user(create_visitor(admin, world.second_avatar_id), avatar_id=world.second_avatar_id)
    rows = rows_as(
        admin, elsewhere, "select id from public.widget_visitors where id = %(visitor_id)s", world.params
    )
    assert rows == []


@pytest.mark.parametrize(
    "sql",
    [
        "update public.widget_visitors set last_seen_at = now() where id = %(visitor_id)s returning id",
        "delete from public.widget_visitors where id = %(visitor_id)s returning id",
    ],
    ids=["update", "delete"],
)
def test_neither_visitor_nor_owner_may_change_a_visitor_row(admin: Admin, world: World, sql: str) -> None:
    for actor in (world.visitor, world.owner):
        outcome = attempt(admin, actor, sql, world.params)
        assert isinstance(outcome.error, psycopg.errors.InsufficientPrivilege), outcome


def test_the_service_role_adds_marks_seen_and_removes_visitors(admin: Admin, world: World) -> None:
    with acting_as(admin, SERVICE) as conn:
        added = conn.execute(
            "insert into public.widget_visitors (avatar_id) values (%s) returning id", (world.avatar_id,)
        ).fetchone()
        assert added is not None
        seen = conn.execute(
            "update public.widget_visitors set last_seen_at = now() where id = %s returning id",
            (added["id"],),
        ).fetchall()
        removed = conn.execute(
            "delete from public.widget_visitors where id = %s returning id", (added["id"],)
        ).fetchall()
    assert seen == removed == [{"id": added["id"]}]


def test_deleting_an_avatar_removes_its_visitors_but_their_sessions_still_count(
    admin: Admin, world: World
) -> None:
    admin.execute("delete from public.avatars where id = %s", (world.avatar_id,))
    assert (
        admin.execute("select id from public.widget_visitors where id = %s", (world.visitor_id,)).fetchall()
        == []
    )
    session = admin.execute(
        "select owner_id, avatar_id from public.streaming_sessions where id = %s", (world.visitor_session_id,)
    ).fetchone()
    assert session == {"owner_id": world.owner_id, "avatar_id": None}


@pytest.fixture
def before_visitors(admin: Admin, database_url: str, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A scratch database migrated up to the migration that moves visitors, and a directory of all."""
    name = f"visitors_{uuid.uuid4().hex[:12]}"
    admin.execute(f"create database {name}".encode())
    earlier = tmp_path / "earlier"
    earlier.mkdir()
    for path in sorted(DEFAULT_MIGRATIONS_DIR.glob("*.sql")):
        if path.name < VISITORS_MIGRATION:
            shutil.copy(path, earlier / path.name)
    try:
        yield make_conninfo(database_url, dbname=name), earlier
    finally:
        admin.execute(f"drop database if exists {name} with (force)".encode())


def test_visitors_made_in_auth_users_move_to_widget_visitors_with_their_sessions(
    before_visitors: tuple[str, Path],
) -> None:
    url, earlier = before_visitors
    with psycopg.connect(url, autocommit=True) as plain:
        bootstrap_if_needed(plain)
        apply_migrations(plain, earlier)
    with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
        owner = conn.execute(
            "insert into auth.users (email) values ('o@example.test') returning id"
        ).fetchone()
        assert owner is not None
        avatar = conn.execute(
            "insert into public.avatars (owner_id, name) values (%s, 'Ava') returning id", (owner["id"],)
        ).fetchone()
        assert avatar is not None
        conn.execute(AS_ROLE, ("service_role", "{}"))
        visitor = conn.execute("select private.create_visitor(%s) as id", (avatar["id"],)).fetchone()
        conn.execute("reset role")
        assert visitor is not None
        session = conn.execute(
            "insert into public.streaming_sessions (user_id, avatar_id) values (%s, %s) returning id",
            (visitor["id"], avatar["id"]),
        ).fetchone()
        assert session is not None
    with psycopg.connect(url, autocommit=True) as plain:
        apply_migrations(plain)
    with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
        moved = conn.execute("select id, avatar_id from public.widget_visitors").fetchall()
        widget_users = conn.execute(
            "select id from auth.users where raw_app_meta_data ->> 'provider' = 'widget'"
        ).fetchall()
        kept = conn.execute(
            "select user_id from public.streaming_sessions where id = %s", (session["id"],)
        ).fetchall()
    assert moved == [{"id": visitor["id"], "avatar_id": avatar["id"]}]
    assert widget_users == []
    assert kept == [{"user_id": visitor["id"]}]
