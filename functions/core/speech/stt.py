"""Speech to text for audio turns: OpenAI's `POST /audio/transcriptions`, else Whisper on this machine."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import PurePath
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel

from functions.core.errors import AppError, PayloadTooLarge, ProviderError
from functions.core.http_client import shared_client
from functions.core.provider_errors import BODY_LIMIT, backoff_delay, status_error
from functions.core.settings import Settings
from functions.core.speech import local_stt

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

PROVIDER = "openai"
MAX_AUDIO_BYTES = 25 * 1024 * 1024  # OpenAI's upload limit
# What browsers record (MediaRecorder: webm/ogg with Opus, mp4 on Safari) and OpenAI accepts, with the file
# extension OpenAI reads the format from.
AUDIO_TYPES = {
    "audio/webm": "webm",
    "video/webm": "webm",
    "audio/ogg": "ogg",
    "audio/opus": "ogg",
    "audio/wav": "wav",
    "audio/wave": "wav",
    "audio/x-wav": "wav",
    "audio/vnd.wave": "wav",
    "audio/mp4": "mp4",
    "video/mp4": "mp4",
    "audio/m4a": "m4a",
    "audio/x-m4a": "m4a",
    "audio/mpeg": "mp3",
    "audio/mp3": "mp3",
    "audio/mpga": "mpga",
    "audio/flac": "flac",
    "audio/x-flac": "flac",
}
_EXTENSIONS = frozenset(AUDIO_TYPES.values()) | {"mpeg", "oga"}
_UNTYPED = frozenset({"", "application/octet-stream"})
BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 4.0  # a person is waiting for their words to be understood

Sleep = Callable[[float], Awaitable[None]]


class SpeechToTextUnavailable(AppError):
    status = 501
    code = "stt_unavailable"

    def __init__(
        self,
        detail: str = "Voice input is not available on this server (no transcription provider is"
        " configured): please type your message instead.",
    ) -> None:
        super().__init__(detail)


class EmptyTranscript(AppError):
    status = 422
    code = "empty_transcript"

    def __init__(self, detail: str = "No speech was heard in the recording; please try again.") -> None:
        super().__init__(detail)


class UnsupportedAudio(AppError):
    status = 415
    code = "unsupported_media_type"


def audio_extension(content_type: str, filename: str) -> str:
    """The file extension OpenAI should see for this upload; 415 when it is not audio OpenAI reads."""
    media_type = content_type.split(";")[0].strip().lower()
    if media_type in AUDIO_TYPES:
        return AUDIO_TYPES[media_type]
    suffix = PurePath(filename).suffix.lstrip(".").lower()
    if media_type in _UNTYPED and suffix in _EXTENSIONS:
        return "ogg" if suffix == "oga" else suffix
    raise UnsupportedAudio(
        f"{media_type or 'untyped audio'} cannot be transcribed: send webm, ogg, wav, mp4 or mpeg audio"
    )


NO_STT_REASON = "Voice input needs a transcription key on this server; type your question instead."
ENGLISH_ONLY_REASON = (
    "Offline voice input understands English only; type your question, or set a transcription key."
)


class Transcriber(Protocol):
    model: str

    async def transcribe(
        self, audio: bytes, *, filename: str, content_type: str, language: str | None = None
    ) -> str: ...


class VoiceInput(BaseModel):
    """Whether the web client may offer voice input for an avatar, with the reason when it may not."""

    available: bool
    engine: str | None
    reason: str | None


def _check_upload(audio: bytes, content_type: str, filename: str) -> str:
    extension = audio_extension(content_type, filename)
    if len(audio) > MAX_AUDIO_BYTES:
        raise PayloadTooLarge(f"the recording is larger than {MAX_AUDIO_BYTES // (1024 * 1024)} MiB")
    if not audio:
        raise EmptyTranscript("The recording is empty; please try again.")
    return extension


class LocalTranscriber:
    """Whisper tiny.en on this machine (see `local_stt`), off the event loop; English only."""

    model = local_stt.MODEL

    def __repr__(self) -> str:
        return f"LocalTranscriber(model={self.model!r})"

    async def transcribe(
        self, audio: bytes, *, filename: str, content_type: str, language: str | None = None
    ) -> str:
        """The text spoken in `audio`; 415, 413, 422 (nothing heard, undecodable), 501 for non-English."""
        _check_upload(audio, content_type, filename)
        if not local_stt.speaks(language):
            raise SpeechToTextUnavailable(ENGLISH_ONLY_REASON)
        text = await asyncio.to_thread(local_stt.transcribe_bytes, audio)
        if not text:
            raise EmptyTranscript()
        return text


class OpenAITranscriber:
    """Transcribes one recording with an OpenAI transcription model (`response_format: json`).

    429, 5xx and connection failures are retried up to `max_retries` times (honouring `Retry-After`,
    capped); other failures raise `ProviderError("openai", ...)` with the status and body, a timeout
    with status None (503).
    """

    def __init__(
        self,
        *,
        api_key: str,
        client: httpx.AsyncClient,
        base_url: str = "https://api.openai.com/v1",
        model: str = "gpt-4o-mini-transcribe",
        timeout_s: float = 30,
        max_retries: int = 2,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        import httpx

        self._api_key = api_key
        self._client = client
        self._url = base_url.rstrip("/") + "/audio/transcriptions"
        self.model = model
        self._timeout = httpx.Timeout(timeout_s)
        self._max_retries = max_retries
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"OpenAITranscriber(model={self.model!r}, url={self._url!r})"

    async def transcribe(
        self, audio: bytes, *, filename: str, content_type: str, language: str | None = None
    ) -> str:
        """The text spoken in `audio`, stripped; 415, 413 and 422 (nothing heard) as `AppError`s."""
        extension = _check_upload(audio, content_type, filename)
        media_type = content_type.split(";")[0].strip().lower()
        # Untyped uploads get the type httpx guesses from the extension.
        files = {"file": (f"audio.{extension}", audio, None if media_type in _UNTYPED else media_type)}
        data = {"model": self.model, "response_format": "json"}
        if language:
            # OpenAI takes ISO-639-1 ("en"), an avatar's language may be a tag like "en-US".
            data["language"] = language.split("-")[0].lower()
        text = await self._post(files, data)
        if not text.strip():
            raise EmptyTranscript()
        return text.strip()

    async def _post(self, files: dict[str, Any], data: dict[str, str]) -> str:
        import httpx

        headers = {"Authorization": f"Bearer {self._api_key}"}
        attempt = 0
        while True:
            try:
                response = await self._client.post(
                    self._url, files=files, data=data, headers=headers, timeout=self._timeout
                )
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                if attempt >= self._max_retries:
                    raise ProviderError(PROVIDER, f"cannot connect: {type(exc).__name__}") from exc
                delay = self._delay(attempt, None)
            except httpx.TimeoutException as exc:
                raise ProviderError(PROVIDER, f"timed out: {type(exc).__name__}", retryable=True) from exc
            except httpx.HTTPError as exc:
                raise ProviderError(PROVIDER, f"transport failure: {type(exc).__name__}") from exc
            else:
                if response.status_code < 400:
                    return self._text(response)
                error = self._status_error(response)
                if not error.retryable or attempt >= self._max_retries:
                    raise error
                delay = self._delay(attempt, response.headers.get("retry-after"))
            log.warning("openai transcription failed, retry %d in %.2fs", attempt + 1, delay)
            await self._sleep(delay)
            attempt += 1

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        return backoff_delay(attempt, retry_after, base_s=BACKOFF_BASE_S, cap_s=BACKOFF_CAP_S, jitter_s=0.1)

    def _text(self, response: httpx.Response) -> str:
        try:
            body = response.json()
        except ValueError:
            body = None
        text = body.get("text") if isinstance(body, dict) else None
        if not isinstance(text, str):
            raw = response.text.replace(self._api_key, "***")[:BODY_LIMIT]
            raise ProviderError(PROVIDER, "transcription without text", status=response.status_code, body=raw)
        return text

    def _status_error(self, response: httpx.Response) -> ProviderError:
        return status_error(PROVIDER, response.status_code, response.text.replace(self._api_key, "***"))


def transcriber_from_settings(
    settings: Settings, client: httpx.AsyncClient | None = None
) -> Transcriber | None:
    """OpenAI's transcription with an OpenAI key, else local Whisper when the `local` extra is installed,
    else None (voice input is then unavailable).

    Without `client`, the shared one of the running event loop is used.
    """
    key = settings.openai_key()
    if key is None:
        return LocalTranscriber() if settings.local_stt and local_stt.available() else None
    return OpenAITranscriber(
        api_key=key,
        client=client or shared_client("stt"),
        base_url=settings.openai_api_base,
        model=settings.stt_model,
        timeout_s=settings.provider_timeout_seconds,
    )


async def transcribe(
    audio: bytes,
    filename: str,
    content_type: str,
    settings: Settings,
    *,
    language: str | None = None,
    client: httpx.AsyncClient | None = None,
) -> str:
    """The text of one spoken turn.

    Raises `SpeechToTextUnavailable` (501) without any transcriber, `UnsupportedAudio` (415),
    `PayloadTooLarge` (413), `EmptyTranscript` (422) when nothing was heard, `ProviderError` otherwise.
    """
    transcriber = transcriber_from_settings(settings, client)
    if transcriber is None:
        raise SpeechToTextUnavailable()
    return await transcriber.transcribe(
        audio, filename=filename, content_type=content_type, language=language
    )


def voice_input(settings: Settings, language: str | None) -> VoiceInput:
    """What a session of an avatar speaking `language` can offer: which engine hears it, or why none."""
    if settings.openai_key() is not None:
        return VoiceInput(available=True, engine="openai", reason=None)
    if not (settings.local_stt and local_stt.available()):
        return VoiceInput(available=False, engine=None, reason=NO_STT_REASON)
    if not local_stt.speaks(language):
        return VoiceInput(available=False, engine=None, reason=ENGLISH_ONLY_REASON)
    return VoiceInput(available=True, engine=local_stt.MODEL, reason=None)
