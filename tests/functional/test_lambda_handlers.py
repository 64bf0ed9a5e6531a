"""The Lambda handlers, invoked with real API Gateway (HTTP API, payload 2.0) and EventBridge events.

They run against the same embedded Postgres as the uvicorn server of the other tests. As in a Lambda
container, Mangum drives the app on one event loop of its own, kept for every invocation; the cleanup
function keeps its own loop too. Both are closed (with their connection pools) after this module.
"""

import asyncio
import base64
import copy
import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import psycopg
import pytest

from functions.core.db.pool import get_database
from functions.core.settings import get_settings
from tests.conftest import User
from tests.functional.support import Api, event_types, session_row
from tests.functional.test_widget_token import SITE, limit_widget_tokens

EVENTS_DIR = Path(__file__).resolve().parents[1] / "events"
Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
Admin = psycopg.Connection[Any]


def load_event(name: str, **overrides: Any) -> dict[str, Any]:
    """The event stored as tests/events/<name>.json, with overrides applied.

    Overrides for HTTP API events: `token` (the bearer token, None to drop the header), `body` (a dict
    sent as JSON or a str; the content-length follows), `path` (rawPath and requestContext.http.path),
    `method`, `query` (rawQueryString) and `headers` (merged). Any other key replaces that top-level key.
    """
    event: dict[str, Any] = json.loads((EVENTS_DIR / f"{name}.json").read_text())
    event = copy.deepcopy(event)
    if "token" in overrides:
        token = overrides.pop("token")
        event["headers"].pop("authorization", None)
        if token is not None:
            event["headers"]["authorization"] = f"Bearer {token}"
    if "body" in overrides:
        body = overrides.pop("body")
        text = json.dumps(body) if isinstance(body, dict | list) else str(body)
        event["body"] = text
        event["isBase64Encoded"] = False
        event["headers"]["content-length"] = str(len(text.encode()))
    if "path" in overrides:
        path = overrides.pop("path")
        event["rawPath"] = event["requestContext"]["http"]["path"] = path
        event.pop("pathParameters", None)
    if "method" in overrides:
        event["requestContext"]["http"]["method"] = overrides.pop("method")
    if "query" in overrides:
        event["rawQueryString"] = overrides.pop("query")
        event.pop("queryStringParameters", None)
    if "headers" in overrides:
        event["headers"].update(overrides.pop("headers"))
    event.update(overrides)
    return event


def lambda_context(function_name: str) -> SimpleNamespace:
    """The attributes of a Lambda context object that code may read."""
    return SimpleNamespace(
        function_name=f"avatar-studio-test-{function_name}",
        function_version="$LATEST",
        invoked_function_arn=f"arn:aws:lambda:us-east-1:123456789012:function:avatar-studio-test-{function_name}",
        memory_limit_in_mb=512,
        aws_request_id="8f5a3c2e-1b7d-4e9f-a6c0-2d4b8e1f3a57",
        log_group_name=f"/aws/lambda/avatar-studio-test-{function_name}",
        log_stream_name="2026/03/13/[$LATEST]0123456789abcdef0123456789abcdef",
        get_remaining_time_in_millis=lambda: 28_000,
    )


def response_json(response: dict[str, Any]) -> Any:
    body = response.get("body", "")
    raw = base64.b64decode(body) if response.get("isBase64Encoded") else body.encode()
    assert b"Traceback" not in raw
    return json.loads(raw)


def assert_lambda_problem(response: dict[str, Any], status: int, code: str) -> dict[str, Any]:
    assert response["statusCode"] == status, response
    assert response["headers"]["content-type"] == "application/problem+json"
    problem: dict[str, Any] = response_json(response)
    assert problem["status"] == status
    assert problem["code"] == code
    assert problem["detail"]
    return problem


# --- a Lambda container per module ----------------------------------------------------------------


@pytest.fixture(scope="module")
def lambda_loop(database_url: str) -> Iterator[asyncio.AbstractEventLoop]:
    """The event loop of the HTTP functions' container: Mangum finds it with asyncio.get_event_loop()."""
    get_settings.cache_clear()
    if get_database().url != database_url:
        get_database.cache_clear()
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    yield loop
    loop.run_until_complete(get_database().close())
    loop.run_until_complete(loop.shutdown_asyncgens())
    asyncio.set_event_loop(None)
    loop.close()


@pytest.fixture(scope="module")
def sessions_handler(lambda_loop: asyncio.AbstractEventLoop) -> Handler:
    import functions.sessions

    handler: Handler = functions.sessions.handler
    return handler


