"""Tools inside a turn, with the scripted LLM asking for calls in OpenAI's streamed format: one call,
parallel calls, bad arguments, a tool the avatar does not have, a slow tool and its bridging sentence, a
failing webhook, contact capture and the end of a conversation; every call stored with the reply."""

import json
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest

from functions.core.tools.conversation import BRIDGE
from tests.conftest import User
from tests.functional.loopback import Endpoint, Received, reachable_endpoint
from tests.functional.support import Api
from tests.functional.test_widget_token import SITE, Widget, visitor_headers
from tests.functional.turns_support import scripted_llm, stream_turn
from tests.scripted_llm import Script, calls_then_reply

Admin = psycopg.Connection[Any]

ORDER_SCHEMA = {
    "type": "object",
    "properties": {"order": {"type": "string", "pattern": "^A-[0-9]+$"}},
    "required": ["order"],
    "additionalProperties": False,
}


def lookup(request: Received) -> bytes:
    return json.dumps({"order": request.json().get("order"), "status": "shipped on Monday"}).encode()


@pytest.fixture
def endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[Endpoint]:
    """The owner's order system on loopback, which the tools may reach in these tests."""
    with reachable_endpoint(monkeypatch, lookup) as state:
        yield state


def add_tool(client: httpx.Client, owner: User, avatar_id: str, **fields: Any) -> dict[str, Any]:
    response = client.post(f"/v1/avatars/{avatar_id}/tools", json=fields, headers=owner.headers)
    assert response.status_code == 201, response.text
    tool: dict[str, Any] = response.json()
    return tool


def order_tool(client: httpx.Client, owner: User, avatar_id: str, url: str, timeout_ms: int = 5000) -> None:
    add_tool(
        client,
        owner,
        avatar_id,
        name="order_status",
        description="Look up an order.",
        parameters=ORDER_SCHEMA,
        method="POST",
        url=f"{url}/orders",
        timeout_ms=timeout_ms,
    )


def reply_from_tools(messages: list[dict[str, Any]]) -> str:
    results = [m["content"] for m in messages if m["role"] == "tool"]
    return "Here is what I found. " + " ".join(f"Result: {r}." for r in results)


@pytest.fixture
def conversation(api: Api, owner: User) -> dict[str, Any]:
    avatar = api.create_avatar(owner)
    session = api.start_session(owner, avatar["id"])
    return {"avatar_id": avatar["id"], "session_id": session["session_id"]}


def run_turn(
    client: httpx.Client,
    owner: User,
    conversation: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    script: Script,
    turn_id: str = "t1",
) -> tuple[list[tuple[str, dict[str, Any], float]], list[Any]]:
    with scripted_llm(monkeypatch, script) as llm:
        events = stream_turn(
            client, owner.headers, conversation["session_id"], turn_id, "Where is order A-17?"
        )
        return events, llm.records


def done_of(events: list[tuple[str, dict[str, Any], float]]) -> dict[str, Any]:
    [done] = [data for name, data, _ in events if name == "done"]
    return done


def stored_calls(admin: Admin, session_id: str) -> list[dict[str, Any]]:
    row = admin.execute(
        "select tool_calls from public.streaming_messages where session_id = %s and role = 'assistant'",
        (session_id,),
    ).fetchone()
    assert row is not None
    calls: list[dict[str, Any]] = row["tool_calls"]
    return calls


