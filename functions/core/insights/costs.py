"""Estimated cost from what a range used, at the owner's prices or the published defaults."""

from functools import cache
from typing import Any

from functions.core.insights.models import Cost, Prices


@cache
def default_prices() -> Prices:
    """Published prices as of this writing, in US dollars; each owner may replace them (PUT
    /v1/insights/prices). Each avatar provider declares its price per streamed minute; OpenAI gpt-4o-mini
    tokens, ElevenLabs Flash characters and OpenAI transcription per audio minute are here."""
    # Here, not at import: only the report and the prices need the provider declarations (they import
    # each provider's module), the function's other routes do not.
    from functions.core.providers.avatar.registry import declared_providers

    return Prices(
        provider_minute={provider.name: provider.minute_price_usd for provider in declared_providers()},
        llm_input_per_million_tokens=0.15,
        llm_output_per_million_tokens=0.60,
        tts_per_thousand_characters=0.10,
        stt_per_minute=0.006,
    )


def prices_from_row(stored: dict[str, Any] | None) -> Prices:
    """The owner's stored prices over the defaults, key by key (a provider added later keeps its default)."""
    defaults = default_prices()
    if not stored:
        return defaults
    merged = defaults.model_dump()
    merged.update({k: v for k, v in stored.items() if k != "provider_minute"})
    merged["provider_minute"] = {**defaults.provider_minute, **stored.get("provider_minute", {})}
    return Prices.model_validate(merged)


def estimate(
    prices: Prices,
    *,
    minutes_by_provider: dict[str, float],
    conversations: int,
    prompt_tokens: int,
    completion_tokens: int,
    tts_characters: int,
    stt_seconds: float,
) -> Cost:
    provider = sum(
        minutes * prices.provider_minute.get(name, 0.0) for name, minutes in minutes_by_provider.items()
    )
    llm = (
        prompt_tokens * prices.llm_input_per_million_tokens
        + completion_tokens * prices.llm_output_per_million_tokens
    ) / 1_000_000
    tts = tts_characters * prices.tts_per_thousand_characters / 1000
    stt = stt_seconds / 60 * prices.stt_per_minute
    total = provider + llm + tts + stt
    return Cost(
        provider=round(provider, 6),
        llm=round(llm, 6),
        tts=round(tts, 6),
        stt=round(stt, 6),
        total=round(total, 6),
        per_conversation=round(total / conversations, 6) if conversations else None,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        tts_characters=tts_characters,
        stt_seconds=round(stt_seconds, 1),
    )
