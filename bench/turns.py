"""Per-turn overhead of our own code: many sessions run SSE turns against a scripted LLM.

The benchmark starts its own embedded Postgres in a temporary data directory, serves the local app
with uvicorn in a separate process (as bench/sessions.py does), and points it at a scripted
OpenAI-compatible server (tests/scripted_llm.py), also in a process of its own so that neither it
nor the server shares this load generator's interpreter, with a configurable time to first token
and tokens per second. Each simulated client holds one session with an avatar that has a
small knowledge base, and sends turns one after another with `Accept: text/event-stream`.

Per turn it measures, with `time.monotonic` (one clock for all processes on the machine):

* overhead: the client's time from sending the turn to receiving `done`, minus the LLM's own time
  (from the scripted server receiving the request to sending its last token);
* first-sentence lag: from the LLM sending the token that completes the first sentence to the
  client receiving the `sentence` event;
* turns per second, and messages lost: turns that got `done` but whose two messages are not stored.

It runs at 1 and 16 concurrent sessions by default (the 1-session figure is what one Lambda instance
sees) and prints the CPU milliseconds per turn of every process involved. Questions are embedded as a
keyed deployment (the cloud) embeds them, by the scripted server's OpenAI-shaped `/embeddings`, and the
knowledge chunks carry vectors of that model (bench/peers.py says why).

    .venv/bin/python bench/turns.py --clients 1 16 --seconds 20 --ttft-ms 20 --tokens-per-second 1000
"""

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from bench.machine import describe  # noqa: E402
from bench.sessions import (  # noqa: E402 (the repository root must be importable first)
    HOST,
    Client,
    CpuMeter,
    create_clients,
    free_port,
    local_database,
    percentile,
    postmaster_pid,
    start_server,
    stop_server,
)

TARGET_CLIENTS = 16
TARGET_OVERHEAD_P50_MS = 10.0
TARGET_OVERHEAD_P99_MS = 40.0
TARGET_LAG_P99_MS = 15.0
TARGET_TURNS_PER_S = 100.0
KNOWLEDGE = [
    (["Billing", "Refunds"], "Refunds are paid back to the original card within five business days."),
    (["Shipping"], "Parcels ship from Rotterdam every weekday and arrive in two to four days."),
    (["Support"], "The help desk answers by chat from eight to six, Monday to Friday."),
]
QUESTIONS = ["How do refunds work?", "When do parcels ship?", "When is the help desk open?"]
# OpenAI's, which the schema indexes as vector(1536); the scripted server answers it.
EMBEDDING_MODEL = "text-embedding-3-small"


@dataclass(slots=True)
class Turn:
    question: str
    sent_at: float
    first_sentence_at: float | None = None
    done_at: float | None = None
    timings: dict[str, float] = field(default_factory=dict)


@dataclass(slots=True)
class Results:
    turns: list[Turn] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    sessions: list[tuple[str, int]] = field(default_factory=list)
    elapsed: float = 0.0
    # CPU seconds per process over the measured window, when a meter was given.
    cpu_s: dict[str, float] = field(default_factory=dict)


