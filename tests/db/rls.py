"""Acting as a caller the way the functions do, and the rows the RLS tests arrange."""

import json
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest

# The statement functions/core/db/pool.py runs at the start of every request's transaction.
AS_ROLE = "select set_config('role', %s, true), set_config('request.jwt.claims', %s, true)"

Admin = psycopg.Connection[dict[str, Any]]

PUBLIC_TABLES = (
    "avatars",
    "streaming_sessions",
    "streaming_messages",
    "avatar_session_events",
    "usage_limits",
    "avatar_api_keys",
    "widget_visitors",
    "message_feedback",
    "answered_questions",
    "insight_prices",
)


@dataclass(frozen=True)
class Actor:
    """A database role and the verified JWT claims handed to Postgres."""

    role: str
    claims: dict[str, str] = field(default_factory=dict)

    @classmethod
    def user(cls, user_id: uuid.UUID, *, avatar_id: uuid.UUID | None = None) -> "Actor":
        claims = {"sub": str(user_id), "role": "authenticated", "aud": "authenticated"}
        if avatar_id is not None:
            claims["avatar_id"] = str(avatar_id)
        return cls("authenticated", claims)

    @classmethod
    def anon(cls) -> "Actor":
        return cls("anon", {"role": "anon", "aud": "authenticated"})


@contextmanager
def acting_as(conn: Admin, actor: Actor) -> Iterator[Admin]:
    """One transaction as the actor, always rolled back, so no test leaves rows behind."""
    with conn.transaction(force_rollback=True):
        conn.execute(AS_ROLE, (actor.role, json.dumps(actor.claims)))
        yield conn


@dataclass(frozen=True)
class Outcome:
    """What a statement did for an actor: the rows it returned, or the privilege error it raised."""

    rows: list[dict[str, Any]]
    error: psycopg.errors.InsufficientPrivilege | None = None

    @property
    def allowed(self) -> bool:
        return self.error is None and len(self.rows) > 0

    def __repr__(self) -> str:
        return f"Outcome(rows={len(self.rows)}, error={self.error!s})"


def attempt(conn: Admin, actor: Actor, sql: str, params: dict[str, Any] | None = None) -> Outcome:
    """Run one statement as the actor. Only a privilege/RLS error counts as a denial; any other
    error propagates, so a broken arrangement fails loudly instead of passing as "denied"."""
    try:
        with acting_as(conn, actor) as acting:
            rows = acting.execute(sql.encode(), params).fetchall()
    except psycopg.errors.InsufficientPrivilege as exc:
        return Outcome(rows=[], error=exc)
    return Outcome(rows=rows)


