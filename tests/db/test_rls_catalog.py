"""What the catalog says about RLS in schema public, whatever tables later migrations add."""

import re
from collections import Counter

from tests.db.rls import PUBLIC_TABLES, Admin


def test_every_table_in_public_has_row_level_security_enabled(admin: Admin) -> None:
    rows = admin.execute(
        "select c.relname, c.relrowsecurity from pg_class c"
        " join pg_namespace n on n.oid = c.relnamespace"
        " where n.nspname = 'public' and c.relkind in ('r', 'p')"
    ).fetchall()
    assert {row["relname"] for row in rows} >= set(PUBLIC_TABLES)
    assert [row["relname"] for row in rows if not row["relrowsecurity"]] == []


def test_every_policy_is_for_authenticated_only(admin: Admin) -> None:
    rows = admin.execute(
        "select tablename, policyname, roles from pg_policies where schemaname = 'public'"
    ).fetchall()
    assert rows, "the schema should have policies"
    assert [
        (row["tablename"], row["policyname"], row["roles"])
        for row in rows
        if row["roles"] != ["authenticated"]
    ] == []


def test_every_table_has_at_most_one_policy_per_command(admin: Admin) -> None:
    rows = admin.execute("select tablename, cmd from pg_policies where schemaname = 'public'").fetchall()
    per_command = Counter(
        (row["tablename"], command)
        for row in rows
        for command in (("SELECT", "INSERT", "UPDATE", "DELETE") if row["cmd"] == "ALL" else (row["cmd"],))
    )
    assert {key: count for key, count in per_command.items() if count > 1} == {}


def test_every_policy_is_permissive(admin: Admin) -> None:
    rows = admin.execute(
        "select tablename, policyname, permissive from pg_policies where schemaname = 'public'"
    )
    assert [row["policyname"] for row in rows if row["permissive"] != "PERMISSIVE"] == []


def test_policies_call_auth_uid_once_per_statement_through_a_subselect(admin: Admin) -> None:
    rows = admin.execute(
        "select policyname, coalesce(qual, '') || ' ' || coalesce(with_check, '') as expr"
        " from pg_policies where schemaname = 'public'"
    ).fetchall()
    bare = [row["policyname"] for row in rows if re.search(r"(?<!SELECT )auth\.uid\(\)", row["expr"])]
    assert bare == []
