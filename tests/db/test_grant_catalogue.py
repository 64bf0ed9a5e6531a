"""Every table's grants per API role, read from the catalogue and compared with what is intended.

The local bootstrap grants nothing by default, as today's Supabase does, so the catalogue holds only
what the migrations grant. A table added without an entry here, a grant too many or one missing
fails this test; the RLS tests then check the rows each grant reaches.
"""

import uuid
from collections import defaultdict
from collections.abc import Iterator

import psycopg
import pytest
from psycopg.conninfo import make_conninfo
from psycopg.rows import dict_row

from functions.core.db.migrate import apply_migrations, bootstrap_if_needed
from tests.db.rls import Admin

API_ROLES = ("anon", "authenticated", "service_role")

# table -> role -> privileges; a privilege on some columns only is written "UPDATE (col, ...)".
INTENDED: dict[str, dict[str, set[str]]] = {
    "public.avatars": {
        "authenticated": {
            "SELECT",
            "INSERT",
            "DELETE",
            "UPDATE (allowed_origins, appearance, end_of_speech_ms, greeting, grounded_only, language,"
            " max_session_seconds, name, persona, provider, provider_avatar_id, provider_options, quality,"
            " voice, widget)",
        },
        "service_role": {"SELECT"},
    },
    "public.streaming_sessions": {
        "authenticated": {
            "SELECT",
            "DELETE",
            "INSERT (avatar_id, channel, page_url, quality, visitor_key)",
            "UPDATE (end_reason, last_activity_at, provider_session_id, status)",
        },
        "service_role": {"SELECT", "UPDATE (end_reason, status)"},
    },
    "public.streaming_messages": {
        "authenticated": {
            "SELECT",
            "DELETE",
            "INSERT (audio_duration_ms, completion_tokens, content, interrupted, prompt_tokens, role,"
            " session_id, source_chunk_ids, sources, timings, tool_calls, turn_id)",
            "UPDATE (audio_duration_ms, first_audible_ms, heard_content, interrupted, reply_claimed_until)",
        },
    },
    "public.avatar_session_events": {
        "authenticated": {"SELECT", "INSERT (data, event_type, session_id)"},
        "service_role": {"SELECT", "INSERT (data, event_type, session_id)"},
    },
    "public.usage_limits": {"authenticated": {"SELECT"}},
    "public.knowledge_documents": {
        "authenticated": {
            "SELECT",
            "INSERT",
            "DELETE",
            "UPDATE (chunks_done, chunks_total, content_hash, error, mime_type, size_bytes, source_name,"
            " status, title)",
        },
        # The cleanup job fails documents stuck indexing, with the reason and how far they got.
        "service_role": {"SELECT", "UPDATE (chunks_done, error, status)"},
    },
    "public.knowledge_chunks": {
        "authenticated": {
            "SELECT",
            "INSERT",
            "DELETE",
            "UPDATE (content, embedding, embedding_model, heading_path, token_count)",
        },
        # ... and removes the chunks such a document had stored.
        "service_role": {"SELECT", "DELETE"},
    },
    "public.avatar_api_keys": {
        "authenticated": {
            "SELECT",
            "DELETE",
            "INSERT (avatar_id, key_hash, key_prefix, name)",
            "UPDATE (revoked_at)",
        },
    },
    "public.widget_visitors": {
        "authenticated": {"SELECT"},
        "service_role": {"SELECT", "INSERT (avatar_id)", "UPDATE (last_seen_at)", "DELETE"},
    },
    "private.rate_limits": {},
    # Provider-side resources a session made (deleted at its end, retried by the cleanup job) and voices
    # imported once: the server's alone.
    "private.provider_resources": {"service_role": {"SELECT", "INSERT", "UPDATE", "DELETE"}},
    "private.provider_assets": {"service_role": {"SELECT", "INSERT"}},
    # Insights: feedback by whoever held the conversation, questions the owner answered, the owner's
    # price table; the per-day totals are kept by triggers and read through the Insights functions.
    "public.message_feedback": {
        "authenticated": {
            "SELECT",
            "INSERT (comment, message_id, rating)",
            "UPDATE (comment, rating)",
            "DELETE",
        },
    },
    "public.answered_questions": {
        "authenticated": {
            "SELECT",
            "INSERT (avatar_id, document_id, question, question_key)",
            "UPDATE (created_at, document_id, question)",
            "DELETE",
        },
    },
    "public.insight_prices": {
        "authenticated": {"SELECT", "INSERT (owner_id, prices)", "UPDATE (prices, updated_at)"},
    },
    "private.insights_daily": {"authenticated": {"SELECT"}},
    "private.insights_latency": {"authenticated": {"SELECT"}},
    # An avatar's tools: the signing secret is written once and never selectable.
    "public.avatar_tools": {
        "authenticated": {
            "SELECT (avatar_id, created_at, description, enabled, id, kind, method, name, owner_id,"
            " parameters, timeout_ms, updated_at, url)",
            "INSERT (avatar_id, description, enabled, kind, method, name, parameters, signing_secret,"
            " timeout_ms, url)",
            "UPDATE (description, enabled, method, parameters, timeout_ms, url)",
            "DELETE",
        },
    },
    # A tool's header values are written, never read back; a header is replaced by delete and insert.
    "public.avatar_tool_headers": {
        "authenticated": {"SELECT (created_at, name, tool_id)", "INSERT (name, tool_id, value)", "DELETE"},
    },
    # Contacts: visitors add (RLS: to their own live session), owners read and delete; owner and avatar
    # come from the session.
    "public.contacts": {
        "authenticated": {"SELECT", "INSERT (email, id, name, note, phone, session_id)", "DELETE"},
    },
}

