"""Latency and throughput of the session lifecycle over real HTTP: start (POST /v1/sessions) then end.

The benchmark starts its own embedded Postgres in a fresh temporary data directory, applies the
migrations, and serves the local app (`create_local_app`) with uvicorn in a separate process, so the
server never shares this load generator's interpreter or GIL. Users, avatars and generous
`usage_limits` rows are inserted as superuser, tokens are signed with the local HS256 secret kept in
the data directory. Each client then loops start → end on its own keep-alive connection.

Two owner layouts are measured (``--modes``):

* ``per-owner``: every client is its own user with its own avatar, so the per-owner advisory lock
  taken by a start never makes clients wait for each other;
* ``shared-owner``: every client uses the same user and avatar, so starts serialise on that lock.

Each (mode, concurrency) level runs until ``--requests`` sessions are done or ``--seconds`` pass,
after a warm-up. All traffic goes to 127.0.0.1. The server and the data directory are removed at
the end.

    .venv/bin/python bench/sessions.py --requests 2000 --seconds 30 --clients 1 16
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from bench.machine import describe  # noqa: E402 (the repository root must be importable first)
from functions.core.settings import settings_env_names  # noqa: E402

HOST = "127.0.0.1"
DEFAULT_FACTORY = "functions.core.local:create_local_app"
TARGET_CLIENTS = 16
TARGET_START_P50_MS = 15.0
TARGET_START_P99_MS = 50.0
HIGH_MONTHLY_SECONDS = 2_000_000_000
HIGH_CONCURRENT_SESSIONS = 100_000


@dataclass(frozen=True, slots=True)
class Client:
    """One simulated caller: its bearer token and the avatar it starts sessions on."""

    token: str
    avatar_id: uuid.UUID


@dataclass(slots=True)
class LevelResult:
    mode: str
    clients: int
    sessions: int = 0
    elapsed: float = 0.0
    start_ms: list[float] = field(default_factory=list)
    end_ms: list[float] = field(default_factory=list)
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    cpu_s: dict[str, float] = field(default_factory=dict)

    def record_error(self, what: str) -> None:
        self.errors += 1
        if len(self.error_samples) < 5:
            self.error_samples.append(what)


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


# --- database and identities ----------------------------------------------------------------------


def start_database(data_dir: Path) -> str:
    """Embedded Postgres under data_dir with the bootstrap and every migration applied."""
    from functions.core.db.embedded import start_embedded_postgres
    from functions.core.db.migrate import prepare_database

    url = start_embedded_postgres(data_dir)
    prepare_database(url)
    return url


@dataclass(frozen=True, slots=True)
class LocalDatabase:
    data_dir: Path
    url: str
    secret: str


@contextmanager
def local_database(*, keep: bool = False, env: dict[str, str] | None = None) -> Iterator[LocalDatabase]:
    """A fresh embedded Postgres with every migration, and local-mode settings (plus `env`) pointing at it.

    The environment is what the server started afterwards inherits; the database is stopped at the end and
    its directory removed unless `keep`.
    """
    data_dir = Path(tempfile.mkdtemp(prefix="avatar-studio-bench-"))
    for name in settings_env_names():
        os.environ.pop(name, None)
    os.environ.update({"APP_MODE": "local", "DATA_DIR": str(data_dir), **(env or {})})
    from functions.core.settings import get_settings

    started = False
    try:
        print(f"data dir {data_dir}; starting embedded Postgres ...", flush=True)
        url = start_database(data_dir)
        started = True
        os.environ["DATABASE_URL"] = url
        get_settings.cache_clear()
        secret = get_settings().hs256_secret()
        assert secret is not None
        yield LocalDatabase(data_dir, url, secret)
    finally:
        if started:
            stop_database(data_dir)
        if keep:
            print(f"data left in {data_dir}")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)


def stop_database(data_dir: Path) -> None:
    from functions.core.db.embedded import stop_embedded_postgres

    stop_embedded_postgres(data_dir)


def postmaster_pid(data_dir: Path) -> int | None:
    pid_file = data_dir / "postgres" / "postmaster.pid"
    try:
        return int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def create_clients(url: str, secret: str, count: int, *, shared_owner: bool, tag: str) -> list[Client]:
    """`count` clients: distinct owners with an avatar each, or one owner and avatar for all."""
    from functions.core.auth.tokens import sign_local_token

    owners = 1 if shared_owner else count
    made: list[Client] = []
    with psycopg.connect(url, autocommit=True) as conn:
        for index in range(owners):
            email = f"bench-{tag}-{index}-{uuid.uuid4().hex[:8]}@bench.invalid"
            row = conn.execute("insert into auth.users (email) values (%s) returning id", (email,)).fetchone()
            assert row is not None
            user_id: uuid.UUID = row[0]
            row = conn.execute(
                "insert into public.avatars (owner_id, name) values (%s, %s) returning id",
                (user_id, f"bench {tag} {index}"),
            ).fetchone()
            assert row is not None
            conn.execute(
                "insert into public.usage_limits (owner_id, monthly_streaming_seconds, concurrent_sessions)"
                " values (%s, %s, %s)",
                (user_id, HIGH_MONTHLY_SECONDS, HIGH_CONCURRENT_SESSIONS),
            )
            token = sign_local_token(secret, user_id, email, ttl_seconds=6 * 3600)
            made.append(Client(token=token, avatar_id=row[0]))
    return made if not shared_owner else made * count


def session_rows(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("select count(*) from public.streaming_sessions").fetchone()
        return int(row[0]) if row else 0


# --- the server -----------------------------------------------------------------------------------


def start_server(
    env: dict[str, str], port: int, *, factory: str = DEFAULT_FACTORY, timeout: float = 60.0
) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        factory,
        "--host",
        HOST,
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    server = subprocess.Popen(command, cwd=REPO_ROOT, env=env, start_new_session=True)
    wait_until_ready(server, port, timeout=timeout)
    return server


def wait_until_ready(
    server: subprocess.Popen[bytes], port: int, *, timeout: float = 60.0, poll_s: float = 0.1
) -> None:
    """Until the server's GET /health answers 200 (what the Lambda Web Adapter waits for too); a server
    that exits first, or is not ready in time, is an error (and is stopped)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with {server.returncode} before it was ready")
        try:
            response = httpx.get(f"http://{HOST}:{port}/health", timeout=2.0)
            if response.status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(poll_s)
    stop_server(server)
    raise RuntimeError(f"the server was not ready within {timeout:.0f} s")


