"""The finer rules beyond the matrix: visitors, server-derived columns, ended sessions, limits, anon."""

import uuid

import psycopg
import pytest

from tests.db.rls import (
    PUBLIC_TABLES,
    Actor,
    Admin,
    World,
    acting_as,
    attempt,
    create_session,
    create_user,
    rows_as,
)

# -- visitors: another user whose token is bound to one avatar (claim `avatar_id`) ----------------------

VISITOR_ROWS = [
    pytest.param("streaming_sessions", "visitor_session_id", id="session"),
    pytest.param("streaming_messages", "visitor_message_id", id="messages"),
    pytest.param("avatar_session_events", "visitor_event_id", id="events"),
]

VISITOR_UPDATES = [
    pytest.param("streaming_sessions", "last_activity_at = now()", "visitor_session_id", id="session"),
    pytest.param("streaming_messages", "audio_duration_ms = 1", "visitor_message_id", id="message"),
    pytest.param("avatar_session_events", "data = '{}'", "visitor_event_id", id="event"),
]


@pytest.mark.parametrize(("table", "key"), VISITOR_ROWS)
def test_an_avatar_owner_can_read_what_a_visitor_held_with_their_avatar(
    admin: Admin, world: World, table: str, key: str
) -> None:
    outcome = attempt(
        admin, world.owner, f"select id from public.{table} where id = %(id)s", {"id": getattr(world, key)}
    )
    assert outcome.allowed, outcome


@pytest.mark.parametrize(("table", "key"), VISITOR_ROWS)
def test_a_visitor_can_read_what_they_held(admin: Admin, world: World, table: str, key: str) -> None:
    outcome = attempt(
        admin, world.visitor, f"select id from public.{table} where id = %(id)s", {"id": getattr(world, key)}
    )
    assert outcome.allowed, outcome


@pytest.mark.parametrize(("table", "assignment", "key"), VISITOR_UPDATES)
def test_an_avatar_owner_cannot_update_what_a_visitor_held(
    admin: Admin, world: World, table: str, assignment: str, key: str
) -> None:
    sql = f"update public.{table} set {assignment} where id = %(id)s returning id"
    outcome = attempt(admin, world.owner, sql, {"id": getattr(world, key)})
    assert not outcome.allowed, outcome


@pytest.mark.parametrize(("table", "key"), VISITOR_ROWS)
def test_an_avatar_owner_cannot_delete_what_a_visitor_held(
    admin: Admin, world: World, table: str, key: str
) -> None:
    sql = f"delete from public.{table} where id = %(id)s returning id"
    outcome = attempt(admin, world.owner, sql, {"id": getattr(world, key)})
    assert not outcome.allowed, outcome


def test_a_visitor_can_update_their_own_message(admin: Admin, world: World) -> None:
    sql = (
        "update public.streaming_messages set audio_duration_ms = 1"
        " where id = %(visitor_message_id)s returning id"
    )
    assert attempt(admin, world.visitor, sql, world.params).allowed


def test_a_visitor_can_start_a_session_with_the_avatar_they_are_bound_to(admin: Admin, world: World) -> None:
    with acting_as(admin, world.visitor) as conn:
        row = conn.execute(
            "insert into public.streaming_sessions (avatar_id) values (%s)"
            " returning user_id, owner_id, status, expires_at > now() as open",
            (world.avatar_id,),
        ).fetchone()
    assert row == {"user_id": world.visitor_id, "owner_id": world.owner_id, "status": "active", "open": True}


def test_a_visitor_bound_to_one_avatar_cannot_start_a_session_with_another(
    admin: Admin, world: World
) -> None:
    sql = "insert into public.streaming_sessions (avatar_id) values (%(second_avatar_id)s) returning id"
    outcome = attempt(admin, world.visitor, sql, world.params)
    assert isinstance(outcome.error, psycopg.errors.InsufficientPrivilege), outcome


