"""Who may select, insert, update and delete what, in every public table, as the functions connect.

Each cell targets the owner's rows (or inserts a row for the owner's avatar/session) as one actor,
inside a rolled-back transaction with the role and claims set exactly as functions/core/db/pool.py does.
"""

import pytest

from tests.db.rls import PUBLIC_TABLES, Admin, World, actor_named, assert_cell, attempt, matrix_cells
from tests.db.test_knowledge_rls import TABLES as KNOWLEDGE_TABLES
from tests.db.test_tools_rls import TABLES as TOOLS_TABLES

STATEMENTS: dict[str, dict[str, str]] = {
    "avatars": {
        "select": "select id from public.avatars where id = %(avatar_id)s",
        "insert": "insert into public.avatars (owner_id, name) values (%(owner_id)s, 'Matrix') returning id",
        "update": "update public.avatars set name = 'Renamed' where id = %(avatar_id)s returning id",
        "delete": "delete from public.avatars where id = %(avatar_id)s returning id",
    },
    "streaming_sessions": {
        "select": "select id from public.streaming_sessions where id = %(session_id)s",
        "insert": "insert into public.streaming_sessions (avatar_id) values (%(avatar_id)s) returning id",
        "update": "update public.streaming_sessions set status = 'ended', end_reason = 'matrix'"
        " where id = %(session_id)s returning id",
        # Only finished sessions of past months can be deleted at all (this month's count toward usage),
        # so the cell targets the owner's session of last month.
        "delete": "delete from public.streaming_sessions where id = %(past_session_id)s returning id",
    },
    "streaming_messages": {
        "select": "select id from public.streaming_messages where id = %(message_id)s",
        "insert": "insert into public.streaming_messages (session_id, role, content)"
        " values (%(session_id)s, 'user', 'hello again') returning id",
        "update": "update public.streaming_messages set audio_duration_ms = 1200"
        " where id = %(message_id)s returning id",
        "delete": "delete from public.streaming_messages where id = %(message_id)s returning id",
    },
    "avatar_session_events": {
        "select": "select id from public.avatar_session_events where id = %(event_id)s",
        "insert": "insert into public.avatar_session_events (session_id, event_type)"
        " values (%(session_id)s, 'speaking') returning id",
        "update": "update public.avatar_session_events set data = '{\"edited\": true}'"
        " where id = %(event_id)s returning id",
        "delete": "delete from public.avatar_session_events where id = %(event_id)s returning id",
    },
    "usage_limits": {
        "select": "select owner_id from public.usage_limits where owner_id = %(owner_id)s",
        "insert": "insert into public.usage_limits (owner_id, monthly_streaming_seconds, concurrent_sessions)"
        " values (%(owner_id)s, 999999, 99) returning owner_id",
        "update": "update public.usage_limits set monthly_streaming_seconds = 999999"
        " where owner_id = %(owner_id)s returning owner_id",
        "delete": "delete from public.usage_limits where owner_id = %(owner_id)s returning owner_id",
    },
    "avatar_api_keys": {
        "select": "select id from public.avatar_api_keys where id = %(api_key_id)s",
        "insert": "insert into public.avatar_api_keys (avatar_id, key_prefix, key_hash)"
        " values (%(avatar_id)s, 'sk-avs-cd', repeat('c', 64)) returning id",
        "update": "update public.avatar_api_keys set revoked_at = now()"
        " where id = %(api_key_id)s returning id",
        "delete": "delete from public.avatar_api_keys where id = %(api_key_id)s returning id",
    },
    "widget_visitors": {
        "select": "select id from public.widget_visitors where id = %(visitor_id)s",
        "insert": "insert into public.widget_visitors (avatar_id) values (%(avatar_id)s) returning id",
        "update": "update public.widget_visitors set last_seen_at = now()"
        " where id = %(visitor_id)s returning id",
        "delete": "delete from public.widget_visitors where id = %(visitor_id)s returning id",
    },
    "message_feedback": {
        "select": "select id from public.message_feedback where message_id = %(answer_id)s",
        # Rating again is an upsert; the insert's check applies to the proposed row all the same.
        "insert": "insert into public.message_feedback (message_id, rating) values (%(answer_id)s, -1)"
        " on conflict (message_id) do update set rating = excluded.rating returning id",
        "update": "update public.message_feedback set rating = -1"
        " where message_id = %(answer_id)s returning id",
        "delete": "delete from public.message_feedback where message_id = %(answer_id)s returning id",
    },
    "answered_questions": {
        "select": "select id from public.answered_questions where avatar_id = %(avatar_id)s",
        "insert": "insert into public.answered_questions (avatar_id, question_key, question)"
        " values (%(avatar_id)s, 'price', 'What does it cost?') returning id",
        "update": "update public.answered_questions set question = 'Opening hours?'"
        " where avatar_id = %(avatar_id)s returning id",
        "delete": "delete from public.answered_questions where avatar_id = %(avatar_id)s returning id",
    },
    "insight_prices": {
        "select": "select owner_id from public.insight_prices where owner_id = %(owner_id)s",
        "insert": "insert into public.insight_prices (owner_id, prices) values (%(owner_id)s, '{}')"
        " on conflict (owner_id) do update set prices = excluded.prices returning owner_id",
        "update": "update public.insight_prices set prices = '{\"llm\": 2}'"
        " where owner_id = %(owner_id)s returning owner_id",
        "delete": "delete from public.insight_prices where owner_id = %(owner_id)s returning owner_id",
    },
}

# What each actor may do to the owner's rows; everything not listed is denied.
ALLOWED: dict[str, dict[str, set[str]]] = {
    "owner": {
        "avatars": {"select", "insert", "update", "delete"},
        "streaming_sessions": {"select", "insert", "update", "delete"},
        "streaming_messages": {"select", "insert", "update", "delete"},
        # An append-only log: nobody may edit or remove an event.
        "avatar_session_events": {"select", "insert"},
        # Limits are the operator's: owners may only read theirs.
        "usage_limits": {"select"},
        "avatar_api_keys": {"select", "insert", "update", "delete"},
        # Written only by the token endpoint and the sweeper (service_role): owners see who visited.
        "widget_visitors": {"select"},
        "message_feedback": {"select", "insert", "update", "delete"},
        "answered_questions": {"select", "insert", "update", "delete"},
        # The price table is kept, only changed.
        "insight_prices": {"select", "insert", "update"},
    },
    "another_user": {},
    "anon": {},
}


CELLS = matrix_cells(ALLOWED, PUBLIC_TABLES)


@pytest.mark.parametrize(("actor", "table", "operation", "allowed"), CELLS)
def test_each_actor_may_do_exactly_what_the_matrix_allows(
    admin: Admin, world: World, actor: str, table: str, operation: str, allowed: bool
) -> None:
    outcome = attempt(admin, actor_named(world, actor), STATEMENTS[table][operation], world.params)
    assert_cell(outcome, operation, allowed)


def test_the_matrices_cover_every_table_in_public(admin: Admin) -> None:
    tables = {
        row["relname"]
        for row in admin.execute(
            "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace"
            " where n.nspname = 'public' and c.relkind in ('r', 'p')"
        )
    }
    assert set(PUBLIC_TABLES) == set(STATEMENTS)
    assert tables == set(PUBLIC_TABLES) | set(KNOWLEDGE_TABLES) | set(TOOLS_TABLES)
