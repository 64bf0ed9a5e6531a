"""The web client: bundle sizes, and in Chromium the time from a question to the local avatar's first sound.

Sizes are gzip -9 of the built files in web/dist (JavaScript only, no source maps, no CSS/HTML):

* widget.js, the loader a site embeds;
* the studio at load: studio/studio.js plus every chunk it imports statically, transitively;
* what the studio loads lazily: the dynamically imported chunks (the avatar adapters, Supabase),
  with their own static imports, each file counted once;
* the widget until a visitor can type (the loader, the conversation and the local avatar), next to
  ElevenLabs' embeddable conversational widget (the npm package `@elevenlabs/convai-widget-embed`,
  fetched with `npm pack` into a temporary directory and gzipped the same way), as a ratio
  (target at most 0.25x).

First audio: the benchmark starts its own embedded Postgres in a temporary directory, the scripted
LLM of bench/turns.py in a process of its own (20 ms to the first token, 1000 tokens/s by default),
and the local app with uvicorn (bench/sessions.py), which serves web/dist and speaks with the local
Piper voice. Headless Chromium signs in to the studio, starts a conversation with a local avatar
whose knowledge base is bench/turns.py's, and asks questions by typing them and pressing Enter.
Instrumentation added to the page before it loads (web/src is not changed) stamps, with
`performance.now()`, per turn:

* question: the studio calling `fetch` for POST /v1/sessions/<id>/turns;
* first sentence: the response body chunk that completes the first `sentence` event being handed
  to the page's stream reader (the controller reads it a few microtasks later);
* the TTS requests the local avatar makes (/v1/tts): sent, response headers, body complete;
* first audio, "audible": the first `AudioBufferSourceNode.start(when)` of the turn, with the
  AudioContext's output timestamp (`getOutputTimestamp()`) mapping `when` onto the performance clock,
  so it includes the wait for the scheduled time and the output latency the context reports, plus
  the silence at the head of that buffer (samples below -40 dBFS), so it is when sound leaves the
  audio device.

Each turn is interrupted (the studio's Interrupt button) once its stream is done, its first audio has
started and its TTS requests have been answered, so turns do not overlap and no synthesis runs on
the server when the next question is asked. Before the browser runs, the scripted reply's first
sentence is sent to /v1/tts over HTTP, alone and together with the reply's other sentences (as the
local avatar's look-ahead asks for them), to show the TTS time without the browser's load.

    make web
    .venv/bin/python bench/web.py --turns 20 --warmup 2
"""

import argparse
import asyncio
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, sync_playwright

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from bench.machine import describe  # noqa: E402
from bench.sessions import (  # noqa: E402 (the repository root must be importable first)
    HOST,
    Client,
    free_port,
    local_database,
    percentile,
    start_server,
    stop_server,
)
from bench.turns import QUESTIONS, add_knowledge, start_llm, stop_llm  # noqa: E402
from tests.scripted_llm import DEFAULT_REPLY  # noqa: E402

WEB_DIST = REPO_ROOT / "web" / "dist"
CHROMIUM = "/usr/bin/chromium"
EMAIL = "web-bench@example.test"
TARGET_SENTENCE_TO_AUDIO_MS = 150.0
SILENCE = 0.01  # -40 dBFS
SETTLE_MS = 300  # between an interrupted turn and the next question
_STATIC_IMPORT = re.compile(r'\b(?:import|export)\s*(?:[\w$\s{},*]*?\bfrom\s*)?"(\.{1,2}/[^"]+\.js)"')
_DYNAMIC_IMPORT = re.compile(r'\bimport\(\s*"(\.{1,2}/[^"]+\.js)"\s*\)')
_FIRST_AUDIO_SHOWN = re.compile(r"first audio (\d+) ms")
REPLY_SENTENCES = [text.strip() for text in re.findall(r"[^.!?]+[.!?]", DEFAULT_REPLY)]