def test_a_user_without_an_avatar_claim_cannot_start_a_session_with_someone_elses_avatar(
    admin: Admin, world: World
) -> None:
    sql = "insert into public.streaming_sessions (avatar_id) values (%(avatar_id)s) returning id"
    assert attempt(admin, world.other, sql, world.params).error is not None


def test_a_visitor_cannot_read_the_avatar_row_or_the_owners_sessions(admin: Admin, world: World) -> None:
    assert rows_as(admin, world.visitor, "select id from public.avatars") == []
    sessions = rows_as(admin, world.visitor, "select id from public.streaming_sessions")
    assert [row["id"] for row in sessions] == [world.visitor_session_id]


def test_a_visitor_gets_the_avatar_settings_through_session_avatar(admin: Admin, world: World) -> None:
    rows = rows_as(
        admin, world.visitor, "select id, owner_id from private.session_avatar(%(avatar_id)s)", world.params
    )
    assert rows == [{"id": world.avatar_id, "owner_id": world.owner_id}]
    assert (
        rows_as(
            admin, world.visitor, "select * from private.session_avatar(%(second_avatar_id)s)", world.params
        )
        == []
    )


def test_a_visitor_cannot_add_messages_to_the_owners_session(admin: Admin, world: World) -> None:
    sql = (
        "insert into public.streaming_messages (session_id, role, content)"
        " values (%(session_id)s, 'user', 'hi')"
    )
    assert attempt(admin, world.visitor, sql, world.params).error is not None


def test_an_avatar_owner_cannot_record_events_in_a_visitors_session(admin: Admin, world: World) -> None:
    sql = (
        "insert into public.avatar_session_events (session_id, event_type)"
        " values (%(visitor_session_id)s, 'idle')"
    )
    assert attempt(admin, world.owner, sql, world.params).error is not None


# -- server-derived columns ----------------------------------------------------------------------------

SESSION_UPDATES = [
    "duration_seconds = 0",
    "message_count = 0",
    "ended_at = now()",
    "expires_at = now() + interval '1 year'",
    "started_at = now()",
    "owner_id = %(other_id)s",
    "user_id = %(other_id)s",
    "avatar_id = %(second_avatar_id)s",
    "provider = 'heygen'",
]

SESSION_INSERTS = [
    ("owner_id", "%(other_id)s"),
    ("user_id", "%(other_id)s"),
    ("expires_at", "now() + interval '1 year'"),
    ("started_at", "now() - interval '1 day'"),
    ("status", "'ended'"),
    ("duration_seconds", "0"),
    ("message_count", "0"),
    ("provider", "'heygen'"),
]

MESSAGE_INSERTS = [("owner_id", "%(other_id)s"), ("user_id", "%(other_id)s"), ("created_at", "now()")]
MESSAGE_UPDATES = ["content = 'rewritten'", "role = 'assistant'", "session_id = %(ended_session_id)s"]
EVENT_INSERTS = [("owner_id", "%(other_id)s"), ("user_id", "%(other_id)s"), ("created_at", "now()")]


def _column_id(assignment: str) -> str:
    return assignment.split(" = ")[0]


@pytest.mark.parametrize("assignment", SESSION_UPDATES, ids=_column_id)
def test_a_user_cannot_set_a_server_derived_column_of_their_session(
    admin: Admin, world: World, assignment: str
) -> None:
    sql = f"update public.streaming_sessions set {assignment} where id = %(session_id)s returning id"
    outcome = attempt(admin, world.owner, sql, world.params)
    assert isinstance(outcome.error, psycopg.errors.InsufficientPrivilege), outcome


@pytest.mark.parametrize(("column", "value"), SESSION_INSERTS, ids=[column for column, _ in SESSION_INSERTS])
def test_a_user_cannot_start_a_session_with_a_server_derived_column(
    admin: Admin, world: World, column: str, value: str
) -> None:
    sql = f"insert into public.streaming_sessions (avatar_id, {column}) values (%(avatar_id)s, {value})"
    outcome = attempt(admin, world.owner, sql, world.params)
    assert isinstance(outcome.error, psycopg.errors.InsufficientPrivilege), outcome