class SseClient:
    """One keep-alive HTTP/1.1 connection that posts turns and reads their chunked event streams.

    Minimal on purpose: the load generator shares two cores with the server, Postgres and the
    scripted LLM, and a full client library would spend more CPU per turn than the server does.
    """

    def __init__(self, port: int, token: str) -> None:
        self.port, self.token = port, token
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, payload: dict[str, object], accept: str) -> tuple[int, str]:
        """Sends the request; returns the status and the lower-cased response head.

        A kept connection the server closed while it sat idle (uvicorn does after 5 s, which a loaded
        machine can stretch a client's pause to) answers nothing: it is reopened and the request sent
        again, once, as HTTP clients do."""
        body = json.dumps(payload).encode()
        request = (
            f"POST {path} HTTP/1.1\r\nhost: {HOST}\r\nauthorization: Bearer {self.token}\r\n"
            f"accept: {accept}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
        ).encode() + body
        for fresh in (False, True):
            reader, writer = self.reader, self.writer
            reused = reader is not None and writer is not None and not fresh
            if reader is None or writer is None or not reused:
                if writer is not None:
                    writer.close()
                reader, writer = self.reader, self.writer = await asyncio.open_connection(HOST, self.port)
            try:
                writer.write(request)
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").lower()
            except (asyncio.IncompleteReadError, ConnectionResetError, BrokenPipeError) as exc:
                partial = isinstance(exc, asyncio.IncompleteReadError) and exc.partial
                if not reused or partial:
                    raise
                continue
            return int(head.split(" ", 2)[1]), head
        raise AssertionError("unreachable")

    async def body(self, head: str) -> bytes:
        assert self.reader is not None
        length = int(head.split("content-length:", 1)[1].split("\r\n", 1)[0])
        return await self.reader.readexactly(length)

    async def events(self, turn: Turn) -> str | None:
        """Reads one turn's event stream to its end; returns the error event's data, if any."""
        assert self.reader is not None
        buffer = b""
        error = None
        while True:
            size = int((await self.reader.readline()).strip(), 16)
            data = await self.reader.readexactly(size + 2)
            if size == 0:
                return error
            buffer += data[:-2]
            while b"\n\n" in buffer:
                event, buffer = buffer.split(b"\n\n", 1)
                name = event.split(b"\n", 1)[0][len(b"event: ") :]
                if name == b"sentence" and turn.first_sentence_at is None:
                    turn.first_sentence_at = time.monotonic()
                elif name == b"done":
                    turn.done_at = time.monotonic()
                    turn.timings = json.loads(event.split(b"data: ", 1)[1])["timings"]
                elif name == b"error":
                    error = event.decode()

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            await self.writer.wait_closed()


def llm_env(llm_port: int) -> dict[str, str]:
    """Our server's settings for the scripted server: its chat model and, as a keyed deployment (the
    cloud functions have no local model) embeds questions, its OpenAI-shaped `/embeddings`."""
    base = f"http://{HOST}:{llm_port}/v1"
    return {
        "LLM_BASE_URL": base,
        "LLM_MODEL": "scripted",
        "OPENAI_API_BASE": base,
        "OPENAI_API_KEY": "scripted-key",
        "EMBEDDING_MODEL": EMBEDDING_MODEL,
    }


def add_knowledge(url: str, clients: list[Client]) -> None:
    """Each client's avatar gets the help centre, indexed as the keyed deployment indexes it: every chunk
    embedded (headings and text) by the scripted server's function under `EMBEDDING_MODEL`."""
    from tests.scripted_llm import embedding

    with psycopg.connect(url, autocommit=True) as conn:
        for client in clients:
            row = conn.execute(
                "insert into public.knowledge_documents (owner_id, avatar_id, title, content_hash, status)"
                " select owner_id, id, 'Help centre', %s, 'ready' from public.avatars where id = %s"
                " returning id, owner_id",
                (uuid.uuid4().hex, client.avatar_id),
            ).fetchone()
            assert row is not None
            for position, (path, content) in enumerate(KNOWLEDGE):
                vector = "[" + ",".join(map(repr, embedding("\n".join([*path, content])))) + "]"
                conn.execute(
                    "insert into public.knowledge_chunks (document_id, owner_id, avatar_id, position,"
                    " heading_path, content, embedding, embedding_model)"
                    " values (%s, %s, %s, %s, %s, %s, %s::extensions.vector, %s)",
                    (row[0], row[1], client.avatar_id, position, path, content, vector, EMBEDDING_MODEL),
                )


