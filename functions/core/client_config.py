"""The deployment as the web client sees it: never a key, only which parts are configured."""

from typing import Any, get_args

from pydantic import BaseModel

from functions.core.avatar_basics import END_OF_SPEECH_DEFAULT_MS
from functions.core.providers.avatar.base import Capabilities
from functions.core.providers.avatar.registry import configured, declared_providers, provider_names
from functions.core.settings import Settings


class LlmInfo(BaseModel):
    offline: bool
    model: str | None


class EmbeddingsInfo(BaseModel):
    enabled: bool
    model: str | None


class SttInfo(BaseModel):
    enabled: bool
    engine: str | None


class HandsFreeInfo(BaseModel):
    """Hands-free voice input: the end-of-speech wait a new avatar gets (each avatar has its own)."""

    end_of_speech_default_ms: int


class TtsInfo(BaseModel):
    engine: str
    formats: list[str]


class SupabaseInfo(BaseModel):
    url: str | None
    anon_key: str | None


class ProviderInfo(BaseModel):
    """A provider as it declares itself: the studio builds its provider form from this."""

    name: str
    label: str
    configured: bool
    legacy: bool
    settings: list[str]
    capabilities: Capabilities
    options_schema: dict[str, Any]


class ClientConfig(BaseModel):
    mode: str
    llm: LlmInfo
    embeddings: EmbeddingsInfo
    stt: SttInfo
    hands_free: HandsFreeInfo
    tts: TtsInfo
    providers: dict[str, bool]
    provider_catalog: list[ProviderInfo]
    supabase: SupabaseInfo


def provider_catalog(settings: Settings) -> list[ProviderInfo]:
    return [
        ProviderInfo(
            name=provider.name,
            label=provider.label,
            configured=configured(provider.name, settings),
            legacy=provider.legacy,
            settings=list(provider.settings),
            capabilities=provider.capabilities,
            options_schema=provider.Options.model_json_schema(),
        )
        for provider in declared_providers()
    ]


def _tts_engine(settings: Settings) -> str:
    if settings.elevenlabs_api_key is not None:
        return "elevenlabs"
    return "piper" if settings.is_local else "none"


def _embedding_model(settings: Settings) -> str | None:
    if settings.openai_key() is not None:
        return settings.embedding_model
    from functions.core.llm import local_embeddings

    return local_embeddings.MODEL if local_embeddings.available() else None


def client_config(settings: Settings) -> ClientConfig:
    # Speech is imported when the configuration is first asked for, not with the function's routes.
    from functions.core.speech.stt import voice_input
    from functions.core.speech.tts import AudioFormat

    embedding_model = _embedding_model(settings)
    stt = voice_input(settings, None)
    return ClientConfig(
        mode=settings.app_mode,
        llm=LlmInfo(
            offline=not settings.llm_configured, model=settings.llm_model if settings.llm_configured else None
        ),
        embeddings=EmbeddingsInfo(enabled=embedding_model is not None, model=embedding_model),
        stt=SttInfo(enabled=stt.available, engine=stt.engine),
        hands_free=HandsFreeInfo(end_of_speech_default_ms=END_OF_SPEECH_DEFAULT_MS),
        tts=TtsInfo(
            engine=_tts_engine(settings),
            formats=list(get_args(AudioFormat)),
        ),
        providers={name: configured(name, settings) for name in provider_names()},
        provider_catalog=provider_catalog(settings),
        supabase=SupabaseInfo(url=settings.supabase_url, anon_key=settings.supabase_anon_key),
    )
