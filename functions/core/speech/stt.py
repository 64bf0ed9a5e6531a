"""Speech to text for audio turns: OpenAI's `POST /audio/transcriptions`, else Whisper on this machine."""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import PurePath
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel

from functions.core.errors import AppError, PayloadTooLarge, ProviderError
from functions.core.http_client import ProviderClient, app_clients
from functions.core.provider_errors import BODY_LIMIT
from functions.core.retry import INTERACTIVE, RetryPolicy
from functions.core.settings import Settings
from functions.core.speech import local_stt

if TYPE_CHECKING:
    import httpx

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
    """Whether the web client may offer voice input for an avatar, with the reason when it may not, and
    whether a recording may be transcribed ahead of its turn (the engine runs in this server's process,
    which keeps the text for the turn; a provider would be paid twice)."""

    available: bool
    engine: str | None
    reason: str | None
    ahead: bool = False


def _check_upload(audio: bytes, content_type: str, filename: str) -> str:
    extension = audio_extension(content_type, filename)
    if len(audio) > MAX_AUDIO_BYTES:
        raise PayloadTooLarge(f"the recording is larger than {MAX_AUDIO_BYTES // (1024 * 1024)} MiB")
    if not audio:
        raise EmptyTranscript("The recording is empty; please try again.")
    return extension


# Recordings transcribed lately, by the SHA-256 of their bytes: the same recording sent again (a turn
# whose recording was transcribed ahead, while the visitor's silence was still being timed) takes the
# text, or waits for the transcription under way, instead of transcribing it twice. A few suffice: one
# recording is ahead of its turn by a fraction of a second.
RECENT_RECORDINGS = 16
_recent: OrderedDict[bytes, Future[str]] = OrderedDict()
_recent_lock = threading.Lock()
# One worker: transcriptions take the model's lock one at a time anyway. A transcription runs to its end
# even when the request that started it goes away, for the turn that may be waiting on it.
_worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="local-stt")


def _forget_failure(digest: bytes, job: Future[str]) -> None:
    if job.exception() is not None:
        with _recent_lock:
            if _recent.get(digest) is job:
                del _recent[digest]


async def transcribed_locally(audio: bytes) -> str:
    """`local_stt.transcribe_bytes(audio)`, done once for the same bytes however many ask."""
    digest = hashlib.sha256(audio).digest()
    with _recent_lock:
        job = _recent.get(digest)
        if job is None:
            job = _worker.submit(local_stt.transcribe_bytes, audio)
            _recent[digest] = job
            while len(_recent) > RECENT_RECORDINGS:
                _recent.popitem(last=False)
            job.add_done_callback(lambda done: _forget_failure(digest, done))
    # Shielded: a request that goes away does not cancel the transcription another may be waiting for.
    return await asyncio.shield(asyncio.wrap_future(job))


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
        text = await transcribed_locally(audio)
        if not text:
            raise EmptyTranscript()
        return text


class OpenAITranscriber:
    """Transcribes one recording with an OpenAI transcription model (`response_format: json`).

    Sent through `ProviderClient` as an idempotent request (the one retry policy); failures raise
    `ProviderError("openai", ...)` with the status and body, a timeout with status None (503).
    """

    def __init__(
        self,
        *,
        api_key: str,
        client: httpx.AsyncClient,
        base_url: str = "https://api.openai.com/v1",
        model: str = "gpt-4o-mini-transcribe",
        timeout_s: float = 30,
        policy: RetryPolicy = INTERACTIVE,
    ) -> None:
        self._api_key = api_key
        self._url = base_url.rstrip("/") + "/audio/transcriptions"
        self.model = model
        self._http = ProviderClient(PROVIDER, client, secrets=[api_key], timeout=timeout_s, policy=policy)

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
        headers = {"Authorization": f"Bearer {self._api_key}"}
        response = await self._http.request(
            "POST", self._url, idempotent=True, files=files, data=data, headers=headers
        )
        return self._text(response)

    def _text(self, response: httpx.Response) -> str:
        try:
            body = response.json()
        except ValueError:
            body = None
        text = body.get("text") if isinstance(body, dict) else None
        if not isinstance(text, str):
            raw = self._http.redact(response.text)[:BODY_LIMIT]
            raise ProviderError(PROVIDER, "transcription without text", status=response.status_code, body=raw)
        return text


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
        client=client or app_clients().client("stt"),
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
    return VoiceInput(available=True, engine=local_stt.MODEL, reason=None, ahead=True)
