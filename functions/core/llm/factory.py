"""The chat model the settings ask for, or None for the offline answerer."""

from urllib.parse import urlsplit

from functions.core.http_client import app_clients
from functions.core.llm.base import ChatModel
from functions.core.llm.openai_compat import OpenAICompatibleChat
from functions.core.settings import Settings


def chat_model_from_settings(settings: Settings) -> ChatModel | None:
    if not settings.llm_configured:
        return None
    # Errors name the provider: OpenAI, or the host of an OpenAI-compatible server (Groq, Ollama...).
    provider = "openai" if settings.llm_base_url is None else (urlsplit(settings.llm_url).hostname or "llm")
    return OpenAICompatibleChat(
        api_key=settings.llm_key(),
        base_url=settings.llm_url,
        model=settings.llm_model,
        client=app_clients().client("llm"),
        provider=provider,
        timeout_s=settings.llm_timeout_seconds,
    )
