"""ElevenLabs streaming text to speech: `POST /v1/text-to-speech/{voice_id}/stream`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

from functions.core.errors import ProviderError
from functions.core.provider_errors import backoff_delay, status_error

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

PROVIDER = "elevenlabs"
OutputFormat = Literal["pcm_16000", "pcm_24000", "mp3_44100_128"]
VOICE_SETTING_TYPES: Mapping[str, tuple[type, ...]] = {
    "stability": (int, float),
    "similarity_boost": (int, float),
    "style": (int, float),
    "speed": (int, float),
    "use_speaker_boost": (bool,),
}
"""The `voice_settings` ElevenLabs takes, with their JSON types; other keys of an avatar's voice stay ours."""
BACKOFF_BASE_S = 0.3
BACKOFF_CAP_S = 2.0  # a person is waiting for the avatar to speak

Sleep = Callable[[float], Awaitable[None]]


def voice_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The ElevenLabs `voice_settings` among an avatar voice's settings (a bool is not a number here)."""
    return {
        key: value
        for key, types in VOICE_SETTING_TYPES.items()
        if isinstance(value := settings.get(key), types) and (bool in types or not isinstance(value, bool))
    }


class ElevenLabsTts:
    """Streams speech from ElevenLabs, yielding the audio bytes as they arrive.

    429, 5xx and connection failures are retried (`max_retries` times, honouring `Retry-After`, capped)
    only before any audio was yielded. Every failure raises `ProviderError("elevenlabs", ...)` keeping
    the status and body; a timeout has status None (503).
    """

    def __init__(
        self,
        *,
        api_key: str,
        client: httpx.AsyncClient,
        base_url: str = "https://api.elevenlabs.io",
        model: str = "eleven_flash_v2_5",
        timeout_s: float = 15,
        max_retries: int = 1,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        import httpx

        self._api_key = api_key
        self._client = client
        self._base_url = base_url.rstrip("/")
        self.model = model
        self._timeout = httpx.Timeout(timeout_s)
        self._max_retries = max_retries
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"ElevenLabsTts(model={self.model!r}, base_url={self._base_url!r})"

    async def stream(
        self,
        text: str,
        *,
        voice_id: str,
        output_format: OutputFormat,
        settings: Mapping[str, Any] | None = None,
        previous_text: str | None = None,
        next_text: str | None = None,
    ) -> AsyncGenerator[bytes, None]:
        """Speak `text` in `voice_id`; `settings` are the avatar voice's (`model_id` and voice settings).

        `previous_text` and `next_text` are the text around this piece of a longer one: ElevenLabs
        reads them for continuity across requests and speaks only `text`."""
        import httpx

        url = f"{self._base_url}/v1/text-to-speech/{quote(voice_id, safe='')}/stream"
        settings = settings or {}
        model = settings.get("model_id")
        payload: dict[str, Any] = {"text": text, "model_id": model if isinstance(model, str) else self.model}
        if chosen := voice_settings(settings):
            payload["voice_settings"] = chosen
        if previous_text:
            payload["previous_text"] = previous_text
        if next_text:
            payload["next_text"] = next_text
        headers = {"xi-api-key": self._api_key, "accept": "*/*"}
        attempt = 0
        while True:
            started = False
            try:
                async with self._client.stream(
                    "POST",
                    url,
                    params={"output_format": output_format},
                    json=payload,
                    headers=headers,
                    timeout=self._timeout,
                ) as response:
                    if response.status_code >= 400:
                        error = await self._status_error(response)
                        if not error.retryable or attempt >= self._max_retries:
                            raise error
                        delay = self._delay(attempt, response.headers.get("retry-after"))
                    else:
                        async for chunk in response.aiter_bytes():
                            if chunk:
                                started = True
                                yield chunk
                        return
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                if started or attempt >= self._max_retries:
                    raise ProviderError(PROVIDER, f"cannot connect: {type(exc).__name__}") from exc
                delay = self._delay(attempt, None)
            except httpx.TimeoutException as exc:
                raise ProviderError(PROVIDER, f"timed out: {type(exc).__name__}", retryable=True) from exc
            except httpx.HTTPError as exc:
                raise ProviderError(PROVIDER, f"transport failure: {type(exc).__name__}") from exc
            log.warning("elevenlabs text to speech failed, retry %d in %.2fs", attempt + 1, delay)
            await self._sleep(delay)
            attempt += 1

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        return backoff_delay(attempt, retry_after, base_s=BACKOFF_BASE_S, cap_s=BACKOFF_CAP_S, jitter_s=0.1)

    async def _status_error(self, response: httpx.Response) -> ProviderError:
        import httpx

        try:
            text = (await response.aread()).decode("utf-8", errors="replace")
        except httpx.HTTPError:
            text = ""
        return status_error(
            PROVIDER, response.status_code, text.replace(self._api_key, "***"), message_of=_error_message
        )


def _error_message(parsed: dict[str, Any]) -> object:
    """ElevenLabs answers {"detail": {"status": "invalid_api_key", "message": "..."}}, or a list of
    validation errors under "detail"."""
    reason = parsed.get("detail")
    return (reason.get("message") or reason.get("status")) if isinstance(reason, dict) else reason
