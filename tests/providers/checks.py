"""Assertions shared by the provider contract tests."""

from typing import Any

import httpx
import psycopg

from tests.conftest import User
from tests.functional.support import assert_problem, events, session_row

Admin = psycopg.Connection[Any]


def assert_start_fails(
    client: httpx.Client,
    admin: Admin,
    user: User,
    avatar_id: str,
    *,
    status: int,
    code: str,
    provider: str,
    provider_status: int | None,
    secret: str,
) -> dict[str, Any]:
    """Starting answers this problem naming the provider; the row ends in `error` with the reason kept."""
    response = client.post("/v1/sessions", json={"avatar_id": avatar_id}, headers=user.headers)
    problem = assert_problem(response, status, code)
    assert problem["provider"] == provider
    assert problem["detail"].startswith(f"{provider}: ")
    assert secret not in response.text
    row = admin.execute(
        "select id from public.streaming_sessions where avatar_id = %s order by started_at desc limit 1",
        (avatar_id,),
    ).fetchone()
    assert row is not None
    session = session_row(admin, row["id"])
    assert session["status"] == "error"
    assert session["end_reason"] == f"provider_error: {problem['detail']}"
    recorded = events(admin, row["id"])
    assert [event["event_type"] for event in recorded] == ["started", "error"]
    assert recorded[-1]["data"] == {
        "provider": provider,
        "status": provider_status,
        "detail": problem["detail"],
    }
    return problem
