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


def test_each_provider_declares_itself_in_the_catalog(client: httpx.Client) -> None:
    """The studio builds its provider form from these declarations (name, label, settings, options, what
    the provider can do); LiveAvatar comes first among the cloud providers, HeyGen's Interactive Avatar last,
    as legacy."""
    catalog = client.get("/v1/config").json()["provider_catalog"]
    assert [(p["name"], p["legacy"], p["configured"]) for p in catalog] == [
        ("local", False, True),
        ("liveavatar", False, False),
        ("simli", False, False),
        ("tavus", False, False),
        ("heygen", True, False),
    ]
    by_name = {provider["name"]: provider for provider in catalog}
    assert by_name["liveavatar"]["label"] == "HeyGen LiveAvatar"
    assert by_name["liveavatar"]["settings"] == ["LIVEAVATAR_API_KEY", "LIVEAVATAR_API_BASE"]
    assert by_name["liveavatar"]["capabilities"] == {
        "speaks_text": True,
        "takes_audio": True,
        "converses": True,
        "lists_sessions": True,
    }
    mode = by_name["liveavatar"]["options_schema"]["properties"]["mode"]
    assert (mode["enum"], mode["default"]) == (["FULL", "LITE"], "LITE")
    assert by_name["simli"]["options_schema"]["properties"]["model"]["anyOf"][0]["enum"] == [
        "fasttalk",
        "artalk",
    ]
    assert by_name["tavus"]["capabilities"]["converses"] is True
    assert by_name["local"]["options_schema"]["properties"] == {}