_TABLES = """
select n.nspname || '.' || c.relname as name
  from pg_class c join pg_namespace n on n.oid = c.relnamespace
 where n.nspname in ('public', 'private') and c.relkind in ('r', 'p', 'v', 'm', 'f')
"""
_TABLE_GRANTS = """
select n.nspname || '.' || c.relname as name, r.rolname as role, a.privilege_type as privilege
  from pg_class c
  join pg_namespace n on n.oid = c.relnamespace
  cross join lateral aclexplode(c.relacl) a
  join pg_roles r on r.oid = a.grantee
 where n.nspname in ('public', 'private') and r.rolname = any(%s)
"""
_COLUMN_GRANTS = """
select n.nspname || '.' || c.relname as name, r.rolname as role, a.privilege_type as privilege,
       string_agg(att.attname, ', ' order by att.attname) as columns
  from pg_attribute att
  join pg_class c on c.oid = att.attrelid
  join pg_namespace n on n.oid = c.relnamespace
  cross join lateral aclexplode(att.attacl) a
  join pg_roles r on r.oid = a.grantee
 where n.nspname in ('public', 'private') and r.rolname = any(%s) and not att.attisdropped
 group by 1, 2, 3
"""


def grant_catalogue(admin: Admin) -> dict[str, dict[str, set[str]]]:
    """What the database grants each API role on each table in schemas public and private."""
    catalogue: dict[str, dict[str, set[str]]] = {row["name"]: {} for row in admin.execute(_TABLES)}
    per_table: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for row in admin.execute(_TABLE_GRANTS, (list(API_ROLES),)):
        per_table[row["name"]][row["role"]].add(row["privilege"])
    for row in admin.execute(_COLUMN_GRANTS, (list(API_ROLES),)):
        # A table-level privilege shows on every column too; only column-only grants are listed.
        if row["privilege"] not in per_table[row["name"]][row["role"]]:
            per_table[row["name"]][row["role"]].add(f"{row['privilege']} ({row['columns']})")
    for name, roles in per_table.items():
        catalogue[name] = {role: set(privileges) for role, privileges in roles.items()}
    return catalogue


def test_every_table_grants_each_role_exactly_what_is_intended(admin: Admin) -> None:
    assert grant_catalogue(admin) == INTENDED


def test_anon_is_granted_nothing_on_any_table(admin: Admin) -> None:
    assert {name: roles["anon"] for name, roles in grant_catalogue(admin).items() if "anon" in roles} == {}


def test_no_default_privileges_hand_new_tables_to_the_api_roles(admin: Admin) -> None:
    rows = admin.execute(
        "select n.nspname as schema, d.defaclobjtype as kind, r.rolname as role"
        " from pg_default_acl d join pg_namespace n on n.oid = d.defaclnamespace"
        " cross join lateral aclexplode(d.defaclacl) a join pg_roles r on r.oid = a.grantee"
        " where r.rolname = any(%s)",
        (list(API_ROLES),),
    ).fetchall()
    assert rows == []


@pytest.fixture
def scratch_database(admin: Admin, database_url: str) -> Iterator[str]:
    name = f"grants_{uuid.uuid4().hex[:12]}"
    admin.execute(f"create database {name}".encode())
    try:
        yield make_conninfo(database_url, dbname=name)
    finally:
        admin.execute(f"drop database if exists {name} with (force)".encode())


def test_a_project_created_before_the_change_ends_with_the_same_grants(scratch_database: str) -> None:
    """A project whose tables were made while Supabase still granted everything by default."""
    with psycopg.connect(scratch_database, autocommit=True) as plain:
        bootstrap_if_needed(plain)
        plain.execute(
            "alter default privileges in schema public"
            " grant all on tables to anon, authenticated, service_role"
        )
        apply_migrations(plain)
    with psycopg.connect(scratch_database, autocommit=True, row_factory=dict_row) as conn:
        assert grant_catalogue(conn) == INTENDED
