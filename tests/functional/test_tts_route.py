"""POST /v1/tts through real HTTP: Piper offline, ElevenLabs when configured, sessions checked through RLS."""

import io
import itertools
import json
import subprocess
import sys
import threading
import wave
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from functions.core.api import deps
from functions.core.rate_limits import RATE_WINDOW_SECONDS
from functions.core.settings import get_settings
from functions.core.speech.audio import rms_level
from functions.core.speech.piper_tts import LocalTts
from functions.core.speech.tts import ELEVENLABS_PIECE_CHARS
from tests.conftest import User
from tests.functional.support import Api, assert_problem

TEXT = "Hello from the studio."
ELEVENLABS_VOICE = {
    "provider": "elevenlabs",
    "voice_id": "voice-abc",
    "settings": {"stability": 0.4, "similarity_boost": 0.75, "style": 0.2, "speed": 1.1},
}
# MPEG-2 layer III (what LAME writes at Piper's 22050 Hz): kbit/s by bitrate index, Hz by rate index.
_MPEG2_L3_KBPS = (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)
_MPEG2_RATES = (22050, 24000, 16000)


def session_for(api: Api, user: User, **avatar: Any) -> str:
    avatar_id = api.create_avatar(user, **avatar)["id"]
    session_id: str = api.start_session(user, avatar_id)["session_id"]
    return session_id


def tts(client: httpx.Client, user: User, session_id: str, fmt: str, text: str = TEXT) -> httpx.Response:
    return client.post(
        "/v1/tts", json={"session_id": session_id, "text": text, "format": fmt}, headers=user.headers
    )


def mp3_frames(data: bytes) -> list[int]:
    """The sizes of the MPEG audio frames `data` consists of; each must start with a sync word."""
    sizes, position = [], 0
    while position < len(data):
        header = int.from_bytes(data[position : position + 4], "big")
        assert header >> 21 == 0x7FF, f"no frame sync at byte {position}"
        assert (header >> 19) & 3 == 2, "not MPEG-2"
        assert (header >> 17) & 3 == 1, "not layer III"
        kbps = _MPEG2_L3_KBPS[(header >> 12) & 15]
        rate = _MPEG2_RATES[(header >> 10) & 3]
        size = 72_000 * kbps // rate + ((header >> 9) & 1)
        sizes.append(size)
        position += size
    assert position == len(data), "the last frame is cut short"
    return sizes


@pytest.mark.parametrize(("fmt", "rate"), [("pcm16_16000", 16000), ("pcm16_24000", 24000)])
def test_piper_pcm_is_headerless_pcm16_at_the_asked_rate(
    client: httpx.Client, api: Api, owner: User, fmt: str, rate: int
) -> None:
    response = tts(client, owner, session_for(api, owner), fmt)

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == f"audio/pcm;rate={rate}"
    assert response.headers["x-sample-rate"] == str(rate)
    assert response.headers["x-tts-engine"] == "piper"
    pcm = response.content
    assert len(pcm) % 2 == 0
    assert not pcm.startswith(b"RIFF")
    assert 0.6 < len(pcm) / 2 / rate < 3.0
    assert rms_level(pcm) > 0.03


def test_piper_wav_has_a_streaming_header_the_wave_module_reads(
    client: httpx.Client, api: Api, owner: User
) -> None:
    response = tts(client, owner, session_for(api, owner), "wav")

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "audio/wav"
    body = response.content
    assert body[:4] == b"RIFF"
    assert body[8:16] == b"WAVEfmt "
    assert body[36:44] == b"data\xff\xff\xff\xff"
    with wave.open(io.BytesIO(body)) as reader:
        assert (reader.getnchannels(), reader.getsampwidth(), reader.getframerate()) == (1, 2, 22050)
        pcm = reader.readframes(10 * 22050)
    assert pcm == body[44:]
    assert 0.6 < len(pcm) / 2 / 22050 < 3.0
    assert rms_level(pcm) > 0.03


def test_piper_mp3_is_whole_mpeg_frames(client: httpx.Client, api: Api, owner: User) -> None:
    response = tts(client, owner, session_for(api, owner), "mp3")

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "audio/mpeg"
    assert response.headers["x-sample-rate"] == "22050"
    frames = mp3_frames(response.content)
    # An MPEG-2 layer III frame holds 576 samples: 0.6-3 s of speech at 22050 Hz is 23-115 frames.
    assert 23 <= len(frames) <= 125