@pytest.mark.parametrize(("column", "value"), MESSAGE_INSERTS, ids=[column for column, _ in MESSAGE_INSERTS])
def test_a_user_cannot_add_a_message_with_a_server_derived_column(
    admin: Admin, world: World, column: str, value: str
) -> None:
    sql = (
        f"insert into public.streaming_messages (session_id, role, content, {column})"
        f" values (%(session_id)s, 'user', 'hi', {value})"
    )
    outcome = attempt(admin, world.owner, sql, world.params)
    assert isinstance(outcome.error, psycopg.errors.InsufficientPrivilege), outcome


@pytest.mark.parametrize("assignment", MESSAGE_UPDATES, ids=_column_id)
def test_a_user_cannot_rewrite_a_message(admin: Admin, world: World, assignment: str) -> None:
    sql = f"update public.streaming_messages set {assignment} where id = %(message_id)s returning id"
    outcome = attempt(admin, world.owner, sql, world.params)
    assert isinstance(outcome.error, psycopg.errors.InsufficientPrivilege), outcome


@pytest.mark.parametrize(("column", "value"), EVENT_INSERTS, ids=[column for column, _ in EVENT_INSERTS])
def test_a_user_cannot_record_an_event_with_a_server_derived_column(
    admin: Admin, world: World, column: str, value: str
) -> None:
    sql = (
        f"insert into public.avatar_session_events (session_id, event_type, {column})"
        f" values (%(session_id)s, 'idle', {value})"
    )
    outcome = attempt(admin, world.owner, sql, world.params)
    assert isinstance(outcome.error, psycopg.errors.InsufficientPrivilege), outcome


def test_a_new_session_takes_its_owner_provider_quality_and_expiry_from_the_avatar(
    admin: Admin, world: World
) -> None:
    with acting_as(admin, world.owner) as conn:
        row = conn.execute(
            "insert into public.streaming_sessions (avatar_id) values (%s)"
            " returning owner_id, user_id, provider, quality, status, message_count, duration_seconds,"
            " expires_at - started_at as lifetime",
            (world.avatar_id,),
        ).fetchone()
    assert row is not None
    assert row["lifetime"].total_seconds() == 600
    assert {key: value for key, value in row.items() if key != "lifetime"} == {
        "owner_id": world.owner_id,
        "user_id": world.owner_id,
        "provider": "local",
        "quality": "medium",
        "status": "active",
        "message_count": 0,
        "duration_seconds": None,
    }


def test_a_message_counts_toward_its_session_and_is_stamped_with_the_avatar_owner(
    admin: Admin, world: World
) -> None:
    with acting_as(admin, world.owner) as conn:
        message = conn.execute(
            "insert into public.streaming_messages (session_id, role, content) values (%s, 'user', 'hi')"
            " returning owner_id, user_id",
            (world.session_id,),
        ).fetchone()
        session = conn.execute(
            "select message_count from public.streaming_sessions where id = %s", (world.session_id,)
        ).fetchone()
    assert message == {"owner_id": world.owner_id, "user_id": world.owner_id}
    assert session == {"message_count": 2}


def test_a_user_cannot_give_their_avatar_to_someone_else(admin: Admin, world: World) -> None:
    sql = "update public.avatars set owner_id = %(other_id)s where id = %(avatar_id)s returning id"
    outcome = attempt(admin, world.owner, sql, world.params)
    assert isinstance(outcome.error, psycopg.errors.InsufficientPrivilege), outcome


# -- the session lifecycle -------------------------------------------------------------------------------


