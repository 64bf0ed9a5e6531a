"""Conversation turns through real HTTP on the embedded Postgres: offline, and with a scripted LLM."""

import asyncio
import time
import uuid
from typing import Any

import httpx
import jsonschema
import pytest

from functions.core.turns.prompt import GROUNDED_REFUSAL
from tests.conftest import User
from tests.functional.support import Api, assert_problem, event_types, session_row
from tests.functional.test_widget_token import SITE, Widget, visitor_headers
from tests.functional.turns_support import (
    Admin,
    add_knowledge,
    names,
    parse_sse,
    scripted_llm,
    stream_turn,
)
from tests.scripted_llm import Script, ScriptedLLM

REFUNDS = (
    ["Billing", "Refunds"],
    "Refunds are paid back to the original card within five business days. "
    "A refund request needs the order number.",
)
SHIPPING = (["Shipping"], "Parcels ship from Rotterdam every weekday and arrive in two to four days.")


def done_text(by_name: dict[str, list[dict[str, Any]]]) -> str:
    return str(by_name["done"][0]["reply"]).lower()


def _messages(admin: Admin, session_id: str) -> list[dict[str, Any]]:
    return admin.execute(
        "select role, content, turn_id, sources, source_chunk_ids, timings, interrupted, heard_content"
        " from public.streaming_messages where session_id = %s order by created_at",
        (session_id,),
    ).fetchall()


@pytest.fixture
def live(api: Api, admin: Admin, owner: User) -> dict[str, Any]:
    avatar = api.create_avatar(owner, persona="You are Ava from the Acme help desk.")
    chunk_ids = add_knowledge(admin, avatar["id"], "Help centre", [REFUNDS, SHIPPING])
    session = api.start_session(owner, avatar["id"])
    return {"avatar": avatar, "session_id": session["session_id"], "chunk_ids": chunk_ids}


def test_offline_turn_streams_user_sources_sentences_and_done_in_order(
    client: httpx.Client, admin: Admin, owner: User, live: dict[str, Any]
) -> None:
    events = stream_turn(client, owner.headers, live["session_id"], "t1", "How do refunds work?")

    assert names(events)[0:3] == ["user", "sources", "delta"]
    assert names(events)[-1] == "done"
    by_name: dict[str, list[dict[str, Any]]] = {}
    for name, data, _ in events:
        by_name.setdefault(name, []).append(data)
    user = by_name["user"][0]
    assert user["turn_id"] == "t1"
    assert user["text"] == "How do refunds work?"
    sources = by_name["sources"][0]["sources"]
    assert sources[0]["index"] == 1
    assert sources[0]["title"] == "Help centre"
    assert sources[0]["heading_path"] == ["Billing", "Refunds"]
    assert "original card" in sources[0]["excerpt"]
    sentences = by_name["sentence"]
    assert [s["index"] for s in sentences] == list(range(len(sentences)))
    assert sentences[0]["text"] == "Refunds are paid back to the original card within five business days [1]."
    assert sentences[0]["speech"] == "Refunds are paid back to the original card within five business days."
    assert sentences[0]["citations"] == [1]
    assert "offline" not in done_text(by_name)
    done = by_name["done"][0]
    assert done["offline"] is True
    assert done["reply"] == "".join(d["text"] for d in by_name["delta"]).strip()
    assert done["reply"] == " ".join(s["text"] for s in sentences)
    assert set(done["timings"]) == {"retrieval_ms", "llm_first_token_ms", "first_sentence_ms", "total_ms"}
    assert all(value >= 0 for value in done["timings"].values())

    stored = _messages(admin, live["session_id"])
    assert [(m["role"], m["turn_id"]) for m in stored] == [("user", "t1"), ("assistant", "t1")]
    assert stored[0]["content"] == "How do refunds work?"
    assert stored[1]["content"] == done["reply"]
    assert stored[1]["source_chunk_ids"][0] == live["chunk_ids"][0]
    assert stored[1]["sources"][0]["heading_path"] == ["Billing", "Refunds"]
    assert stored[1]["timings"]["total_ms"] == done["timings"]["total_ms"]
    row = session_row(admin, live["session_id"])
    assert row["message_count"] == 2
    assert row["status"] == "active"