def test_the_first_sentence_is_sent_before_the_next_is_synthesized(
    client: httpx.Client, api: Api, owner: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    synthesized: list[bool] = []
    release = threading.Event()
    next_sentence = LocalTts._next_sentence

    def gated(self: LocalTts, sentences: Any, sample_rate: int) -> bytes | None:
        if synthesized:
            release.wait(timeout=10)
        pcm = next_sentence(self, sentences, sample_rate)
        synthesized.append(pcm is not None)
        return pcm

    monkeypatch.setattr(LocalTts, "_next_sentence", gated)
    session_id = session_for(api, owner)
    body = {
        "session_id": session_id,
        "text": "One sentence. Another one. A third one.",
        "format": "pcm16_16000",
    }

    try:
        with client.stream("POST", "/v1/tts", json=body, headers=owner.headers) as response:
            assert response.status_code == 200
            chunks = response.iter_raw()
            first = next(chunks)
            sentences_when_first_arrived = synthesized.count(True)
            release.set()
            rest = b"".join(chunks)
    finally:
        release.set()

    assert first
    assert sentences_when_first_arrived == 1
    assert synthesized.count(True) == 3
    assert len(first + rest) % 2 == 0


def test_another_users_session_is_not_found(
    client: httpx.Client, api: Api, owner: User, stranger: User
) -> None:
    response = tts(client, stranger, session_for(api, owner), "wav")
    assert_problem(response, 404, "not_found")


def test_an_ended_session_answers_409(client: httpx.Client, api: Api, owner: User) -> None:
    session_id = session_for(api, owner)
    api.end_session(owner, session_id)

    assert_problem(tts(client, owner, session_id, "wav"), 409, "session_ended")


@pytest.mark.parametrize(
    "body",
    [
        {"text": "", "format": "wav"},
        {"text": "  \n ", "format": "wav"},
        {"text": "**[1]** `` | ---", "format": "wav"},
        {"text": "x" * 5001, "format": "wav"},
        {"text": "Hi.", "format": "flac"},
        {"text": "Hi."},
    ],
)
def test_bad_requests_answer_422(client: httpx.Client, api: Api, owner: User, body: dict[str, str]) -> None:
    response = client.post(
        "/v1/tts", json={"session_id": session_for(api, owner), **body}, headers=owner.headers
    )
    assert_problem(response, 422, "invalid_request")


def test_speech_needs_a_token(client: httpx.Client) -> None:
    response = client.post(
        "/v1/tts", json={"session_id": "00000000-0000-0000-0000-000000000000", "text": "Hi.", "format": "wav"}
    )
    assert_problem(response, 401)


# ElevenLabs ----------------------------------------------------------------------------------------------


@dataclass
class FakeElevenLabs:
    """A tiny ElevenLabs on a real port (the app runs in uvicorn's thread, so it cannot take a mock)."""

    url: str
    status: int = 200
    body: bytes = b""
    requests: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
def elevenlabs() -> Iterator[FakeElevenLabs]:
    fake = FakeElevenLabs(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["content-length"])
            fake.requests.append(
                {
                    "path": self.path,
                    "headers": dict(self.headers),
                    "json": json.loads(self.rfile.read(length)),
                }
            )
            self.send_response(fake.status)
            content_type = "application/octet-stream" if fake.status == 200 else "application/json"
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(fake.body)))
            self.end_headers()
            self.wfile.write(fake.body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("ELEVENLABS_API_KEY", "xi-functional-test-key")
        env.setenv("ELEVENLABS_API_BASE", fake.url)
        env.setenv("ELEVENLABS_MODEL", "eleven_flash_v2_5")
        get_settings.cache_clear()
        yield fake
    get_settings.cache_clear()
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_elevenlabs_speaks_when_configured_for_an_elevenlabs_voice(
    client: httpx.Client, api: Api, owner: User, elevenlabs: FakeElevenLabs
) -> None:
    elevenlabs.body = bytes(range(256)) * 40
    session_id = session_for(api, owner, voice=ELEVENLABS_VOICE)

    response = tts(client, owner, session_id, "pcm16_24000")

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "audio/pcm;rate=24000"
    assert response.headers["x-tts-engine"] == "elevenlabs"
    assert response.content == elevenlabs.body
    (request,) = elevenlabs.requests
    assert request["path"] == "/v1/text-to-speech/voice-abc/stream?output_format=pcm_24000"
    assert request["headers"]["xi-api-key"] == "xi-functional-test-key"
    assert request["json"] == {
        "text": TEXT,
        "model_id": "eleven_flash_v2_5",
        "voice_settings": ELEVENLABS_VOICE["settings"],
    }


def test_markup_a_client_sends_is_never_read_out(
    client: httpx.Client, api: Api, owner: User, elevenlabs: FakeElevenLabs
) -> None:
    elevenlabs.body = bytes(range(256)) * 4
    session_id = session_for(api, owner, voice=ELEVENLABS_VOICE)

    response = tts(client, owner, session_id, "pcm16_24000", "**Hello** from `the studio` [3].")

    assert response.status_code == 200, response.text
    (request,) = elevenlabs.requests
    assert request["json"]["text"] == "Hello from the studio."


def test_a_local_voice_still_speaks_with_piper_when_elevenlabs_is_configured(
    client: httpx.Client, api: Api, owner: User, elevenlabs: FakeElevenLabs
) -> None:
    response = tts(client, owner, session_for(api, owner), "pcm16_16000")

    assert response.status_code == 200, response.text
    assert response.headers["x-tts-engine"] == "piper"
    assert elevenlabs.requests == []


def test_an_elevenlabs_refusal_is_a_problem_json_naming_the_provider(
    client: httpx.Client, api: Api, owner: User, elevenlabs: FakeElevenLabs
) -> None:
    elevenlabs.status = 401
    elevenlabs.body = json.dumps(
        {"detail": {"status": "invalid_api_key", "message": "Invalid API key"}}
    ).encode()
    session_id = session_for(api, owner, voice=ELEVENLABS_VOICE)

    body = assert_problem(tts(client, owner, session_id, "mp3"), 502, "provider_error")

    assert body["provider"] == "elevenlabs"
    assert "Invalid API key" in body["detail"]
    assert "xi-functional-test-key" not in json.dumps(body)


def test_a_long_unpunctuated_text_goes_to_elevenlabs_in_bounded_pieces_with_their_context(
    client: httpx.Client, api: Api, owner: User, elevenlabs: FakeElevenLabs
) -> None:
    # previous_text / next_text: "Stream speech" request body,
    # https://elevenlabs.io/docs/api-reference/text-to-speech/stream
    elevenlabs.body = b"\x01\x02" * 100
    text = " ".join(["many", "words", "with", "no", "stop"] * 200)  # 1,000 words, 4,799 characters
    session_id = session_for(api, owner, voice=ELEVENLABS_VOICE)

    response = tts(client, owner, session_id, "pcm16_24000", text)

    assert response.status_code == 200, response.text
    sent = [request["json"] for request in elevenlabs.requests]
    assert len(sent) == 5
    assert all(len(body["text"]) <= ELEVENLABS_PIECE_CHARS for body in sent)
    assert " ".join(body["text"] for body in sent) == text
    assert "previous_text" not in sent[0]
    assert "next_text" not in sent[-1]
    for before, after in itertools.pairwise(sent):
        assert before["next_text"] == after["text"]
        assert after["previous_text"] == before["text"]
    assert response.content == elevenlabs.body * 5


def test_speech_is_rate_limited_per_session(
    client: httpx.Client, api: Api, owner: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Windows are reckoned on the app's clock, set here 10 s into a minute: the third request of the
    minute is refused until the next one starts, and another session keeps its own count."""
    now = [1_800_000_010.0]
    monkeypatch.setattr(deps, "wall_clock", lambda: now[0])
    monkeypatch.setenv("TTS_REQUESTS_PER_SESSION_PER_MINUTE", "2")
    get_settings.cache_clear()
    try:
        session_id, other_session = session_for(api, owner), session_for(api, owner)
        answers = [tts(client, owner, session_id, "pcm16_16000", "Hi.") for _ in range(3)]
        other = tts(client, owner, other_session, "pcm16_16000", "Hi.")
        now[0] += RATE_WINDOW_SECONDS - 10
        next_minute = tts(client, owner, session_id, "pcm16_16000", "Hi.")
    finally:
        get_settings.cache_clear()

    assert [answer.status_code for answer in answers[:2]] == [200, 200]
    assert_problem(answers[2], 429, "rate_limited")
    assert answers[2].headers["retry-after"] == str(RATE_WINDOW_SECONDS - 10)
    assert other.status_code == 200, other.text
    assert next_minute.status_code == 200, next_minute.text


def test_memory_of_one_long_unpunctuated_request_is_bounded_and_released() -> None:
    """Before texts were cut into pieces, 100 such words grew the server by 560 MB and 1,000 by 17 GB,
    never given back. bench/tts_memory.py runs the request in a fresh interpreter and reads /proc."""
    done = subprocess.run(
        [sys.executable, "bench/tts_memory.py", "--child", "250"],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
        timeout=600,
    )
    measured = json.loads(done.stdout.strip().splitlines()[-1])

    assert measured["speech_s"] > 60  # all 250 words were spoken
    assert measured["growth_mib"] < 300, measured
    assert measured["after_mib"] - measured["before_mib"] < 100, measured