def test_ending_a_session_stamps_its_end_and_duration(admin: Admin, world: World) -> None:
    with acting_as(admin, world.owner) as conn:
        row = conn.execute(
            "update public.streaming_sessions set status = 'ended' where id = %s"
            " returning ended_at is not null as ended, duration_seconds >= 0 as counted, end_reason",
            (world.session_id,),
        ).fetchone()
    assert row == {"ended": True, "counted": True, "end_reason": "ended"}


@pytest.mark.parametrize(
    "assignment",
    ["status = 'active'", "status = 'error'", "end_reason = 'rewritten'"],
    ids=["reopen", "mark-as-error", "rewrite-end-reason"],
)
def test_an_ended_session_cannot_be_reopened_or_rewritten(
    admin: Admin, world: World, assignment: str
) -> None:
    with (
        pytest.raises(psycopg.errors.CheckViolation, match="has already ended"),
        acting_as(admin, world.owner) as conn,
    ):
        conn.execute(
            f"update public.streaming_sessions set {assignment} where id = %(ended_session_id)s".encode(),
            world.params,
        )


def test_an_owner_cannot_delete_an_active_session(admin: Admin, world: World) -> None:
    sql = "delete from public.streaming_sessions where id = %(session_id)s returning id"
    assert not attempt(admin, world.owner, sql, world.params).allowed


def test_an_owner_cannot_delete_a_session_that_ended_this_month(admin: Admin, world: World) -> None:
    sql = "delete from public.streaming_sessions where id = %(ended_session_id)s returning id"
    assert not attempt(admin, world.owner, sql, world.params).allowed


def test_a_visitor_cannot_hand_back_used_seconds_by_deleting_their_finished_session(
    admin: Admin, world: World
) -> None:
    admin.execute(
        "update public.streaming_sessions set duration_seconds = 500 where id = %s",
        (world.visitor_session_id,),
    )
    usage = "select used_seconds from private.owner_usage(%(owner_id)s)"
    with acting_as(admin, world.visitor) as conn:
        before = conn.execute(usage, world.params).fetchall()
        deleted = conn.execute(
            "delete from public.streaming_sessions where id = %(visitor_session_id)s returning id",
            world.params,
        ).fetchall()
        after = conn.execute(usage, world.params).fetchall()
    assert deleted == []
    assert after == before
    assert before[0]["used_seconds"] >= 500


def test_a_visitor_can_delete_their_finished_session_of_a_past_month(admin: Admin, world: World) -> None:
    admin.execute(
        "update public.streaming_sessions set started_at = date_trunc('month', now()) - interval '3 days'"
        " where id = %s",
        (world.visitor_session_id,),
    )
    sql = "delete from public.streaming_sessions where id = %(visitor_session_id)s returning id"
    assert attempt(admin, world.visitor, sql, world.params).allowed


def test_a_user_cannot_add_messages_to_an_ended_session(admin: Admin, world: World) -> None:
    sql = (
        "insert into public.streaming_messages (session_id, role, content)"
        " values (%(ended_session_id)s, 'user', 'hi')"
    )
    assert attempt(admin, world.owner, sql, world.params).error is not None


_REPLY = (
    "insert into public.streaming_messages (session_id, role, content, turn_id)"
    " values (%(session)s, 'assistant', 'the reply so far', %(turn)s) returning id"
)


def _turn_then_ended(admin: Admin, world: World) -> uuid.UUID:
    """An owner's session in which turn `asked` was asked (no reply stored yet), then the session ended."""
    session_id = create_session(admin, world.owner_id, world.avatar_id)
    admin.execute(
        "insert into public.streaming_messages (session_id, user_id, role, content, turn_id)"
        " values (%s, %s, 'user', 'Tell me more', 'asked')",
        (session_id, world.owner_id),
    )
    admin.execute("update public.streaming_sessions set status = 'ended' where id = %s", (session_id,))
    return session_id


def test_the_reply_of_a_turn_asked_before_the_session_ended_can_still_be_stored(
    admin: Admin, world: World
) -> None:
    session_id = _turn_then_ended(admin, world)

    assert attempt(admin, world.owner, _REPLY, {"session": session_id, "turn": "asked"}).allowed


