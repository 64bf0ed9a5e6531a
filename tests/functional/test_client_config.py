"""GET /v1/config tells the web client what runs offline, and never a key."""

import httpx
import pytest

from functions.core.settings import get_settings


def test_local_defaults_say_offline_local_embeddings_local_whisper_and_piper(client: httpx.Client) -> None:
    body = client.get("/v1/config").json()
    assert body["mode"] == "local"
    assert body["llm"] == {"offline": True, "model": None}
    assert body["embeddings"] == {"enabled": True, "model": "multilingual-e5-small-q4"}
    assert body["stt"] == {"enabled": True, "engine": "whisper-tiny.en"}
    assert body["tts"]["engine"] == "piper"
    assert body["tts"]["formats"] == ["pcm16_16000", "pcm16_24000", "wav", "mp3"]
    assert body["providers"] == {
        "heygen": False,
        "liveavatar": False,
        "local": True,
        "simli": False,
        "tavus": False,
    }


def test_configured_parts_are_named_but_their_keys_never_appear(
    monkeypatch: pytest.MonkeyPatch, client: httpx.Client
) -> None:
    secrets = {
        "OPENAI_API_KEY": "sk-test-secret-1",
        "HEYGEN_API_KEY": "hg-secret-2",
        "ELEVENLABS_API_KEY": "el-3",
    }
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SUPABASE_ANON_KEY", "public-anon-key")
    get_settings.cache_clear()
    try:
        response = client.get("/v1/config")
    finally:
        for name in [*secrets, "SUPABASE_ANON_KEY"]:
            monkeypatch.delenv(name)
        get_settings.cache_clear()
    body = response.json()
    assert body["llm"] == {"offline": False, "model": "gpt-4o-mini"}
    assert body["embeddings"] == {"enabled": True, "model": "text-embedding-3-small"}
    assert body["stt"] == {"enabled": True, "engine": "openai"}
    assert body["tts"]["engine"] == "elevenlabs"
    assert body["providers"]["heygen"] is True
    assert body["supabase"]["anon_key"] == "public-anon-key"
    assert not any(value in response.text for value in secrets.values())