def rows_as(
    conn: Admin, actor: Actor, sql: str, params: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    with acting_as(conn, actor) as acting:
        return acting.execute(sql.encode(), params).fetchall()


def create_user(conn: Admin) -> uuid.UUID:
    email = f"rls-{uuid.uuid4().hex[:12]}@example.test"
    row = conn.execute("insert into auth.users (email) values (%s) returning id", (email,)).fetchone()
    assert row is not None
    user_id: uuid.UUID = row["id"]
    return user_id


def create_visitor(conn: Admin, avatar_id: uuid.UUID) -> uuid.UUID:
    row = conn.execute(
        "insert into public.widget_visitors (avatar_id) values (%s) returning id", (avatar_id,)
    ).fetchone()
    assert row is not None
    visitor_id: uuid.UUID = row["id"]
    return visitor_id


def create_avatar(conn: Admin, owner_id: uuid.UUID, name: str = "Ava") -> uuid.UUID:
    row = conn.execute(
        "insert into public.avatars (owner_id, name) values (%s, %s) returning id", (owner_id, name)
    ).fetchone()
    assert row is not None
    avatar_id: uuid.UUID = row["id"]
    return avatar_id


def create_session(
    conn: Admin, user_id: uuid.UUID, avatar_id: uuid.UUID, *, ended: bool = False
) -> uuid.UUID:
    row = conn.execute(
        "insert into public.streaming_sessions (user_id, avatar_id) values (%s, %s) returning id",
        (user_id, avatar_id),
    ).fetchone()
    assert row is not None
    session_id: uuid.UUID = row["id"]
    if ended:
        conn.execute("update public.streaming_sessions set status = 'ended' where id = %s", (session_id,))
    return session_id


def create_document(
    conn: Admin, owner_id: uuid.UUID, avatar_id: uuid.UUID, title: str = "Manual", *, status: str = "queued"
) -> uuid.UUID:
    row = conn.execute(
        "insert into public.knowledge_documents (owner_id, avatar_id, title, content_hash, status)"
        " values (%s, %s, %s, %s, %s) returning id",
        (owner_id, avatar_id, title, uuid.uuid4().hex, status),
    ).fetchone()
    assert row is not None
    document_id: uuid.UUID = row["id"]
    return document_id


def create_message(conn: Admin, session_id: uuid.UUID, user_id: uuid.UUID) -> uuid.UUID:
    row = conn.execute(
        "insert into public.streaming_messages (session_id, user_id, role, content)"
        " values (%s, %s, 'user', 'hello') returning id",
        (session_id, user_id),
    ).fetchone()
    assert row is not None
    message_id: uuid.UUID = row["id"]
    return message_id


def create_event(conn: Admin, session_id: uuid.UUID) -> int:
    row = conn.execute(
        "insert into public.avatar_session_events (session_id, event_type)"
        " values (%s, 'started') returning id",
        (session_id,),
    ).fetchone()
    assert row is not None
    event_id: int = row["id"]
    return event_id


@dataclass(frozen=True)
class World:
    """An owner with two avatars; their active session (with a message and an event), a session ended
    this month and one finished last month; their usage limits; another user who owns nothing of theirs;
    and a visitor who held a session (now ended, with a message and an event) with the first avatar."""

    owner_id: uuid.UUID
    other_id: uuid.UUID
    visitor_id: uuid.UUID
    avatar_id: uuid.UUID
    second_avatar_id: uuid.UUID
    session_id: uuid.UUID
    ended_session_id: uuid.UUID
    past_session_id: uuid.UUID
    message_id: uuid.UUID
    event_id: int
    visitor_session_id: uuid.UUID
    visitor_message_id: uuid.UUID
    visitor_event_id: int
    api_key_id: uuid.UUID
    answer_id: uuid.UUID  # an assistant reply in the owner's ended session, which the owner rated

    @property
    def params(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    @property
    def owner(self) -> Actor:
        return Actor.user(self.owner_id)

    @property
    def other(self) -> Actor:
        return Actor.user(self.other_id)

    @property
    def visitor(self) -> Actor:
        return Actor.user(self.visitor_id, avatar_id=self.avatar_id)


def arrange_world(conn: Admin) -> World:
    owner_id, other_id = create_user(conn), create_user(conn)
    avatar_id = create_avatar(conn, owner_id)
    visitor_id = create_visitor(conn, avatar_id)
    second_avatar_id = create_avatar(conn, owner_id, "Bea")
    session_id = create_session(conn, owner_id, avatar_id)
    ended_session_id = create_session(conn, owner_id, avatar_id, ended=True)
    past_session_id = create_session(conn, owner_id, avatar_id, ended=True)
    conn.execute(
        "update public.streaming_sessions set started_at = date_trunc('month', now()) - interval '10 days',"
        " ended_at = date_trunc('month', now()) - interval '10 days' + interval '5 minutes',"
        " duration_seconds = 300"
        " where id = %s",
        (past_session_id,),
    )
    message_id = create_message(conn, session_id, owner_id)
    event_id = create_event(conn, session_id)
    visitor_session_id = create_session(conn, visitor_id, avatar_id)
    visitor_message_id = create_message(conn, visitor_session_id, visitor_id)
    visitor_event_id = create_event(conn, visitor_session_id)
    conn.execute("update public.streaming_sessions set status = 'ended' where id = %s", (visitor_session_id,))
    conn.execute(
        "insert into public.usage_limits (owner_id, monthly_streaming_seconds, concurrent_sessions)"
        " values (%s, 3600, 2)",
        (owner_id,),
    )
    api_key = conn.execute(
        "insert into public.avatar_api_keys (owner_id, avatar_id, key_prefix, key_hash)"
        " values (%s, %s, 'sk-avs-ab', md5(random()::text) || md5(random()::text)) returning id",
        (owner_id, avatar_id),
    ).fetchone()
    assert api_key is not None
    answer = conn.execute(
        "insert into public.streaming_messages (session_id, user_id, role, content)"
        " values (%s, %s, 'assistant', 'hi') returning id",
        (ended_session_id, owner_id),
    ).fetchone()
    assert answer is not None
    conn.execute(
        "insert into public.message_feedback (message_id, user_id, rating) values (%s, %s, 1)",
        (answer["id"], owner_id),
    )
    conn.execute(
        "insert into public.answered_questions (owner_id, avatar_id, question_key, question)"
        " values (%s, %s, 'hours open', 'When are you open?')",
        (owner_id, avatar_id),
    )
    conn.execute("insert into public.insight_prices (owner_id, prices) values (%s, '{}')", (owner_id,))
    return World(
        answer_id=answer["id"],
        api_key_id=api_key["id"],
        owner_id=owner_id,
        other_id=other_id,
        visitor_id=visitor_id,
        avatar_id=avatar_id,
        second_avatar_id=second_avatar_id,
        session_id=session_id,
        ended_session_id=ended_session_id,
        past_session_id=past_session_id,
        message_id=message_id,
        event_id=event_id,
        visitor_session_id=visitor_session_id,
        visitor_message_id=visitor_message_id,
        visitor_event_id=visitor_event_id,
    )


def remove_world(conn: Admin, world: World) -> None:
    """Deleting the users cascades to everything they own, their avatars' visitors and what they held."""
    conn.execute("delete from auth.users where id = any(%s)", ([world.owner_id, world.other_id],))


# --- matrices: who may do what to the owner's rows ----------------------------------------------------

OPERATIONS = ("select", "insert", "update", "delete")


def matrix_cells(allowed: dict[str, dict[str, set[str]]], tables: Iterable[str]) -> list[object]:
    """One test case per actor, table and operation, named for what the actor may or may not do."""
    cells = []
    for actor, grants in allowed.items():
        for table in tables:
            for operation in OPERATIONS:
                may = operation in grants.get(table, set())
                verdict = "may" if may else "may-not"
                cells.append(
                    pytest.param(actor, table, operation, may, id=f"{actor}-{verdict}-{operation}-{table}")
                )
    return cells


def actor_named(world: World, name: str) -> Actor:
    return {
        "owner": world.owner,
        "another_user": world.other,
        "anon": Actor.anon(),
        "visitor": world.visitor,
    }[name]


def assert_cell(outcome: Outcome, operation: str, allowed: bool) -> None:
    """An allowed statement touched the owner's row; a denied one raised (insert) or touched nothing."""
    if allowed:
        assert outcome.allowed, outcome
    elif operation == "insert":
        assert outcome.error is not None, f"the insert was not refused: {outcome}"
    else:
        assert not outcome.allowed, outcome