async def run(
    port: int,
    clients: list[Client],
    *,
    seconds: float,
    warmup: int,
    meter: Callable[[], dict[str, float]] | None = None,
    tag: str = "",
) -> Results:
    results = Results()
    connections = [SseClient(port, client.token) for client in clients]

    async def drive(index: int, http: SseClient, client: Client, deadline: float, measure: bool) -> None:
        status, head = await http.post(
            "/v1/sessions", {"avatar_id": str(client.avatar_id)}, "application/json"
        )
        session = json.loads(await http.body(head))
        if status != 201:
            results.errors.append(f"start: HTTP {status}: {session}")
            return
        done = 0
        n = 0
        while time.monotonic() < deadline if measure else n < warmup:
            question = f"{QUESTIONS[n % len(QUESTIONS)]} ({tag}{index}-{n}-{measure})"
            n += 1
            turn = Turn(question=question, sent_at=time.monotonic())
            status, head = await http.post(
                f"/v1/sessions/{session['session_id']}/turns",
                {"turn_id": f"t{n}", "text": question},
                "text/event-stream",
            )
            if status != 200:
                results.errors.append(f"turn: HTTP {status}: {await http.body(head)!r}")
                continue
            error = await http.events(turn)
            if error is not None:
                results.errors.append(error)
            elif measure and turn.done_at is not None:
                results.turns.append(turn)
                done += 1
        if measure:
            results.sessions.append((session["session_id"], done))

    await asyncio.gather(
        *(drive(i, h, c, 0, False) for i, (h, c) in enumerate(zip(connections, clients, strict=True)))
    )
    before = meter() if meter else {}
    began = time.monotonic()
    deadline = began + seconds
    await asyncio.gather(
        *(drive(i, h, c, deadline, True) for i, (h, c) in enumerate(zip(connections, clients, strict=True)))
    )
    results.elapsed = time.monotonic() - began
    if meter:
        after = meter()
        results.cpu_s = {name: after[name] - before[name] for name in after}
    for http in connections:
        await http.close()
    return results


def stored_messages(url: str, session_ids: list[str]) -> dict[str, int]:
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "select session_id::text, count(*) from public.streaming_messages"
            " where session_id = any(%s::uuid[]) group by 1",
            (session_ids,),
        ).fetchall()
    return {row[0]: int(row[1]) for row in rows}


def start_llm(
    work_dir: Path, ttft_ms: float, tokens_per_second: float, tool_call: tuple[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], int]:
    port_file = work_dir / "llm-port"
    command = [
        sys.executable,
        "-m",
        "tests.scripted_llm",
        f"--ttft-ms={ttft_ms}",
        f"--tokens-per-second={tokens_per_second}",
        f"--port-file={port_file}",
        f"--records={work_dir / 'llm-records.json'}",
        *(["--tool-call", *tool_call] if tool_call else []),
    ]
    llm = subprocess.Popen(command, cwd=REPO_ROOT, start_new_session=True)
    deadline = time.monotonic() + 30
    while not port_file.exists() or not port_file.read_text():
        if llm.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the scripted LLM did not start")
        time.sleep(0.05)
    return llm, int(port_file.read_text())


def stop_llm(llm: subprocess.Popen[bytes], work_dir: Path) -> list[dict[str, Any]]:
    llm.send_signal(signal.SIGTERM)
    llm.wait(timeout=30)
    records: list[dict[str, Any]] = json.loads((work_dir / "llm-records.json").read_text())
    return records


def cpu_meter(server_pid: int, data_dir: Path, llm_pid: int) -> Callable[[], dict[str, float]]:
    """CPU seconds so far of the server, Postgres, this load generator and the scripted LLM."""
    import psutil  # type: ignore[import-untyped]

    meter = CpuMeter(server_pid, postmaster_pid(data_dir))
    llm = psutil.Process(llm_pid)

    def sample() -> dict[str, float]:
        times = llm.cpu_times()
        return {**meter.sample(), "llm": float(times.user + times.system)}

    return sample


def print_cpu_per_turn(cpu_s: dict[str, float], turns: int) -> None:
    if not cpu_s or not turns:
        return
    parts = "  ".join(f"{name} {1000 * used / turns:.2f}" for name, used in cpu_s.items())
    print(f"  CPU ms per turn: {parts}")


