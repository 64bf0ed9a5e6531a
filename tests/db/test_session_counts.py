"""private.session_counts: the live sessions behind the visitor caps, for the owner and visitors only."""

import psycopg

from tests.db.rls import Actor, Admin, World, attempt, create_session, rows_as

COUNTS = "select * from private.session_counts(%(owner_id)s)"


def test_the_owner_and_a_visitor_see_the_counts_others_see_nothing(admin: Admin, world: World) -> None:
    live_visit = create_session(admin, world.visitor_id, world.avatar_id)
    try:
        assert rows_as(admin, world.owner, COUNTS, world.params) == [
            {"visitor_sessions": 1, "caller_sessions": 1}
        ]
        assert rows_as(admin, world.visitor, COUNTS, world.params) == [
            {"visitor_sessions": 1, "caller_sessions": 1}
        ]
        assert rows_as(admin, world.other, COUNTS, world.params) == []
        # A visitor token of another avatar, or none: no row.
        assert rows_as(admin, Actor.user(world.visitor_id), COUNTS, world.params) == []
    finally:
        admin.execute("update public.streaming_sessions set status = 'ended' where id = %s", (live_visit,))
    assert rows_as(admin, world.owner, COUNTS, world.params) == [
        {"visitor_sessions": 0, "caller_sessions": 1}
    ]


def test_anon_cannot_call_it(admin: Admin, world: World) -> None:
    outcome = attempt(admin, Actor.anon(), COUNTS, world.params)
    assert isinstance(outcome.error, psycopg.errors.InsufficientPrivilege), outcome