@pytest.fixture(scope="module")
def avatars_handler(lambda_loop: asyncio.AbstractEventLoop) -> Handler:
    import functions.avatars

    handler: Handler = functions.avatars.handler
    return handler


@pytest.fixture(scope="module")
def tools_handler(lambda_loop: asyncio.AbstractEventLoop) -> Handler:
    import functions.tools

    handler: Handler = functions.tools.handler
    return handler


@pytest.fixture(scope="module")
def cleanup_handler(database_url: str) -> Iterator[Handler]:
    import functions.cleanup

    yield functions.cleanup.handler
    loop = functions.cleanup._loop
    if loop is not None and not loop.is_closed():
        loop.run_until_complete(get_database().close())
        loop.close()
    functions.cleanup._loop = None


@pytest.fixture
def sessions_context() -> SimpleNamespace:
    return lambda_context("sessions")


@pytest.fixture
def avatars_context() -> SimpleNamespace:
    return lambda_context("avatars")


# --- the stored events ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "http_api_get_health",
        "http_api_get_sessions",
        "http_api_post_sessions",
        "http_api_post_session_end",
        "http_api_post_avatars",
    ],
)
def test_the_stored_http_api_events_have_the_payload_2_0_shape(name: str) -> None:
    event = load_event(name)
    assert event["version"] == "2.0"
    method, _, route = event["routeKey"].partition(" ")
    assert event["requestContext"]["routeKey"] == event["routeKey"]
    assert event["requestContext"]["http"]["method"] == method
    assert event["requestContext"]["http"]["path"] == event["rawPath"]
    assert route.count("/") == event["rawPath"].count("/")
    assert event["requestContext"]["stage"] == "$default"
    assert isinstance(event["isBase64Encoded"], bool)
    assert all(header == header.lower() for header in event["headers"])
    if "body" in event:
        raw = base64.b64decode(event["body"]) if event["isBase64Encoded"] else event["body"].encode()
        assert int(event["headers"]["content-length"]) == len(raw)
        json.loads(raw)


def test_load_event_applies_overrides_without_touching_the_stored_file() -> None:
    event = load_event("http_api_post_sessions", token="abc", body={"avatar_id": "x"}, path="/v1/other")
    assert event["headers"]["authorization"] == "Bearer abc"
    assert event["body"] == '{"avatar_id": "x"}'
    assert event["headers"]["content-length"] == str(len(event["body"]))
    assert event["rawPath"] == event["requestContext"]["http"]["path"] == "/v1/other"
    assert "authorization" not in load_event("http_api_post_sessions", token=None)["headers"]
    assert load_event("http_api_post_sessions")["headers"]["authorization"] == "Bearer REPLACE_ME"


def test_the_stored_eventbridge_event_is_a_scheduled_event() -> None:
    event = load_event("eventbridge_scheduled")
    assert event["source"] == "aws.events"
    assert event["detail-type"] == "Scheduled Event"
    assert event["resources"][0].startswith("arn:aws:events:")


# --- the HTTP functions -------------------------------------------------------------------------


def test_the_sessions_function_answers_health(sessions_handler: Handler, sessions_context: Any) -> None:
    response = sessions_handler(load_event("http_api_get_health"), sessions_context)
    assert response["statusCode"] == 200
    assert response["headers"]["content-type"] == "application/json"
    assert response_json(response) == {"status": "ok", "database": "ok"}


def test_an_avatar_created_through_the_avatars_function_is_stored(
    avatars_handler: Handler, avatars_context: Any, admin: Admin, owner: User
) -> None:
    response = avatars_handler(load_event("http_api_post_avatars", token=owner.token), avatars_context)
    assert response["statusCode"] == 201, response
    avatar = response_json(response)
    assert avatar["name"] == "Ava"
    assert avatar["allowed_origins"] == ["https://app.example.com"]
    row = admin.execute(
        "select owner_id, greeting from public.avatars where id = %s", (avatar["id"],)
    ).fetchone()
    assert row == {"owner_id": owner.id, "greeting": "Hi!"}

    listed = avatars_handler(
        load_event("http_api_get_sessions", token=owner.token, path="/v1/avatars", query=""), avatars_context
    )
    assert listed["statusCode"] == 200
    assert [item["id"] for item in response_json(listed)] == [avatar["id"]]


