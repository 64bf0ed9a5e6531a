"""ElevenLabs streaming TTS and the speech service over it, tested at the HTTP boundary."""

import asyncio
import io
import json
import sys
import wave
from collections.abc import AsyncIterator, Iterable
from typing import Any

import httpx
import pytest

from functions.core.avatar_basics import Voice
from functions.core.errors import ProviderError
from functions.core.retry import RetryPolicy
from functions.core.settings import Settings
from functions.core.speech.elevenlabs import ElevenLabsTts, voice_settings
from functions.core.speech.tts import TtsUnavailable, synthesize

KEY = "xi-test-not-a-real-key"
VOICE = Voice(
    provider="elevenlabs",
    voice_id="21m00Tcm4TlvDq8ikWAM",
    settings={"stability": 0.4, "similarity_boost": 0.8, "style": 0.1, "speed": 1.1, "pitch": 3},
)


class Chunks(httpx.AsyncByteStream):
    """A response body in the given pieces; waits for `gate` before the second; may fail after the last."""

    def __init__(
        self, parts: Iterable[bytes], *, gate: asyncio.Event | None = None, fail: Exception | None = None
    ) -> None:
        self.parts = list(parts)
        self.gate = gate
        self.fail = fail

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for index, part in enumerate(self.parts):
            if index == 1 and self.gate is not None:
                await self.gate.wait()
            yield part
        if self.fail is not None:
            raise self.fail


def audio(*parts: bytes, content_type: str = "application/octet-stream", **kwargs: Any) -> httpx.Response:
    return httpx.Response(200, headers={"content-type": content_type}, stream=Chunks(parts, **kwargs))


def problem(status: int, message: str, reason: str = "error", **headers: str) -> httpx.Response:
    return httpx.Response(status, json={"detail": {"status": reason, "message": message}}, headers=headers)


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

    def tts(self, attempts: int = 3, **kwargs: Any) -> ElevenLabsTts:
        policy = RetryPolicy(attempts=attempts, sleep=self.sleep)
        return ElevenLabsTts(
            api_key=KEY, client=self.client, model="eleven_flash_v2_5", policy=policy, **kwargs
        )


async def speak(tts: ElevenLabsTts, voice: Voice = VOICE, output_format: Any = "pcm_16000") -> bytes:
    assert voice.voice_id is not None
    stream = tts.stream(
        "Hello there.", voice_id=voice.voice_id, output_format=output_format, settings=voice.settings
    )
    return b"".join([chunk async for chunk in stream])


async def test_the_request_has_the_documented_url_key_query_and_body() -> None:
    harness = Harness(audio(b"\x01\x00"))

    await speak(harness.tts(), output_format="pcm_24000")

    (request,) = harness.requests
    assert request.method == "POST"
    assert request.url.path == "/v1/text-to-speech/21m00Tcm4TlvDq8ikWAM/stream"
    assert request.url.host == "api.elevenlabs.io"
    assert dict(request.url.params) == {"output_format": "pcm_24000"}
    assert request.headers["xi-api-key"] == KEY
    assert "authorization" not in request.headers
    assert json.loads(request.content) == {
        "text": "Hello there.",
        "model_id": "eleven_flash_v2_5",
        "voice_settings": {"stability": 0.4, "similarity_boost": 0.8, "style": 0.1, "speed": 1.1},
    }


async def test_the_voice_may_choose_its_model_and_leaves_out_unset_voice_settings() -> None:
    harness = Harness(audio(b""))
    voice = Voice(provider="elevenlabs", voice_id="v/1", settings={"model_id": "eleven_multilingual_v2"})

    await speak(harness.tts(base_url="http://fake.test/"), voice)

    request = harness.requests[0]
    assert request.url.raw_path.startswith(b"/v1/text-to-speech/v%2F1/stream")
    assert json.loads(request.content) == {"text": "Hello there.", "model_id": "eleven_multilingual_v2"}


def test_only_voice_settings_of_the_right_type_are_sent() -> None:
    given = {"stability": True, "similarity_boost": "high", "style": 0, "use_speaker_boost": False, "x": 1}
    assert voice_settings(given) == {"style": 0, "use_speaker_boost": False}


