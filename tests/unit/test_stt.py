"""OpenAI transcription for audio turns, tested at the HTTP boundary with a mock transport."""

from typing import Any

import httpx
import pytest

from functions.core.errors import PayloadTooLarge, ProviderError
from functions.core.retry import RetryPolicy
from functions.core.settings import Settings
from functions.core.speech.stt import (
    MAX_AUDIO_BYTES,
    EmptyTranscript,
    LocalTranscriber,
    OpenAITranscriber,
    SpeechToTextUnavailable,
    UnsupportedAudio,
    VoiceInput,
    transcribe,
    transcriber_from_settings,
    voice_input,
)

KEY = "sk-test-not-a-real-key"
WEBM = b"\x1aE\xdf\xa3 a webm recording"


def text(value: str) -> httpx.Response:
    return httpx.Response(200, json={"text": value})


def openai_error(status: int, message: str, **headers: str) -> httpx.Response:
    body = {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": None}}
    return httpx.Response(status, json=body, headers=headers)


class Harness:
    def __init__(self, *responses: httpx.Response | Exception) -> None:
        self.responses = list(responses)
        self.requests: list[httpx.Request] = []
        self.sleeps: list[float] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        item = self.responses.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    @property
    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self.handle))

    def transcriber(self) -> OpenAITranscriber:
        return OpenAITranscriber(
            api_key=KEY,
            client=self.client,
            model="gpt-4o-mini-transcribe",
            policy=RetryPolicy(sleep=self.sleep),
        )


def settings(**values: Any) -> Settings:
    return Settings(app_mode="local", **values)


def form_fields(request: httpx.Request) -> dict[str, bytes]:
    """The parts of a multipart/form-data request body, by field name (parts' headers included)."""
    boundary = request.headers["content-type"].split("boundary=")[1].encode()
    parts: dict[str, bytes] = {}
    for part in request.content.split(b"--" + boundary)[1:-1]:
        head, _, value = part.strip(b"\r\n").partition(b"\r\n\r\n")
        name = head.split(b'name="')[1].split(b'"')[0].decode()
        parts[name] = head + b"\n\n" + value
    return parts


async def test_the_request_is_the_documented_multipart_upload() -> None:
    harness = Harness(text(" Hello there. "))

    result = await harness.transcriber().transcribe(
        WEBM, filename="blob", content_type="audio/webm;codecs=opus", language="en-US"
    )

    assert result == "Hello there."
    (request,) = harness.requests
    assert request.method == "POST"
    assert str(request.url) == "https://api.openai.com/v1/audio/transcriptions"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["content-type"].startswith("multipart/form-data; boundary=")
    fields = form_fields(request)
    assert fields["model"].endswith(b"\n\ngpt-4o-mini-transcribe")
    assert fields["response_format"].endswith(b"\n\njson")
    assert fields["language"].endswith(b"\n\nen")
    assert b'filename="audio.webm"' in fields["file"]
    assert b"Content-Type: audio/webm" in fields["file"]
    assert fields["file"].endswith(WEBM)


@pytest.mark.parametrize(
    ("content_type", "filename", "sent_as"),
    [
        ("audio/ogg; codecs=opus", "x", "audio.ogg"),
        ("audio/wav", "x", "audio.wav"),
        ("audio/x-wav", "x", "audio.wav"),
        ("audio/mp4", "x", "audio.mp4"),
        ("audio/mpeg", "x", "audio.mp3"),
        ("application/octet-stream", "turn.webm", "audio.webm"),
        ("", "turn.WAV", "audio.wav"),
    ],
)
async def test_browser_recordings_are_sent_with_the_extension_openai_reads(
    content_type: str, filename: str, sent_as: str
) -> None:
    harness = Harness(text("hi"))

    await harness.transcriber().transcribe(b"audio", filename=filename, content_type=content_type)

    assert f'filename="{sent_as}"'.encode() in form_fields(harness.requests[0])["file"]


@pytest.mark.parametrize(
    ("content_type", "filename"),
    [("text/plain", "notes.webm"), ("video/x-msvideo", "a.avi"), ("application/octet-stream", "a.exe")],
)
async def test_other_types_are_refused_with_415_before_any_call(content_type: str, filename: str) -> None:
    harness = Harness()

    with pytest.raises(UnsupportedAudio) as caught:
        await harness.transcriber().transcribe(b"audio", filename=filename, content_type=content_type)

    assert caught.value.status == 415
    assert "webm, ogg, wav" in caught.value.detail
    assert harness.requests == []


async def test_a_recording_over_the_limit_is_refused_with_413() -> None:
    harness = Harness()

    with pytest.raises(PayloadTooLarge):
        await harness.transcriber().transcribe(
            b"\0" * (MAX_AUDIO_BYTES + 1), filename="a.wav", content_type="audio/wav"
        )

    assert harness.requests == []