def test_json_turn_returns_the_same_content_in_one_object(
    client: httpx.Client, owner: User, live: dict[str, Any]
) -> None:
    response = client.post(
        f"/v1/sessions/{live['session_id']}/turns",
        json={"turn_id": "j1", "text": "When do parcels ship?"},
        headers={**owner.headers, "Accept": "application/json"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {
        "turn_id",
        "user_message_id",
        "assistant_message_id",
        "reply",
        "sentences",
        "sources",
        "timings",
        "offline",
        "interrupted",
        "tool_calls",
        "action",
    }
    assert body["interrupted"] is False
    assert body["tool_calls"] == []
    assert body["action"] is None
    assert body["sources"][0]["heading_path"] == ["Shipping"]
    assert body["reply"] == " ".join(s["text"] for s in body["sentences"])
    assert "Rotterdam" in body["reply"]


def test_a_repeated_turn_id_returns_the_stored_reply_without_a_second_message(
    client: httpx.Client, admin: Admin, owner: User, live: dict[str, Any]
) -> None:
    url = f"/v1/sessions/{live['session_id']}/turns"
    payload = {"turn_id": "again", "text": "How do refunds work?"}
    first = client.post(url, json=payload, headers=owner.headers).json()
    second = client.post(url, json=payload, headers=owner.headers).json()
    replayed = stream_turn(client, owner.headers, live["session_id"], "again", "How do refunds work?")

    assert second == first
    done = next(data for name, data, _ in replayed if name == "done")
    assert done["assistant_message_id"] == first["assistant_message_id"]
    assert [data["text"] for name, data, _ in replayed if name == "sentence"] == [
        s["text"] for s in first["sentences"]
    ]
    assert len(_messages(admin, live["session_id"])) == 2
    assert session_row(admin, live["session_id"])["message_count"] == 2


def test_a_turn_id_reused_for_another_question_is_a_conflict(
    client: httpx.Client, owner: User, live: dict[str, Any]
) -> None:
    url = f"/v1/sessions/{live['session_id']}/turns"
    assert client.post(url, json={"turn_id": "x", "text": "first"}, headers=owner.headers).status_code == 200
    response = client.post(url, json={"turn_id": "x", "text": "second"}, headers=owner.headers)
    assert_problem(response, 409, "conflict")


def test_a_models_markup_is_kept_in_the_transcript_and_never_spoken(
    monkeypatch: pytest.MonkeyPatch, client: httpx.Client, owner: User, live: dict[str, Any]
) -> None:
    reply = "**Refunds** go to the `original card` [1]. See [the policy](https://example.com/refunds) [1][2]."
    with scripted_llm(monkeypatch, Script(reply_for=lambda _m: reply)):
        events = stream_turn(client, owner.headers, live["session_id"], "md", "How do refunds work?")
    sentences = [data for name, data, _ in events if name == "sentence"]
    assert [s["text"] for s in sentences] == [
        "**Refunds** go to the `original card` [1].",
        "See [the policy](https://example.com/refunds) [1][2].",
    ]
    assert [s["speech"] for s in sentences] == ["Refunds go to the original card.", "See the policy."]
    assert [s["citations"] for s in sentences] == [[1], [1, 2]]


def test_first_sentence_reaches_the_client_before_the_model_finishes(
    monkeypatch: pytest.MonkeyPatch, client: httpx.Client, owner: User, live: dict[str, Any]
) -> None:
    reply = "Refunds take five days. " + " ".join(["More detail follows here."] * 8)
    script = Script(tokens_per_second=200, reply_for=lambda _messages: reply)
    with scripted_llm(monkeypatch, script) as llm:
        events = stream_turn(client, owner.headers, live["session_id"], "fast", "How do refunds work?")
    first_sentence_at = next(at for name, _, at in events if name == "sentence")
    record = llm.records[0]
    assert record.finished_at is not None
    assert first_sentence_at < record.finished_at
    sentences = [data["text"] for name, data, _ in events if name == "sentence"]
    assert sentences[0] == "Refunds take five days."
    assert len(sentences) == 9
    done = next(data for name, data, _ in events if name == "done")
    assert done["offline"] is False
    assert done["reply"] == reply


def test_consecutive_replies_reuse_one_connection_to_the_model(
    monkeypatch: pytest.MonkeyPatch, client: httpx.Client, owner: User, live: dict[str, Any]
) -> None:
    """The reply is read past [DONE] to the body's end, so its connection can serve the next turn."""
    accepted: list[int] = []
    serve = ScriptedLLM._serve

    async def counting(llm: ScriptedLLM, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(1)
        await serve(llm, reader, writer)

    monkeypatch.setattr(ScriptedLLM, "_serve", counting)
    with scripted_llm(monkeypatch) as llm:
        for turn_id in ("c1", "c2", "c3"):
            events = stream_turn(client, owner.headers, live["session_id"], turn_id, "How do refunds work?")
            assert names(events)[-1] == "done"
    assert len(llm.records) == 3
    assert len(accepted) == 1


def test_the_prompt_holds_persona_numbered_sources_and_recent_history(
    monkeypatch: pytest.MonkeyPatch, client: httpx.Client, owner: User, live: dict[str, Any]
) -> None:
    with scripted_llm(monkeypatch) as llm:
        stream_turn(client, owner.headers, live["session_id"], "h1", "When do parcels ship?")
        stream_turn(client, owner.headers, live["session_id"], "h2", "And refunds?")
    messages = llm.records[1].body["messages"]
    assert llm.records[1].body["model"] == "scripted-model"
    assert llm.records[1].body["stream"] is True
    system = messages[0]
    assert system["role"] == "system"
    assert "Acme help desk" in system["content"]
    assert "[1] Help centre > Billing > Refunds" in system["content"]
    assert [m["role"] for m in messages[1:]] == ["user", "assistant", "user"]
    assert messages[1]["content"] == "When do parcels ship?"
    assert messages[-1]["content"] == "And refunds?"


def test_a_model_failure_mid_reply_sends_an_error_and_keeps_the_question(
    monkeypatch: pytest.MonkeyPatch, client: httpx.Client, admin: Admin, owner: User, live: dict[str, Any]
) -> None:
    session_id = live["session_id"]
    with scripted_llm(monkeypatch, Script(drop_after_tokens=3)):
        events = stream_turn(client, owner.headers, session_id, "drop", "How do refunds work?")
    assert names(events)[-1] == "error"
    problem = events[-1][1]
    # The model's connection broke mid-stream: a transport failure, which is a 503 (not the model's own 5xx).
    assert (problem["status"], problem["code"], problem["provider"]) == (
        503,
        "provider_unavailable",
        "127.0.0.1",
    )
    assert problem["detail"].startswith("127.0.0.1: transport failure"), problem
    stored = _messages(admin, session_id)
    assert [(m["role"], m["content"]) for m in stored] == [("user", "How do refunds work?")]
    assert session_row(admin, session_id)["status"] == "active"
    assert event_types(admin, session_id)[-1] == "error"

    # The same turn again, with the model back: the stored question is answered, not duplicated.
    with scripted_llm(monkeypatch):
        retried = stream_turn(client, owner.headers, session_id, "drop", "How do refunds work?")
    assert names(retried)[-1] == "done"
    assert [m["role"] for m in _messages(admin, session_id)] == ["user", "assistant"]


def test_a_refusing_model_answers_a_problem_in_json_and_keeps_the_question(
    monkeypatch: pytest.MonkeyPatch, client: httpx.Client, admin: Admin, owner: User, live: dict[str, Any]
) -> None:
    with scripted_llm(monkeypatch, Script(fail_status=401)):
        response = client.post(
            f"/v1/sessions/{live['session_id']}/turns",
            json={"turn_id": "denied", "text": "Hello?"},
            headers=owner.headers,
        )
    problem = assert_problem(response, 502, "provider_error")
    assert "401" in problem["detail"] or "scripted failure" in problem["detail"]
    assert [m["role"] for m in _messages(admin, live["session_id"])] == ["user"]


def test_a_grounded_only_avatar_refuses_without_calling_the_model_when_nothing_matches(
    monkeypatch: pytest.MonkeyPatch, client: httpx.Client, api: Api, owner: User
) -> None:
    avatar = api.create_avatar(owner, grounded_only=True)
    session_id = api.start_session(owner, avatar["id"])["session_id"]
    with scripted_llm(monkeypatch) as llm:
        events = stream_turn(client, owner.headers, session_id, "g1", "What is the capital of Peru?")
    assert llm.records == []
    done = next(data for name, data, _ in events if name == "done")
    assert done["reply"] == GROUNDED_REFUSAL
    assert next(data for name, data, _ in events if name == "sources")["sources"] == []


def test_an_interrupted_reply_keeps_what_was_heard_for_the_next_prompt(
    monkeypatch: pytest.MonkeyPatch, client: httpx.Client, admin: Admin, owner: User, live: dict[str, Any]
) -> None:
    session_id = live["session_id"]
    with scripted_llm(monkeypatch) as llm:
        stream_turn(client, owner.headers, session_id, "i1", "Tell me about the studio")
        response = client.post(
            f"/v1/sessions/{session_id}/turns/i1/interrupt",
            json={"heard_text": "Interactive Avatar Studio answers"},
            headers=owner.headers,
        )
        assert response.status_code == 200, response.text
        assert response.json()["heard_content"] == "Interactive Avatar Studio answers"
        stream_turn(client, owner.headers, session_id, "i2", "Go on")
    reply = _messages(admin, session_id)[1]
    assert reply["interrupted"] is True
    assert reply["heard_content"] == "Interactive Avatar Studio answers"
    assert llm.records[1].body["messages"][2] == {
        "role": "assistant",
        "content": "Interactive Avatar Studio answers",
    }


def test_interrupting_an_unknown_turn_is_404(client: httpx.Client, owner: User, live: dict[str, Any]) -> None:
    response = client.post(
        f"/v1/sessions/{live['session_id']}/turns/nope/interrupt",
        json={"heard_text": ""},
        headers=owner.headers,
    )
    assert_problem(response, 404, "not_found")


def test_a_reply_cut_off_by_the_client_is_stored_as_interrupted(
    monkeypatch: pytest.MonkeyPatch, client: httpx.Client, admin: Admin, owner: User, live: dict[str, Any]
) -> None:
    session_id = live["session_id"]
    reply = "First sentence arrives. " + " ".join(["Then a slow tail keeps going."] * 40)
    with scripted_llm(monkeypatch, Script(tokens_per_second=40, reply_for=lambda _m: reply)):
        with client.stream(
            "POST",
            f"/v1/sessions/{session_id}/turns",
            json={"turn_id": "cut", "text": "Talk for a while"},
            headers={**owner.headers, "Accept": "text/event-stream"},
        ) as response:
            for name, _, _ in parse_sse(response.iter_lines()):
                if name == "sentence":
                    break
        deadline = time.monotonic() + 10
        while len(_messages(admin, session_id)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    stored = _messages(admin, session_id)
    assert [m["role"] for m in stored] == ["user", "assistant"]
    assert stored[1]["interrupted"] is True
    assert stored[1]["content"].startswith("First sentence arrives.")
    assert len(stored[1]["content"]) < len(reply)


def test_turns_on_an_ended_session_are_refused_with_409(
    client: httpx.Client, api: Api, admin: Admin, owner: User, live: dict[str, Any]
) -> None:
    api.end_session(owner, live["session_id"])
    response = client.post(
        f"/v1/sessions/{live['session_id']}/turns",
        json={"turn_id": "late", "text": "hi"},
        headers=owner.headers,
    )
    assert_problem(response, 409, "session_ended")
    assert _messages(admin, live["session_id"]) == []


@pytest.mark.parametrize("ending", ["ended", "expired"])
def test_a_turn_retried_after_its_session_is_over_is_refused_and_runs_nothing(
    monkeypatch: pytest.MonkeyPatch,
    client: httpx.Client,
    api: Api,
    admin: Admin,
    owner: User,
    live: dict[str, Any],
    ending: str,
) -> None:
    url = f"/v1/sessions/{live['session_id']}/turns"
    asked = {"turn_id": "retried", "text": "How do refunds work?"}
    with scripted_llm(monkeypatch, Script(reply_for=lambda _m: "Refunds take five days [1].")) as llm:
        first = client.post(url, json=asked, headers=owner.headers)
        if ending == "ended":
            api.end_session(owner, live["session_id"])
        else:
            admin.execute(
                "update public.streaming_sessions set started_at = now() - interval '11 minutes',"
                " expires_at = now() - interval '1 minute' where id = %s",
                (live["session_id"],),
            )
        stored = _messages(admin, live["session_id"])
        as_json = client.post(url, json=asked, headers=owner.headers)
        as_events = client.post(url, json=asked, headers={**owner.headers, "Accept": "text/event-stream"})

    assert first.status_code == 200, first.text
    assert len(llm.records) == 1
    assert_problem(as_json, 409, "session_ended")
    assert_problem(as_events, 409, "session_ended")
    assert _messages(admin, live["session_id"]) == stored
    assert session_row(admin, live["session_id"])["status"] == "ended"


def test_every_streamed_event_is_a_turn_event_of_the_openapi_document(
    monkeypatch: pytest.MonkeyPatch, client: httpx.Client, owner: User, live: dict[str, Any]
) -> None:
    document = client.get("/openapi.json").json()
    answers = document["paths"]["/v1/sessions/{session_id}/turns"]["post"]["responses"]["200"]["content"]
    schema = {**answers["text/event-stream"]["schema"], "components": document["components"]}
    validator = jsonschema.Draft202012Validator(schema)
    with scripted_llm(monkeypatch, Script(reply_for=lambda _m: "Refunds take five days [1]. Ask me more.")):
        events = stream_turn(client, owner.headers, live["session_id"], "typed", "How do refunds work?")
    replayed = stream_turn(client, owner.headers, live["session_id"], "typed", "How do refunds work?")
    with scripted_llm(monkeypatch, Script(drop_after_tokens=3)):
        failed = stream_turn(client, owner.headers, live["session_id"], "bad", "How do refunds work?")

    for turn in (events, replayed):
        assert names(turn)[:2] == ["user", "sources"]
        assert set(names(turn)[2:-1]) == {"delta", "sentence"}
        assert names(turn)[-1] == "done"
    assert names(failed)[-1] == "error"
    for name, data, _ in [*events, *replayed, *failed]:
        errors = [e.message for e in validator.iter_errors({"event": name, "data": data})]
        assert errors == [], (name, data)


def test_a_turn_on_a_session_past_its_end_ends_it_as_expired(
    client: httpx.Client, admin: Admin, owner: User, live: dict[str, Any]
) -> None:
    admin.execute(
        "update public.streaming_sessions set started_at = now() - interval '11 minutes',"
        " expires_at = now() - interval '1 minute' where id = %s",
        (live["session_id"],),
    )
    response = client.post(
        f"/v1/sessions/{live['session_id']}/turns",
        json={"turn_id": "late", "text": "hi"},
        headers=owner.headers,
    )
    assert "expired" in assert_problem(response, 409, "session_ended")["detail"]
    assert session_row(admin, live["session_id"])["end_reason"] == "expired"


def test_another_users_session_is_not_found(
    client: httpx.Client, stranger: User, live: dict[str, Any]
) -> None:
    response = client.post(
        f"/v1/sessions/{live['session_id']}/turns",
        json={"turn_id": "t", "text": "hi"},
        headers=stranger.headers,
    )
    assert_problem(response, 404, "not_found")
    response = client.post(
        f"/v1/sessions/{uuid.uuid4()}/turns", json={"turn_id": "t", "text": "hi"}, headers=stranger.headers
    )
    assert_problem(response, 404, "not_found")


@pytest.mark.parametrize(
    "payload",
    [
        {"text": "no turn id"},
        {"turn_id": "", "text": "empty id"},
        {"turn_id": "has space", "text": "bad id"},
        {"turn_id": "t", "text": ""},
        {"turn_id": "t", "text": "x" * 4001},
        {"turn_id": "t", "text": "hi", "extra": 1},
    ],
    ids=["missing-turn-id", "empty-turn-id", "bad-turn-id", "empty-text", "long-text", "unknown-field"],
)
def test_bad_turn_bodies_are_422_problems(
    client: httpx.Client, owner: User, live: dict[str, Any], payload: dict[str, Any]
) -> None:
    response = client.post(f"/v1/sessions/{live['session_id']}/turns", json=payload, headers=owner.headers)
    assert_problem(response, 422)


def test_a_body_that_is_not_json_is_a_422_problem(
    client: httpx.Client, owner: User, live: dict[str, Any]
) -> None:
    response = client.post(
        f"/v1/sessions/{live['session_id']}/turns",
        content=b"{not json",
        headers={**owner.headers, "Content-Type": "application/json"},
    )
    assert_problem(response, 422)


def test_messages_route_shows_sources_timings_and_interruptions(
    client: httpx.Client, owner: User, live: dict[str, Any]
) -> None:
    stream_turn(client, owner.headers, live["session_id"], "m1", "How do refunds work?")
    messages = client.get(f"/v1/sessions/{live['session_id']}/messages", headers=owner.headers).json()
    assert [m["role"] for m in messages] == ["user", "assistant"]
    assert messages[1]["turn_id"] == "m1"
    assert messages[1]["sources"][0]["title"] == "Help centre"
    assert messages[1]["timings"]["total_ms"] > 0
    assert messages[1]["interrupted"] is False


def test_a_visitor_asking_what_something_is_hears_the_opening_of_the_document_titled_after_it(
    client: httpx.Client, api: Api, admin: Admin, owner: User
) -> None:
    avatar = api.create_avatar(
        owner, allowed_origins=[SITE], persona="You are Max, the host of Acme Bakery. Answer briefly."
    )
    # Every other section names the bakery more often than its opening does, so the words of "What is Acme
    # Bakery?" rank them first: the opening is found through the title, read as the visitor (RLS).
    sections = [
        (["Bread"], "Acme Bakery bakes rye at the Acme Bakery ovens; Acme Bakery rye is sold out by noon."),
        (["Cakes"], "Acme Bakery cakes are ordered at the Acme Bakery counter two days ahead."),
        (["Delivery"], "Acme Bakery delivers in Leeds; Acme Bakery vans leave at seven."),
        (["Jobs"], "Acme Bakery hires bakers; Acme Bakery shifts start at four."),
        (["Gifts"], "Acme Bakery gift cards work at every Acme Bakery shop."),
    ]
    add_knowledge(
        admin,
        avatar["id"],
        "Acme Bakery",
        [
            (
                ["Acme Bakery"],
                "We bake sourdough in Leeds as a family business since 1952. The shop is on Kirkgate.",
            ),
            *((["Acme Bakery", *heading], text) for heading, text in sections),
        ],
    )
    visitor = visitor_headers(Widget(client).token(avatar["public_id"])["token"])
    started = client.post("/v1/sessions", json={"avatar_id": avatar["id"]}, headers=visitor)
    assert started.status_code == 201, started.text
    session_id = started.json()["session_id"]

    def said(turn_id: str, question: str) -> tuple[list[dict[str, Any]], list[str]]:
        by_name: dict[str, list[dict[str, Any]]] = {}
        for name, data, _ in stream_turn(client, visitor, session_id, turn_id, question):
            by_name.setdefault(name, []).append(data)
        return by_name["sources"][0]["sources"], [s["speech"] for s in by_name["sentence"]]

    sources, sentences = said("t1", "What is Acme Bakery?")
    assert sources[0]["heading_path"] == ["Acme Bakery"]
    assert sentences[0] == "We bake sourdough in Leeds as a family business since 1952."
    # Asked who it is, the avatar introduces itself from its persona, not from the knowledge base.
    assert said("t2", "Who are you?")[1] == ["I am Max, the host of Acme Bakery."]
