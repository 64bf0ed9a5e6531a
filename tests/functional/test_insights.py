"""Insights, feedback and unanswered questions through real HTTP on the embedded Postgres."""

import csv
import io
import json
import time
from typing import Any

import httpx
import pytest

from functions.core.llm.offline import NOT_IN_KNOWLEDGE_BASE
from tests.conftest import User
from tests.functional.support import Api, assert_problem
from tests.functional.turns_support import Admin, add_knowledge, scripted_llm, stream_turn

REFUNDS = (["Refunds"], "Refunds are paid back to the original card within five business days.")


def _done(events: list[tuple[str, dict[str, Any], float]]) -> dict[str, Any]:
    return next(data for name, data, _ in events if name == "done")


def _insights(client: httpx.Client, user: User, **params: str) -> dict[str, Any]:
    response = client.get("/v1/insights", params=params, headers=user.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_turn_records_the_tokens_the_model_reported_and_the_first_audible_sound(
    monkeypatch: pytest.MonkeyPatch, client: httpx.Client, api: Api, admin: Admin, owner: User, stranger: User
) -> None:
    avatar = api.create_avatar(owner)
    add_knowledge(admin, avatar["id"], "Help centre", [REFUNDS])
    session_id = api.start_session(owner, avatar["id"], visitor_key="browser-0001")["session_id"]
    with scripted_llm(monkeypatch) as llm:
        done = _done(stream_turn(client, owner.headers, session_id, "u1", "How are refunds paid?"))
    assert llm.records[0].body["stream_options"] == {"include_usage": True}
    reported = client.post(
        f"/v1/sessions/{session_id}/turns/u1/audible", json={"first_audible_ms": 850}, headers=owner.headers
    )
    assert reported.status_code == 204, reported.text
    row = admin.execute(
        "select prompt_tokens, completion_tokens, first_audible_ms from public.streaming_messages"
        " where id = %s",
        (done["assistant_message_id"],),
    ).fetchone()
    assert row is not None
    assert row["completion_tokens"] == len(done["reply"].split())
    assert row["prompt_tokens"] > 0
    assert row["first_audible_ms"] == 850

    report = _insights(client, owner, avatar_id=avatar["id"])
    assert report["summary"]["conversations"] == 1
    assert report["summary"]["visitors"] == 1
    assert report["cost"]["completion_tokens"] == row["completion_tokens"]
    assert report["cost"]["llm"] > 0
    # Read from 10 %-wide histogram buckets: within 5 % of what was reported.
    assert [d["first_audible_p50"] for d in report["latency"]] == [pytest.approx(850, rel=0.05)]
    assert {m["key"] for m in report["measures"]} >= {"latency_p90", "cost", "satisfaction", "returning"}
    assert next(m for m in report["measures"] if m["key"] == "latency_p90")["met"] is True

    outsider = _insights(client, stranger)
    assert (outsider["summary"]["conversations"], outsider["days"], outsider["latency"]) == (0, [], [])
    elsewhere = client.post(
        f"/v1/sessions/{session_id}/turns/u1/audible", json={"first_audible_ms": 1}, headers=stranger.headers
    )
    assert_problem(elsewhere, 404)


def test_an_answer_is_rated_changed_and_withdrawn_only_by_who_held_the_conversation(
    client: httpx.Client, api: Api, owner: User, stranger: User
) -> None:
    avatar = api.create_avatar(owner)
    session_id = api.start_session(owner, avatar["id"])["session_id"]
    done = _done(stream_turn(client, owner.headers, session_id, "r1", "Hello?"))
    url = f"/v1/messages/{done['assistant_message_id']}/feedback"
    assert_problem(client.put(url, json={"rating": "up"}, headers=stranger.headers), 404)
    first = client.put(url, json={"rating": "up"}, headers=owner.headers)
    assert first.json() == {"message_id": done["assistant_message_id"], "rating": "up", "comment": ""}
    second = client.put(url, json={"rating": "down", "comment": "too vague"}, headers=owner.headers)
    assert (second.json()["rating"], second.json()["comment"]) == ("down", "too vague")
    assert _insights(client, owner)["summary"]["rated_down"] == 1
    assert_problem(client.put(url, json={"rating": "meh"}, headers=owner.headers), 422)
    assert_problem(client.delete(url, headers=stranger.headers), 404)
    assert client.delete(url, headers=owner.headers).status_code == 204
    assert_problem(client.delete(url, headers=owner.headers), 404)


def test_similar_unanswered_questions_group_and_an_answer_indexes_an_entry_and_settles_them(
    client: httpx.Client, api: Api, owner: User, stranger: User
) -> None:
    avatar = api.create_avatar(owner, grounded_only=True)
    session_id = api.start_session(owner, avatar["id"])["session_id"]
    for turn_id, question in (
        ("q1", "What are your opening hours?"),
        ("q2", "Opening hours on Sunday?"),
        ("q3", "Do you ship to Peru?"),
    ):
        assert (
            _done(stream_turn(client, owner.headers, session_id, turn_id, question))["reply"]
            == NOT_IN_KNOWLEDGE_BASE
        )
    response = client.get("/v1/insights/unanswered", headers=owner.headers)
    assert response.status_code == 200, response.text
    groups = response.json()
    assert [(g["count"], g["question"]) for g in groups] == [
        (2, "Opening hours on Sunday?"),
        (1, "Do you ship to Peru?"),
    ]
    assert groups[0]["reasons"] == ["refused"]
    assert client.get("/v1/insights/unanswered", headers=stranger.headers).json() == []

    hours = groups[0]
    body = {
        "avatar_id": avatar["id"],
        "question": "What are your opening hours?",
        "answer": "The shop opens at nine and closes at six, Monday to Saturday.",
        "keys": hours["keys"],
    }
    refused = client.post("/v1/insights/unanswered/answer", json=body, headers=stranger.headers)
    assert_problem(refused, 404)
    answered = client.post("/v1/insights/unanswered/answer", json=body, headers=owner.headers)
    assert answered.status_code == 201, answered.text
    document_url = f"/v1/knowledge/{answered.json()['document_id']}"
    deadline = time.monotonic() + 20
    while client.get(document_url, headers=owner.headers).json()["status"] != "ready":
        assert time.monotonic() < deadline, "the answer was not indexed"
        time.sleep(0.05)
    remaining = client.get("/v1/insights/unanswered", headers=owner.headers).json()
    assert [g["question"] for g in remaining] == ["Do you ship to Peru?"]
    events = stream_turn(client, owner.headers, session_id, "q4", "When are your opening hours?")
    sources = next(data for name, data, _ in events if name == "sources")["sources"]
    assert [s["document_id"] for s in sources] == [answered.json()["document_id"]]
    assert "opens at nine" in _done(events)["reply"]


def test_prices_are_the_published_defaults_until_the_owner_changes_them(
    client: httpx.Client, owner: User, stranger: User
) -> None:
    defaults = client.get("/v1/insights/prices", headers=owner.headers).json()
    assert defaults["provider_minute"]["local"] == 0
    changed = {**defaults, "llm_output_per_million_tokens": 2.5, "provider_minute": {"heygen": 0.2}}
    saved = client.put("/v1/insights/prices", json=changed, headers=owner.headers)
    assert saved.status_code == 200, saved.text
    assert saved.json()["provider_minute"] == {**defaults["provider_minute"], "heygen": 0.2}
    assert (
        client.get("/v1/insights/prices", headers=owner.headers).json()["llm_output_per_million_tokens"]
        == 2.5
    )
    assert client.get("/v1/insights/prices", headers=stranger.headers).json() == defaults
    negative = client.put(
        "/v1/insights/prices", json={**defaults, "stt_per_minute": -1}, headers=owner.headers
    )
    assert_problem(negative, 422)


@pytest.mark.parametrize(
    "params",
    [{"from": "2026-05-02", "to": "2026-05-01"}, {"from": "2024-01-01", "to": "2026-01-01"}, {"from": "May"}],
)
def test_a_bad_range_is_a_problem(client: httpx.Client, owner: User, params: dict[str, str]) -> None:
    response = client.get("/v1/insights", params=params, headers=owner.headers)
    assert_problem(response, 422)


def test_a_browser_that_comes_back_counts_as_a_returning_visitor_of_the_owner_and_of_the_avatar(
    client: httpx.Client, api: Api, owner: User
) -> None:
    first, second = api.create_avatar(owner), api.create_avatar(owner, name="Bea")
    for avatar, key in ((first, "browser-aaaa"), (second, "browser-aaaa"), (first, "browser-bbbb")):
        session_id = api.start_session(owner, avatar["id"], visitor_key=key, page_url="https://shop.example/")
        api.end_session(owner, session_id["session_id"])
    everywhere = _insights(client, owner)["summary"]
    assert (everywhere["visitors"], everywhere["returning_visitors"]) == (2, 1)
    # To the second avatar, browser-aaaa was new.
    at_second = _insights(client, owner, avatar_id=second["id"])["summary"]
    assert (at_second["visitors"], at_second["returning_visitors"]) == (1, 0)
    bad = client.post(
        "/v1/sessions", json={"avatar_id": first["id"], "visitor_key": "x"}, headers=owner.headers
    )
    assert_problem(bad, 422)


def test_transcripts_export_as_csv_and_json_lines_with_sources_and_ratings_through_rls(
    client: httpx.Client, api: Api, admin: Admin, owner: User, stranger: User
) -> None:
    avatar = api.create_avatar(owner)
    add_knowledge(admin, avatar["id"], "Help centre", [REFUNDS])
    session_id = api.start_session(owner, avatar["id"], page_url="https://shop.example/help")["session_id"]
    done = _done(stream_turn(client, owner.headers, session_id, "e1", "How are refunds paid?"))
    client.put(
        f"/v1/messages/{done['assistant_message_id']}/feedback", json={"rating": "up"}, headers=owner.headers
    )

    response = client.get("/v1/insights/export", params={"format": "csv"}, headers=owner.headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["role"], r["visitor"], r["page_url"]) for r in rows] == [
        ("user", "owner", "https://shop.example/help"),
        ("assistant", "owner", "https://shop.example/help"),
    ]
    assert (rows[1]["sources"], rows[1]["rating"]) == ("Help centre", "up")

    lines = client.get("/v1/insights/export", params={"format": "jsonl"}, headers=owner.headers).text
    records = [json.loads(line) for line in lines.splitlines()]
    assert [r["content"] for r in records] == ["How are refunds paid?", done["reply"]]

    theirs = client.get("/v1/insights/export", params={"format": "csv"}, headers=stranger.headers)
    assert len(list(csv.DictReader(io.StringIO(theirs.text)))) == 0
    assert_problem(client.get("/v1/insights/export", params={"format": "xml"}, headers=owner.headers), 422)


