"""Voice end to end, offline: from the end of a spoken question to the local avatar's first audible sound.

With no key at all, the benchmark starts its own embedded Postgres in a temporary directory and the local
app with uvicorn (bench/sessions.py): the offline answerer, retrieval with the local embedding model, Piper
for speech and Whisper tiny.en for voice input. A local avatar with no greeting gets the handbook of a
fictional library (bench/data/library, indexed through the product's own path) and the avatar's
end-of-speech wait (`--end-of-speech-ms`; unset, the avatar gets the server's default for a new one).

Piper speaks each question of bench/data/library_questions.json into a WAV file (1 s of silence, the
question, then silence). For every turn a headless Chromium (Debian's) starts with a fake microphone
playing that file (`--use-fake-device-for-media-stream --use-fake-ui-for-media-stream
--use-file-for-fake-audio-capture`), signs in to the studio, starts a conversation and turns on hands-free
listening, so the studio's own voice-activity detector ends the utterance and sends it. Instrumentation
added to the page before it loads (bench/web.py's, plus a microphone tap; web/src is not changed) stamps
with `performance.now()`:

* end of speech: the last microphone sample above -40 dBFS before the recorder was stopped, seen by a
  ScriptProcessorNode (256 frames) on the stream the studio opened;
* the pause: the studio making the utterance's WAV, 200 ms into the silence (the VAD's `speech-pause`),
  which it sends ahead and, the silence lasting the whole end-of-speech wait, then as the turn;
* the turn request: `fetch` called with the recording, its response headers, whose `Server-Timing` says
  how long the server read the upload, transcribed it (stt) and prepared the turn. The studio sends the
  recording ahead 200 ms into the silence (POST .../transcription) and the local engine starts on it
  then, so `stt` is only what was left of that transcription when the turn came;
* the first `sentence` event, the first /v1/tts request (sent, body complete), and the first audible
  sound: the first `AudioBufferSourceNode.start()` of the turn mapped onto the performance clock by
  `AudioContext.getOutputTimestamp()`, plus the silence at the head of that buffer (bench/web.py).

Printed: p50 and p90 over the turns of end of speech -> first audible sound (target p50 <= 1.2 s), and
its parts, which add up to it: the end-of-speech wait in two (the pause, when the WAV is made and sent
ahead, and the rest of the wait until the turn is sent), upload (the request's time outside the
server's stt and prepare), STT, retrieval and answer to the first sentence (retrieval as the server
timed it), TTS of the first words (the local avatar asks for a sentence's first clause or phrase
alone), playback (TTS body to the first audible sample). Each turn runs in a browser of its own, so the
turns never overlap.

    make web
    .venv/bin/python bench/voice_e2e.py --turns 20 --warmup 2
"""

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
from playwright.sync_api import Page, Playwright, sync_playwright

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from bench.machine import describe  # noqa: E402 (the repository root must be importable first)
from bench.retrieval import ingest  # noqa: E402
from bench.sessions import HOST, free_port, local_database, percentile, start_server, stop_server  # noqa: E402
from bench.web import CHROMIUM, INSTRUMENT, SILENCE, TURN_SETTLED, WEB_DIST, audible_times  # noqa: E402

EMAIL = "voice-bench@example.test"
LIBRARY = REPO_ROOT / "bench" / "data" / "library"
QUESTIONS = REPO_ROOT / "bench" / "data" / "library_questions.json"
TARGET_P50_MS = 1200.0
SAMPLE_RATE = 48_000
LEAD_S = 1.0  # silence before the question: the detector learns the room's floor
TAIL_S = 20.0  # silence after it, longer than a turn, so the looping fake microphone never repeats it

