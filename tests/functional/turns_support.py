"""Helpers for turn tests: knowledge rows, an LLM switched on for one test, server-sent events."""

import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import psycopg
import pytest

from functions.core.settings import get_settings
from tests.scripted_llm import Script, ScriptedLLM

Admin = psycopg.Connection[Any]
Event = tuple[str, dict[str, Any]]


def add_knowledge(
    admin: Admin, avatar_id: str, title: str, chunks: list[tuple[list[str], str]]
) -> list[uuid.UUID]:
    """A ready document of (heading path, content) chunks for the avatar, full-text indexed only."""
    row = admin.execute(
        "insert into public.knowledge_documents (owner_id, avatar_id, title, content_hash, status,"
        " chunks_done, chunks_total)"
        " select owner_id, id, %s, %s, 'ready', %s, %s from public.avatars where id = %s"
        " returning id, owner_id",
        (title, uuid.uuid4().hex, len(chunks), len(chunks), avatar_id),
    ).fetchone()
    assert row is not None
    ids = []
    for position, (heading_path, content) in enumerate(chunks):
        chunk = admin.execute(
            "insert into public.knowledge_chunks (document_id, owner_id, avatar_id, position, heading_path,"
            " content) values (%s, %s, %s, %s, %s, %s) returning id",
            (row["id"], row["owner_id"], avatar_id, position, heading_path, content),
        ).fetchone()
        assert chunk is not None
        ids.append(chunk["id"])
    return ids


@contextmanager
def scripted_llm(monkeypatch: pytest.MonkeyPatch, script: Script | None = None) -> Iterator[ScriptedLLM]:
    """Point the running app at a scripted OpenAI-compatible server for the duration."""
    with ScriptedLLM(script) as llm:
        monkeypatch.setenv("LLM_BASE_URL", llm.url)
        monkeypatch.setenv("LLM_MODEL", "scripted-model")
        get_settings.cache_clear()
        try:
            yield llm
        finally:
            monkeypatch.delenv("LLM_BASE_URL")
            monkeypatch.delenv("LLM_MODEL")
            get_settings.cache_clear()


def parse_sse(lines: Iterator[str]) -> Iterator[tuple[str, dict[str, Any], float]]:
    """Events as they arrive, each with the `time.monotonic` of its arrival."""
    name, data = "message", []
    for line in lines:
        if line == "":
            if data:
                yield name, json.loads("\n".join(data)), time.monotonic()
            name, data = "message", []
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].lstrip())


def stream_turn(
    client: httpx.Client, headers: dict[str, str], session_id: str, turn_id: str, text: str
) -> list[tuple[str, dict[str, Any], float]]:
    with client.stream(
        "POST",
        f"/v1/sessions/{session_id}/turns",
        json={"turn_id": turn_id, "text": text},
        headers={**headers, "Accept": "text/event-stream"},
    ) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        return list(parse_sse(response.iter_lines()))


def names(events: list[tuple[str, dict[str, Any], float]]) -> list[str]:
    """Event names with runs of delta/sentence collapsed, to compare orders."""
    out: list[str] = []
    for name, _, _ in events:
        if not out or out[-1] != name or name not in {"delta", "sentence"}:
            out.append(name)
    return out
