"""Cold-start import time of each Lambda handler module, against a bare handler measured in the same run.

The handler modules are the .py files directly in functions/ (other than __init__.py). For each,
a fresh interpreter is spawned ``--runs`` times; it measures ``time.perf_counter()`` around
``importlib.import_module(name)`` only (interpreter start-up is reported apart) with a cloud
environment: APP_MODE=cloud, DATABASE_URL=postgresql://bench@127.0.0.1/bench and a random 40
character SUPABASE_JWT_SECRET. The child also checks that the import opened no network connection
(Python-level ``socket.connect`` audit events and the process's open inet sockets), since a
handler must not touch the database before its first invocation.

In the same run, and measured the same way, a bare handler is imported: a hello-world FastAPI app with
one route wrapped by Mangum, which is what any FastAPI-on-Lambda function pays. Each of our handlers is
printed as a ratio of it: the target is at most 1.15, i.e. our own code adds at most 15 % to the framework.
The absolute 300 ms target is printed too, but only the ratio travels between machines.

Every module is loaded from bytecode, the bare handler's included: one untimed import of each writes
its .pyc files first (the bench drops PYTHONDONTWRITEBYTECODE from the children's environment for
that), as the dependency layer ships them for the framework. Without them every run would compile our
modules from source and the bare handler's framework not.

The first request is timed too, in the same child right after the import: the HTTP functions import
some of what their routes need when a route first runs, and that must not make it slow. The bench
starts an embedded Postgres with every migration for it (the children's DATABASE_URL, and a user with
an avatar whose HS256 token is signed with the children's SUPABASE_JWT_SECRET); each HTTP handler is
invoked as the Lambda runtime does, with an API Gateway HTTP API event for one of its GET routes,
authenticated and answered from the database (the first request opens the pool, imports the driver and
verifies the token); the bare handler answers its GET /health. Each round also runs every HTTP handler
once more with its SnapStart hooks run between the import and the first request, as Lambda runs them
around a snapshot and a restore (the `snapshot_restore_py` package stands in for the runtime's): that
first request is what a deployed instance answers after its restore, with the drivers preloaded and the
pool open (its import counts with the others'). The streaming function has no Lambda handler: it is
started as the Web Adapter starts it (functions/stream.sh, uvicorn), as many times again with its
SnapStart hooks called over HTTP before the first turn, and its first turns are timed (a JSON turn in a
session of the bench user's, answered offline). Where the `local` extra is installed (not in the Lambda
layer), that first turn also loads the local e5 embedding model for the question, which its retrieval time
shows. ``--no-first-request`` skips all of it (and the database): DATABASE_URL then names a port nothing
listens on.

Then each module is imported once more under ``-X importtime`` and the slowest top-level packages
by cumulative import time (each counted where it is first imported, so including what it imports)
are listed.

    .venv/bin/python bench/coldstart.py --runs 5 --top 8
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import statistics
import string
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from bench.machine import describe  # noqa: E402 (the repository root must be importable first)
from functions.core.settings import settings_env_names  # noqa: E402

TARGET_MS = 300.0
TARGET_RATIO = 1.15
BARE_MODULE = "bare_handler"
STREAM_MODULE = "functions.stream"
# The peer: the least a FastAPI function on Lambda imports.
BARE_HANDLER = """from fastapi import FastAPI
from mangum import Mangum

app = FastAPI()


@app.get("/health")
def health() -> dict[str, bool]:
    return {"ok": True}