def test_an_ended_session_takes_no_reply_to_a_turn_never_asked_and_no_new_question(
    admin: Admin, world: World
) -> None:
    session_id = _turn_then_ended(admin, world)
    question = (
        "insert into public.streaming_messages (session_id, role, content, turn_id)"
        " values (%(session)s, 'user', 'Another question', 'new') returning id"
    )

    assert attempt(admin, world.owner, _REPLY, {"session": session_id, "turn": "never"}).error is not None
    assert attempt(admin, world.owner, question, {"session": session_id}).error is not None


@pytest.mark.parametrize("actor", ["other", "visitor"])
def test_nobody_else_can_store_the_reply_of_someone_elses_turn(
    admin: Admin, world: World, actor: str
) -> None:
    session_id = _turn_then_ended(admin, world)

    outcome = attempt(admin, getattr(world, actor), _REPLY, {"session": session_id, "turn": "asked"})

    assert outcome.error is not None, outcome


def test_only_the_asker_can_claim_a_turns_generation(admin: Admin, world: World) -> None:
    sql = (
        "update public.streaming_messages set reply_claimed_until = now() + interval '1 minute'"
        " where id = %(message_id)s returning id"
    )

    assert attempt(admin, world.owner, sql, world.params).allowed
    assert not attempt(admin, world.other, sql, world.params).allowed
    assert not attempt(admin, world.visitor, sql, world.params).allowed


def test_asked_turn_answers_only_for_the_callers_own_questions(admin: Admin, world: World) -> None:
    session_id = _turn_then_ended(admin, world)
    sql = "select private.asked_turn(%(session)s, 'asked') as asked"

    assert rows_as(admin, world.owner, sql, {"session": session_id}) == [{"asked": True}]
    assert rows_as(admin, world.other, sql, {"session": session_id}) == [{"asked": False}]
    assert attempt(admin, Actor.anon(), sql, {"session": session_id}).error is not None


# -- usage limits ----------------------------------------------------------------------------------------


def test_an_owner_cannot_raise_their_own_usage_limits(admin: Admin, world: World) -> None:
    for sql in (
        "update public.usage_limits set monthly_streaming_seconds = 999999 where owner_id = %(owner_id)s"
        " returning owner_id",
        "insert into public.usage_limits (owner_id, monthly_streaming_seconds, concurrent_sessions)"
        " values (%(owner_id)s, 999999, 99) on conflict (owner_id) do update"
        " set monthly_streaming_seconds = excluded.monthly_streaming_seconds returning owner_id",
    ):
        assert not attempt(admin, world.owner, sql, world.params).allowed, sql
    row = admin.execute(
        "select monthly_streaming_seconds from public.usage_limits where owner_id = %s", (world.owner_id,)
    )
    assert row.fetchone() == {"monthly_streaming_seconds": 3600}


def test_an_owner_without_limits_cannot_create_their_own(admin: Admin, world: World) -> None:
    sql = (
        "insert into public.usage_limits (owner_id, monthly_streaming_seconds, concurrent_sessions)"
        " values (%(other_id)s, 999999, 99) returning owner_id"
    )
    outcome = attempt(admin, world.other, sql, world.params)
    assert isinstance(outcome.error, psycopg.errors.InsufficientPrivilege), outcome


# -- anon ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("table", PUBLIC_TABLES)
def test_anon_reads_nothing_in_any_public_table(admin: Admin, world: World, table: str) -> None:
    row = admin.execute(f"select count(*) as n from public.{table}".encode()).fetchone()
    assert row is not None
    assert row["n"] > 0, "the arrangement should leave rows to hide"
    # anon holds no grant on any table (tests/db/test_grant_catalogue.py), so the read is refused.
    outcome = attempt(admin, Actor.anon(), f"select * from public.{table}")
    assert isinstance(outcome.error, psycopg.errors.InsufficientPrivilege), outcome


