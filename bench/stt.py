"""Offline voice input: Piper speaks known questions, local Whisper tiny.en writes them down.

Prints the word error rate over the questions of bench/data/demo_questions.json and
bench/data/library_questions.json, and how long transcription takes per second of speech (the real-time
factor), on this machine, with no key and no GPU.

    .venv/bin/python bench/stt.py
"""

from __future__ import annotations

import asyncio
import io
import json
import sys
import time
import wave
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from bench.sessions import percentile  # noqa: E402
from functions.core.speech import local_stt  # noqa: E402
from functions.core.speech.piper_tts import LocalTts  # noqa: E402
from tests.functional.test_local_stt import word_error_rate, words  # noqa: E402

QUESTION_FILES = [
    REPO_ROOT / "bench" / "data" / "demo_questions.json",
    REPO_ROOT / "bench" / "data" / "library_questions.json",
]
RATE = 16000


def wav(pcm: bytes) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(RATE)
        file.writeframes(pcm)
    return out.getvalue()


async def speak(tts: LocalTts, text: str) -> bytes:
    return b"".join([chunk async for chunk in tts.stream(text, sample_rate=RATE)])


def main() -> None:
    questions = [q["question"] for path in QUESTION_FILES for q in json.loads(path.read_text())["questions"]]
    tts = LocalTts.load()
    started = time.perf_counter()
    local_stt.load()
    print(f"{local_stt.MODEL} loaded in {time.perf_counter() - started:.1f}s")
    errors, edits, reference_words, factors = [], 0, 0, []
    for question in questions:
        pcm = asyncio.run(speak(tts, question))
        started = time.perf_counter()
        heard = local_stt.transcribe_bytes(wav(pcm))
        factors.append((time.perf_counter() - started) / (len(pcm) / 2 / RATE))
        rate = word_error_rate(words(question), words(heard))
        errors.append(rate)
        edits += round(rate * len(words(question)))
        reference_words += len(words(question))
        if rate > 0:
            print(f"  {question!r} -> {heard!r} (WER {rate:.2f})")
    print(
        f"word error rate over {len(questions)} Piper-spoken questions: {edits / reference_words:.3f}"
        f" ({edits} word errors in {reference_words} words; per question p50 {percentile(errors, 50):.2f})"
    )
    print(
        f"transcription time per second of speech: p50 {percentile(factors, 50):.2f} s"
        f"  p90 {percentile(factors, 90):.2f} s"
    )


if __name__ == "__main__":
    main()