def test_one_call_runs_signed_and_its_result_reaches_the_model_and_the_record(
    client: httpx.Client,
    admin: Admin,
    owner: User,
    conversation: dict[str, Any],
    endpoint: Endpoint,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    order_tool(client, owner, conversation["avatar_id"], endpoint.url)
    script = Script(
        tool_calls_for=calls_then_reply(("order_status", '{"order": "A-17"}')), reply_for=reply_from_tools
    )
    events, records = run_turn(client, owner, conversation, monkeypatch, script)

    [request] = endpoint.seen
    assert (request.path, request.json()) == ("/orders", {"order": "A-17"})
    assert "x-avatar-studio-signature" in request.headers
    offered = records[0].body["tools"]
    assert [tool["function"]["name"] for tool in offered] == ["order_status"]
    tool_message = records[1].body["messages"][-1]
    assert tool_message["role"] == "tool"
    assert "shipped on Monday" in tool_message["content"]
    assert records[1].body["messages"][-2]["tool_calls"][0]["function"]["name"] == "order_status"
    done = done_of(events)
    assert "shipped on Monday" in done["reply"]
    [call] = done["tool_calls"]
    assert call["name"] == "order_status"
    assert call["ok"] is True
    assert call["arguments"] == {"order": "A-17"}
    # The endpoint's answer reaches the model and the owner's History, never the turn's caller.
    assert "result" not in call
    [stored] = stored_calls(admin, conversation["session_id"])
    assert "shipped on Monday" in stored.pop("result")
    assert stored == call


def test_parallel_calls_run_together_and_each_answer_goes_back(
    client: httpx.Client,
    owner: User,
    conversation: dict[str, Any],
    endpoint: Endpoint,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    order_tool(client, owner, conversation["avatar_id"], endpoint.url)
    endpoint.hold = threading.Event()
    calls = (("order_status", '{"order": "A-1"}'), ("order_status", '{"order": "A-2"}'))
    script = Script(tool_calls_for=calls_then_reply(*calls), reply_for=reply_from_tools)

    def both_arrived_then_release() -> None:
        while len(endpoint.seen) < 2:
            threading.Event().wait(0.01)
        assert endpoint.hold is not None
        endpoint.hold.set()

    releaser = threading.Thread(target=both_arrived_then_release, daemon=True)
    releaser.start()
    events, records = run_turn(client, owner, conversation, monkeypatch, script)
    releaser.join(timeout=10)
    assert sorted(request.json()["order"] for request in endpoint.seen) == ["A-1", "A-2"]
    answers = [m for m in records[1].body["messages"] if m["role"] == "tool"]
    assert [json.loads(a["content"])["order"] for a in answers] == ["A-1", "A-2"]
    assert len(done_of(events)["tool_calls"]) == 2


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (("order_status", '{"order": "17"}'), "does not match"),
        (("order_status", '{"order": '), "not JSON"),
        (("refund_everything", "{}"), "there is no tool named refund_everything"),
    ],
)
def test_bad_arguments_or_an_unknown_tool_never_reach_the_endpoint(
    client: httpx.Client,
    owner: User,
    conversation: dict[str, Any],
    endpoint: Endpoint,
    monkeypatch: pytest.MonkeyPatch,
    call: tuple[str, str],
    error: str,
) -> None:
    order_tool(client, owner, conversation["avatar_id"], endpoint.url)
    script = Script(tool_calls_for=calls_then_reply(call), reply_for=reply_from_tools)
    events, records = run_turn(client, owner, conversation, monkeypatch, script)
    assert endpoint.seen == []
    assert error in records[1].body["messages"][-1]["content"]
    [recorded] = done_of(events)["tool_calls"]
    assert recorded["ok"] is False