async def test_audio_is_yielded_as_it_arrives_not_when_the_response_ends() -> None:
    gate = asyncio.Event()
    harness = Harness(audio(b"first", b"second", gate=gate))
    assert VOICE.voice_id is not None
    stream = harness.tts().stream("Hi.", voice_id=VOICE.voice_id, output_format="mp3_44100_128")

    first = await asyncio.wait_for(anext(stream), timeout=5)
    gate.set()
    rest = [chunk async for chunk in stream]

    assert first == b"first"
    assert rest == [b"second"]


async def test_a_bad_key_is_a_provider_error_keeping_status_and_body_without_retry() -> None:
    harness = Harness(problem(401, "Invalid API key", "invalid_api_key"))

    with pytest.raises(ProviderError) as caught:
        await speak(harness.tts())

    error = caught.value
    assert (error.provider, error.provider_status, error.status, error.code) == (
        "elevenlabs",
        401,
        502,
        "provider_error",
    )
    assert error.body == {"detail": {"status": "invalid_api_key", "message": "Invalid API key"}}
    assert "Invalid API key" in error.detail
    assert not error.retryable
    assert len(harness.requests) == 1


async def test_busy_is_retried_once_after_retry_after_then_succeeds() -> None:
    harness = Harness(problem(429, "too many concurrent requests", **{"retry-after": "1"}), audio(b"ok"))

    assert await speak(harness.tts()) == b"ok"
    assert len(harness.requests) == 2
    assert harness.sleeps == [1.0]


async def test_a_retry_after_longer_than_the_cap_answers_429_provider_busy_at_once() -> None:
    harness = Harness(problem(429, "busy"), problem(429, "still busy", **{"retry-after": "120"}))

    with pytest.raises(ProviderError) as caught:
        await speak(harness.tts())

    assert (caught.value.status, caught.value.code, caught.value.provider_status) == (
        429,
        "provider_busy",
        429,
    )
    assert caught.value.retryable
    assert caught.value.headers["Retry-After"] == "120"
    assert len(harness.sleeps) == 1


async def test_a_server_error_is_retried_and_then_kept_with_its_body() -> None:
    harness = Harness(
        httpx.Response(502, text="upstream exploded"), httpx.Response(503, text=f"down, key {KEY}")
    )

    with pytest.raises(ProviderError) as caught:
        await speak(harness.tts(attempts=2))

    error = caught.value
    assert (error.status, error.code, error.provider_status) == (502, "provider_unavailable", 503)
    assert error.body == "down, key ***"
    assert KEY not in error.detail
    assert len(harness.requests) == 2


async def test_a_timeout_is_retried_then_a_503_provider_error() -> None:
    harness = Harness(*[httpx.ReadTimeout("slow") for _ in range(3)])

    with pytest.raises(ProviderError) as caught:
        await speak(harness.tts())

    assert (caught.value.status, caught.value.provider_status) == (503, None)
    assert "timed out" in caught.value.detail
    assert len(harness.requests) == 3


async def test_a_refused_connection_is_retried() -> None:
    harness = Harness(httpx.ConnectError("refused"), audio(b"ok"))
    assert await speak(harness.tts()) == b"ok"


async def test_a_failure_after_audio_was_yielded_is_not_retried() -> None:
    harness = Harness(audio(b"part", fail=httpx.ReadError("reset")))
    assert VOICE.voice_id is not None
    stream = harness.tts().stream("Hi.", voice_id=VOICE.voice_id, output_format="pcm_16000")
    received = [await anext(stream)]

    with pytest.raises(ProviderError, match="transport failure"):
        await anext(stream)

    assert received == [b"part"]
    assert len(harness.requests) == 1


# The speech service over ElevenLabs ---------------------------------------------------------------------


def cloud_settings(**values: Any) -> Settings:
    return Settings(
        app_mode="cloud",
        database_url="postgresql://unused@localhost/db",
        supabase_jwt_secret="a-test-secret-that-is-long-enough-for-cloud",
        **values,
    )


async def collect(chunks: AsyncIterator[bytes]) -> list[bytes]:
    return [chunk async for chunk in chunks]


