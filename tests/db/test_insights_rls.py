"""Feedback, answered questions, prices and the Insights functions under RLS: whose rows each caller sees."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.db.rls import Actor, Admin, World, attempt, create_session, create_user, rows_as


def _answer(admin: Admin, session_id: uuid.UUID, user_id: uuid.UUID, turn_id: str = "t1") -> uuid.UUID:
    admin.execute(
        "insert into public.streaming_messages (session_id, user_id, role, content, turn_id)"
        " values (%s, %s, 'user', 'What are your opening hours?', %s)",
        (session_id, user_id, turn_id),
    )
    row = admin.execute(
        "insert into public.streaming_messages (session_id, user_id, role, content, turn_id, timings)"
        " values (%s, %s, 'assistant', 'I do not know.', %s, '{\"first_sentence_ms\": 420}') returning id",
        (session_id, user_id, turn_id),
    ).fetchone()
    assert row is not None
    answer_id: uuid.UUID = row["id"]
    return answer_id


def _visitor_answer(admin: Admin, world: World) -> uuid.UUID:
    """An answer in a live visitor conversation (the world's visitor session has ended by now)."""
    session_id = create_session(admin, world.visitor_id, world.avatar_id)
    return _answer(admin, session_id, world.visitor_id)


RATE = (
    "insert into public.message_feedback (message_id, rating, comment)"
    " values (%(id)s, %(rating)s, '') returning *"
)
RANGE = {"from": datetime.now(UTC).date() - timedelta(days=1), "to": datetime.now(UTC).date()}


def test_a_visitor_can_rate_an_answer_of_their_own_conversation(admin: Admin, world: World) -> None:
    answer_id = _visitor_answer(admin, world)
    rows = rows_as(admin, world.visitor, RATE, {"id": answer_id, "rating": -1})
    assert [(r["rating"], r["owner_id"], r["user_id"]) for r in rows] == [
        (-1, world.owner_id, world.visitor_id)
    ]


def test_another_visitor_of_the_same_avatar_cannot_rate_that_answer(admin: Admin, world: World) -> None:
    answer_id = _visitor_answer(admin, world)
    stranger = Actor.user(create_user(admin), avatar_id=world.avatar_id)
    outcome = attempt(admin, stranger, RATE, {"id": answer_id, "rating": 1})
    assert not outcome.allowed, outcome


@pytest.mark.parametrize("who", ["owner", "other"])
def test_neither_the_owner_nor_another_user_can_rate_a_visitors_answer(
    admin: Admin, world: World, who: str
) -> None:
    answer_id = _visitor_answer(admin, world)
    outcome = attempt(admin, getattr(world, who), RATE, {"id": answer_id, "rating": 1})
    assert not outcome.allowed, outcome


def test_a_question_cannot_be_rated_only_an_answer(admin: Admin, world: World) -> None:
    outcome = attempt(admin, world.visitor, RATE, {"id": world.visitor_message_id, "rating": 1})
    assert not outcome.allowed, outcome


def test_feedback_cannot_name_its_own_owner(admin: Admin, world: World) -> None:
    answer_id = _visitor_answer(admin, world)
    sql = (
        "insert into public.message_feedback (message_id, rating, owner_id) values (%(id)s, 1, %(other_id)s)"
        " returning id"
    )
    outcome = attempt(admin, world.visitor, sql, {"id": answer_id, "other_id": world.other_id})
    assert outcome.error is not None


def _stored_feedback(admin: Admin, world: World) -> uuid.UUID:
    answer_id = _visitor_answer(admin, world)
    admin.execute(
        "insert into public.message_feedback (message_id, user_id, owner_id, session_id, rating, comment)"
        " select id, user_id, owner_id, session_id, -1, 'wrong hours' from public.streaming_messages"
        " where id = %s",
        (answer_id,),
    )
    return answer_id


@pytest.mark.parametrize(("who", "sees"), [("owner", True), ("visitor", True), ("other", False)])
def test_feedback_is_read_by_the_rater_and_the_avatar_owner_only(
    admin: Admin, world: World, who: str, sees: bool
) -> None:
    answer_id = _stored_feedback(admin, world)
    rows = rows_as(
        admin,
        getattr(world, who),
        "select comment from public.message_feedback where message_id = %(id)s",
        {"id": answer_id},
    )
    assert [r["comment"] for r in rows] == (["wrong hours"] if sees else [])


@pytest.mark.parametrize("who", ["owner", "other"])
def test_only_the_rater_can_change_or_withdraw_feedback(admin: Admin, world: World, who: str) -> None:
    answer_id = _stored_feedback(admin, world)
    params = {"id": answer_id}
    actor: Actor = getattr(world, who)
    assert not attempt(
        admin,
        actor,
        "update public.message_feedback set rating = 1 where message_id = %(id)s returning id",
        params,
    ).allowed
    assert not attempt(
        admin, actor, "delete from public.message_feedback where message_id = %(id)s returning id", params
    ).allowed
    assert attempt(
        admin,
        world.visitor,
        "update public.message_feedback set rating = 1 where message_id = %(id)s returning id",
        params,
    ).allowed


def test_anon_reads_no_feedback_answered_questions_or_prices(admin: Admin, world: World) -> None:
    for table in ("message_feedback", "answered_questions", "insight_prices"):
        outcome = attempt(admin, Actor.anon(), f"select 1 from public.{table}")
        assert outcome.error is not None, table


def test_answered_questions_and_prices_stay_with_their_owner(admin: Admin, world: World) -> None:
    mark = (
        "insert into public.answered_questions (avatar_id, question_key, question)"
        " values (%(avatar_id)s, 'hours opening', 'What are your opening hours?') returning id"
    )
    assert not attempt(admin, world.other, mark, world.params).allowed
    assert not attempt(admin, world.visitor, mark, world.params).allowed
    for table in ("answered_questions", "insight_prices"):
        assert len(rows_as(admin, world.owner, f"select 1 from public.{table}")) == 1, table
        assert rows_as(admin, world.other, f"select 1 from public.{table}") == [], table


def _insights(admin: Admin, actor: Actor, function: str) -> list[dict[str, Any]]:
    return rows_as(admin, actor, f"select * from public.{function}(%(from)s, %(to)s)", RANGE)


def test_another_owners_numbers_never_appear_in_insights(admin: Admin, world: World) -> None:
    _stored_feedback(admin, world)
    admin.execute(
        "update public.streaming_sessions set visitor_key = 'browser-0001' where id = %s", (world.session_id,)
    )
    owner_days = _insights(admin, world.owner, "insights_days")
    # Counted as they started: the active, the ended, the visitor's ended and live ones, and the "past" one
    # (the arrangement moves its start as superuser after the fact; no client may set a start).
    assert sum(r["conversations"] for r in owner_days) == 5
    assert sum(r["rated_down"] for r in owner_days) == 1
    assert len(_insights(admin, world.owner, "insights_unanswered")) == 1
    latency = {r["stage"]: r for r in _insights(admin, world.owner, "insights_latency")}
    assert latency[3]["p50"] == pytest.approx(420, rel=0.05)
    assert _insights(admin, world.owner, "insights_visitors") == [{"visitors": 1, "returning_visitors": 0}]
    for outsider in (world.other, world.visitor):
        assert _insights(admin, outsider, "insights_days") == []
        assert _insights(admin, outsider, "insights_latency") == []
        assert _insights(admin, outsider, "insights_unanswered") == []
        assert _insights(admin, outsider, "insights_visitors") == [{"visitors": 0, "returning_visitors": 0}]


def test_daily_totals_are_read_by_their_owner_only(admin: Admin, world: World) -> None:
    _visitor_answer(admin, world)  # a reply with timings, so the owner has latency rows
    for table in ("insights_daily", "insights_latency"):
        assert rows_as(admin, world.owner, f"select 1 from private.{table}"), table
        assert rows_as(admin, world.other, f"select 1 from private.{table}") == [], table
        assert rows_as(admin, world.visitor, f"select 1 from private.{table}") == [], table
        assert attempt(admin, world.owner, f"delete from private.{table} returning 1").error is not None, (
            table
        )


def test_insights_are_not_callable_by_anon(admin: Admin, world: World) -> None:
    outcome = attempt(admin, Actor.anon(), "select * from public.insights_days(current_date, current_date)")
    assert outcome.error is not None
