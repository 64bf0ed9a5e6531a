"""`avatar-studio deploy check`: are the cloud settings complete and does each part answer?

Run before a deploy (settings, database, JWKS) and after it (both API addresses answer, preflights
included). Each check says what it found and, when it fails, what to fix.
"""

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
from psycopg.rows import dict_row

from functions.core.auth.tokens import widget_key
from functions.core.db.migrate import MIGRATION_NAME, migration_files
from functions.core.origins import normalise_origin
from functions.core.settings import Settings

# What the functions do as each role (see the grants migrations); a missing one is a 42501 at runtime.
TABLE_GRANTS: dict[str, list[tuple[str, str]]] = {
    "authenticated": [
        *(
            (table, privilege)
            for table in (
                "public.avatars",
                "public.streaming_sessions",
                "public.streaming_messages",
                "public.knowledge_documents",
                "public.knowledge_chunks",
                "public.avatar_api_keys",
            )
            for privilege in ("SELECT", "INSERT", "UPDATE", "DELETE")
        ),
        ("public.avatar_session_events", "SELECT"),
        ("public.avatar_session_events", "INSERT"),
        ("public.usage_limits", "SELECT"),
        ("public.widget_visitors", "SELECT"),
    ],
    "service_role": [
        ("public.avatars", "SELECT"),
        ("public.streaming_sessions", "SELECT"),
        ("public.streaming_sessions", "UPDATE"),
        ("public.avatar_session_events", "SELECT"),
        ("public.avatar_session_events", "INSERT"),
        ("public.widget_visitors", "SELECT"),
        ("public.widget_visitors", "INSERT"),
        ("public.widget_visitors", "UPDATE"),
        ("public.widget_visitors", "DELETE"),
        ("public.knowledge_documents", "SELECT"),
        ("public.knowledge_documents", "UPDATE"),
    ],
}
FUNCTION_GRANTS: dict[str, list[str]] = {
    "authenticated": [
        "public.match_chunks(uuid, text, extensions.vector, text, integer, integer)",
        "private.search_words(text)",
        "private.chunk_search_vector(text[], text)",  # computes knowledge_chunks.fts as chunks are stored
        "private.can_use_avatar(uuid)",
        "private.session_avatar(uuid)",
        "private.owner_usage(uuid, boolean)",
    ],
    "service_role": [
        "private.rate_limit_hit(text, integer, integer)",
        "private.rate_limit_hit_in(text, timestamp with time zone, integer)",
        "private.avatar_api_key(text)",
    ],
}

_HAS_PRIVILEGE = {
    # Column grants count: INSERT and UPDATE are granted on the columns clients may write.
    "SELECT": "has_any_column_privilege(current_user, %s, 'SELECT')",
    "INSERT": "has_any_column_privilege(current_user, %s, 'INSERT')",
    "UPDATE": "has_any_column_privilege(current_user, %s, 'UPDATE')",
    "DELETE": "has_table_privilege(current_user, %s, 'DELETE')",
}


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'}  {self.name}: {self.detail}"


def settings_checks(settings: Settings) -> list[Check]:
    """What the settings alone say, without reaching anything."""
    checks = [
        Check(
            "mode",
            not settings.is_local,
            "APP_MODE=cloud" if not settings.is_local else "APP_MODE is local: set APP_MODE=cloud",
        )
    ]
    bad = [origin for origin in settings.cors_origins if normalise_origin(origin) is None]
    if not settings.cors_origins:
        checks.append(
            Check(
                "cors origins",
                False,
                'set CORS_ORIGINS to the studio\'s address, e.g. ["https://dxxxx.cloudfront.net"]',
            )
        )
    elif bad:
        checks.append(Check("cors origins", False, f"not an http(s) origin: {', '.join(bad)}"))
    else:
        checks.append(Check("cors origins", True, ", ".join(settings.cors_origins)))
    checks.append(
        Check("widget secret", True, "WIDGET_TOKEN_SECRET is set")
        if widget_key(settings) is not None
        else Check(
            "widget secret",
            False,
            "set WIDGET_TOKEN_SECRET (e.g. `openssl rand -base64 48`), different from the JWT secret;"
            " without it widget tokens answer 503",
        )
    )
    checks.append(
        Check("supabase anon key", True, "SUPABASE_ANON_KEY is set")
        if settings.supabase_anon_key
        else Check(
            "supabase anon key",
            False,
            "set SUPABASE_ANON_KEY (Supabase dashboard, Project Settings > API keys):"
            " the studio signs in with it",
        )
    )
    checks.append(
        Check("token issuer", True, settings.resolved_jwt_issuer or "")
        if settings.resolved_jwt_issuer
        else Check("token issuer", False, "set SUPABASE_URL (or JWT_ISSUER) so the token issuer is checked")
    )
    checks.append(
        Check("speech", True, "ElevenLabs")
        if settings.elevenlabs_api_key is not None
        else Check("speech", False, "set ELEVENLABS_API_KEY: the offline Piper voice is local-only")
    )
    return checks