def overhead_and_lag(results: Results, llm_records: list[dict[str, Any]]) -> tuple[list[float], list[float]]:
    """Per turn, our own time (the client's total minus every LLM request of the turn, a tool round makes
    two) and the first-sentence lag (from the LLM request whose text holds the first sentence)."""
    by_question: dict[str, list[dict[str, Any]]] = {}
    for record in llm_records:
        asked = [m["content"] for m in record["body"]["messages"] if m["role"] == "user"]
        if asked:
            by_question.setdefault(asked[-1], []).append(record)
    overhead, lag = [], []
    for turn in results.turns:
        records = by_question.get(turn.question, [])
        if not records or any(r["finished_at"] is None for r in records) or turn.done_at is None:
            continue
        llm_time = sum(r["finished_at"] - r["received_at"] for r in records)
        overhead.append(1000 * ((turn.done_at - turn.sent_at) - llm_time))
        said = [r["first_sentence_sent_at"] for r in records if r["first_sentence_sent_at"] is not None]
        if said and turn.first_sentence_at is not None:
            lag.append(1000 * (turn.first_sentence_at - said[0]))
    return overhead, lag


def report(results: Results, llm_records: list[dict[str, Any]], stored: dict[str, int], clients: int) -> bool:
    overhead, lag = overhead_and_lag(results, llm_records)
    server_side = {
        name: [turn.timings[name] for turn in results.turns if turn.timings.get(name) is not None]
        for name in ("retrieval_ms", "llm_first_token_ms", "first_sentence_ms", "total_ms")
    }
    lost = sum(max(0, 2 * done - stored.get(session_id, 0)) for session_id, done in results.sessions)
    rate = len(results.turns) / results.elapsed if results.elapsed else 0.0
    rows = [
        ("overhead p50 (ms)", percentile(overhead, 50), TARGET_OVERHEAD_P50_MS, True),
        ("overhead p99 (ms)", percentile(overhead, 99), TARGET_OVERHEAD_P99_MS, True),
        ("first-sentence lag p50 (ms)", percentile(lag, 50), None, True),
        ("first-sentence lag p99 (ms)", percentile(lag, 99), TARGET_LAG_P99_MS, True),
        ("turns per second", rate, TARGET_TURNS_PER_S, False),
        ("messages lost", float(lost), 0.0, True),
        ("errors", float(len(results.errors)), 0.0, True),
    ]
    print(f"\n{clients} concurrent sessions, {len(results.turns)} turns in {results.elapsed:.1f} s")
    ok = True
    for name, value, target, at_most in rows:
        verdict = ""
        if target is not None:
            met = value <= target if at_most else value >= target
            ok = ok and met
            verdict = f"{'<=' if at_most else '>='} {target:g}  {'PASS' if met else 'MISS'}"
        print(f"  {name:<30}{value:>10.2f}   {verdict}")
    print_cpu_per_turn(results.cpu_s, len(results.turns))
    print("  as the server timed them (p50 / p99 ms):")
    for name, values in server_side.items():
        print(f"    {name:<28}{percentile(values, 50):>10.2f}{percentile(values, 99):>10.2f}")
    for sample in results.errors[:5]:
        print(f"  error: {sample[:300]}")
    return ok


TOOL = ("order_status", '{"order": "A-17"}')
TARGET_TOOL_ROUND_P50_MS = 5.0


class ToolEndpoint:
    """The owner's system the tool calls, on loopback in a thread: answers at once, times its own work."""

    def __init__(self) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        handled: list[float] = []
        self.handled = handled

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                began = time.monotonic()
                self.rfile.read(int(self.headers["content-length"]))
                answer = b'{"order": "A-17", "status": "shipped"}'
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)
                handled.append(1000 * (time.monotonic() - began))

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer((HOST, 0), Handler)
        self.url = f"http://{HOST}:{self.server.server_address[1]}/orders"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def add_tool(base_url: str, clients: list[Client], url: str) -> None:
    for client in clients:
        response = httpx.post(
            f"{base_url}/v1/avatars/{client.avatar_id}/tools",
            json={
                "name": TOOL[0],
                "description": "Look up an order.",
                "parameters": {"type": "object", "properties": {"order": {"type": "string"}}},
                "method": "POST",
                "url": url,
            },
            headers={"authorization": f"Bearer {client.token}"},
            timeout=10,
        )
        response.raise_for_status()


