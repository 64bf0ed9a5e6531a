"""Peak memory of one offline speech request (Piper, the path of `POST /v1/tts` without ElevenLabs) for
long unpunctuated texts: 100, 1,000 and 5,000 words by default.

Each size runs in a fresh interpreter, so every figure is that request's alone. The child loads the
voice and speaks one warm-up sentence, then speaks the whole text through `synthesize` (the route's own
code: the text is cut into bounded pieces, Piper streams each) and reads every chunk, as a client would.
It reports, in MiB: the resident set after the warm-up (`before`), the process's peak resident set
(`peak`, VmHWM) and its growth over `before` (`growth`), and the resident set once the request is over
(`after`: the memory was released when it is back near `before`); and the seconds to the first audio
and to the last, and the seconds of speech made. The route itself refuses texts over 5,000 characters,
so 5,000 words is a measure of the synthesis path, not a request a client can send.

    .venv/bin/python bench/tts_memory.py --words 100 1000 5000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

# Unpunctuated, so that the text is one sentence however long (the case that once took 17.5 GB).
WORDS = [
    *("the", "quick", "brown", "fox", "jumps", "over", "a", "lazy", "dog"),
    *("while", "seven", "small", "birds", "sing", "near", "an", "old", "river"),
]
FORMAT = "pcm16_16000"
RATE = 16000


def text_of(words: int) -> str:
    return " ".join(WORDS[n % len(WORDS)] for n in range(words))


def _status_mib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"/proc/self/status has no {field}")


async def _speak(text: str) -> tuple[float, float, int]:
    from functions.core.avatar_basics import Voice
    from functions.core.settings import Settings
    from functions.core.speech.tts import synthesize

    started = time.perf_counter()
    speech = await synthesize(Voice(), text, FORMAT, Settings(app_mode="local"))
    first: float | None = None
    size = 0
    async for chunk in speech.chunks:
        if first is None:
            first = time.perf_counter() - started
        size += len(chunk)
    return first or 0.0, time.perf_counter() - started, size


def child(words: int) -> dict[str, Any]:
    """One request in this process; the figures as a JSON-ready dict."""
    asyncio.run(_speak("Warming up the voice."))
    # Peak so far back to the present, so that VmHWM is this request's peak (Linux clear_refs "5").
    Path("/proc/self/clear_refs").write_text("5")
    before = _status_mib("VmRSS")
    first_s, total_s, size = asyncio.run(_speak(text_of(words)))
    peak = _status_mib("VmHWM")
    return {
        "words": words,
        "chars": len(text_of(words)),
        "before_mib": round(before, 1),
        "peak_mib": round(peak, 1),
        "growth_mib": round(peak - before, 1),
        "after_mib": round(_status_mib("VmRSS"), 1),
        "first_audio_s": round(first_s, 2),
        "total_s": round(total_s, 2),
        "speech_s": round(size / 2 / RATE, 1),
    }


def measure(words: int) -> dict[str, Any]:
    """`child(words)` in a fresh interpreter."""
    done = subprocess.run(
        [sys.executable, __file__, "--child", str(words)],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO_ROOT,
        env={**os.environ, "APP_MODE": "local"},
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown CPU",
    )
    total_kib = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal:")
    )
    return (
        f"{platform.node()}: {cpu}, {os.cpu_count()} cores visible, {total_kib / 1024 / 1024:.1f} GiB RAM,"
        f" Linux {platform.release()}, Python {platform.python_version()}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--words", type=int, nargs="+", default=[100, 1000, 5000])
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(child(args.child)))
        return
    print(f"machine: {machine()}")
    print(f"format {FORMAT}, Piper; MiB of resident memory; a fresh process per size")
    print(f"{'words':>6} {'chars':>6} {'before':>7} {'peak':>7} {'growth':>7} {'after':>7} "
          f"{'first s':>8} {'total s':>8} {'speech s':>9}")  # fmt: skip
    for words in args.words:
        r = measure(words)
        print(
            f"{r['words']:>6} {r['chars']:>6} {r['before_mib']:>7} {r['peak_mib']:>7} {r['growth_mib']:>7}"
            f" {r['after_mib']:>7} {r['first_audio_s']:>8} {r['total_s']:>8} {r['speech_s']:>9}"
        )


if __name__ == "__main__":
    main()