async def database_checks(url: str, migrations_dir: Path | None = None) -> list[Check]:
    """The database answers, has every migration, and each role holds the grants the functions use."""
    try:
        conn = await psycopg.AsyncConnection.connect(
            url, autocommit=True, row_factory=dict_row, connect_timeout=10
        )
    except psycopg.Error as exc:
        return [Check("database", False, f"cannot connect ({exc}); check DATABASE_URL (the pooler's URI)")]
    checks: list[Check] = []
    async with conn:
        files = migration_files(migrations_dir) if migrations_dir else migration_files()
        wanted = [match["version"] for path in files if (match := MIGRATION_NAME.match(path.name))]
        try:
            cur = await conn.execute("select version from supabase_migrations.schema_migrations")
            applied = {row["version"] for row in await cur.fetchall()}
        except psycopg.errors.UndefinedTable:
            applied = set()
        missing = [version for version in wanted if version not in applied]
        checks.append(
            Check("migrations", True, f"all {len(wanted)} applied")
            if not missing
            else Check(
                "migrations",
                False,
                f"{len(missing)} not applied ({', '.join(missing)}): run `supabase db push`",
            )
        )
        for role in TABLE_GRANTS:
            checks.append(await _role_check(conn, role))
    return checks


async def _role_check(conn: psycopg.AsyncConnection[dict[str, object]], role: str) -> Check:
    lacking: list[str] = []
    try:
        async with conn.transaction(force_rollback=True):
            await conn.execute("select set_config('role', %s, true)", (role,))
            for table, privilege in TABLE_GRANTS[role]:
                cur = await conn.execute(f"select {_HAS_PRIVILEGE[privilege]} as ok", (table,))
                row = await cur.fetchone()
                if not (row and row["ok"]):
                    lacking.append(f"{privilege} on {table}")
            for function in FUNCTION_GRANTS[role]:
                cur = await conn.execute(
                    "select has_function_privilege(current_user, %s, 'EXECUTE') as ok", (function,)
                )
                row = await cur.fetchone()
                if not (row and row["ok"]):
                    lacking.append(f"EXECUTE on {function}")
    except psycopg.Error as exc:
        return Check(
            f"database as {role}", False, f"cannot act as {role} ({exc.diag.message_primary or exc})"
        )
    if lacking:
        return Check(
            f"database as {role}",
            False,
            f"missing {', '.join(lacking)}: apply the migrations (`supabase db push`)",
        )
    return Check(
        f"database as {role}", True, f"{len(TABLE_GRANTS[role]) + len(FUNCTION_GRANTS[role])} grants present"
    )


async def jwks_check(settings: Settings, http: httpx.AsyncClient) -> Check:
    url = settings.resolved_jwks_url
    if url is None:
        if settings.supabase_jwt_secret is not None:
            return Check("jwks", True, "none configured; HS256 tokens only (SUPABASE_JWT_SECRET)")
        return Check("jwks", False, "set SUPABASE_URL so access tokens can be verified")
    try:
        response = await http.get(url)
        keys = response.json().get("keys") if response.status_code == 200 else None
    except (httpx.HTTPError, json.JSONDecodeError, AttributeError) as exc:
        return Check("jwks", False, f"{url} cannot be read ({exc.__class__.__name__}); check SUPABASE_URL")
    if not keys:
        return Check("jwks", False, f"{url} answered {response.status_code} without keys; check SUPABASE_URL")
    return Check("jwks", True, f"{len(keys)} key(s) at {url}")


async def address_checks(name: str, base: str, settings: Settings, http: httpx.AsyncClient) -> list[Check]:
    """GET /health answers, and a browser preflight from the studio's origin is allowed."""
    base = base.rstrip("/")
    try:
        health = await http.get(f"{base}/health")
    except httpx.HTTPError as exc:
        return [Check(name, False, f"{base} does not answer ({exc.__class__.__name__}); check the address")]
    if health.status_code != 200:
        return [Check(name, False, f"{base}/health answered {health.status_code}")]
    checks = [Check(name, True, f"{base}/health answered 200")]
    if settings.cors_origins:
        origin = settings.cors_origins[0]
        preflight = await http.options(
            f"{base}/v1/sessions",
            headers={
                "origin": origin,
                "access-control-request-method": "POST",
                "access-control-request-headers": "authorization, content-type",
            },
        )
        allowed = preflight.headers.get("access-control-allow-origin") == origin
        checks.append(
            Check(f"{name} preflight", True, f"{origin} allowed")
            if preflight.status_code in (200, 204) and allowed
            else Check(
                f"{name} preflight",
                False,
                f"OPTIONS from {origin} answered {preflight.status_code} without allowing it;"
                " redeploy serverless.yml and check CORS_ORIGINS",
            )
        )
    return checks


async def run_checks(
    settings: Settings,
    *,
    api_url: str | None,
    stream_url: str | None,
    http: httpx.AsyncClient,
    database: Callable[[str], Awaitable[list[Check]]] = database_checks,
) -> list[Check]:
    checks = settings_checks(settings)
    if settings.database_url is None:
        checks.append(Check("database", False, "set DATABASE_URL (Supabase: Connect > Transaction pooler)"))
    else:
        checks += await database(settings.database_url.get_secret_value())
    checks.append(await jwks_check(settings, http))
    stream = stream_url or settings.public_api_base
    for name, base, hint in (
        ("http api", api_url, "pass --api-url (the HttpApiUrl output of the deploy)"),
        (
            "stream url",
            stream,
            "pass --stream-url or set PUBLIC_API_BASE (the StreamLambdaFunctionUrl output)",
        ),
    ):
        if base is None:
            checks.append(Check(name, False, hint))
        else:
            checks += await address_checks(name, base, settings, http)
    return checks
