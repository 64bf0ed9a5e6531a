"""Offline voice input: Piper says known sentences, Whisper tiny.en (faster-whisper, the `local` extra)
writes them down, on this machine and through an audio turn over real HTTP."""

import asyncio
import io
import re
import wave
from typing import Any

import httpx
import pytest

from functions.core.errors import AppError
from functions.core.settings import Settings
from functions.core.speech import local_stt
from functions.core.speech.audio import resample_pcm16
from functions.core.speech.piper_tts import LocalTts
from functions.core.speech.stt import LocalTranscriber, SpeechToTextUnavailable, transcribe
from tests.conftest import User
from tests.functional.support import Api, assert_problem
from tests.functional.turns_support import Admin, add_knowledge, parse_sse

# Known sentences with their words, as a visitor might ask them.
SENTENCES = [
    "Are you open on Sunday?",
    "How long does delivery take to Rotterdam?",
    "Can I return a jacket that does not fit?",
    "Please tell me about the warranty for the battery.",
]
MAX_WORD_ERROR_RATE = 0.15
_WORD = re.compile(r"[a-z0-9']+")


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def word_error_rate(reference: list[str], hypothesis: list[str]) -> float:
    """Levenshtein distance over words, divided by the reference's length."""
    previous = list(range(len(hypothesis) + 1))
    for i, ref in enumerate(reference, start=1):
        current = [i]
        for j, hyp in enumerate(hypothesis, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref != hyp)))
        previous = current
    return previous[-1] / max(1, len(reference))


def spoken_wav(text: str) -> bytes:
    """Piper's voice saying `text`, as the WAV file a browser could upload."""
    tts = LocalTts.load()

    async def pcm() -> bytes:
        return b"".join([chunk async for chunk in tts.stream(text, sample_rate=16000)])

    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(16000)
        wav.writeframes(asyncio.run(pcm()))
    return out.getvalue()


@pytest.fixture(scope="module")
def recordings() -> dict[str, bytes]:
    return {sentence: spoken_wav(sentence) for sentence in SENTENCES}


def test_piper_sentences_come_back_as_their_words(recordings: dict[str, bytes]) -> None:
    transcriber = LocalTranscriber()
    errors = []
    for sentence, audio in recordings.items():
        heard = asyncio.run(transcriber.transcribe(audio, filename="q.wav", content_type="audio/wav"))
        errors.append(word_error_rate(words(sentence), words(heard)))
    assert sum(errors) / len(errors) <= MAX_WORD_ERROR_RATE, list(zip(SENTENCES, errors, strict=True))


def test_a_recording_longer_than_the_short_window_is_read_in_whole_windows() -> None:
    # Eight different sentences: the same four said twice made a text whose repeats Whisper's loop check
    # could take for a decoding loop, depending on where Piper's timing put the window's end.
    text = " ".join(
        [
            *SENTENCES,
            "My parcel arrived with a broken handle.",
            "Could you send a new one before Friday?",
            "I would also like a gift receipt for it.",
            "Thank you for your help today.",
        ]
    )
    audio = spoken_wav(text)
    with wave.open(io.BytesIO(audio)) as recording:
        assert recording.getnframes() / recording.getframerate() > local_stt.SHORT_WINDOW_S
    heard = asyncio.run(LocalTranscriber().transcribe(audio, filename="q.wav", content_type="audio/wav"))
    assert word_error_rate(words(text), words(heard)) <= MAX_WORD_ERROR_RATE, heard