# Runs after bench/web.py's INSTRUMENT: a tap on the microphone the studio opens, the recorder's stop,
# and the turn's response headers.
VOICE_INSTRUMENT = """
(() => {
  const bench = window.__bench;
  const now = () => performance.now();
  bench.mic = { lastLoudAt: null, speech: null };
  const getUserMedia = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  navigator.mediaDevices.getUserMedia = async (constraints) => {
    const stream = await getUserMedia(constraints);
    const context = new AudioContext();
    const tap = context.createScriptProcessor(256, 1, 1);
    tap.onaudioprocess = (event) => {
      const samples = event.inputBuffer.getChannelData(0);
      for (let i = samples.length - 1; i >= 0; i -= 1) {
        if (Math.abs(samples[i]) > %(silence)s) {
          bench.mic.lastLoudAt = now() - (1000 * (samples.length - 1 - i)) / context.sampleRate;
          break;
        }
      }
    };
    context.createMediaStreamSource(stream).connect(tap);
    tap.connect(context.destination); // a script processor runs only while connected; it outputs silence
    return stream;
  };
  // Hands-free hands the utterance over as a WAV blob the moment the detector ends speech.
  const Blob = window.Blob;
  window.Blob = class extends Blob {
    constructor(parts, options) {
      super(parts, options);
      if (options?.type === "audio/wav") {
        bench.mic.speech = { endedAt: bench.mic.lastLoudAt, detectedAt: now() };
      }
    }
  };
  const fetch = window.fetch;
  window.fetch = async (input, init) => {
    const response = await fetch(input, init);
    const url = new URL(input instanceof Request ? input.url : String(input), location.href);
    if (/^\\/v1\\/sessions\\/[^/]+\\/turns$/.test(url.pathname) && init?.method === "POST" && bench.current) {
      bench.current.headersAt = now();
      bench.current.serverTiming = response.headers.get("server-timing");
      bench.current.speech = bench.mic.speech;
    }
    return response;
  };
})();
""".replace("%(silence)s", str(SILENCE))


@dataclass(frozen=True, slots=True)
class VoiceTurn:
    """One spoken turn: what was asked and heard, and the parts of its wait in ms."""

    question: str
    heard: str
    reply: str
    first_spoken: str
    parts: dict[str, float]
    retrieval_ms: float

    @property
    def total(self) -> float:
        return sum(self.parts.values())


PARTS = (
    ("detection", "the pause: silence until the WAV is made"),
    ("handover", "rest of the end-of-speech wait (WAV -> turn sent)"),
    ("upload", "upload (request outside the server's stt, prepare)"),
    ("stt", "STT the turn waited for (started at the pause)"),
    ("answer", "retrieval + answer to the first sentence"),
    ("tts", "TTS of the first words (sentence -> body)"),
    ("playback", "playback (TTS body -> first audible sample)"),
)


def server_timing(header: str | None) -> dict[str, float]:
    """`read;dur=1.5, stt;dur=300.2` as {"read": 1.5, "stt": 300.2}."""
    timing: dict[str, float] = {}
    for part in (header or "").split(","):
        name, _, duration = part.strip().partition(";dur=")
        if name and duration:
            timing[name] = float(duration)
    return timing


def voice_turn(question: str, turn: dict[str, Any]) -> VoiceTurn:
    speech = turn["speech"]
    timing = server_timing(turn["serverTiming"])
    first_tts = turn["tts"][0]
    _scheduled, audible = audible_times(turn["audio"])
    in_request = turn["headersAt"] - turn["sentAt"]
    parts = {
        "detection": speech["detectedAt"] - speech["endedAt"],
        "handover": turn["sentAt"] - speech["detectedAt"],
        "upload": in_request - timing.get("stt", 0.0) - timing.get("prepare", 0.0),
        "stt": timing.get("stt", 0.0),
        "answer": timing.get("prepare", 0.0) + turn["sentenceAt"] - turn["headersAt"],
        "tts": first_tts["bodyAt"] - turn["sentenceAt"],
        "playback": audible - first_tts["bodyAt"],
    }
    timings = turn["timings"] or {}
    return VoiceTurn(
        question=question,
        heard=turn.get("heard", ""),
        reply=turn.get("reply", ""),
        first_spoken=first_tts["text"],
        parts=parts,
        retrieval_ms=float(timings.get("retrieval_ms") or 0.0),
    )


# --- the recorded questions -----------------------------------------------------------------------