@pytest.mark.parametrize(("audio", "heard"), [(b"", None), (WEBM, "  "), (WEBM, "")])
async def test_nothing_heard_is_a_422_empty_transcript(audio: bytes, heard: str | None) -> None:
    harness = Harness(*([] if heard is None else [text(heard)]))

    with pytest.raises(EmptyTranscript) as caught:
        await harness.transcriber().transcribe(audio, filename="a.webm", content_type="audio/webm")

    assert (caught.value.status, caught.value.code) == (422, "empty_transcript")


async def test_busy_and_server_errors_are_retried_twice_honouring_retry_after() -> None:
    harness = Harness(
        openai_error(429, "Rate limit", **{"retry-after": "2"}), httpx.Response(502), text("ok")
    )

    assert await harness.transcriber().transcribe(WEBM, filename="a", content_type="audio/webm") == "ok"
    assert len(harness.requests) == 3
    assert harness.sleeps[0] == 2.0
    assert len(harness.sleeps) == 2


async def test_a_server_error_after_the_retries_keeps_status_and_body() -> None:
    harness = Harness(*[openai_error(503, f"The server had an error, key {KEY}") for _ in range(3)])

    with pytest.raises(ProviderError) as caught:
        await harness.transcriber().transcribe(WEBM, filename="a", content_type="audio/webm")

    error = caught.value
    assert (error.provider, error.provider_status, error.status, error.code) == (
        "openai",
        503,
        502,
        "provider_unavailable",
    )
    assert error.body["error"]["message"] == "The server had an error, key ***"
    assert KEY not in error.detail
    assert len(harness.requests) == 3


async def test_a_bad_key_is_not_retried() -> None:
    harness = Harness(openai_error(401, "Incorrect API key provided"))

    with pytest.raises(ProviderError, match="Incorrect API key") as caught:
        await harness.transcriber().transcribe(WEBM, filename="a", content_type="audio/webm")

    assert (caught.value.provider_status, caught.value.status) == (401, 502)
    assert len(harness.requests) == 1


async def test_a_timeout_is_retried_then_a_503() -> None:
    harness = Harness(*[httpx.ReadTimeout("slow") for _ in range(3)])

    with pytest.raises(ProviderError, match="timed out") as caught:
        await harness.transcriber().transcribe(WEBM, filename="a", content_type="audio/webm")

    assert (caught.value.status, caught.value.provider_status) == (503, None)
    assert len(harness.requests) == 3


async def test_an_answer_without_text_is_a_provider_error() -> None:
    harness = Harness(httpx.Response(200, json={"transcript": "?"}))

    with pytest.raises(ProviderError, match="without text"):
        await harness.transcriber().transcribe(WEBM, filename="a", content_type="audio/webm")


def test_no_key_means_local_whisper_unless_it_is_turned_off() -> None:
    local = transcriber_from_settings(settings())
    assert isinstance(local, LocalTranscriber)
    assert local.model == "whisper-tiny.en"
    assert transcriber_from_settings(settings(local_stt=False)) is None


def test_voice_input_names_the_engine_or_the_reason() -> None:
    assert voice_input(settings(openai_api_key=KEY), "fr") == VoiceInput(
        available=True, engine="openai", reason=None
    )
    # Only the engine in this process transcribes ahead of a turn: a provider would be paid twice.
    assert voice_input(settings(), "en-GB") == VoiceInput(
        available=True, engine="whisper-tiny.en", reason=None, ahead=True
    )
    assert not voice_input(settings(openai_api_key=KEY), "en").ahead
    french = voice_input(settings(), "fr")
    assert not french.available
    assert french.reason is not None
    assert "English only" in french.reason
    off = voice_input(settings(local_stt=False), "en")
    assert not off.available
    assert off.reason is not None
    assert "transcription key" in off.reason


async def test_transcribe_without_any_transcriber_answers_501_telling_to_type() -> None:
    with pytest.raises(SpeechToTextUnavailable) as caught:
        await transcribe(WEBM, "a.webm", "audio/webm", settings(local_stt=False))

    error = caught.value
    assert (error.status, error.code) == (501, "stt_unavailable")
    assert "type your message" in error.detail


async def test_transcribe_uses_the_configured_base_url_and_model() -> None:
    harness = Harness(text("Configured."))
    configured = settings(openai_api_key=KEY, openai_api_base="http://stt.test/v1/", stt_model="whisper-1")

    result = await transcribe(WEBM, "a.webm", "audio/webm", configured, client=harness.client)

    assert result == "Configured."
    request = harness.requests[0]
    assert str(request.url) == "http://stt.test/v1/audio/transcriptions"
    assert form_fields(request)["model"].endswith(b"\n\nwhisper-1")
