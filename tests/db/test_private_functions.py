"""The private helpers and tables behind widget tokens and API keys: who may call them, and what they do."""

import uuid

import psycopg
import pytest

from tests.db.rls import AS_ROLE, Actor, Admin, World, acting_as, attempt

SERVICE = Actor("service_role", {"role": "service_role"})


def hit(conn: Admin, bucket: str, window_seconds: int, limit: int) -> bool:
    row = conn.execute(
        "select private.rate_limit_hit(%s, %s, %s) as ok", (bucket, window_seconds, limit)
    ).fetchone()
    assert row is not None
    ok: bool = row["ok"]
    return ok


def test_rate_limit_hit_allows_the_limit_per_window_then_refuses(admin: Admin) -> None:
    bucket, other = f"test:{uuid.uuid4()}", f"test:{uuid.uuid4()}"
    # One transaction keeps now(), so every hit falls in the same window.
    with acting_as(admin, SERVICE) as conn:
        assert [hit(conn, bucket, 60, 3) for _ in range(5)] == [True, True, True, False, False]
        assert hit(conn, other, 60, 3)
        assert not hit(conn, f"test:{uuid.uuid4()}", 60, 0)


def test_rate_limit_hit_starts_each_window_afresh_and_drops_past_windows(admin: Admin) -> None:
    bucket = f"test:{uuid.uuid4()}"
    with admin.transaction(force_rollback=True):
        admin.execute(
            "insert into private.rate_limits (bucket, window_start, hits)"
            " values (%s, to_timestamp(floor(extract(epoch from now()) / 60) * 60 - 60), 99)",
            (bucket,),
        )
        admin.execute(AS_ROLE, ("service_role", "{}"))
        assert hit(admin, bucket, 60, 1)
        assert not hit(admin, bucket, 60, 1)
        admin.execute("reset role")
        rows = admin.execute(
            "select hits, window_start = to_timestamp(floor(extract(epoch from now()) / 60) * 60) as current"
            " from private.rate_limits where bucket = %s",
            (bucket,),
        ).fetchall()
    assert rows == [{"hits": 2, "current": True}]


def hit_in(conn: Admin, bucket: str, window_start: str, limit: int) -> bool:
    row = conn.execute(
        "select private.rate_limit_hit_in(%s, %s::timestamptz, %s) as ok", (bucket, window_start, limit)
    ).fetchone()
    assert row is not None
    ok: bool = row["ok"]
    return ok


def test_rate_limit_hit_in_counts_in_the_window_the_caller_names_and_drops_earlier_ones(admin: Admin) -> None:
    bucket, other = f"test:{uuid.uuid4()}", f"test:{uuid.uuid4()}"
    first, second = "2027-01-15 08:00:00+00", "2027-01-15 08:01:00+00"
    with admin.transaction(force_rollback=True):
        admin.execute(AS_ROLE, ("service_role", "{}"))
        assert [hit_in(admin, bucket, first, 2) for _ in range(3)] == [True, True, False]
        assert hit_in(admin, other, first, 2)
        assert [hit_in(admin, bucket, second, 2) for _ in range(3)] == [True, True, False]
        admin.execute("reset role")
        rows = admin.execute(
            "select window_start = %s::timestamptz as second, hits"
            " from private.rate_limits where bucket = %s",
            (second, bucket),
        ).fetchall()
    assert rows == [{"second": True, "hits": 3}]


@pytest.mark.parametrize("actor", ["owner", "visitor", "anon"])
@pytest.mark.parametrize(
    "sql",
    [
        "insert into public.widget_visitors (avatar_id) values (%(avatar_id)s)",
        "select private.rate_limit_hit('test:caller', 60, 1000)",
        "select private.rate_limit_hit_in('test:caller', now(), 1000)",
        "select * from private.avatar_api_key(repeat('0', 64))",
        "select * from private.rate_limits",
    ],
)
def test_the_token_and_key_helpers_are_for_the_service_role_only(
    admin: Admin, world: World, actor: str, sql: str
) -> None:
    caller = Actor.anon() if actor == "anon" else getattr(world, actor)
    outcome = attempt(admin, caller, sql, world.params)
    assert isinstance(outcome.error, psycopg.errors.InsufficientPrivilege), outcome


def test_the_service_role_resolves_only_live_api_keys(admin: Admin, world: World) -> None:
    key_hash = admin.execute(
        "select key_hash from public.avatar_api_keys where id = %s", (world.api_key_id,)
    ).fetchone()
    assert key_hash is not None
    with acting_as(admin, SERVICE) as conn:
        found = conn.execute("select * from private.avatar_api_key(%s)", (key_hash["key_hash"],)).fetchall()
        assert found == [
            {"key_id": world.api_key_id, "avatar_id": world.avatar_id, "owner_id": world.owner_id}
        ]
        conn.execute("reset role")
        conn.execute(
            "update public.avatar_api_keys set revoked_at = now() where id = %s", (world.api_key_id,)
        )
        conn.execute(AS_ROLE, ("service_role", "{}"))
        assert (
            conn.execute("select * from private.avatar_api_key(%s)", (key_hash["key_hash"],)).fetchall() == []
        )