def test_a_slow_tool_gets_a_bridging_sentence_and_a_timeout_is_told_to_the_model(
    client: httpx.Client,
    owner: User,
    conversation: dict[str, Any],
    endpoint: Endpoint,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    order_tool(client, owner, conversation["avatar_id"], endpoint.url, timeout_ms=1500)
    endpoint.hold = threading.Event()  # never set while the turn runs: the tool times out
    script = Script(
        tool_calls_for=calls_then_reply(("order_status", '{"order": "A-3"}')), reply_for=reply_from_tools
    )
    events, records = run_turn(client, owner, conversation, monkeypatch, script)
    sentences = [data["text"] for name, data, _ in events if name == "sentence"]
    assert sentences[0] == BRIDGE
    assert "did not answer within 1.5 s" in records[1].body["messages"][-1]["content"]
    assert done_of(events)["tool_calls"][0]["ok"] is False


def test_a_webhook_that_fails_is_reported_to_the_model_and_the_turn_goes_on(
    client: httpx.Client,
    owner: User,
    conversation: dict[str, Any],
    endpoint: Endpoint,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    add_tool(client, owner, conversation["avatar_id"], kind="handoff_to_human", url=f"{endpoint.url}/handoff")
    endpoint.status = 500
    script = Script(
        tool_calls_for=calls_then_reply(("handoff_to_human", '{"reason": "wants a person"}')),
        reply_for=reply_from_tools,
    )
    events, records = run_turn(client, owner, conversation, monkeypatch, script)
    [request] = endpoint.seen
    assert request.json()["event"] == "handoff_requested"
    assert request.json()["session_id"] == conversation["session_id"]
    assert "answered 500" in records[1].body["messages"][-1]["content"]
    done = done_of(events)
    assert done["action"] is None  # the hand-off did not happen
    assert done["reply"].startswith("Here is what I found.")


def test_contact_capture_stores_the_contact_and_goodbye_ends_the_conversation(
    client: httpx.Client,
    admin: Admin,
    owner: User,
    conversation: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    add_tool(client, owner, conversation["avatar_id"], kind="capture_contact")
    add_tool(client, owner, conversation["avatar_id"], kind="end_conversation")
    contact = ("capture_contact", '{"name": "Ada", "email": "ada@example.com", "note": "call back"}')
    script = Script(
        tool_calls_for=calls_then_reply(contact, ("end_conversation", "{}")), reply_for=reply_from_tools
    )
    events, _ = run_turn(client, owner, conversation, monkeypatch, script)
    row = admin.execute(
        "select name, email, note, owner_id from public.contacts where session_id = %s",
        (conversation["session_id"],),
    ).fetchone()
    assert row == {"name": "Ada", "email": "ada@example.com", "note": "call back", "owner_id": owner.id}
    assert done_of(events)["action"] == "end"


def test_an_avatar_without_tools_is_offered_none(
    client: httpx.Client, owner: User, conversation: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    events, records = run_turn(client, owner, conversation, monkeypatch, Script())
    assert "tools" not in records[0].body
    assert done_of(events)["tool_calls"] == []


def test_history_shows_the_owner_each_replys_tool_calls_and_the_visitor_none(
    client: httpx.Client,
    api: Api,
    owner: User,
    endpoint: Endpoint,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    avatar = api.create_avatar(owner, allowed_origins=[SITE])
    order_tool(client, owner, avatar["id"], endpoint.url)
    token = Widget(client).token(avatar["public_id"])["token"]
    visitor = visitor_headers(token)
    started = client.post("/v1/sessions", json={"avatar_id": avatar["id"]}, headers=visitor)
    assert started.status_code == 201, started.text
    session_id = started.json()["session_id"]
    script = Script(
        tool_calls_for=calls_then_reply(("order_status", '{"order": "A-17"}')), reply_for=reply_from_tools
    )
    with scripted_llm(monkeypatch, script):
        events = stream_turn(client, visitor, session_id, "t1", "Where is order A-17?")
    assert done_of(events)["tool_calls"]

    def calls(headers: dict[str, str]) -> list[list[dict[str, Any]]]:
        listed = client.get(f"/v1/sessions/{session_id}/messages", headers=headers)
        assert listed.status_code == 200, listed.text
        return [message["tool_calls"] for message in listed.json() if message["role"] == "assistant"]

    [[call]] = calls(owner.headers)
    assert (call["name"], call["arguments"], call["ok"], call["status"]) == (
        "order_status",
        {"order": "A-17"},
        True,
        200,
    )
    assert "shipped on Monday" in call["result"]
    assert calls(visitor) == [[]]
