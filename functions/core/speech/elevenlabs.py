"""ElevenLabs streaming text to speech: `POST /v1/text-to-speech/{voice_id}/stream`."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

from functions.core.errors import ProviderError
from functions.core.http_client import ProviderClient
from functions.core.retry import INTERACTIVE, RetryPolicy

if TYPE_CHECKING:
    import httpx

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


def voice_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The ElevenLabs `voice_settings` among an avatar voice's settings (a bool is not a number here)."""
    return {
        key: value
        for key, types in VOICE_SETTING_TYPES.items()
        if isinstance(value := settings.get(key), types) and (bool in types or not isinstance(value, bool))
    }


class ElevenLabsTts:
    """Streams speech from ElevenLabs, yielding the audio bytes as they arrive.

    Sent through `ProviderClient` as an idempotent request (speaking a text again changes nothing),
    so retried by the one policy until the audio starts, never after. Every failure raises
    `ProviderError("elevenlabs", ...)` keeping the status and body; a timeout has status None (503).
    """

    def __init__(
        self,
        *,
        api_key: str,
        client: httpx.AsyncClient,
        base_url: str = "https://api.elevenlabs.io",
        model: str = "eleven_flash_v2_5",
        timeout_s: float = 15,
        policy: RetryPolicy = INTERACTIVE,
    ) -> None:
        self._api_key = api_key
        self._base_url = base_url.rstrip("/")
        self.model = model
        self._http = ProviderClient(
            PROVIDER, client, secrets=[api_key], timeout=timeout_s, policy=policy, message_of=_error_message
        )

    def __repr__(self) -> str:
        return f"ElevenLabsTts(model={self.model!r}, base_url={self._base_url!r})"

    async def first_voice_id(self) -> str:
        """The account's first voice (`GET /v2/voices`, one per page): proof the key reads voices."""
        response = await self._http.request(
            "GET",
            f"{self._base_url}/v2/voices",
            idempotent=True,
            params={"page_size": "1"},
            headers={"xi-api-key": self._api_key},
        )
        voices = response.json().get("voices") or []
        if not voices:
            raise ProviderError(PROVIDER, "the account has no voice")
        voice_id: str = voices[0]["voice_id"]
        return voice_id

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
        async with self._http.stream(
            "POST",
            url,
            idempotent=True,
            params={"output_format": output_format},
            json=payload,
            headers=headers,
        ) as response:
            async for chunk in response.aiter_bytes():
                if chunk:
                    yield chunk


def _error_message(parsed: dict[str, Any]) -> object:
    """ElevenLabs answers {"detail": {"status": "invalid_api_key", "message": "..."}}, or a list of
    validation errors under "detail"."""
    reason = parsed.get("detail")
    return (reason.get("message") or reason.get("status")) if isinstance(reason, dict) else reason