# Runs in the page before its own scripts: wraps fetch and AudioBufferSourceNode.start to stamp a turn.
INSTRUMENT = """
(() => {
  const bench = { turns: [], current: null };
  window.__bench = bench;
  const now = () => performance.now();
  const fetch = window.fetch.bind(window);
  const completeSentence = /(?:^|\\n)event: sentence\\r?\\n(?:[^\\n]*\\n)*?\\r?\\n/;

  function watchEvents(response, turn) {
    const decoder = new TextDecoder();
    let text = "";
    const body = response.body.pipeThrough(new TransformStream({
      transform(chunk, controller) {
        text += decoder.decode(chunk, { stream: true });
        if (turn.sentenceAt === null && completeSentence.test(text)) turn.sentenceAt = now();
        controller.enqueue(chunk);
      },
      flush() {
        turn.doneAt = now();
        const done = /(?:^|\\n)event: done\\r?\\ndata: ([^\\n]*)/.exec(text);
        if (done) turn.timings = JSON.parse(done[1]).timings;
      },
    }));
    const { status, statusText, headers } = response;
    return new Response(body, { status, statusText, headers });
  }

  window.fetch = async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input), location.href);
    if (/^\\/v1\\/sessions\\/[^/]+\\/turns$/.test(url.pathname) && init?.method === "POST") {
      const turn = { sentAt: now(), sentenceAt: null, doneAt: null, timings: null, tts: [], audio: null };
      bench.turns.push(turn);
      bench.current = turn;
      const response = await fetch(input, init);
      return response.ok && response.body ? watchEvents(response, turn) : response;
    }
    const turn = bench.current;
    if (url.pathname === "/v1/tts" && turn) {
      const request = { text: JSON.parse(init.body).text, sentAt: now(), headersAt: null, bodyAt: null };
      turn.tts.push(request);
      const response = await fetch(input, init);
      request.headersAt = now();
      const arrayBuffer = response.arrayBuffer.bind(response);
      response.arrayBuffer = async () => {
        const bytes = await arrayBuffer();
        request.bodyAt = now();
        return bytes;
      };
      return response;
    }
    return fetch(input, init);
  };

  const start = AudioBufferSourceNode.prototype.start;
  AudioBufferSourceNode.prototype.start = function (when = 0, ...rest) {
    const turn = bench.current;
    if (turn && turn.audio === null) {
      const context = this.context;
      const output = context.getOutputTimestamp();
      const samples = this.buffer.getChannelData(0);
      let lead = samples.findIndex((sample) => Math.abs(sample) > %(silence)s);
      if (lead < 0) lead = samples.length;
      turn.audio = {
        calledAt: now(),
        when,
        currentTime: context.currentTime,
        outputContextTime: output.contextTime,
        outputPerformanceTime: output.performanceTime,
        outputLatency: context.outputLatency,
        leadingSilenceS: lead / this.buffer.sampleRate,
      };
    }
    return start.call(this, when, ...rest);
  };
})();
""".replace("%(silence)s", str(SILENCE))

TURN_SETTLED = """() => {
  const turn = window.__bench.current;
  return turn !== null && turn.doneAt !== null && turn.audio !== null
    && turn.tts.length > 0 && turn.tts.every((request) => request.bodyAt !== null);
}"""


# --- sizes ----------------------------------------------------------------------------------------


def gzipped(path: Path) -> int:
    return len(gzip.compress(path.read_bytes(), compresslevel=9, mtime=0))


def static_closure(entries: list[Path], exclude: set[Path]) -> list[Path]:
    """The entries and every module they import statically, transitively, minus `exclude`."""
    seen: list[Path] = []
    todo = list(entries)
    while todo:
        path = todo.pop().resolve()
        if path in exclude or path in seen:
            continue
        seen.append(path)
        todo.extend(path.parent / name for name in _STATIC_IMPORT.findall(path.read_text()))
    return seen


def bundle(entry: Path) -> tuple[list[Path], list[Path]]:
    """What loading `entry` fetches at once, and what it may fetch later through dynamic imports."""
    eager = static_closure([entry], set())
    lazy: list[Path] = []
    scanned: set[Path] = set()
    while unscanned := [path for path in eager + lazy if path not in scanned]:
        for path in unscanned:
            scanned.add(path)
            dynamic = [path.parent / name for name in _DYNAMIC_IMPORT.findall(path.read_text())]
            lazy += static_closure(dynamic, set(eager) | set(lazy))
    return eager, lazy


PEER_WIDGET = "@elevenlabs/convai-widget-embed"
TARGET_WIDGET_RATIO = 0.25


def widget_until_typing() -> list[Path]:
    """The loader, the conversation chunk and the local avatar's chunk, with their static imports."""
    conversation, lazy = bundle(WEB_DIST / "chunks" / "widget-app.js")
    local = [path for path in lazy if path.name.startswith("local-")]
    return [WEB_DIST / "widget.js", *conversation, *static_closure(local, set(conversation))]