def test_history_marks_the_owners_own_conversations_shows_the_page_and_searches_what_was_said(
    client: httpx.Client, api: Api, owner: User, stranger: User
) -> None:
    avatar, other = api.create_avatar(owner), api.create_avatar(owner, name="Bea")
    refunds = api.start_session(owner, avatar["id"], page_url="https://shop.example/help")["session_id"]
    stream_turn(client, owner.headers, refunds, "h1", "How are 100% refunds paid?")
    hello = api.start_session(owner, avatar["id"])["session_id"]
    stream_turn(client, owner.headers, hello, "h2", "Hello there")
    api.start_session(owner, other["id"])

    page = client.get("/v1/sessions", params={"avatar_id": avatar["id"]}, headers=owner.headers).json()
    assert [(s["id"], s["by_owner"], s["page_url"]) for s in page["items"]] == [
        (hello, True, None),
        (refunds, True, "https://shop.example/help"),
    ]
    found = client.get("/v1/sessions", params={"q": "100% REFUNDS"}, headers=owner.headers).json()
    assert [s["id"] for s in found["items"]] == [refunds]
    # % and _ are matched as themselves, not as wildcards.
    assert client.get("/v1/sessions", params={"q": "1_0"}, headers=owner.headers).json()["items"] == []
    assert client.get("/v1/sessions", params={"q": "refunds"}, headers=stranger.headers).json()["items"] == []