handler = Mangum(app, lifespan="off")
"""
MARKER = "--- bench import starts ---"
END_MARKER = "--- bench import ends ---"
# The GET route each HTTP function's first request goes to ({avatar_id}: the bench user's avatar).
FIRST_REQUESTS = {
    BARE_MODULE: "/health",
    "functions.avatars": "/v1/avatars",
    "functions.sessions": "/v1/sessions",
    "functions.insights": "/v1/insights",
    "functions.knowledge": "/v1/avatars/{avatar_id}/knowledge",
    "functions.tools": "/v1/avatars/{avatar_id}/tools",
}
EVENT = REPO_ROOT / "tests" / "events" / "http_api_get_health.json"

# Runs in the fresh interpreter: time the import, count network connections it made; then, given an
# event, invoke the module's handler with it as the Lambda runtime would and time that first request.
CHILD = f"""
import importlib, json, sys, time, types
connects = []
sys.addaudithook(lambda event, args: connects.append(repr(args[1])) if event == "socket.connect" else None)
sys.stderr.write({MARKER!r} + "\\n")
sys.stderr.flush()
began, began_cpu = time.perf_counter(), time.process_time()
module = importlib.import_module(sys.argv[1])
elapsed, cpu = time.perf_counter() - began, time.process_time() - began_cpu
sys.stderr.write({END_MARKER!r} + "\\n")
sys.stderr.flush()
try:
    import psutil
    sockets = len(psutil.Process().net_connections(kind="inet"))
except Exception:
    sockets = -1
connects_at_import = list(connects)
if sys.argv[3:] == ["restored"]:
    # As SnapStart runs them: the hooks before the snapshot, then those after a restore.
    import snapshot_restore_py
    for hooks in (snapshot_restore_py.get_before_snapshot(), snapshot_restore_py.get_after_restore()):
        for hook, args, kwargs in hooks:
            hook(*args, **kwargs)
first_s, status = None, None
if len(sys.argv) > 2:
    event = json.loads(sys.argv[2])
    context = types.SimpleNamespace(
        function_name="bench", aws_request_id="bench-request", get_remaining_time_in_millis=lambda: 28_000
    )
    began = time.perf_counter()
    status = module.handler(event, context)["statusCode"]
    first_s = time.perf_counter() - began