def test_a_tool_added_through_the_tools_function_is_listed_for_its_avatar(
    avatars_handler: Handler, tools_handler: Handler, avatars_context: Any, admin: Admin, owner: User
) -> None:
    avatar = response_json(
        avatars_handler(load_event("http_api_post_avatars", token=owner.token), avatars_context)
    )
    tools_path = f"/v1/avatars/{avatar['id']}/tools"
    tools_context = lambda_context("tools")
    created = tools_handler(
        load_event(
            "http_api_post_avatars", token=owner.token, path=tools_path, body={"kind": "capture_contact"}
        ),
        tools_context,
    )
    assert created["statusCode"] == 201, created
    tool = response_json(created)
    row = admin.execute(
        "select avatar_id, kind from public.avatar_tools where id = %s", (tool["id"],)
    ).fetchone()
    assert row == {"avatar_id": uuid.UUID(avatar["id"]), "kind": "capture_contact"}

    listed = tools_handler(
        load_event("http_api_get_sessions", token=owner.token, path=tools_path, query=""), tools_context
    )
    assert listed["statusCode"] == 200, listed
    assert [item["id"] for item in response_json(listed)] == [tool["id"]]


def test_a_session_starts_and_ends_through_the_sessions_function(
    avatars_handler: Handler,
    sessions_handler: Handler,
    avatars_context: Any,
    sessions_context: Any,
    admin: Admin,
    owner: User,
) -> None:
    avatar = response_json(
        avatars_handler(load_event("http_api_post_avatars", token=owner.token), avatars_context)
    )
    started = sessions_handler(
        load_event("http_api_post_sessions", token=owner.token, body={"avatar_id": avatar["id"]}),
        sessions_context,
    )
    assert started["statusCode"] == 201, started
    session_id = response_json(started)["session_id"]
    assert session_row(admin, session_id)["status"] == "active"

    end_event = load_event(
        "http_api_post_session_end",
        token=owner.token,
        path=f"/v1/sessions/{session_id}/end",
        body={"reason": "tab_closed"},
    )
    ended = sessions_handler(end_event, sessions_context)
    assert ended["statusCode"] == 200, ended
    assert response_json(ended)["status"] == "ended"
    assert response_json(ended)["end_reason"] == "tab_closed"
    again = sessions_handler(end_event, sessions_context)
    assert response_json(again) == response_json(ended)

    row = session_row(admin, session_id)
    assert row["status"] == "ended"
    assert row["end_reason"] == "tab_closed"
    assert row["duration_seconds"] is not None
    assert event_types(admin, session_id) == ["started", "ended"]

    page = sessions_handler(load_event("http_api_get_sessions", token=owner.token), sessions_context)
    assert page["statusCode"] == 200
    assert [item["id"] for item in response_json(page)["items"]] == [session_id]


def test_the_lambda_and_the_http_server_share_the_database_side_by_side(
    sessions_handler: Handler,
    sessions_context: Any,
    client: httpx.Client,
    api: Api,
    admin: Admin,
    owner: User,
    lambda_loop: asyncio.AbstractEventLoop,
) -> None:
    avatar = api.create_avatar(owner)
    over_http = api.start_session(owner, avatar["id"])["session_id"]
    through_lambda = response_json(
        sessions_handler(
            load_event("http_api_post_sessions", token=owner.token, body={"avatar_id": avatar["id"]}),
            sessions_context,
        )
    )["session_id"]

    ended_by_lambda = sessions_handler(
        load_event("http_api_post_session_end", token=owner.token, path=f"/v1/sessions/{over_http}/end"),
        sessions_context,
    )
    assert ended_by_lambda["statusCode"] == 200
    assert api.end_session(owner, through_lambda)["status"] == "ended"
    assert session_row(admin, over_http)["end_reason"] == "user_ended"
    assert session_row(admin, through_lambda)["end_reason"] == "user_ended"

    # A warm container keeps one pool on its loop across invocations.
    pool = get_database()._pools[lambda_loop]
    sessions_handler(load_event("http_api_get_health"), sessions_context)
    assert get_database()._pools[lambda_loop] is pool
    assert client.get("/health").json()["database"] == "ok"


