"""`avatar-studio`: run the product locally, apply migrations, run the sweeper once."""

import argparse
import asyncio
import os
import sys


def _serve(host: str, port: int) -> None:
    import uvicorn

    from functions.core.db.pool import get_database
    from functions.core.local import create_local_app, seed_demo

    async def prepare() -> None:
        db = get_database()
        await seed_demo(db)
        await db.close()

    asyncio.run(prepare())
    print(f"Interactive Avatar Studio on http://{host}:{port}  (API docs: /docs)", flush=True)
    uvicorn.run(create_local_app(), host=host, port=port, log_level="warning")


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="avatar-studio", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    dev = commands.add_parser("dev", help="serve the API and web client locally")
    dev.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    dev.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    commands.add_parser("migrate", help="apply pending migrations to the database")
    commands.add_parser("cleanup", help="end expired and idle sessions once")
    args = parser.parse_args(argv)
    if args.command == "dev":
        _serve(args.host, args.port)
    elif args.command == "migrate":
        _migrate()
    else:
        _cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
