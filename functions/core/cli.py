"""`avatar-studio`: run the product locally, apply migrations, run the sweeper once, ingest knowledge."""

import argparse
import asyncio
import os
import socket
import sys
from collections.abc import Callable
from pathlib import Path


def _port_taken(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def _banner(host: str, port: int) -> str:
    from functions.core.local import DEMO_EMAIL

    base = f"http://{host}:{port}"
    return "\n".join(
        [
            "Interactive Avatar Studio is running:",
            f"  studio     {base}/studio/  (sign in with any email; {DEMO_EMAIL} owns the demo avatar Ava)",
            f"  widget     {base}/widget-demo.html?avatar=PUBLIC_ID  (the studio's Widget tab links to it)",
            f"  API docs   {base}/docs",
            "Press Ctrl-C to stop.",
        ]
    )


def _serve(host: str, port: int) -> int:
    if _port_taken(host, port):
        print(
            f"Port {port} on {host} is already in use (another `make dev`?). Stop that server, or pick"
            f" another port: PORT={port + 1} make dev",
            file=sys.stderr,
        )
        return 1

    import uvicorn

    from functions.core.db.pool import get_database
    from functions.core.local import LOCAL_SWEEP_SECONDS, create_local_app, seed_demo

    async def prepare() -> None:
        db = get_database()
        await seed_demo(db)
        await db.close()

    asyncio.run(prepare())
    print(_banner(host, port), flush=True)
    uvicorn.run(
        create_local_app(sweep_every_seconds=LOCAL_SWEEP_SECONDS), host=host, port=port, log_level="warning"
    )
    return 0


def _migrate() -> None:
    from functions.core.db.pool import database_url
    from functions.core.settings import get_settings

    url = database_url(get_settings())
    print(f"database ready: {url.split('@')[-1]}")


def _cleanup() -> None:
    from functions.core.cleanup import sweep
    from functions.core.db.pool import get_database
    from functions.core.settings import get_settings

    report = asyncio.run(sweep(get_database(), get_settings()))
    print(report.model_dump_json())


def _progress_bar(name: str) -> Callable[[int, int], None]:
    def draw(done: int, total: int) -> None:
        filled = 30 * done // max(1, total)
        bar = "#" * filled + "-" * (30 - filled)
        end = "\n" if done >= total else ""
        print(f"\r{name} [{bar}] {done}/{total} chunks", end=end, file=sys.stderr, flush=True)

    return draw


async def _ingest_files(paths: list[Path], avatar: str, email: str | None) -> int:
    from functions.core.db.pool import get_database
    from functions.core.errors import AppError
    from functions.core.knowledge.ingest import ingest_path, owner_principal, resolve_avatar
    from functions.core.local import DEMO_EMAIL
    from functions.core.settings import get_settings

    email = email or DEMO_EMAIL
    db = get_database()
    try:
        # The owner is found with the database's own credentials (this runs on the owner's machine);
        # everything after runs as that owner, through RLS.
        pool = await db.pool()
        async with pool.connection() as conn:
            cur = await conn.execute("select id from auth.users where email = %s", (email.lower(),))
            user = await cur.fetchone()
        if user is None:
            print(f"no local user {email}", file=sys.stderr)
            return 2
        principal = owner_principal(user["id"])
        try:
            avatar_id = await resolve_avatar(db, principal, avatar)
        except AppError as exc:
            print(f"avatar {avatar}: {exc.detail}", file=sys.stderr)
            return 2
        failures = 0
        for path in paths:
            try:
                result = await ingest_path(
                    db, principal, avatar_id, path, get_settings(), _progress_bar(path.name)
                )
            except (AppError, OSError) as exc:
                failures += 1
                print(f"failed     {path}: {exc.detail if isinstance(exc, AppError) else exc}")
                continue
            document = result.document
            if result.duplicate:
                print(f"duplicate  {path}: already indexed as {document.id} ({document.status})")
            elif document.status == "ready":
                print(f"ready      {path}: {document.chunks_total} chunks, {document.id}")
            else:
                failures += 1
                print(f"failed     {path}: {document.error}")
        return 1 if failures else 0
    finally:
        await db.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="avatar-studio", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    dev = commands.add_parser("dev", help="serve the API and web client locally")
    dev.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    dev.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    commands.add_parser("migrate", help="apply pending migrations to the database")
    commands.add_parser("cleanup", help="end expired and idle sessions once")
    ingest = commands.add_parser("ingest", help="add files to an avatar's knowledge base (local mode)")
    ingest.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    ingest.add_argument("--avatar", required=True, help="the avatar's id or public id")
    ingest.add_argument("--email", help="the owner's email (default: the demo owner)")
    args = parser.parse_args(argv)
    if args.command == "dev":
        return _serve(args.host, args.port)
    if args.command == "migrate":
        _migrate()
    elif args.command == "ingest":
        return asyncio.run(_ingest_files(args.paths, args.avatar, args.email))
    else:
        _cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
