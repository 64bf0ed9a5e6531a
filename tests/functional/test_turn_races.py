"""Turns under faults and races, through real HTTP: the session ended mid-reply, the same turn_id sent
many times at once, and replays of a reply that was cut off."""

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.conftest import User
from tests.functional.support import Api, event_types
from tests.functional.turns_support import Admin, parse_sse, scripted_llm, stream_turn
from tests.scripted_llm import Script

LONG_REPLY = "The first sentence is short. " + " ".join(["Then the model keeps talking slowly."] * 40)
DUPLICATES = 5


def _messages(admin: Admin, session_id: str) -> list[dict[str, Any]]:
    return admin.execute(
        "select id, role, content, turn_id, interrupted from public.streaming_messages"
        " where session_id = %s order by created_at",
        (session_id,),
    ).fetchall()


def _wait_for(condition: Any, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


@pytest.fixture
def session_id(api: Api, owner: User) -> str:
    avatar = api.create_avatar(owner, persona="You are Ava.")
    started: str = api.start_session(owner, avatar["id"])["session_id"]
    return started


def _turn_json(base_url: str, user: User, session_id: str, turn_id: str, text: str) -> httpx.Response:
    with httpx.Client(base_url=base_url, timeout=30) as http:
        return http.post(
            f"/v1/sessions/{session_id}/turns",
            json={"turn_id": turn_id, "text": text},
            headers={**user.headers, "Accept": "application/json"},
        )


# -- row 4: ending the session while the reply streams ---------------------------------------------------


def test_ending_the_session_mid_reply_stops_the_model_and_stores_what_was_delivered(
    monkeypatch: pytest.MonkeyPatch,
    client: httpx.Client,
    base_url: str,
    api: Api,
    admin: Admin,
    owner: User,
    session_id: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR)
    script = Script(tokens_per_second=20, reply_for=lambda _m: LONG_REPLY)
    with scripted_llm(monkeypatch, script) as llm:
        delivered: list[str] = []
        events: list[tuple[str, dict[str, Any]]] = []
        with client.stream(
            "POST",
            f"/v1/sessions/{session_id}/turns",
            json={"turn_id": "ended", "text": "Talk for a while"},
            headers={**owner.headers, "Accept": "text/event-stream"},
        ) as response:
            ended_at = None
            for name, data, _ in parse_sse(response.iter_lines()):
                events.append((name, data))
                if name == "delta":
                    delivered.append(data["text"])
                if name == "sentence" and ended_at is None:
                    with httpx.Client(base_url=base_url, timeout=10) as other:
                        ended = other.post(f"/v1/sessions/{session_id}/end", headers=owner.headers)
                    assert ended.status_code == 200, ended.text
                    ended_at = time.monotonic()
            finished_at = time.monotonic()
        model_finished = llm.records[0].finished_at

    assert ended_at is not None
    assert finished_at - ended_at < 5  # the whole reply would have taken about 14 s more
    assert model_finished is None  # the model's stream was closed before its end
    assert len(llm.records) == 1
    name, done = events[-1]
    assert name == "done"
    assert done["interrupted"] is True
    assert "error" not in [n for n, _ in events]
    stored = _messages(admin, session_id)
    assert [m["role"] for m in stored] == ["user", "assistant"]
    assert stored[1]["interrupted"] is True
    assert stored[1]["content"] == "".join(delivered).strip() == done["reply"]
    assert str(stored[1]["id"]) == done["assistant_message_id"]
    assert len(done["reply"]) < len(LONG_REPLY)
    assert "error" not in event_types(admin, session_id)
    assert [r.getMessage() for r in caplog.records] == []


def test_ending_the_session_during_a_json_turn_answers_200_with_the_interrupted_reply(
    monkeypatch: pytest.MonkeyPatch, base_url: str, api: Api, admin: Admin, owner: User, session_id: str
) -> None:
    script = Script(tokens_per_second=20, reply_for=lambda _m: LONG_REPLY)
    with scripted_llm(monkeypatch, script) as llm, ThreadPoolExecutor(1) as pool:
        pending = pool.submit(_turn_json, base_url, owner, session_id, "json-ended", "Talk for a while")
        _wait_for(lambda: len(llm.records) == 1)
        api.end_session(owner, session_id)
        response = pending.result(timeout=30)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["interrupted"] is True
    stored = _messages(admin, session_id)
    assert [m["role"] for m in stored][:1] == ["user"]
    if body["reply"]:
        assert stored[1]["content"] == body["reply"]
        assert stored[1]["interrupted"] is True
    assert "error" not in event_types(admin, session_id)


def test_ending_the_session_then_leaving_keeps_what_was_delivered(
    monkeypatch: pytest.MonkeyPatch,
    client: httpx.Client,
    api: Api,
    admin: Admin,
    owner: User,
    session_id: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR)
    delivered: list[str] = []
    with scripted_llm(monkeypatch, Script(tokens_per_second=20, reply_for=lambda _m: LONG_REPLY)):
        with client.stream(
            "POST",
            f"/v1/sessions/{session_id}/turns",
            json={"turn_id": "left", "text": "Talk for a while"},
            headers={**owner.headers, "Accept": "text/event-stream"},
        ) as response:
            for name, data, _ in parse_sse(response.iter_lines()):
                if name == "delta":
                    delivered.append(data["text"])
                if name == "sentence":
                    api.end_session(owner, session_id)
                    break
        _wait_for(lambda: len(_messages(admin, session_id)) == 2)

    reply = _messages(admin, session_id)[1]
    assert reply["interrupted"] is True
    assert reply["content"].startswith("".join(delivered).strip())
    assert "error" not in event_types(admin, session_id)
    assert [r.getMessage() for r in caplog.records] == []


# -- row 6: one generation per turn_id -------------------------------------------------------------------


def _at_once(base_url: str, user: User, session_id: str, turn_id: str, text: str) -> list[httpx.Response]:
    gate = threading.Barrier(DUPLICATES)

    def send() -> httpx.Response:
        gate.wait()
        return _turn_json(base_url, user, session_id, turn_id, text)

    with ThreadPoolExecutor(DUPLICATES) as pool:
        return list(pool.map(lambda _: send(), range(DUPLICATES)))


def _assert_one_reply(responses: list[httpx.Response], admin: Admin, session_id: str) -> dict[str, Any]:
    assert [r.status_code for r in responses] == [200] * DUPLICATES, [r.text for r in responses]
    bodies = [r.json() for r in responses]
    assert len({(b["assistant_message_id"], b["reply"]) for b in bodies}) == 1
    stored = _messages(admin, session_id)
    assert [m["role"] for m in stored] == ["user", "assistant"]
    assert str(stored[1]["id"]) == bodies[0]["assistant_message_id"]
    assert "error" not in event_types(admin, session_id)
    return bodies[0]


def test_the_same_turn_sent_five_times_at_once_offline_gets_one_reply(
    base_url: str, admin: Admin, owner: User, session_id: str
) -> None:
    responses = _at_once(base_url, owner, session_id, "dup", "How do refunds work?")

    _assert_one_reply(responses, admin, session_id)


def test_the_same_turn_sent_five_times_at_once_calls_the_model_once(
    monkeypatch: pytest.MonkeyPatch, base_url: str, admin: Admin, owner: User, session_id: str
) -> None:
    reply = "Refunds take five business days. They go back to the original card."
    with scripted_llm(monkeypatch, Script(tokens_per_second=30, reply_for=lambda _m: reply)) as llm:
        responses = _at_once(base_url, owner, session_id, "dup-llm", "How do refunds work?")

    body = _assert_one_reply(responses, admin, session_id)
    assert len(llm.records) == 1
    assert body["reply"] == reply
    assert body["interrupted"] is False


# -- row 9: a replay says the reply was cut off ----------------------------------------------------------


def test_a_replay_of_a_cut_off_reply_says_it_was_interrupted(
    monkeypatch: pytest.MonkeyPatch, client: httpx.Client, admin: Admin, owner: User, session_id: str
) -> None:
    with scripted_llm(monkeypatch, Script(tokens_per_second=20, reply_for=lambda _m: LONG_REPLY)) as llm:
        with client.stream(
            "POST",
            f"/v1/sessions/{session_id}/turns",
            json={"turn_id": "dropped", "text": "Talk for a while"},
            headers={**owner.headers, "Accept": "text/event-stream"},
        ) as response:
            for name, _, _ in parse_sse(response.iter_lines()):
                if name == "sentence":
                    break
        _wait_for(lambda: len(_messages(admin, session_id)) == 2)
        stored = _messages(admin, session_id)[1]
        as_json = client.post(
            f"/v1/sessions/{session_id}/turns",
            json={"turn_id": "dropped", "text": "Talk for a while"},
            headers={**owner.headers, "Accept": "application/json"},
        )
        as_events = stream_turn(client, owner.headers, session_id, "dropped", "Talk for a while")

    assert len(llm.records) == 1  # replayed, not generated again
    assert as_json.status_code == 200, as_json.text
    assert as_json.json()["interrupted"] is True
    assert as_json.json()["reply"] == stored["content"]
    name, done, _ = as_events[-1]
    assert name == "done"
    assert done["interrupted"] is True
    assert done["reply"] == stored["content"]


def test_a_replay_of_a_whole_reply_is_not_interrupted(
    client: httpx.Client, owner: User, session_id: str
) -> None:
    first = stream_turn(client, owner.headers, session_id, "whole", "How do refunds work?")
    again = stream_turn(client, owner.headers, session_id, "whole", "How do refunds work?")

    assert first[-1][0] == again[-1][0] == "done"
    assert first[-1][1]["interrupted"] is again[-1][1]["interrupted"] is False


def test_a_reply_that_streams_for_seconds_on_a_live_session_is_not_cut_off(
    monkeypatch: pytest.MonkeyPatch, client: httpx.Client, admin: Admin, owner: User, session_id: str
) -> None:
    reply = " ".join(["A sentence that takes its time."] * 8)  # 48 tokens: 2.4 s, two liveness checks
    with scripted_llm(monkeypatch, Script(tokens_per_second=20, reply_for=lambda _m: reply)):
        events = stream_turn(client, owner.headers, session_id, "slow", "Talk for a while")

    name, done, _ = events[-1]
    assert name == "done"
    assert done["interrupted"] is False
    assert done["reply"] == reply
    assert _messages(admin, session_id)[1]["interrupted"] is False
