"""An avatar's tools and the contacts visitors leave: defined by the owner, secrets never shown again,
arguments checked, requests only where allowed, and each owner's rows invisible to everyone else."""

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest

from functions.core.api import deps
from functions.core.settings import get_settings
from tests.conftest import User
from tests.functional.loopback import Endpoint, loopback_endpoint
from tests.functional.support import Api, assert_problem
from tests.functional.test_widget_token import SITE, Widget, limit_widget_tokens, visitor_headers

Admin = psycopg.Connection[Any]

ORDER_TOOL = {
    "name": "order_status",
    "description": "Look up an order's status by its number.",
    "parameters": {
        "type": "object",
        "properties": {"order": {"type": "string", "pattern": "^A-[0-9]+$"}},
        "required": ["order"],
        "additionalProperties": False,
    },
    "method": "POST",
    "url": "https://orders.example.com/status",
    "headers": {"X-Api-Key": "owner-system-secret"},
}


@pytest.fixture
def avatar(api: Api, owner: User) -> dict[str, Any]:
    return api.create_avatar(owner, allowed_origins=[SITE])


def create_tool(client: httpx.Client, user: User, avatar_id: str, **fields: Any) -> httpx.Response:
    return client.post(f"/v1/avatars/{avatar_id}/tools", json={**ORDER_TOOL, **fields}, headers=user.headers)


def test_a_tool_shows_its_signing_secret_once_and_its_header_values_never(
    client: httpx.Client, owner: User, avatar: dict[str, Any], admin: Admin
) -> None:
    response = create_tool(client, owner, avatar["id"])
    assert response.status_code == 201, response.text
    created = response.json()
    assert len(created["signing_secret"]) >= 40
    assert created["header_names"] == ["X-Api-Key"]
    assert "owner-system-secret" not in response.text

    listed = client.get(f"/v1/avatars/{avatar['id']}/tools", headers=owner.headers)
    assert listed.status_code == 200
    [tool] = listed.json()
    assert tool["name"] == "order_status"
    assert "signing_secret" not in tool
    assert "owner-system-secret" not in listed.text
    assert created["signing_secret"] not in listed.text
    stored = admin.execute("select value from public.avatar_tool_headers where tool_id = %s", (tool["id"],))
    assert stored.fetchone() == {"value": "owner-system-secret"}


def test_built_in_tools_take_their_kind_as_name_and_their_own_arguments(
    client: httpx.Client, owner: User, avatar: dict[str, Any]
) -> None:
    response = client.post(
        f"/v1/avatars/{avatar['id']}/tools", json={"kind": "capture_contact"}, headers=owner.headers
    )
    assert response.status_code == 201, response.text
    tool = response.json()
    assert tool["name"] == "capture_contact"
    assert set(tool["parameters"]["properties"]) == {"name", "email", "phone", "note"}
    assert tool["url"] is None
    refused = client.patch(
        f"/v1/avatars/{avatar['id']}/tools/{tool['id']}",
        json={"url": "https://x.example"},
        headers=owner.headers,
    )
    assert_problem(refused, 409)
    handoff = client.post(
        f"/v1/avatars/{avatar['id']}/tools", json={"kind": "handoff_to_human"}, headers=owner.headers
    )
    assert_problem(handoff, 422)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"parameters": {"type": "object", "properties": {"n": {"type": "bogus"}}}},
            "not a valid JSON Schema",
        ),
        ({"parameters": {"type": "string"}}, "object of arguments"),
        ({"headers": {"Host": "evil.example"}}, "set by the product"),
        ({"headers": {"X-Avatar-Studio-Signature": "v1=0"}}, "set by the product"),
        ({"url": "ftp://orders.example.com"}, "url"),
        ({"name": "has spaces"}, "name"),
        ({"description": ""}, "needs a description"),
    ],
)
def test_a_tool_that_cannot_work_is_refused_with_the_reason(
    client: httpx.Client, owner: User, avatar: dict[str, Any], fields: dict[str, Any], message: str
) -> None:
    body = assert_problem(create_tool(client, owner, avatar["id"], **fields), 422)
    assert message in body["detail"]


