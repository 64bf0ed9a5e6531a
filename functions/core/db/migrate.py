"""Applies supabase/migrations in order, recording them as the Supabase CLI does."""

import re
from importlib import resources
from pathlib import Path

import psycopg

MIGRATION_NAME = re.compile(r"^(?P<version>\d{14})_(?P<name>[a-z0-9_]+)\.sql$")
DEFAULT_MIGRATIONS_DIR = Path(__file__).resolve().parents[3] / "supabase" / "migrations"


def migration_files(directory: Path = DEFAULT_MIGRATIONS_DIR) -> list[Path]:
    files = sorted(path for path in directory.glob("*.sql"))
    for path in files:
        if not MIGRATION_NAME.match(path.name):
            raise ValueError(f"migration file name {path.name} is not YYYYMMDDHHMMSS_name.sql")
    return files


def bootstrap_if_needed(conn: psycopg.Connection) -> bool:
    """Create what Supabase provides (roles, auth schema) where it is missing."""
    row = conn.execute("select to_regnamespace('auth') is not null").fetchone()
    if row is not None and row[0]:
        return False
    sql = resources.files("functions.core.db").joinpath("local_bootstrap.sql").read_text()
    with conn.transaction():
        conn.execute(sql.encode())
    return True


def apply_migrations(conn: psycopg.Connection, directory: Path = DEFAULT_MIGRATIONS_DIR) -> list[str]:
    """Apply pending migrations, each in its own transaction; returns the versions applied."""
    conn.execute(
        "create schema if not exists supabase_migrations;"
        "create table if not exists supabase_migrations.schema_migrations"
        " (version text primary key, statements text[], name text)"
    )
    applied = {row[0] for row in conn.execute("select version from supabase_migrations.schema_migrations")}
    done: list[str] = []
    for path in migration_files(directory):
        match = MIGRATION_NAME.match(path.name)
        assert match is not None
        version = match["version"]
        if version in applied:
            continue
        sql = path.read_text()
        with conn.transaction():
            conn.execute("select pg_advisory_xact_lock(hashtext('supabase_migrations'))")
            if conn.execute(
                "select 1 from supabase_migrations.schema_migrations where version = %s", (version,)
            ).fetchone():
                continue
            conn.execute(sql.encode())
            conn.execute(
                "insert into supabase_migrations.schema_migrations (version, statements, name)"
                " values (%s, %s, %s)",
                (version, [sql], match["name"]),
            )
        done.append(version)
    return done


def prepare_database(url: str, directory: Path = DEFAULT_MIGRATIONS_DIR) -> list[str]:
    with psycopg.connect(url, autocommit=True) as conn:
        bootstrap_if_needed(conn)
        return apply_migrations(conn, directory)