def peer_widget(version: str) -> tuple[str, list[Path], Path] | None:
    """The hosted peer's embeddable widget from npm: its version, its JavaScript files and their folder."""
    folder = Path(tempfile.mkdtemp(prefix="bench-peer-widget-"))
    packed = subprocess.run(
        ["npm", "pack", f"{PEER_WIDGET}@{version}", "--silent"],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
    )
    if packed.returncode != 0:
        print(f"  {PEER_WIDGET}: npm pack failed ({packed.stderr.strip()[:200]}); no peer figure")
        shutil.rmtree(folder, ignore_errors=True)
        return None
    tarball = folder / packed.stdout.strip().splitlines()[-1]
    shutil.unpack_archive(tarball, folder)
    manifest = json.loads((folder / "package" / "package.json").read_text())
    main = (folder / "package" / manifest.get("main", "dist/index.js")).resolve()
    return str(manifest["version"]), static_closure([main], set()), folder


def print_widget_against_peer(version: str) -> None:
    ours = sum(gzipped(path) for path in widget_until_typing())
    peer = peer_widget(version)
    print(f"\nwidget until a visitor can type, gzip -9 bytes (target <= {TARGET_WIDGET_RATIO:g}x the peer):")
    print(f"  {'ours (loader + conversation + local avatar)':<52}{ours:>10,}")
    if peer is None:
        return
    peer_version, files, folder = peer
    try:
        theirs = sum(gzipped(path) for path in files)
        ratio = ours / theirs
        print(f"  {f'{PEER_WIDGET} {peer_version}':<52}{theirs:>10,}")
        verdict = "PASS" if ratio <= TARGET_WIDGET_RATIO else "MISS"
        print(f"  {'ratio, ours / peer':<52}{ratio:>10.3f}  {verdict}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def print_sizes() -> None:
    def row(label: str, files: list[Path]) -> None:
        total = sum(gzipped(path) for path in files)
        raw = sum(path.stat().st_size for path in files)
        print(f"  {label:<52}{total:>10,}{raw:>12,}")
        for path in files:
            print(f"      {path.relative_to(WEB_DIST)!s:<48}{gzipped(path):>10,}")

    print(f"{'bundle sizes, JavaScript only (bytes):':<54}{'gzip -9':>10}{'raw':>12}")
    row("widget.js (the loader a site embeds)", [WEB_DIST / "widget.js"])
    studio, lazy = bundle(WEB_DIST / "studio" / "studio.js")
    row("studio at load (studio.js + its static imports)", studio)
    row("studio, loaded lazily (dynamic imports)", lazy)
    widget_app, _ = bundle(WEB_DIST / "chunks" / "widget-app.js")
    row("widget conversation (widget-app.js + static imports)", widget_app)


# --- first audio ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TurnTimes:
    """One turn's stamps, in ms on the page's performance clock."""

    question: float
    sentence: float
    tts_sent: float
    tts_headers: float
    tts_body: float
    start_called: float
    scheduled: float
    audible: float
    shown_first_audio_ms: float | None
    server: dict[str, float]
    tts_in_flight: int
    output_timestamp: bool


def audible_times(audio: dict[str, Any]) -> tuple[float, float]:
    """When the first buffer's first sample, and its first non-silent sample, leave the audio device.

    `getOutputTimestamp()` says which context time the device is playing at which performance time; a
    source started at `when` in the past starts at once (the context's current time).
    """
    starts_at = max(audio["when"], audio["currentTime"])
    if audio["outputPerformanceTime"] > 0:
        scheduled = audio["outputPerformanceTime"] + 1000 * (starts_at - audio["outputContextTime"])
    else:  # no output timestamp yet: the current time plus the output latency the context reports
        scheduled = audio["calledAt"] + 1000 * (starts_at - audio["currentTime"] + audio["outputLatency"])
    return scheduled, scheduled + 1000 * audio["leadingSilenceS"]


def turn_times(turn: dict[str, Any], shown: str) -> TurnTimes:
    first = turn["tts"][0]
    scheduled, audible = audible_times(turn["audio"])
    match = _FIRST_AUDIO_SHOWN.search(shown)
    server = {name: float(value) for name, value in (turn["timings"] or {}).items() if value is not None}
    return TurnTimes(
        question=turn["sentAt"],
        sentence=turn["sentenceAt"],
        tts_sent=first["sentAt"],
        tts_headers=first["headersAt"],
        tts_body=first["bodyAt"],
        start_called=turn["audio"]["calledAt"],
        scheduled=scheduled,
        audible=audible,
        shown_first_audio_ms=float(match.group(1)) if match else None,
        server=server,
        tts_in_flight=sum(1 for other in turn["tts"] if other["sentAt"] < first["bodyAt"]),
        output_timestamp=turn["audio"]["outputPerformanceTime"] > 0,
    )


async def tts_without_browser(
    base_url: str, token: str, avatar_id: str, repeats: int
) -> tuple[list[float], list[float]]:
    """The scripted reply's first sentence spoken alone, and at once with its other sentences (as the local
    avatar's look-ahead asks for them), over HTTP in a session of its own: ms per request."""
    alone: list[float] = []
    together: list[float] = []
    headers = {"authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60) as http:
        session = await http.post("/v1/sessions", json={"avatar_id": avatar_id})
        session.raise_for_status()
        session_id = session.json()["session_id"]

        async def speak(text: str) -> float:
            began = time.perf_counter()
            body = {"session_id": session_id, "text": text, "format": "pcm16_24000"}
            (await http.post("/v1/tts", json=body)).raise_for_status()
            return 1000 * (time.perf_counter() - began)

        await speak(REPLY_SENTENCES[0])  # loads the voice
        for _ in range(repeats):
            alone.append(await speak(REPLY_SENTENCES[0]))
            together.append((await asyncio.gather(*(speak(text) for text in REPLY_SENTENCES)))[0])
        (await http.post(f"/v1/sessions/{session_id}/end", json={"reason": "user_ended"})).raise_for_status()
    return alone, together


def ask(page: Page, question: str) -> TurnTimes:
    page.get_by_label("Your question").fill(question)
    page.get_by_label("Your question").press("Enter")
    page.wait_for_function(TURN_SETTLED, timeout=60_000)
    turn: dict[str, Any] = page.evaluate("window.__bench.current")
    shown = page.locator("[data-part=latency]").inner_text()
    page.get_by_role("button", name="Interrupt the avatar").click()
    page.wait_for_selector(".avs-conversation[data-status=listening]")
    return turn_times(turn, shown)


def run_browser(base_url: str, turns: int, warmup: int) -> list[TurnTimes]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--autoplay-policy=no-user-gesture-required"],
        )
        try:
            page = browser.new_context().new_page()
            page.set_default_timeout(30_000)
            page.add_init_script(INSTRUMENT)
            page.goto(f"{base_url}/studio/")
            page.get_by_label("Email").fill(EMAIL)
            page.get_by_role("button", name="Sign in").click()
            page.get_by_role("button", name="Start").click()
            page.wait_for_selector(".avs-conversation[data-status=listening]")
            results = []
            for n in range(warmup + turns):
                times = ask(page, f"{QUESTIONS[n % len(QUESTIONS)]} ({n})")
                if n >= warmup:
                    results.append(times)
                page.wait_for_timeout(SETTLE_MS)
            page.get_by_role("button", name="End the conversation").click()
            return results
        finally:
            browser.close()


def print_latency(results: list[TurnTimes], alone: list[float], together: list[float]) -> None:
    def row(label: str, values: list[float], target: float | None = None) -> None:
        p50, p90 = percentile(values, 50), percentile(values, 90)
        verdict = f"<= {target:g}  {'MET' if p50 <= target else 'MISSED'}" if target is not None else ""
        print(f"  {label:<46}{p50:>9.1f}{p90:>9.1f}   {verdict}")

    def span(start: str, end: str) -> list[float]:
        return [getattr(t, end) - getattr(t, start) for t in results]

    title = f"local avatar's first audio, {len(results)} turns (ms):"
    print(f"\n{title:<48}{'p50':>9}{'p90':>9}   target")
    row("question -> first sentence", span("question", "sentence"))
    row("first sentence -> first audio (audible)", span("sentence", "audible"), TARGET_SENTENCE_TO_AUDIO_MS)
    row("question -> first audio (audible)", span("question", "audible"))
    row("TTS request, first sentence (sent -> body)", span("tts_sent", "tts_body"))
    print("  where first sentence -> first audio goes:")
    row("  first sentence -> TTS request sent", span("sentence", "tts_sent"))
    row("  TTS request sent -> response headers", span("tts_sent", "tts_headers"))
    row("  TTS response headers -> body complete", span("tts_headers", "tts_body"))
    row("  TTS body complete -> source.start()", span("tts_body", "start_called"))
    row("  source.start() -> first sample out", span("start_called", "scheduled"))
    row("  first sample -> first non-silent sample", span("scheduled", "audible"))
    in_flight = [float(t.tts_in_flight) for t in results]
    row("TTS requests in flight with the first one", in_flight)
    print(f"  TTS of the first sentence without the browser ({len(alone)}x):")
    row("  alone", alone)
    row(f"  with the other {len(REPLY_SENTENCES) - 1} sentences at once", together)
    print("  as the studio shows it (question -> adapter `speaking`):")
    row("  first audio", [t.shown_first_audio_ms for t in results if t.shown_first_audio_ms is not None])
    print("  as the server timed it, from the `done` event:")
    for name in ("retrieval_ms", "llm_first_token_ms", "first_sentence_ms", "total_ms"):
        row(f"  {name}", [t.server[name] for t in results if name in t.server])
    mapped = sum(t.output_timestamp for t in results)
    print(
        "  audible: the first buffer's first sample above -40 dBFS leaving the device, its scheduled start"
        "\n  mapped to performance.now() by AudioContext.getOutputTimestamp() in"
        f" {mapped} of {len(results)} turns (the others: start()\n  plus the wait to `when` and the context's"
        " outputLatency)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--turns", type=int, default=20, help="measured turns, in one conversation")
    parser.add_argument("--warmup", type=int, default=2, help="turns before measuring")
    parser.add_argument("--ttft-ms", type=float, default=20.0, help="the scripted LLM's time to first token")
    parser.add_argument("--tokens-per-second", type=float, default=1000.0, help="0: as fast as possible")
    parser.add_argument("--tts-repeats", type=int, default=5, help="TTS requests made without the browser")
    parser.add_argument("--peer-widget-version", default="0.5.4", help=f"version of {PEER_WIDGET} to compare")
    args = parser.parse_args(argv)
    if not (WEB_DIST / "studio" / "studio.js").is_file():
        print("web/dist is missing: build the web client first (make web)", file=sys.stderr)
        return 2
    print(describe())
    print_sizes()
    print_widget_against_peer(args.peer_widget_version)

    server: subprocess.Popen[bytes] | None = None
    # Turns here follow each other faster than anyone listens: speech is timed, not rate limited.
    with local_database(env={"TTS_REQUESTS_PER_SESSION_PER_MINUTE": "1000000"}) as db:
        llm, llm_port = start_llm(db.data_dir, args.ttft_ms, args.tokens_per_second)
        try:
            os.environ.update({"LLM_BASE_URL": f"http://{HOST}:{llm_port}/v1", "LLM_MODEL": "scripted"})
            port = free_port()
            server = start_server(dict(os.environ), port)
            base_url = f"http://{HOST}:{port}"
            login = httpx.post(f"{base_url}/v1/dev/login", json={"email": EMAIL}, timeout=10)
            login.raise_for_status()
            token = login.json()["access_token"]
            avatar = httpx.post(
                f"{base_url}/v1/avatars",
                json={"name": "Bench"},
                headers={"authorization": f"Bearer {token}"},
                timeout=10,
            )
            avatar.raise_for_status()
            avatar_id = avatar.json()["id"]
            add_knowledge(db.url, [Client(token=token, avatar_id=avatar_id)])
            print(
                f"\nserver on port {port}; scripted LLM ttft {args.ttft_ms:g} ms, {args.tokens_per_second:g}"
                f" tokens/s; {args.warmup} + {args.turns} turns in Chromium ...",
                flush=True,
            )
            alone, together = asyncio.run(tts_without_browser(base_url, token, avatar_id, args.tts_repeats))
            load_before = os.getloadavg()[0]
            results = run_browser(base_url, args.turns, args.warmup)
            load_after = os.getloadavg()[0]
        finally:
            if server is not None:
                stop_server(server)
            stop_llm(llm, db.data_dir)
    print_latency(results, alone, together)
    print(
        f"  load average (1 min): {load_before:.2f} before the browser, {load_after:.2f} after"
        f" ({os.cpu_count()} CPUs; other work on the machine skews these times)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
