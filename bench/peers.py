"""Turns against Pipecat, side by side in one run on one machine.

The same conversation runs through Pipecat's pipeline (bench/pipecat_peer.py: its OpenAI LLM service and
its sentence aggregation into a TTS stage that discards the text) and through ours (HTTP, SSE, retrieval
and both messages stored, as bench/turns.py drives it), against the same scripted OpenAI-compatible LLM
(tests/scripted_llm.py: same reply text, same time to first token and token rate, a process of its own
per system), with the same questions, at 1 and 16 concurrent conversations. Per level and system:

* first-sentence lag p50/p99: from the LLM sending the token that completes the first sentence to that
  sentence reaching Pipecat's TTS stage, or our client (over HTTP, so ours includes the network hop);
* CPU milliseconds per turn of every process involved: Pipecat's process and its LLM; our server,
  Postgres and its LLM (our load generator is shown apart: Pipecat has none, its turns start in-process).

The ratios ours / Pipecat are printed with the target (at most 1.0 on lag and on CPU per turn).

Ours runs as the deployment this comparison is about: an OpenAI-compatible LLM with its key, so questions
are embedded by that service's `/embeddings` (the scripted server answers it in OpenAI's documented shape,
1536 floats for text-embedding-3-small; its CPU counts as the LLM's, as a hosted service's would not count
at all) and the knowledge chunks carry vectors of that model, so retrieval is hybrid as in the cloud. The
local e5 model is what a keyless machine uses (`make dev` without a key); the cloud functions do not ship
it. Embedding with it on this machine's CPU would put a model's inference into our column that a keyed
deployment sends to its provider, so that is not the scenario measured here.
Needs the bench extra: `.venv/bin/pip install -e '.[bench]'` (pipecat-ai).

    .venv/bin/python bench/peers.py --clients 1 16 --seconds 15
"""

import argparse
import asyncio
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from bench.machine import describe  # noqa: E402 (the repository root must be importable first)
from bench.sessions import (  # noqa: E402
    HOST,
    LocalDatabase,
    create_clients,
    free_port,
    local_database,
    percentile,
    start_server,
    stop_server,
)
from bench.turns import (  # noqa: E402
    QUESTIONS,
    add_knowledge,
    cpu_meter,
    llm_env,
    run,
    start_llm,
    stop_llm,
)

TARGET_RATIO = 1.0


@dataclass(frozen=True, slots=True)
class Measured:
    system: str
    clients: int
    turns: int
    lag_ms: list[float]
    cpu_ms_per_turn: dict[str, float]

    def own_cpu(self) -> float:
        """CPU per turn of the system itself: every process but the LLM and a load generator."""
        return sum(ms for name, ms in self.cpu_ms_per_turn.items() if name not in ("llm", "loadgen"))


def lags(turns: list[dict[str, Any]], records: list[dict[str, Any]], arrived: str) -> list[float]:
    by_question = {record["body"]["messages"][-1]["content"]: record for record in records}
    out = []
    for turn in turns:
        record = by_question.get(turn["question"])
        if record and record["first_sentence_sent_at"] is not None and turn[arrived] is not None:
            out.append(1000 * (turn[arrived] - record["first_sentence_sent_at"]))
    return out