def test_a_16_khz_mono_wav_is_read_as_it_is_and_other_audio_through_pyav(
    recordings: dict[str, bytes],
) -> None:
    """What the web client sends needs no decoding, and gives Whisper the samples PyAV would; a WAV at
    another rate or with two channels is still decoded (and resampled) by PyAV into the same speech."""
    import numpy as np
    from faster_whisper.audio import decode_audio

    audio = recordings[SENTENCES[1]]
    taken = local_stt.whisper_wav(audio)
    assert taken is not None
    assert np.array_equal(taken, decode_audio(io.BytesIO(audio), sampling_rate=16000))
    with wave.open(io.BytesIO(audio)) as recording:
        pcm = np.frombuffer(recording.readframes(recording.getnframes()), dtype="<i2")
    faster = np.frombuffer(resample_pcm16(pcm.tobytes(), 16000, 24000), dtype="<i2")
    decoded = {}
    for rate, channels, samples in ((24000, 1, faster), (16000, 2, np.repeat(pcm, 2))):
        other = io.BytesIO()
        with wave.open(other, "wb") as wav:
            wav.setnchannels(channels)
            wav.setsampwidth(2)
            wav.setframerate(rate)
            wav.writeframes(samples.tobytes())
        assert local_stt.whisper_wav(other.getvalue()) is None
        decoded[rate, channels] = other.getvalue()
    # Two equal channels are the mono samples again, so Whisper (greedy, deterministic) hears the same.
    transcriber = LocalTranscriber()
    mono = asyncio.run(transcriber.transcribe(audio, filename="q.wav", content_type="audio/wav"))
    stereo = decoded[16000, 2]
    assert asyncio.run(transcriber.transcribe(stereo, filename="q.wav", content_type="audio/wav")) == mono
    # The 24 kHz copy comes back to 16 kHz as the same waveform, within the two resamplers' filtering.
    back = decode_audio(io.BytesIO(decoded[24000, 1]), sampling_rate=16000)
    length = min(len(back), len(taken))
    assert abs(len(back) - len(taken)) <= 16000 // 100
    assert np.corrcoef(back[:length], taken[:length])[0, 1] > 0.999


def test_a_question_heard_twice_in_a_row_is_kept_once_and_other_words_as_they_were() -> None:
    # Heard by the 10 s window's greedy decoding in bench/voice_e2e.py, the question again after it.
    assert local_stt.without_repeats("Where can I leave my car? Where can I leave my car?") == (
        "Where can I leave my car?"
    )
    assert local_stt.without_repeats("Is it open? Is it open") == "Is it open?"
    for heard in (
        "Is it open? Is it open on Sunday?",
        "Call me at 5 p.m. today. Thanks.",
        "what is the wifi",
        "",
    ):
        assert local_stt.without_repeats(heard) == heard


def test_words_that_loop_are_told_from_a_question() -> None:
    # Heard once by the 10 s window's greedy decoding in bench/voice_e2e.py; read again in 30 s windows.
    assert local_stt.loops(" ".join(["Where can I leave my car?"] * 32))
    for sentence in SENTENCES:
        assert not local_stt.loops(sentence)
    assert not local_stt.loops("I left my umbrella behind last week. Do you still have it?")