def test_errors_from_the_functions_are_problem_json(
    sessions_handler: Handler, avatars_handler: Handler, sessions_context: Any, owner: User
) -> None:
    unauthenticated = sessions_handler(load_event("http_api_post_sessions", token=None), sessions_context)
    assert_lambda_problem(unauthenticated, 401, "unauthorized")
    assert unauthenticated["headers"]["www-authenticate"] == "Bearer"

    bad_token = sessions_handler(load_event("http_api_post_sessions"), sessions_context)
    assert_lambda_problem(bad_token, 401, "unauthorized")

    unknown_avatar = sessions_handler(
        load_event("http_api_post_sessions", token=owner.token), sessions_context
    )
    assert_lambda_problem(unknown_avatar, 404, "not_found")

    invalid = sessions_handler(
        load_event("http_api_post_sessions", token=owner.token, body={"avatar_id": "nope", "x": 1}),
        sessions_context,
    )
    problem = assert_lambda_problem(invalid, 422, "invalid_request")
    assert len(problem["errors"]) == 2

    oversized = sessions_handler(
        load_event("http_api_post_sessions", token=owner.token, body="x" * 1_048_577), sessions_context
    )
    assert_lambda_problem(oversized, 413, "payload_too_large")

    # Each function serves only its own routes.
    not_here = sessions_handler(
        load_event("http_api_post_avatars", token=owner.token, path="/v1/avatars"), sessions_context
    )
    assert_lambda_problem(not_here, 404, "not_found")
    not_there = avatars_handler(
        load_event("http_api_get_sessions", token=owner.token), lambda_context("avatars")
    )
    assert_lambda_problem(not_there, 404, "not_found")


# --- the cleanup function -----------------------------------------------------------------------


def test_the_scheduled_cleanup_ends_an_expired_session(
    cleanup_handler: Handler, api: Api, admin: Admin, owner: User
) -> None:
    avatar = api.create_avatar(owner)
    expired = api.start_session(owner, avatar["id"])["session_id"]
    live = api.start_session(owner, avatar["id"])["session_id"]
    admin.execute(
        "update public.streaming_sessions set started_at = now() - interval '15 minutes',"
        " expires_at = now() - interval '5 minutes' where id = %s",
        (expired,),
    )

    report = cleanup_handler(load_event("eventbridge_scheduled"), lambda_context("cleanup"))
    assert set(report) == {
        "ended",
        "expired",
        "idle",
        "session_ids",
        "orphans_stopped",
        "orphans_failed",
        "orphans",
        "documents_failed",
        "visitors_removed",
        "uploads_abandoned",
    }
    assert expired in report["session_ids"]
    assert live not in report["session_ids"]
    assert report["ended"] == len(report["session_ids"]) == report["expired"] + report["idle"]
    json.dumps(report)

    row = session_row(admin, expired)
    assert row["status"] == "ended"
    assert row["end_reason"] == "expired"
    assert row["duration_seconds"] == 600
    assert event_types(admin, expired) == ["started", "ended"]
    assert session_row(admin, live)["status"] == "active"

    again = cleanup_handler(load_event("eventbridge_scheduled"), lambda_context("cleanup"))
    assert expired not in again["session_ids"]
    assert event_types(admin, expired).count("ended") == 1
    api.end_session(owner, live)


def test_on_lambda_the_per_ip_limit_keys_on_api_gateways_source_ip_not_on_forwarded_for(
    monkeypatch: pytest.MonkeyPatch,
    sessions_handler: Handler,
    sessions_context: Any,
    api: Api,
    owner: User,
    admin: Admin,
) -> None:
    limit_widget_tokens(monkeypatch, widget_tokens_per_ip_per_minute=2)
    public_id = api.create_avatar(owner, allowed_origins=[SITE])["public_id"]
    source = f"203.0.113.{uuid.uuid4().int % 250 + 1}"
    admin.execute("delete from private.rate_limits where bucket = %s", (f"widget-token:ip:{source}",))

    def token(source_ip: str, forwarded: str) -> dict[str, Any]:
        event = load_event(
            "http_api_post_sessions",
            path="/v1/widget/token",
            token=None,
            body={"avatar_public_id": public_id},
            headers={"origin": SITE, "x-forwarded-for": forwarded},
        )
        event["requestContext"]["http"]["sourceIp"] = source_ip
        return sessions_handler(event, sessions_context)

    answers = [token(source, f"198.51.100.{n}") for n in range(3)]
    assert [answer["statusCode"] for answer in answers[:2]] == [201, 201]
    assert_lambda_problem(answers[2], 429, "rate_limited")
    # Another caller behind API Gateway is counted on its own, whatever it forwards.
    other = "192.0.2.200"
    admin.execute("delete from private.rate_limits where bucket = %s", (f"widget-token:ip:{other}",))
    assert token(other, source)["statusCode"] == 201