def run_pipecat(
    work: Path, clients: int, seconds: float, warmup: int, ttft_ms: float, rate: float
) -> Measured:
    import psutil  # type: ignore[import-untyped]

    llm_dir = work / f"pipecat-llm-{clients}"
    llm_dir.mkdir()
    llm, llm_port = start_llm(llm_dir, ttft_ms, rate)
    try:
        llm_process = psutil.Process(llm.pid)
        before = llm_process.cpu_times()
        done = subprocess.run(
            [
                sys.executable,
                str(REPO_ROOT / "bench" / "pipecat_peer.py"),
                f"--llm-url=http://{HOST}:{llm_port}/v1",
                f"--clients={clients}",
                f"--seconds={seconds}",
                f"--warmup={warmup}",
                f"--questions={json.dumps(QUESTIONS)}",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        after = llm_process.cpu_times()
    finally:
        records = stop_llm(llm, llm_dir)
    if done.returncode != 0:
        raise RuntimeError(f"the Pipecat peer failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    turns = result["turns"]
    # The LLM's CPU over the whole child run (warm-up included) is scaled to the measured turns' share.
    llm_cpu = (after.user + after.system) - (before.user + before.system)
    llm_turns = len(records) or 1
    return Measured(
        "pipecat",
        clients,
        len(turns),
        lags(turns, records, "first_sentence_at"),
        {"pipecat": 1000 * result["cpu_s"] / max(1, len(turns)), "llm": 1000 * llm_cpu / llm_turns},
    )


def run_ours(
    db: LocalDatabase, clients: int, seconds: float, warmup: int, ttft_ms: float, rate: float
) -> Measured:
    llm_dir = db.data_dir / f"ours-llm-{clients}"
    llm_dir.mkdir()
    llm, llm_port = start_llm(llm_dir, ttft_ms, rate)
    server = None
    try:
        env = {**os.environ, **llm_env(llm_port)}
        port = free_port()
        server = start_server(env, port)
        callers = create_clients(db.url, db.secret, clients, shared_owner=False, tag=f"peers{clients}")
        add_knowledge(db.url, callers)
        results = asyncio.run(
            run(
                port,
                callers,
                seconds=seconds,
                warmup=warmup,
                meter=cpu_meter(server.pid, db.data_dir, llm.pid),
            )
        )
    finally:
        if server is not None:
            stop_server(server)
        records = stop_llm(llm, llm_dir)
    turns = [
        {"question": turn.question, "first_sentence_at": turn.first_sentence_at} for turn in results.turns
    ]
    count = max(1, len(results.turns))
    return Measured(
        "ours",
        clients,
        len(results.turns),
        lags(turns, records, "first_sentence_at"),
        {name: 1000 * used / count for name, used in results.cpu_s.items()},
    )


def print_level(ours: Measured, peer: Measured) -> bool:
    print(f"\n{ours.clients} concurrent conversations ({ours.turns} turns ours, {peer.turns} turns Pipecat)")
    print(f"  {'':<34}{'ours':>10}{'Pipecat':>10}{'ratio':>8}  target")
    ok = True

    def row(label: str, mine: float, theirs: float, compare: bool = True) -> None:
        nonlocal ok
        ratio = mine / theirs if theirs else float("inf")
        verdict = ""
        if compare:
            met = ratio <= TARGET_RATIO
            ok = ok and met
            verdict = f"<= {TARGET_RATIO:g}  {'PASS' if met else 'MISS'}"
        print(f"  {label:<34}{mine:>10.2f}{theirs:>10.2f}{ratio:>8.2f}  {verdict}")

    row("first-sentence lag p50 (ms)", percentile(ours.lag_ms, 50), percentile(peer.lag_ms, 50))
    row("first-sentence lag p99 (ms)", percentile(ours.lag_ms, 99), percentile(peer.lag_ms, 99))
    row("CPU ms per turn, the system", ours.own_cpu(), peer.own_cpu())
    row("CPU ms per turn, its LLM", ours.cpu_ms_per_turn.get("llm", 0), peer.cpu_ms_per_turn["llm"], False)
    parts = "  ".join(f"{name} {ms:.2f}" for name, ms in ours.cpu_ms_per_turn.items())
    print(f"  ours by process (CPU ms per turn): {parts}")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--warmup", type=int, default=3, help="turns per conversation before measuring")
    parser.add_argument("--ttft-ms", type=float, default=20.0)
    parser.add_argument("--tokens-per-second", type=float, default=1000.0)
    args = parser.parse_args(argv)
    try:
        import pipecat  # noqa: F401
    except ImportError:
        print("pipecat-ai is not installed: .venv/bin/pip install -e '.[bench]'", file=sys.stderr)
        return 2

    print(describe())
    print(
        f"scripted LLM: ttft {args.ttft_ms:g} ms, {args.tokens_per_second:g} tokens/s;"
        f" {args.seconds:g} s per system and level; ours and Pipecat alternate"
    )
    ok = True
    with local_database() as db:
        for clients in args.clients:
            ours = run_ours(db, clients, args.seconds, args.warmup, args.ttft_ms, args.tokens_per_second)
            peer = run_pipecat(
                db.data_dir, clients, args.seconds, args.warmup, args.ttft_ms, args.tokens_per_second
            )
            ok = print_level(ours, peer) and ok
    print(
        "\n(ours: HTTP + SSE to a client, retrieval, both messages stored; Pipecat: in-process pipeline,"
        " nothing stored)"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