print(json.dumps({{
    "import_s": elapsed, "import_cpu_s": cpu, "connects": connects_at_import, "sockets": sockets,
    "first_s": first_s, "status": status,
}}))
"""

_IMPORTTIME = re.compile(r"^import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s*)(\S+)\s*$")


@dataclass(frozen=True, slots=True)
class Run:
    import_ms: float
    import_cpu_ms: float
    process_ms: float
    connects: list[str]
    sockets: int
    first_ms: float | None = None
    status: int | None = None
    restored: bool = False  # the first request came after the SnapStart hooks had run


def handler_modules(root: Path = REPO_ROOT) -> list[str]:
    return sorted(
        f"functions.{path.stem}" for path in (root / "functions").glob("*.py") if path.name != "__init__.py"
    )


def cloud_env(bare_dir: Path, database_url: str | None = None) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in settings_env_names() and key != "PYTHONDONTWRITEBYTECODE"
    }
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(bare_dir), env.get("PYTHONPATH")]))
    alphabet = string.ascii_letters + string.digits
    env.update(
        {
            "APP_MODE": "cloud",
            "DATABASE_URL": database_url or "postgresql://bench@127.0.0.1:9/bench",
            "SUPABASE_JWT_SECRET": "".join(secrets.choice(alphabet) for _ in range(40)),
        }
    )
    return env


@contextmanager
def bench_database() -> Iterator[str]:
    """An embedded Postgres with every migration, in a temporary directory removed afterwards."""
    from functions.core.db.embedded import start_embedded_postgres, stop_embedded_postgres
    from functions.core.db.migrate import prepare_database

    data_dir = Path(tempfile.mkdtemp(prefix="bench-coldstart-db-"))
    started = False
    try:
        url = start_embedded_postgres(data_dir)
        started = True
        prepare_database(url)
        yield url
    finally:
        if started:
            stop_embedded_postgres(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)


@dataclass(frozen=True)
class BenchUser:
    user_id: uuid.UUID
    avatar_id: uuid.UUID
    token: str  # HS256, signed with the children's SUPABASE_JWT_SECRET


def bench_user(url: str, secret: str) -> BenchUser:
    """A user with an avatar in the bench database, and an access token of theirs."""
    import psycopg

    from functions.core.auth.tokens import sign_local_token

    email = f"bench-coldstart-{uuid.uuid4().hex[:8]}@bench.invalid"
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("insert into auth.users (email) values (%s) returning id", (email,)).fetchone()
        assert row is not None
        user_id: uuid.UUID = row[0]
        row = conn.execute(
            "insert into public.avatars (owner_id, name) values (%s, 'bench') returning id", (user_id,)
        ).fetchone()
        assert row is not None
    return BenchUser(user_id, row[0], sign_local_token(secret, user_id, email, ttl_seconds=3600))


def first_request_events(user: BenchUser) -> dict[str, str]:
    """Each HTTP handler's first request, as an API Gateway event (JSON) of the bench user's."""
    events = {}
    for module, path in FIRST_REQUESTS.items():
        event: dict[str, Any] = json.loads(EVENT.read_text())
        path = path.format(avatar_id=user.avatar_id)
        event["rawPath"] = event["requestContext"]["http"]["path"] = path
        event["routeKey"] = event["requestContext"]["routeKey"] = f"GET {path}"
        if module != BARE_MODULE:
            event["headers"]["authorization"] = f"Bearer {user.token}"
        events[module] = json.dumps(event)
    return events


def spawn(
    module: str, env: dict[str, str], *flags: str, event: str | None = None, restored: bool = False
) -> tuple[Run, str]:
    began = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            *flags,
            "-c",
            CHILD,
            module,
            *([event] if event else []),
            *(["restored"] if restored else []),
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    process_ms = (time.perf_counter() - began) * 1000
    if done.returncode != 0:
        raise RuntimeError(f"importing {module} failed:\n{done.stderr[-2000:]}")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    run = Run(
        import_ms=report["import_s"] * 1000,
        import_cpu_ms=report["import_cpu_s"] * 1000,
        process_ms=process_ms,
        connects=list(report["connects"]),
        sockets=int(report["sockets"]),
        first_ms=None if report["first_s"] is None else report["first_s"] * 1000,
        status=report["status"],
        restored=restored,
    )
    return run, done.stderr


def slowest_packages(importtime_log: str, exclude: str, top: int) -> list[tuple[str, float]]:
    """Top-level packages by cumulative import time, each counted at its outermost import."""
    # Only the handler's own import: not what the child imports afterwards to check its sockets.
    lines = importtime_log.split(MARKER, 1)[-1].split(END_MARKER, 1)[0].splitlines()
    totals: dict[str, float] = {}
    # -X importtime prints children before their parent; read it backwards to walk top-down.
    stack: list[tuple[int, str]] = []
    for line in reversed(lines):
        match = _IMPORTTIME.match(line)
        if match is None:
            continue
        cumulative_us, indent, name = int(match[2]), len(match[3]), match[4]
        while stack and stack[-1][0] >= indent:
            stack.pop()
        root = name.split(".")[0]
        if root != exclude and all(outer != root for _, outer in stack):
            totals[root] = totals.get(root, 0.0) + cumulative_us / 1000
        stack.append((indent, root))
    return sorted(totals.items(), key=lambda item: item[1], reverse=True)[:top]


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0] if __doc__ else None,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--runs", type=int, default=5, help="fresh interpreters per module")
    parser.add_argument("--top", type=int, default=8, help="slowest top-level packages to list per module")
    parser.add_argument("--modules", nargs="*", default=None, help="modules (default: functions/*.py)")
    parser.add_argument(
        "--first-request",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also time each HTTP handler's first request (starts an embedded Postgres)",
    )
    args = parser.parse_args(argv)

    modules = args.modules or handler_modules()
    with tempfile.TemporaryDirectory(prefix="bench-bare-handler-") as bare_dir, _database(args) as url:
        (Path(bare_dir) / f"{BARE_MODULE}.py").write_text(BARE_HANDLER)
        env = cloud_env(Path(bare_dir), url)
        user = bench_user(url, env["SUPABASE_JWT_SECRET"]) if url else None
        events = first_request_events(user) if user else {}
        print(describe())
        print(
            f"{args.runs} fresh interpreters per module, interleaved with a bare FastAPI + Mangum handler;"
            f" target: at most {TARGET_RATIO:.2f}x the bare handler"
        )
        failed = report(measure([BARE_MODULE, *modules], env, args.runs, events), modules)
        if user is not None and STREAM_MODULE in modules:
            report_stream_turns(stream_turns(env, url, user, args.runs), args.runs)
        for module in modules:
            _, log = spawn(module, env, "-X", "importtime")
            print(f"\nslowest top-level imports of {module} (cumulative ms, one run under -X importtime):")
            for package, ms in slowest_packages(log, exclude="functions", top=args.top):
                print(f"  {package:<28}{ms:>8.1f}")
    return 1 if failed else 0


@dataclass(frozen=True)
class StreamRun:
    ready_ms: float  # from the process's start to its readiness check answering 200
    first_ms: float  # the first turn
    first_retrieval_ms: float  # its retrieval, as the turn's own timings report it
    second_ms: float  # the next turn, on a warm instance
    restored: bool


def stream_turns(env: dict[str, str], url: str, user: BenchUser, rounds: int) -> list[StreamRun]:
    """The streaming function started as the Web Adapter starts it (functions/stream.sh), each round once
    as at a cold start and once with its SnapStart hooks called in between, as after a restore."""
    import psycopg

    runs = []
    for _ in range(rounds):
        for restored in (False, True):
            with psycopg.connect(url, autocommit=True) as conn:
                row = conn.execute(
                    "insert into public.streaming_sessions"
                    " (user_id, owner_id, avatar_id, provider, expires_at)"
                    " values (%s, %s, %s, 'local', now() + interval '1 hour') returning id",
                    (user.user_id, user.user_id, user.avatar_id),
                ).fetchone()
                assert row is not None
            runs.append(_stream_run(env, row[0], user.token, restored=restored))
    return runs


def _stream_run(env: dict[str, str], session_id: uuid.UUID, token: str, *, restored: bool) -> StreamRun:
    import httpx

    from bench.sessions import HOST, free_port, stop_server, wait_until_ready
    from functions.core.api.routes.snapstart import AFTER_RESTORE_PATH, BEFORE_CHECKPOINT_PATH

    port = free_port()
    path = os.pathsep.join([str(Path(sys.executable).parent), env["PATH"]])
    began = time.perf_counter()
    process = subprocess.Popen(
        ["sh", "functions/stream.sh"],
        cwd=REPO_ROOT,
        env={**env, "PORT": str(port), "PATH": path},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_until_ready(process, port, poll_s=0.01)
        ready_ms = (time.perf_counter() - began) * 1000
        with httpx.Client(base_url=f"http://{HOST}:{port}", timeout=60) as client:
            if restored:
                for hook in (BEFORE_CHECKPOINT_PATH, AFTER_RESTORE_PATH):
                    client.post(hook).raise_for_status()
            turns, retrieval = [], []
            for number in (1, 2):
                started = time.perf_counter()
                answer = client.post(
                    f"/v1/sessions/{session_id}/turns",
                    json={"turn_id": f"bench-{number}", "text": "What can you tell me about the bench?"},
                    headers={"authorization": f"Bearer {token}"},
                )
                turns.append((time.perf_counter() - started) * 1000)
                answer.raise_for_status()
                retrieval.append(float(answer.json()["timings"]["retrieval_ms"]))
    finally:
        stop_server(process)
    return StreamRun(ready_ms, turns[0], retrieval[0], turns[1], restored)


def report_stream_turns(runs: list[StreamRun], rounds: int) -> None:
    def p50(values: list[float]) -> str:
        return f"{statistics.median(values):8.1f}"

    fresh = [run for run in runs if not run.restored]
    restored = [run for run in runs if run.restored]
    print(
        f"\n{STREAM_MODULE}: started {rounds} times as the Web Adapter starts it (functions/stream.sh),"
        f" {rounds} times more with its SnapStart hooks\ncalled before the first turn as after a restore;"
        " each turn a JSON POST /v1/sessions/<id>/turns, answered offline (no LLM key). p50 ms:"
    )
    print(f"  process start -> readiness check answered {p50([run.ready_ms for run in fresh])}")
    print(f"  first turn, as at a cold start              {p50([run.first_ms for run in fresh])}")
    print(f"  first turn, after a restore                 {p50([run.first_ms for run in restored])}")
    retrieval = [run.first_retrieval_ms for run in restored]
    print(f"    of which retrieval                        {p50(retrieval)}")
    print(f"  second turn                                 {p50([run.second_ms for run in runs])}")


@contextmanager
def _database(args: argparse.Namespace) -> Iterator[str | None]:
    if not args.first_request:
        yield None
        return
    with bench_database() as url:
        yield url


def measure(
    modules: list[str], env: dict[str, str], rounds: int, events: dict[str, str]
) -> dict[str, list[Run]]:
    """Round-robin over the modules, so that the machine's load falls on ours and the peer alike."""
    # One untimed import each so that .pyc files exist, as the dependency layer ships them.
    for module in modules:
        spawn(module, env)
    runs: dict[str, list[Run]] = {module: [] for module in modules}
    for _ in range(rounds):
        for module in modules:
            event = events.get(module)
            runs[module].append(spawn(module, env, event=event)[0])
            if event is not None:
                # The import of this one counts too: the hooks run after it is timed.
                runs[module].append(spawn(module, env, event=event, restored=True)[0])
    return runs


