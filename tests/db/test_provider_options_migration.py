"""The provider options migration moves existing avatars' options out of `voice.settings`, provider by
provider, and leaves the voice's own settings where they were; the provider resources tables are the
server's alone."""

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import make_conninfo
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from functions.core.db.migrate import DEFAULT_MIGRATIONS_DIR, migration_files, prepare_database

Admin = psycopg.Connection[Any]
OPTIONS_MIGRATION = "20261129200401_provider_options.sql"


@pytest.fixture
def before_options(admin: Admin, database_url: str, tmp_path: Path) -> Iterator[str]:
    """A database with every migration before the provider options one."""
    name = f"options_{uuid.uuid4().hex[:12]}"
    admin.execute(f"create database {name}".encode())
    earlier = tmp_path / "migrations"
    earlier.mkdir()
    for path in migration_files():
        if path.name < OPTIONS_MIGRATION:
            shutil.copy(path, earlier / path.name)
    url = make_conninfo(database_url, dbname=name)
    prepare_database(url, earlier)
    try:
        yield url
    finally:
        admin.execute(f"drop database if exists {name} with (force)".encode())


def test_existing_avatars_options_move_to_provider_options(before_options: str) -> None:
    legacy = {
        "liveavatar": {"mode": "FULL", "sandbox": True, "voice_settings": {"speed": 1.1}, "context_id": "c"},
        "heygen": {"emotion": "Friendly", "server_speech": True},
        "tavus": {"pal_id": "p-1", "language": "english"},
        "simli": {"model": "fasttalk", "stability": 0.5},
        "local": {"stability": 0.4},
    }
    with psycopg.connect(before_options, row_factory=dict_row, autocommit=True) as conn:
        owner = conn.execute(
            "insert into auth.users (id, email) values (gen_random_uuid(), 'o@example.test') returning id"
        ).fetchone()
        assert owner is not None
        for provider, settings in legacy.items():
            conn.execute(
                "insert into public.avatars (owner_id, name, provider, voice) values (%s, %s, %s, %s)",
                (owner["id"], provider, provider, Jsonb({"provider": "elevenlabs", "settings": settings})),
            )
        prepare_database(before_options, DEFAULT_MIGRATIONS_DIR)
        rows = {
            row["provider"]: row
            for row in conn.execute("select provider, voice, provider_options from public.avatars").fetchall()
        }
    assert rows["liveavatar"]["provider_options"] == {
        "mode": "FULL",
        "sandbox": True,
        "voice_settings": {"speed": 1.1},
    }
    # `context_id` is no option any more (every FULL session makes its own context): it is left behind.
    assert rows["liveavatar"]["voice"] == {"provider": "elevenlabs", "settings": {"context_id": "c"}}
    assert rows["heygen"]["provider_options"] == {"emotion": "Friendly", "server_speech": True}
    assert rows["tavus"]["provider_options"] == {"pal_id": "p-1", "language": "english"}
    assert rows["simli"]["provider_options"] == {"model": "fasttalk"}
    assert rows["simli"]["voice"]["settings"] == {"stability": 0.5}
    assert rows["local"]["provider_options"] == {}
    assert rows["local"]["voice"]["settings"] == {"stability": 0.4}


@pytest.mark.parametrize("table", ["private.provider_resources", "private.provider_assets"])
@pytest.mark.parametrize("role", ["anon", "authenticated"])
def test_only_the_server_reaches_provider_resources(admin: Admin, table: str, role: str) -> None:
    with admin.transaction(force_rollback=True):
        admin.execute(f"set local role {role}".encode())
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            admin.execute(f"select * from {table}".encode())
    with admin.transaction(force_rollback=True):
        admin.execute(b"set local role service_role")
        assert admin.execute(f"select count(*) as n from {table}".encode()).fetchone() is not None
