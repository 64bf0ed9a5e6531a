"""`avatar-studio providers check` against the fakes: each configured provider's smallest round trip,
everything it started stopped again, no key printed, and a failure that says what to fix."""

import httpx
import pytest
from pydantic import SecretStr

from functions.core import cli
from functions.core.providers import check
from functions.core.providers.check import Step, exit_code, render, run_checks
from functions.core.settings import Settings
from tests.providers import vendors
from tests.providers.fake import (
    ELEVENLABS_BASE,
    OPENAI_BASE,
    FakeProvider,
    elevenlabs_fake,
    heygen_fake,
    liveavatar_fake,
    openai_fake,
    routed,
    simli_fake,
    tavus_fake,
)

KEYS = {**vendors.KEYS, "elevenlabs": "el-key-0123456789", "openai": "sk-openai-0123456789"}
BASES = {**vendors.BASES, "elevenlabs": ELEVENLABS_BASE, "openai": OPENAI_BASE}


def settings() -> Settings:
    return Settings(
        **{f"{name}_api_key": SecretStr(key) for name, key in KEYS.items()},
        **{f"{name}_api_base": base for name, base in BASES.items()},
        llm_model="gpt-5-mini",
    )


def fakes() -> dict[str, FakeProvider]:
    return {
        "liveavatar.test": liveavatar_fake(),
        "heygen.test": heygen_fake(),
        "simli.test": simli_fake(),
        "tavus.test": tavus_fake(),
        "elevenlabs.test": elevenlabs_fake(),
        "openai.test": openai_fake(),
    }


async def test_every_configured_provider_gets_its_round_trip_and_everything_started_is_stopped() -> None:
    reached = fakes()
    steps = await run_checks(settings(), [], client=routed(reached), simli_face="face-42")

    assert [(step.check, step.step, step.status) for step in steps] == [
        ("liveavatar", "list active sessions", "ok"),
        ("liveavatar", "sandbox session token", "ok"),
        ("liveavatar", "stop", "ok"),
        ("tavus", "list active conversations", "ok"),
        ("tavus", "find a replica", "ok"),
        ("tavus", "test-mode conversation", "ok"),
        ("tavus", "end", "ok"),
        ("heygen", "token and new session", "ok"),
        ("heygen", "stop", "ok"),
        ("simli", "ICE servers", "ok"),
        ("simli", "session token", "ok"),
        ("elevenlabs", "voice list", "ok"),
        ("elevenlabs", "short speech (pcm_16000)", "ok"),
        ("llm", "first token (gpt-5-mini)", "ok"),
        ("embeddings", "one embedding (text-embedding-3-small)", "ok"),
        ("transcription", "one second of audio (gpt-4o-mini-transcribe)", "ok"),
    ]
    assert all(fake.live == {} for fake in reached.values())
    [token] = reached["liveavatar.test"].calls("POST", "/v1/sessions/token")
    assert token.body["is_sandbox"] is True
    assert token.body["avatar_id"] == check.LIVEAVATAR_SANDBOX_AVATAR
    [conversation] = reached["tavus.test"].calls("POST", "/v2/conversations")
    assert conversation.body["test_mode"] is True
    assert conversation.body["replica_id"] == "r-stock"
    [chat] = reached["openai.test"].calls("POST", "/v1/chat/completions")
    assert chat.body["max_completion_tokens"] == check.FIRST_TOKEN_BUDGET
    assert "max_tokens" not in chat.body
    assert exit_code(steps) == 0
    table = render(steps)
    assert not any(key in table for key in KEYS.values())


async def test_a_refused_key_fails_its_check_says_what_to_fix_and_exits_non_zero() -> None:
    reached = fakes()
    reached["heygen.test"].on(
        "POST", "/v1/streaming.create_token", lambda _request: _unauthorized(KEYS["heygen"])
    )
    steps = await run_checks(settings(), ["heygen", "simli"], client=routed(reached))

    failed = [step for step in steps if step.status == "failed"]
    assert [(step.check, step.step) for step in failed] == [("heygen", "token and new session")]
    assert "check HEYGEN_API_KEY" in failed[0].note
    assert KEYS["heygen"] not in render(steps)
    assert ("simli", "session token", "skipped") in [(s.check, s.step, s.status) for s in steps]
    assert exit_code(steps) == 1


def _unauthorized(key: str) -> httpx.Response:
    return httpx.Response(401, json={"code": 400112, "message": f"Unauthorized key {key}"})


def test_without_keys_the_command_skips_every_check_and_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = Settings(**{f"{name}_api_key": None for name in KEYS}, llm_api_key=None, llm_base_url=None)
    monkeypatch.setattr("functions.core.settings.get_settings", lambda: empty)
    assert cli.main(["providers", "check"]) == 0
    out = capsys.readouterr().out
    assert "No provider key is set" in out
    assert out.count("skipped") == len(check.CHECKS)


def test_an_unknown_check_name_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["providers", "check", "heygen", "nope"]) == 2
    assert "unknown check(s) nope" in capsys.readouterr().err


def test_the_table_lines_up_its_columns() -> None:
    table = render([Step("heygen", "stop", "ok", 12.3), Step("simli", "session token", "skipped", note="x")])
    lines = table.splitlines()
    assert lines[0].split() == ["check", "step", "status", "latency", "what", "to", "fix"]
    assert lines[1].index("ok") == lines[2].index("skipped")


def test_no_line_of_the_table_ends_in_spaces() -> None:
    table = render(
        [Step("heygen", "stop", "ok", 1.0), Step("simli", "ICE servers", "failed", 2.0, "HTTP 401")]
    )
    assert all(line == line.rstrip() for line in table.splitlines())