@pytest.mark.parametrize(
    "call",
    [
        "private.session_avatar(%(avatar_id)s)",
        "private.owner_usage(%(owner_id)s)",
        "private.can_use_avatar(%(avatar_id)s)",
    ],
    ids=["session_avatar", "owner_usage", "can_use_avatar"],
)
def test_anon_cannot_call_the_private_functions(admin: Admin, world: World, call: str) -> None:
    outcome = attempt(admin, Actor.anon(), f"select * from {call}", world.params)
    assert isinstance(outcome.error, psycopg.errors.InsufficientPrivilege), outcome


# -- private functions -----------------------------------------------------------------------------------


def test_session_avatar_returns_nothing_for_an_unrelated_user(admin: Admin, world: World) -> None:
    assert (
        rows_as(admin, world.other, "select * from private.session_avatar(%(avatar_id)s)", world.params) == []
    )
    assert rows_as(
        admin, world.owner, "select id from private.session_avatar(%(avatar_id)s)", world.params
    ) == [{"id": world.avatar_id}]


@pytest.mark.parametrize("lock", [False, True], ids=["unlocked", "locked"])
def test_owner_usage_returns_nothing_for_an_unrelated_user(admin: Admin, world: World, lock: bool) -> None:
    params = {**world.params, "lock": lock}
    sql = "select * from private.owner_usage(%(owner_id)s, %(lock)s)"
    assert rows_as(admin, world.other, sql, params) == []


@pytest.mark.parametrize("actor", ["owner", "visitor"])
def test_owner_usage_reports_the_owners_limits_to_the_owner_and_their_visitors(
    admin: Admin, world: World, actor: str
) -> None:
    caller = world.owner if actor == "owner" else world.visitor
    rows = rows_as(
        admin,
        caller,
        "select active_sessions, monthly_limit, concurrent_limit from private.owner_usage(%(owner_id)s)",
        world.params,
    )
    assert rows == [{"active_sessions": 1, "monthly_limit": 3600, "concurrent_limit": 2}]


def test_can_use_avatar_is_false_for_an_unrelated_user(admin: Admin, world: World) -> None:
    assert rows_as(
        admin, world.other, "select private.can_use_avatar(%(avatar_id)s) as ok", world.params
    ) == [{"ok": False}]


def test_a_fresh_user_sees_nothing_at_all(admin: Admin, world: World) -> None:
    stranger = Actor.user(create_user(admin))
    try:
        for table in PUBLIC_TABLES:
            assert rows_as(admin, stranger, f"select * from public.{table}") == [], table
    finally:
        admin.execute("delete from auth.users where id = %s", (stranger.claims["sub"],))


# -- the widget's look: an avatar's own column, behind the avatars' policies ----------------------------

WIDGET_LOOK = """update public.avatars set widget = '{"color": "#000000"}' where id = %(avatar_id)s
returning widget"""


def test_an_owner_reads_and_changes_their_avatars_widget_look(admin: Admin, world: World) -> None:
    outcome = attempt(admin, world.owner, WIDGET_LOOK, world.params)
    assert outcome.rows == [{"widget": {"color": "#000000"}}], outcome
    assert rows_as(
        admin, world.owner, "select widget from public.avatars where id = %(avatar_id)s", world.params
    )


@pytest.mark.parametrize("actor", ["other", "visitor"])
def test_no_one_else_reads_or_changes_an_avatars_widget_look(admin: Admin, world: World, actor: str) -> None:
    who: Actor = getattr(world, actor)
    assert attempt(admin, who, WIDGET_LOOK, world.params).rows == []
    assert (
        rows_as(admin, who, "select widget from public.avatars where id = %(avatar_id)s", world.params) == []
    )
    assert not attempt(admin, Actor.anon(), WIDGET_LOOK, world.params).rows