def stop_server(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is not None:
        return
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(timeout=10)


# --- CPU accounting -------------------------------------------------------------------------------


class CpuMeter:
    """CPU seconds used by the server, Postgres (postmaster, backends, reaped ones) and this process."""

    def __init__(self, server_pid: int, postmaster_pid: int | None) -> None:
        import psutil  # type: ignore[import-untyped]

        self._psutil = psutil
        self._server = psutil.Process(server_pid)
        self._postmaster = psutil.Process(postmaster_pid) if postmaster_pid else None

    @staticmethod
    def _own(times: Any) -> float:
        return float(times.user + times.system)

    def sample(self) -> dict[str, float]:
        server = self._own(self._server.cpu_times())
        postgres = 0.0
        if self._postmaster is not None:
            times = self._postmaster.cpu_times()
            postgres = self._own(times) + times.children_user + times.children_system
            for child in self._postmaster.children(recursive=True):
                try:
                    postgres += self._own(child.cpu_times())
                except self._psutil.NoSuchProcess:
                    continue
        loadgen = time.process_time()
        return {"server": server, "postgres": postgres, "loadgen": loadgen}


# --- load -----------------------------------------------------------------------------------------


class Http1:
    """A minimal HTTP/1.1 keep-alive client, one connection per simulated caller.

    The load generator shares the machine's two cores with the server and Postgres; a full HTTP
    client library costs it more CPU per request than the server spends, and the benchmark would
    mostly measure that.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, token: str, body: bytes = b"") -> tuple[int, bytes]:
        if self._reader is None or self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        head = (
            f"POST {path} HTTP/1.1\r\nhost: {self.host}:{self.port}\r\nauthorization: Bearer {token}\r\n"
            f"content-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
        )
        self._writer.write(head.encode() + body)
        header = await self._reader.readuntil(b"\r\n\r\n")
        lines = header.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length = next(
            int(line.split(":", 1)[1]) for line in lines[1:] if line.lower().startswith("content-length:")
        )
        return status, await self._reader.readexactly(length)

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            await self._writer.wait_closed()


_CALL_ERRORS = (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, StopIteration)


async def one_session(http: Http1, client: Client, result: LevelResult | None) -> bool:
    """Start then end one session; records latencies and errors into result (None: warm-up)."""
    body = json.dumps({"avatar_id": str(client.avatar_id)}).encode()
    began = time.perf_counter()
    try:
        status, payload = await http.post("/v1/sessions", client.token, body)
        started = time.perf_counter()
        if status != 201:
            if result is not None:
                result.record_error(f"start: HTTP {status}: {payload[:200]!r}")
            return False
        session_id = json.loads(payload)["session_id"]
        status, payload = await http.post(f"/v1/sessions/{session_id}/end", client.token)
    except _CALL_ERRORS as exc:
        if result is not None:
            result.record_error(f"{type(exc).__name__}: {exc}")
        return False
    ended = time.perf_counter()
    if status != 200:
        if result is not None:
            result.record_error(f"end: HTTP {status}: {payload[:200]!r}")
        return False
    if result is not None:
        result.start_ms.append((started - began) * 1000)
        result.end_ms.append((ended - started) * 1000)
        result.sessions += 1
    return True


async def run_level(
    port: int,
    mode: str,
    clients: list[Client],
    *,
    requests: int,
    seconds: float,
    warmup: int,
    meter: CpuMeter | None,
) -> LevelResult:
    concurrency = len(clients)
    result = LevelResult(mode=mode, clients=concurrency)
    connections = [Http1(HOST, port) for _ in clients]
    try:
        warmups_each = max(1, -(-warmup // concurrency))

        async def warm(http: Http1, client: Client) -> None:
            for _ in range(warmups_each):
                await one_session(http, client, None)

        await asyncio.gather(*(warm(http, client) for http, client in zip(connections, clients, strict=True)))

        remaining = requests
        deadline = time.perf_counter() + seconds

        async def drive(http: Http1, client: Client) -> None:
            nonlocal remaining
            while remaining > 0 and time.perf_counter() < deadline:
                remaining -= 1
                await one_session(http, client, result)

        before = meter.sample() if meter else {}
        began = time.perf_counter()
        await asyncio.gather(
            *(drive(http, client) for http, client in zip(connections, clients, strict=True))
        )
        result.elapsed = time.perf_counter() - began
        if meter is not None:
            after = meter.sample()
            result.cpu_s = {name: after[name] - before[name] for name in after}
    finally:
        for http in connections:
            await http.close()
    return result


# --- report ---------------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def print_report(results: list[LevelResult]) -> None:
    header = (
        f"{'mode':<13}{'clients':>8}{'sessions':>10}{'secs':>7}{'sess/s':>9}"
        f"{'start p50':>11}{'start p99':>11}{'end p50':>9}{'end p99':>9}{'errors':>8}"
    )
    print()
    print(header)
    print("-" * len(header))
    for r in results:
        rate = r.sessions / r.elapsed if r.elapsed > 0 else 0.0
        print(
            f"{r.mode:<13}{r.clients:>8}{r.sessions:>10}{r.elapsed:>7.1f}{rate:>9.1f}"
            f"{percentile(r.start_ms, 50):>11.1f}{percentile(r.start_ms, 99):>11.1f}"
            f"{percentile(r.end_ms, 50):>9.1f}{percentile(r.end_ms, 99):>9.1f}{r.errors:>8}"
        )
    print("(latencies in ms, measured at the client over HTTP keep-alive)")
    if any(r.cpu_s for r in results):
        print("\nCPU per session (ms) and CPU share of wall time while measuring:")
        for r in results:
            if not r.cpu_s or not r.sessions:
                continue
            parts = "  ".join(
                f"{name} {1000 * used / r.sessions:5.2f} ({100 * used / r.elapsed:3.0f}%)"
                for name, used in r.cpu_s.items()
            )
            print(f"  {r.mode:<13}x{r.clients:<3} {parts}")
        print(f"  ({os.cpu_count()} CPUs; 100% = one core fully busy)")
    for r in results:
        for sample in r.error_samples:
            print(f"  error [{r.mode} x{r.clients}] {sample}")

    at_target = [r for r in results if r.clients == TARGET_CLIENTS]
    if not at_target:
        print(f"\nno level with {TARGET_CLIENTS} clients was run: targets not evaluated")
        return
    print(f"\ntargets at {TARGET_CLIENTS} concurrent clients:")
    for r in at_target:
        p50 = percentile(r.start_ms, 50)
        p99 = percentile(r.start_ms, 99)
        print(f"  [{r.mode}]")
        p50_ok = verdict(p50 <= TARGET_START_P50_MS)
        p99_ok = verdict(p99 <= TARGET_START_P99_MS)
        print(f"    start p50 <= {TARGET_START_P50_MS:.0f} ms   measured {p50:7.1f} ms  {p50_ok}")
        print(f"    start p99 <= {TARGET_START_P99_MS:.0f} ms   measured {p99:7.1f} ms  {p99_ok}")
        print(f"    errors == 0          measured {r.errors:7d}     {verdict(r.errors == 0)}")


# --- main -----------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0] if __doc__ else None,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--requests", type=int, default=2000, help="sessions (start+end) per level")
    parser.add_argument("--seconds", type=float, default=30.0, help="time limit per level")
    parser.add_argument("--warmup", type=int, default=100, help="warm-up sessions per level (not measured)")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, TARGET_CLIENTS], help="concurrency")
    parser.add_argument(
        "--modes",
        nargs="+",
        choices=["per-owner", "shared-owner"],
        default=["per-owner", "shared-owner"],
        help="owner layouts to measure",
    )
    parser.add_argument("--port", type=int, default=0, help="server port (0: a free one)")
    parser.add_argument("--pool-max", type=int, default=None, help="DB_POOL_MAX for the server")
    parser.add_argument(
        "--factory",
        default=DEFAULT_FACTORY,
        help="app factory served by uvicorn, module:function (for A/B runs of a variant app)",
    )
    parser.add_argument("--keep-data", action="store_true", help="leave the data directory in place")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print(describe())
    pool = {"DB_POOL_MAX": str(args.pool_max)} if args.pool_max is not None else {}
    server: subprocess.Popen[bytes] | None = None
    with local_database(keep=args.keep_data, env=pool) as db:
        try:
            port = args.port or free_port()
            server = start_server(dict(os.environ), port, factory=args.factory)
            print(f"server ready on http://{HOST}:{port} (pid {server.pid}, {args.factory})", flush=True)
            meter = CpuMeter(server.pid, postmaster_pid(db.data_dir))
            results: list[LevelResult] = []
            for mode in args.modes:
                for concurrency in args.clients:
                    clients = create_clients(
                        db.url,
                        db.secret,
                        concurrency,
                        shared_owner=mode == "shared-owner",
                        tag=f"{mode}-{concurrency}",
                    )
                    result = asyncio.run(
                        run_level(
                            port,
                            mode,
                            clients,
                            requests=args.requests,
                            seconds=args.seconds,
                            warmup=args.warmup,
                            meter=meter,
                        )
                    )
                    rate = result.sessions / result.elapsed if result.elapsed else 0.0
                    print(
                        f"  {mode} x{concurrency}: {result.sessions} sessions in {result.elapsed:.1f} s"
                        f" ({rate:.0f}/s), {result.errors} errors",
                        flush=True,
                    )
                    results.append(result)
            print(f"streaming_sessions rows at the end: {session_rows(db.url)}")
        finally:
            if server is not None:
                stop_server(server)
    print_report(results)
    misses = any(
        r.errors
        or percentile(r.start_ms, 50) > TARGET_START_P50_MS
        or percentile(r.start_ms, 99) > TARGET_START_P99_MS
        for r in results
        if r.clients == TARGET_CLIENTS and r.mode == "per-owner"
    )
    return 1 if misses else 0


if __name__ == "__main__":
    sys.exit(main())