async def test_pcm_comes_straight_from_the_same_rate_cut_at_whole_samples() -> None:
    harness = Harness(audio(b"\x01", b"\x02\x03", b"\x04\x05\x06"))
    settings = cloud_settings(elevenlabs_api_key=KEY, elevenlabs_api_base="http://fake.test")

    speech = await synthesize(VOICE, "Hello.", "pcm16_16000", settings, client=harness.client)
    chunks = await collect(speech.chunks)

    assert harness.requests[0].url.params["output_format"] == "pcm_16000"
    assert speech.media_type == "audio/pcm;rate=16000"
    assert speech.headers["X-Sample-Rate"] == "16000"
    assert speech.headers["X-TTS-Engine"] == "elevenlabs"
    assert b"".join(chunks) == b"\x01\x02\x03\x04\x05\x06"
    assert all(len(chunk) % 2 == 0 for chunk in chunks)


async def test_wav_is_a_streaming_header_and_the_24khz_pcm() -> None:
    pcm = bytes(range(200))
    harness = Harness(audio(pcm[:77], pcm[77:]))
    settings = cloud_settings(elevenlabs_api_key=KEY)

    speech = await synthesize(VOICE, "Hello.", "wav", settings, client=harness.client)
    body = b"".join(await collect(speech.chunks))

    assert harness.requests[0].url.params["output_format"] == "pcm_24000"
    assert speech.media_type == "audio/wav"
    assert body[4:8] == b"\xff\xff\xff\xff"
    with wave.open(io.BytesIO(body)) as reader:
        assert (reader.getframerate(), reader.getnchannels(), reader.getsampwidth()) == (24000, 1, 2)
        assert reader.readframes(1000) == pcm


async def test_mp3_is_passed_through_from_elevenlabs() -> None:
    harness = Harness(audio(b"\xff\xfbmp3", b"frames", content_type="audio/mpeg"))
    settings = cloud_settings(elevenlabs_api_key=KEY)

    speech = await synthesize(VOICE, "Hello.", "mp3", settings, client=harness.client)

    assert harness.requests[0].url.params["output_format"] == "mp3_44100_128"
    assert speech.media_type == "audio/mpeg"
    assert await collect(speech.chunks) == [b"\xff\xfbmp3", b"frames"]


async def test_a_failure_before_any_audio_is_raised_by_synthesize_itself() -> None:
    harness = Harness(problem(401, "Invalid API key"))
    settings = cloud_settings(elevenlabs_api_key=KEY)

    with pytest.raises(ProviderError) as caught:
        await synthesize(VOICE, "Hello.", "pcm16_24000", settings, client=harness.client)

    assert caught.value.provider_status == 401


async def test_the_cloud_path_needs_neither_numpy_nor_piper(monkeypatch: pytest.MonkeyPatch) -> None:
    for module in ("numpy", "piper", "lameenc"):
        monkeypatch.setitem(sys.modules, module, None)
    for module in ("functions.core.speech.audio", "functions.core.speech.piper_tts"):
        monkeypatch.delitem(sys.modules, module, raising=False)
    harness = Harness(audio(b"\x01\x00\x02\x00"), audio(b"mp3"))
    settings = cloud_settings(elevenlabs_api_key=KEY)

    pcm = await synthesize(VOICE, "Hello.", "pcm16_24000", settings, client=harness.client)
    mp3 = await synthesize(VOICE, "Hello.", "mp3", settings, client=harness.client)

    assert await collect(pcm.chunks) == [b"\x01\x00\x02\x00"]
    assert await collect(mp3.chunks) == [b"mp3"]


@pytest.mark.parametrize(
    ("values", "voice", "says"),
    [
        ({}, VOICE, "set ELEVENLABS_API_KEY"),
        ({"elevenlabs_api_key": KEY}, Voice(), "has no ElevenLabs voice"),
    ],
)
async def test_the_cloud_without_an_elevenlabs_voice_answers_503(
    values: dict[str, Any], voice: Voice, says: str
) -> None:
    harness = Harness()

    with pytest.raises(TtsUnavailable, match=says) as caught:
        await synthesize(voice, "Hello.", "mp3", cloud_settings(**values), client=harness.client)

    assert caught.value.status == 503
    assert harness.requests == []