def print_tool_round(
    plain: Results, with_tool: Results, records: list[dict[str, Any]], tool_ms: list[float]
) -> bool:
    base, _ = overhead_and_lag(plain, records)
    tooled, _ = overhead_and_lag(with_tool, records)
    added = percentile(tooled, 50) - percentile(base, 50) - percentile(tool_ms, 50)
    met = added <= TARGET_TOOL_ROUND_P50_MS
    print(
        f"\none tool round per turn, {len(with_tool.turns)} turns (1 session), against the same without one:"
    )
    without, with_round = percentile(base, 50), percentile(tooled, 50)
    print(f"  overhead p50 without / with a tool round (ms) {without:>8.2f} {with_round:>8.2f}")
    print(f"  the tool's own time p50 (ms)                 {percentile(tool_ms, 50):>8.2f}")
    print(
        f"  added by our code per tool round p50 (ms)    {added:>8.2f}   <= {TARGET_TOOL_ROUND_P50_MS:g}"
        f"  {'PASS' if met else 'MISS'}"
    )
    print_cpu_per_turn(with_tool.cpu_s, len(with_tool.turns))
    return met


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--clients", type=int, nargs="+", default=[1, TARGET_CLIENTS], help="concurrent sessions, per level"
    )
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--warmup", type=int, default=5, help="turns per client before measuring")
    parser.add_argument("--ttft-ms", type=float, default=20.0, help="the scripted LLM's time to first token")
    parser.add_argument("--tokens-per-second", type=float, default=1000.0, help="0: as fast as possible")
    parser.add_argument(
        "--no-tool-round", action="store_true", help="skip the scenario where each turn calls one tool"
    )
    args = parser.parse_args(argv)

    print(describe())
    server = None
    endpoint = ToolEndpoint()
    allow = {"TOOL_ALLOWED_HOSTS": json.dumps([f"{HOST}/32"])}
    with local_database(env=allow) as db:
        llm, llm_port = start_llm(db.data_dir, args.ttft_ms, args.tokens_per_second, TOOL)
        try:
            os.environ.update(llm_env(llm_port))
            port = free_port()
            server = start_server(dict(os.environ), port)
            meter = cpu_meter(server.pid, db.data_dir, llm.pid)
            print(
                f"server on port {port}; scripted LLM ttft {args.ttft_ms:g} ms,"
                f" {args.tokens_per_second:g} tokens/s; {args.seconds:g} s per level ...",
                flush=True,
            )
            levels: list[tuple[int, Results]] = []
            for count in args.clients:
                clients = create_clients(db.url, db.secret, count, shared_owner=False, tag=f"turns{count}")
                add_knowledge(db.url, clients)
                measured = run(
                    port, clients, seconds=args.seconds, warmup=args.warmup, meter=meter, tag=f"c{count}-"
                )
                levels.append((count, asyncio.run(measured)))
            rounds: tuple[Results, Results] | None = None
            if not args.no_tool_round:
                plain, tooled = (
                    create_clients(db.url, db.secret, 1, shared_owner=False, tag=f"tool-{kind}")
                    for kind in "ab"
                )
                add_knowledge(db.url, plain + tooled)
                add_tool(f"http://{HOST}:{port}", tooled, endpoint.url)
                rounds = (
                    asyncio.run(
                        run(port, plain, seconds=args.seconds, warmup=args.warmup, meter=meter, tag="p-")
                    ),
                    asyncio.run(
                        run(port, tooled, seconds=args.seconds, warmup=args.warmup, meter=meter, tag="t-")
                    ),
                )
        finally:
            if server is not None:
                stop_server(server)
            records = stop_llm(llm, db.data_dir)
            endpoint.close()
        ok = True
        for count, results in levels:
            stored = stored_messages(db.url, [session_id for session_id, _ in results.sessions])
            ok = report(results, records, stored, count) and ok
        if rounds is not None:
            ok = print_tool_round(*rounds, records, endpoint.handled) and ok
    print("(CPU: server = the app under uvicorn, postgres = postmaster and backends, loadgen = this one)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
