"""supabase/migrations applied as the Supabase CLI records them, idempotently and from an empty database."""

import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from functions.core.cli import main
from functions.core.db.migrate import (
    DEFAULT_MIGRATIONS_DIR,
    MIGRATION_NAME,
    bootstrap_if_needed,
    migration_files,
    prepare_database,
)
from functions.core.settings import get_settings
from tests.db.rls import PUBLIC_TABLES, Admin


def _expected_rows() -> list[tuple[str, str]]:
    rows = []
    for path in migration_files():
        match = MIGRATION_NAME.match(path.name)
        assert match is not None
        rows.append((match["version"], match["name"]))
    return rows


def test_every_migration_file_is_named_with_a_timestamp_and_a_snake_case_name() -> None:
    names = sorted(path.name for path in DEFAULT_MIGRATIONS_DIR.iterdir() if path.is_file())
    assert names, "there should be migrations"
    assert [name for name in names if not MIGRATION_NAME.fullmatch(name)] == []
    versions = [name[:14] for name in names]
    assert len(versions) == len(set(versions)), "two migrations share a version"


def test_preparing_the_database_again_applies_nothing(database_url: str) -> None:
    assert prepare_database(database_url) == []


def test_schema_migrations_holds_one_row_per_file_with_its_version_and_name(admin: Admin) -> None:
    rows = admin.execute(
        "select version, name, statements from supabase_migrations.schema_migrations order by version"
    ).fetchall()
    assert [(row["version"], row["name"]) for row in rows] == _expected_rows()
    assert [row["statements"] for row in rows] == [[path.read_text()] for path in migration_files()]


def test_the_bootstrap_is_skipped_where_an_auth_schema_exists(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        assert bootstrap_if_needed(conn) is False


@pytest.fixture
def empty_database(admin: Admin, database_url: str) -> Iterator[str]:
    name = f"migrations_{uuid.uuid4().hex[:12]}"
    admin.execute(f"create database {name}".encode())
    try:
        yield make_conninfo(database_url, dbname=name)
    finally:
        admin.execute(f"drop database if exists {name} with (force)".encode())


def test_all_migrations_apply_to_an_empty_database(empty_database: str) -> None:
    assert prepare_database(empty_database) == [version for version, _ in _expected_rows()]
    assert prepare_database(empty_database) == []
    with psycopg.connect(empty_database) as conn:
        tables = {
            row[0]
            for row in conn.execute(
                "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace"
                " where n.nspname = 'public' and c.relkind = 'r' and c.relrowsecurity"
            )
        }
        auth_exists = conn.execute("select to_regnamespace('auth') is not null").fetchone()
    assert tables >= set(PUBLIC_TABLES)
    assert auth_exists == (True,)


def test_the_migrate_command_applies_pending_migrations_to_the_configured_database(
    empty_database: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    versions = [version for version, _ in _expected_rows()]
    monkeypatch.setenv("DATABASE_URL", empty_database)
    get_settings.cache_clear()
    try:
        assert main(["migrate"]) == 0
        assert capsys.readouterr().out.startswith(
            f"{len(versions)} migrations applied ({', '.join(versions)})"
        )
        assert main(["migrate"]) == 0
        assert capsys.readouterr().out.startswith("0 migrations applied (none pending)")
    finally:
        get_settings.cache_clear()
    with psycopg.connect(empty_database) as conn:
        rows = conn.execute("select version from supabase_migrations.schema_migrations order by version")
        assert [row[0] for row in rows] == versions