def test_silence_is_nothing_heard_and_noise_is_not_audio() -> None:
    silence = io.BytesIO()
    with wave.open(silence, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(16000)
        wav.writeframes(b"\0\0" * 16000)
    transcriber = LocalTranscriber()
    for audio, code in (
        (silence.getvalue(), "empty_transcript"),
        (b"not a recording" * 100, "undecodable_audio"),
    ):
        with pytest.raises(AppError) as caught:
            asyncio.run(transcriber.transcribe(audio, filename="q.wav", content_type="audio/wav"))
        assert (caught.value.status, caught.value.code) == (422, code)


def test_another_language_is_refused_with_the_reason(recordings: dict[str, bytes]) -> None:
    with pytest.raises(SpeechToTextUnavailable, match="English only"):
        asyncio.run(
            LocalTranscriber().transcribe(
                recordings[SENTENCES[0]], filename="q.wav", content_type="audio/wav", language="de-DE"
            )
        )
    settings = Settings(app_mode="local")
    heard = asyncio.run(transcribe(recordings[SENTENCES[0]], "q.wav", "audio/wav", settings))
    assert words(heard) == words(SENTENCES[0])


def test_an_audio_turn_is_transcribed_locally_and_answered(
    client: httpx.Client, api: Api, admin: Admin, owner: User, recordings: dict[str, bytes]
) -> None:
    avatar = api.create_avatar(owner)
    add_knowledge(
        admin,
        avatar["id"],
        "Opening hours",
        [(["Hours"], "We are open every weekday from nine to five. On Sundays we open from ten until two.")],
    )
    session = api.start_session(owner, avatar["id"])
    assert session["voice_input"] == {
        "available": True,
        "engine": "whisper-tiny.en",
        "reason": None,
        "ahead": True,
    }
    with client.stream(
        "POST",
        f"/v1/sessions/{session['session_id']}/turns",
        data={"turn_id": "spoken-1"},
        files={"audio": ("speech.wav", recordings[SENTENCES[0]], "audio/wav")},
        headers={**owner.headers, "Accept": "text/event-stream"},
    ) as response:
        assert response.status_code == 200, response.read()
        # Server-Timing (W3C Server Timing, https://www.w3.org/TR/server-timing/): where the wait went.
        timing = dict(part.split(";dur=") for part in response.headers["server-timing"].split(", "))
        events: dict[str, Any] = {name: data for name, data, _ in parse_sse(response.iter_lines())}
    assert words(events["user"]["text"]) == words(SENTENCES[0])
    assert events["done"]["reply"] == "On Sundays we open from ten until two [1]."
    assert set(timing) == {"read", "stt", "prepare"}
    assert 0 < float(timing["stt"]) <= float(timing["read"])


def test_with_local_voice_input_turned_off_an_audio_turn_answers_501(
    monkeypatch: pytest.MonkeyPatch, client: httpx.Client, api: Api, owner: User, recordings: dict[str, bytes]
) -> None:
    from functions.core.settings import get_settings

    monkeypatch.setenv("LOCAL_STT", "false")
    get_settings.cache_clear()
    try:
        avatar = api.create_avatar(owner)
        session = api.start_session(owner, avatar["id"])
        assert session["voice_input"]["available"] is False
        assert "transcription key" in session["voice_input"]["reason"]
        response = client.post(
            f"/v1/sessions/{session['session_id']}/turns",
            data={"turn_id": "spoken-2"},
            files={"audio": ("speech.wav", recordings[SENTENCES[0]], "audio/wav")},
            headers=owner.headers,
        )
        assert_problem(response, 501, "stt_unavailable")
    finally:
        get_settings.cache_clear()


def _audio_turn(
    client: httpx.Client, user: User, session_id: str, turn_id: str, audio: bytes
) -> httpx.Response:
    return client.post(
        f"/v1/sessions/{session_id}/turns",
        data={"turn_id": turn_id},
        files={"audio": ("speech.wav", audio, "audio/wav")},
        headers={**user.headers, "Accept": "application/json"},
    )


def test_an_audio_turn_for_no_session_or_an_ended_one_is_refused_before_any_transcription(
    monkeypatch: pytest.MonkeyPatch, client: httpx.Client, api: Api, owner: User, recordings: dict[str, bytes]
) -> None:
    from functions.core.settings import get_settings

    avatar = api.create_avatar(owner)
    ended = api.start_session(owner, avatar["id"])["session_id"]
    api.end_session(owner, ended)
    live = api.start_session(owner, avatar["id"])["session_id"]
    audio = recordings[SENTENCES[0]]
    # Without any transcriber, asking for a transcription answers 501: a 404 or 409 shows none was asked.
    monkeypatch.setenv("LOCAL_STT", "false")
    get_settings.cache_clear()
    try:
        unknown = _audio_turn(client, owner, "00000000-0000-4000-8000-000000000000", "a-1", audio)
        over = _audio_turn(client, owner, ended, "a-2", audio)
        asked = _audio_turn(client, owner, live, "a-3", audio)
    finally:
        get_settings.cache_clear()

    assert_problem(unknown, 404, "not_found")
    assert_problem(over, 409, "session_ended")
    assert_problem(asked, 501, "stt_unavailable")


def test_a_retried_audio_turn_answers_from_its_stored_question_without_transcribing_again(
    monkeypatch: pytest.MonkeyPatch,
    client: httpx.Client,
    api: Api,
    admin: Admin,
    owner: User,
    recordings: dict[str, bytes],
) -> None:
    from functions.core.settings import get_settings

    avatar = api.create_avatar(owner)
    session_id = api.start_session(owner, avatar["id"])["session_id"]
    first = _audio_turn(client, owner, session_id, "spoken-again", recordings[SENTENCES[1]])
    monkeypatch.setenv("LOCAL_STT", "false")  # a second transcription would now answer 501
    get_settings.cache_clear()
    try:
        again = _audio_turn(client, owner, session_id, "spoken-again", recordings[SENTENCES[1]])
    finally:
        get_settings.cache_clear()

    assert first.status_code == 200, first.text
    assert again.status_code == 200, again.text
    assert again.json() == first.json()
    questions = admin.execute(
        "select content from public.streaming_messages where session_id = %s and role = 'user'", (session_id,)
    ).fetchall()
    assert len(questions) == 1
    # What Whisper hears in this recording (greedy decoding: the same words for the same bytes), not the
    # text Piper read, which Whisper may mishear in a word ("How long" as "How on").
    assert words(questions[0]["content"]) == words(local_stt.transcribe_bytes(recordings[SENTENCES[1]]))