def test_names_are_unique_per_avatar_and_a_change_replaces_the_headers(
    client: httpx.Client, owner: User, avatar: dict[str, Any], admin: Admin
) -> None:
    tool = create_tool(client, owner, avatar["id"]).json()
    assert_problem(create_tool(client, owner, avatar["id"]), 409)
    changed = client.patch(
        f"/v1/avatars/{avatar['id']}/tools/{tool['id']}",
        json={"description": "Order lookup.", "timeout_ms": 2000, "headers": {"Authorization": "Bearer new"}},
        headers=owner.headers,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["description"] == "Order lookup."
    assert changed.json()["timeout_ms"] == 2000
    assert changed.json()["header_names"] == ["Authorization"]
    rows = admin.execute("select name from public.avatar_tool_headers where tool_id = %s", (tool["id"],))
    assert [row["name"] for row in rows] == ["Authorization"]
    deleted = client.delete(f"/v1/avatars/{avatar['id']}/tools/{tool['id']}", headers=owner.headers)
    assert deleted.status_code == 204
    assert admin.execute("select count(*) as n from public.avatar_tool_headers").fetchone() is not None
    gone = admin.execute("select 1 from public.avatar_tool_headers where tool_id = %s", (tool["id"],))
    assert gone.fetchone() is None


def test_another_owner_and_a_visitor_cannot_see_or_touch_the_tools(
    client: httpx.Client, owner: User, stranger: User, avatar: dict[str, Any], widget: Widget
) -> None:
    tool = create_tool(client, owner, avatar["id"]).json()
    base = f"/v1/avatars/{avatar['id']}/tools"
    assert_problem(client.get(base, headers=stranger.headers), 404)
    assert_problem(client.get(f"{base}/{tool['id']}", headers=stranger.headers), 404)
    assert_problem(
        client.patch(f"{base}/{tool['id']}", json={"enabled": False}, headers=stranger.headers), 404
    )
    assert_problem(client.delete(f"{base}/{tool['id']}", headers=stranger.headers), 404)
    assert_problem(client.post(f"{base}/{tool['id']}/test", json={}, headers=stranger.headers), 404)
    assert_problem(create_tool(client, stranger, avatar["id"]), 404)
    token = widget.token(avatar["public_id"])["token"]
    assert_problem(client.get(base, headers=visitor_headers(token)), 403)
    assert_problem(client.get("/v1/contacts", headers=visitor_headers(token)), 403)


@pytest.fixture
def widget(client: httpx.Client) -> Widget:
    return Widget(client)


# --- "test this tool" ------------------------------------------------------------------------------


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    """The owner's order system: answers every lookup with the same order."""
    with loopback_endpoint() as state:
        state.answer = lambda _request: json.dumps({"order": "A-17", "status": "shipped"}).encode()
        yield state


def try_tool(
    client: httpx.Client, owner: User, avatar_id: str, tool_id: str, arguments: dict[str, Any]
) -> httpx.Response:
    """The studio's "test this tool" with these arguments."""
    return client.post(
        f"/v1/avatars/{avatar_id}/tools/{tool_id}/test", json={"arguments": arguments}, headers=owner.headers
    )


def allow_loopback_tools(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = get_settings().model_copy(update={"tool_allowed_hosts": ["127.0.0.1/32"]})
    monkeypatch.setattr(deps, "get_settings", lambda: settings)


def test_testing_a_tool_calls_it_with_its_secret_headers_and_shows_the_answer(
    client: httpx.Client,
    owner: User,
    avatar: dict[str, Any],
    endpoint: Endpoint,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = f"{endpoint.url}/status"
    allow_loopback_tools(monkeypatch)
    tool = create_tool(client, owner, avatar["id"], url=url).json()
    tried = try_tool(client, owner, avatar["id"], tool["id"], {"order": "A-17"})
    assert tried.status_code == 200, tried.text
    assert tried.json()["ok"] is True
    assert tried.json()["status"] == 200
    assert tried.json()["result"] == {"order": "A-17", "status": "shipped"}
    assert [(r.json(), r.headers.get("x-api-key")) for r in endpoint.seen] == [
        ({"order": "A-17"}, "owner-system-secret")
    ]


def test_arguments_that_break_the_schema_are_refused_before_any_request(
    client: httpx.Client,
    owner: User,
    avatar: dict[str, Any],
    endpoint: Endpoint,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = f"{endpoint.url}/status"
    allow_loopback_tools(monkeypatch)
    tool = create_tool(client, owner, avatar["id"], url=url).json()
    for arguments, where in (({"order": "17"}, "order"), ({}, "'order' is a required property")):
        body = assert_problem(
            try_tool(client, owner, avatar["id"], tool["id"], arguments),
            422,
            "tool_arguments_invalid",
        )
        assert where in body["detail"]
    assert endpoint.seen == []


def test_a_tool_pointing_at_a_private_address_is_not_called_by_default(
    client: httpx.Client, owner: User, avatar: dict[str, Any], endpoint: Endpoint
) -> None:
    url = f"{endpoint.url}/status"
    tool = create_tool(client, owner, avatar["id"], url=url).json()
    tried = try_tool(client, owner, avatar["id"], tool["id"], {"order": "A-1"})
    assert tried.status_code == 200, tried.text
    assert tried.json()["ok"] is False
    assert "not a public address" in tried.json()["result"]["error"]
    assert endpoint.seen == []


# --- contacts --------------------------------------------------------------------------------------


def test_a_visitor_leaves_a_contact_in_their_session_and_only_the_owner_reads_it(
    client: httpx.Client, api: Api, owner: User, stranger: User, avatar: dict[str, Any], widget: Widget
) -> None:
    token = widget.token(avatar["public_id"])["token"]
    started = client.post("/v1/sessions", json={"avatar_id": avatar["id"]}, headers=visitor_headers(token))
    assert started.status_code == 201, started.text
    session_id = started.json()["session_id"]
    left = client.post(
        f"/v1/sessions/{session_id}/contact",
        json={"name": '=HYPERLINK("x")', "email": "ada@example.com", "note": "call me back"},
        headers=visitor_headers(token),
    )
    assert left.status_code == 201, left.text

    listed = client.get("/v1/contacts", params={"avatar_id": avatar["id"]}, headers=owner.headers)
    [contact] = listed.json()
    assert contact["email"] == "ada@example.com"
    assert contact["session_id"] == session_id
    assert client.get("/v1/contacts", headers=stranger.headers).json() == []
    assert_problem(client.delete(f"/v1/contacts/{contact['id']}", headers=stranger.headers), 404)

    exported = client.get("/v1/contacts.csv", headers=owner.headers)
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    [row] = [r for r in rows if r["email"] == "ada@example.com"]
    assert row["name"] == '\'=HYPERLINK("x")'  # kept as text, not run as a spreadsheet formula
    assert client.get("/v1/contacts.csv", headers=stranger.headers).text.strip().count("\n") == 0


def test_a_contact_needs_a_way_back_and_a_live_session_of_ones_own(
    client: httpx.Client, api: Api, owner: User, stranger: User, avatar: dict[str, Any]
) -> None:
    session_id = api.start_session(owner, avatar["id"])["session_id"]
    path = f"/v1/sessions/{session_id}/contact"
    assert (
        "email address or a phone number"
        in assert_problem(client.post(path, json={"name": "Ada"}, headers=owner.headers), 422)["detail"]
    )
    assert_problem(client.post(path, json={"email": "not-an-email"}, headers=owner.headers), 422)
    assert_problem(client.post(path, json={"email": "a@example.com"}, headers=stranger.headers), 404)
    api.end_session(owner, session_id)
    assert_problem(client.post(path, json={"phone": "+1 555 0100"}, headers=owner.headers), 409)


def test_leaving_contacts_is_limited_per_conversation_and_minute(
    client: httpx.Client,
    avatar: dict[str, Any],
    widget: Widget,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    limit_widget_tokens(monkeypatch, contacts_per_session_per_minute=2)
    token = widget.token(avatar["public_id"])["token"]
    started = client.post("/v1/sessions", json={"avatar_id": avatar["id"]}, headers=visitor_headers(token))
    session_id = started.json()["session_id"]

    def leave(session: str) -> httpx.Response:
        return client.post(
            f"/v1/sessions/{session}/contact", json={"phone": "+1 555 0100"}, headers=visitor_headers(token)
        )

    assert [leave(session_id).status_code for _ in range(2)] == [201, 201]
    refused = leave(session_id)
    assert assert_problem(refused, 429)["code"] == "rate_limited"
    assert int(refused.headers["retry-after"]) > 0
    ended = client.post(f"/v1/sessions/{session_id}/end", headers=visitor_headers(token))
    assert ended.status_code == 200, ended.text
    again = client.post("/v1/sessions", json={"avatar_id": avatar["id"]}, headers=visitor_headers(token))
    assert again.status_code == 201, again.text
    assert leave(again.json()["session_id"]).status_code == 201  # each conversation has its own count


def test_the_widget_offers_its_contact_form_only_without_an_llm_and_with_capture_contact_on(
    client: httpx.Client,
    owner: User,
    avatar: dict[str, Any],
    widget: Widget,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    offline = get_settings().model_copy(
        update={"llm_api_key": None, "openai_api_key": None, "llm_base_url": None}
    )
    monkeypatch.setattr(deps, "get_settings", lambda: offline)

    def offered() -> bool:
        shown: bool = widget.token(avatar["public_id"])["avatar"]["contact_form"]
        return shown

    assert offered() is False
    tool = client.post(
        f"/v1/avatars/{avatar['id']}/tools", json={"kind": "capture_contact"}, headers=owner.headers
    ).json()
    assert offered() is True
    client.patch(
        f"/v1/avatars/{avatar['id']}/tools/{tool['id']}", json={"enabled": False}, headers=owner.headers
    )
    assert offered() is False
    client.patch(
        f"/v1/avatars/{avatar['id']}/tools/{tool['id']}", json={"enabled": True}, headers=owner.headers
    )
    # With an LLM, the avatar asks for the details itself (the capture_contact tool).
    online = offline.model_copy(update={"llm_base_url": "http://127.0.0.1:9/v1"})
    monkeypatch.setattr(deps, "get_settings", lambda: online)
    assert offered() is False