def record_questions(questions: list[str], folder: Path) -> list[Path]:
    """Piper says each question; one WAV per question, with silence around it."""
    from functions.core.speech.piper_tts import LocalTts

    tts = LocalTts.load()

    async def spoken(text: str) -> bytes:
        return b"".join([chunk async for chunk in tts.stream(text, sample_rate=SAMPLE_RATE)])

    paths = []
    for index, question in enumerate(questions):
        pcm = bytes(int(SAMPLE_RATE * LEAD_S) * 2) + asyncio.run(spoken(question))
        path = folder / f"question-{index:02d}.wav"
        with wave.open(str(path), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(SAMPLE_RATE)
            out.writeframes(pcm + bytes(int(SAMPLE_RATE * TAIL_S) * 2))
        paths.append(path)
    return paths


# --- the browser ----------------------------------------------------------------------------------


def screenshot(page: Page, folder: Path | None, name: str) -> None:
    if folder is not None:
        page.screenshot(path=str(folder / f"{name}.png"))


def spoken_turn(
    playwright: Playwright,
    base_url: str,
    wav: Path,
    *,
    viewport: dict[str, int] | None = None,
    shots: tuple[Path, str] | None = None,
) -> dict[str, Any]:
    """One turn in a fresh Chromium whose microphone plays `wav`: the page's stamps, and the transcript."""
    browser = playwright.chromium.launch(
        executable_path=CHROMIUM,
        headless=True,
        args=[
            "--autoplay-policy=no-user-gesture-required",
            "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-audio-capture={wav}",
        ],
    )
    folder, prefix = shots if shots is not None else (None, "")
    try:
        page = browser.new_context(viewport=viewport or {"width": 1280, "height": 800}).new_page()
        page.set_default_timeout(60_000)
        page.add_init_script(INSTRUMENT)
        page.add_init_script(VOICE_INSTRUMENT)
        page.goto(f"{base_url}/studio/")
        page.get_by_label("Email").fill(EMAIL)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("button", name="Start").click()
        conversation = page.locator(".avs-conversation")
        page.wait_for_selector(".avs-conversation[data-status=listening]")
        page.get_by_role("button", name="Hands-free listening").click()
        if folder is not None:
            page.wait_for_selector(".avs-conversation[data-status=thinking]")
            screenshot(page, folder, f"{prefix}-thinking")
            page.wait_for_selector(".avs-conversation[data-status=speaking]")
            screenshot(page, folder, f"{prefix}-speaking")
        page.wait_for_function(TURN_SETTLED, timeout=120_000)
        turn: dict[str, Any] = page.evaluate("window.__bench.current")
        page.wait_for_selector(".avs-transcript .avs-avatar .avs-text:not(:empty)")
        turn["heard"] = conversation.locator(".avs-user .avs-text").first.inner_text()
        turn["reply"] = conversation.locator(".avs-avatar .avs-text").first.inner_text()
        page.get_by_role("button", name="End the conversation").click()
        page.wait_for_selector(".avs-conversation[data-status=ended]")
        return turn
    finally:
        browser.close()


# --- report ---------------------------------------------------------------------------------------


def print_report(results: list[VoiceTurn], end_of_speech_ms: int) -> None:
    def row(label: str, values: list[float], target: float | None = None) -> None:
        p50, p90 = percentile(values, 50), percentile(values, 90)
        verdict = f"<= {target:g}  {'MET' if p50 <= target else 'MISSED'}" if target is not None else ""
        print(f"  {label:<54}{p50:>9.1f}{p90:>9.1f}   {verdict}")

    print("\nper turn (ms): total = detection + handover + upload + stt + answer + tts + playback")
    for turn in results:
        parts = " ".join(f"{turn.parts[name]:>6.0f}" for name, _ in PARTS)
        print(f"  {turn.total:>6.0f} = {parts}   {turn.question!r} heard {turn.heard!r}")
        print(f"{'':>60}first spoken {turn.first_spoken!r}")
    title = f"end of speech -> first audible sound, {len(results)} spoken turns (ms):"
    print(f"\n{title:<56}{'p50':>9}{'p90':>9}   target")
    row("end of speech -> first audible sound", [t.total for t in results], TARGET_P50_MS)
    row(
        f"  same, without the end-of-speech wait ({end_of_speech_ms} ms)",
        [t.total - t.parts["detection"] - t.parts["handover"] for t in results],
    )
    print("  where it goes (each part's own p50 and p90; the parts add up per turn):")
    for name, label in PARTS:
        row(f"  {label}", [t.parts[name] for t in results])
        if name == "answer":
            row("    of which retrieval (server's retrieval_ms)", [t.retrieval_ms for t in results])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--turns", type=int, default=20, help="measured spoken turns")
    parser.add_argument("--warmup", type=int, default=2, help="spoken turns before measuring")
    parser.add_argument(
        "--end-of-speech-ms",
        type=int,
        default=None,
        help="the avatar's end-of-speech wait (200-3000); the server's default for a new avatar if unset",
    )
    parser.add_argument(
        "--screenshots", type=Path, default=None, help="after measuring, screenshot one turn here"
    )
    args = parser.parse_args(argv)
    if not (WEB_DIST / "studio" / "studio.js").is_file():
        print("web/dist is missing: build the web client first (make web)", file=sys.stderr)
        return 2
    print(describe())
    questions = [q["question"] for q in json.loads(QUESTIONS.read_text())["questions"]]
    wanted = [questions[n % len(questions)] for n in range(args.warmup + args.turns)]

    server = None
    results: list[VoiceTurn] = []
    # Every turn here is a new conversation: speech and sessions are timed, not rate limited.
    env = {"TTS_REQUESTS_PER_SESSION_PER_MINUTE": "1000000"}
    with local_database(env=env) as db, tempfile.TemporaryDirectory(prefix="bench-voice-") as folder:
        started = time.perf_counter()
        recordings = record_questions(wanted, Path(folder))
        print(f"{len(recordings)} questions recorded by Piper in {time.perf_counter() - started:.1f} s")
        try:
            port = free_port()
            server = start_server(dict(os.environ), port)
            base_url = f"http://{HOST}:{port}"
            login = httpx.post(f"{base_url}/v1/dev/login", json={"email": EMAIL}, timeout=10)
            login.raise_for_status()
            headers = {"authorization": f"Bearer {login.json()['access_token']}"}
            wait = {} if args.end_of_speech_ms is None else {"end_of_speech_ms": args.end_of_speech_ms}
            avatar = httpx.post(
                f"{base_url}/v1/avatars", json={"name": "Librarian", **wait}, headers=headers, timeout=10
            )
            avatar.raise_for_status()
            avatar_id = uuid.UUID(avatar.json()["id"])
            end_of_speech_ms = int(avatar.json()["end_of_speech_ms"])
            with psycopg.connect(db.url, autocommit=True) as conn:
                row = conn.execute(
                    "select owner_id from public.avatars where id = %s", (avatar_id,)
                ).fetchone()
            assert row is not None
            seconds = asyncio.run(ingest(db.url, row[0], avatar_id, sorted(LIBRARY.glob("*.md"))))
            print(
                f"library handbook indexed in {seconds:.1f} s; server on port {port}; end-of-speech wait"
                f" {end_of_speech_ms} ms; {args.warmup} + {args.turns} spoken turns, one Chromium each",
                flush=True,
            )
            load_before = os.getloadavg()[0]
            with sync_playwright() as playwright:
                for n, (question, wav) in enumerate(zip(wanted, recordings, strict=True)):
                    turn = voice_turn(question, spoken_turn(playwright, base_url, wav))
                    if n >= args.warmup:
                        results.append(turn)
                if args.screenshots is not None:
                    args.screenshots.mkdir(parents=True, exist_ok=True)
                    shots = args.screenshots
                    spoken_turn(playwright, base_url, recordings[0], shots=(shots, "voice-turn-desktop"))
                    phone = {"width": 390, "height": 844}
                    spoken_turn(
                        playwright, base_url, recordings[0], viewport=phone, shots=(shots, "voice-turn-390")
                    )
            load_after = os.getloadavg()[0]
        finally:
            if server is not None:
                stop_server(server)
    print_report(results, end_of_speech_ms)
    print(
        f"  load average (1 min): {load_before:.2f} before the browsers, {load_after:.2f} after"
        f" ({os.cpu_count()} CPUs; other work on the machine skews these times)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