def report(runs: dict[str, list[Run]], modules: list[str]) -> bool:
    """Print the table; True if a handler missed its ratio or opened a connection."""
    bare = statistics.median(run.import_ms for run in runs[BARE_MODULE])
    bare_cpu = statistics.median(run.import_cpu_ms for run in runs[BARE_MODULE])
    header = (
        f"{'module':<22}{'median ms':>10}{'min ms':>8}{'max ms':>8}{'process ms':>12}"
        f"{'x bare':>8}{'verdict':>9}{'cpu ms':>8}{'x bare':>8}{'<300 ms':>9}{'net conns':>11}"
        f"{'1st req ms':>12}{'restored':>10}"
    )
    print()
    print(header)
    print("-" * len(header))
    failed = False
    for module in [BARE_MODULE, *modules]:
        measured = runs[module]
        imports = [run.import_ms for run in measured]
        median = statistics.median(imports)
        # The hooks' preloading would lengthen a restored run's process: those are left out here.
        process = statistics.median(run.process_ms for run in measured if not run.restored)
        conns = max(len(run.connects) + max(run.sockets, 0) for run in measured)
        ratio = median / bare
        cpu = statistics.median(run.import_cpu_ms for run in measured)
        firsts = [run.first_ms for run in measured if run.first_ms is not None and not run.restored]
        first = f"{statistics.median(firsts):.1f}" if firsts else "-"
        restored = [run.first_ms for run in measured if run.first_ms is not None and run.restored]
        after_restore = f"{statistics.median(restored):.1f}" if restored else "-"
        answered = all(run.status is None or run.status == 200 for run in measured)
        ok = ratio <= TARGET_RATIO and conns == 0 and answered
        if module != BARE_MODULE:
            failed = failed or not ok
        if not answered:
            first += " (" + ",".join(str(run.status) for run in measured) + ")"
        print(
            f"{module:<22}{median:>10.1f}{min(imports):>8.1f}{max(imports):>8.1f}{process:>12.1f}"
            f"{ratio:>8.2f}{verdict(ratio <= TARGET_RATIO) if module != BARE_MODULE else 'peer':>9}"
            f"{cpu:>8.1f}{cpu / bare_cpu:>8.2f}{verdict(median <= TARGET_MS):>9}{conns:>11}{first:>12}"
            f"{after_restore:>10}"
        )
    print("(import ms: import_module only; process ms: whole child interpreter, start-up included;")
    print(
        " x bare: median import time over the bare FastAPI + Mangum handler's, measured in the same rounds;"
    )
    print(
        " cpu ms, x bare: the same for the import's CPU time, which the machine's other work disturbs less;"
    )
    print(" 1st req ms: median of the first invocation right after the import, a GET answered 200 from")
    print(" the database with the pool opened and the token verified; the bare handler's GET /health;")
    print(" restored: the same after the handler's SnapStart hooks ran as Lambda runs them around a")
    print(" snapshot and a restore, what a deployed instance's first request takes after its restore)")
    return failed


if __name__ == "__main__":
    sys.exit(main())
