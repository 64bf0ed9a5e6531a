"""`avatar-studio`: run the product locally, apply migrations, run the sweeper once, ingest knowledge,
check the provider keys, write the OpenAPI document."""

import argparse
import asyncio
import json
import os
import socket
import sys
import threading
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
            "Ava's knowledge base (README.md and docs/) is indexed in the background: see her Knowledge tab.",
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
    from functions.core.local import (
        LOCAL_SWEEP_SECONDS,
        Demo,
        create_local_app,
        index_demo_knowledge_in_background,
        proxy_options,
        seed_demo,
    )
    from functions.core.settings import get_settings

    async def prepare() -> Demo:
        db = get_database()
        try:
            return await seed_demo(db, port)
        finally:
            await db.close()

    demo = asyncio.run(prepare())
    index_demo_knowledge_in_background(get_database(), demo)
    # The first spoken question should not wait for Whisper to load (about five seconds).
    threading.Thread(target=_warm_local_models, name="warm-local-models", daemon=True).start()
    print(_banner(host, port), flush=True)
    uvicorn.run(
        create_local_app(sweep_every_seconds=LOCAL_SWEEP_SECONDS),
        host=host,
        port=port,
        log_level="warning",
        **proxy_options(get_settings()),
    )
    return 0


def _warm_local_models() -> None:
    from functions.core.settings import get_settings
    from functions.core.speech import local_stt

    settings = get_settings()
    if settings.openai_key() is None and settings.local_stt and local_stt.available():
        local_stt.load()


def _migrate() -> None:
    from functions.core.db.migrate import prepare_database
    from functions.core.db.pool import database_url
    from functions.core.settings import get_settings

    settings = get_settings()
    if settings.database_url is None:
        url = database_url(settings)  # the embedded Postgres, started and migrated on the way
        print(f"embedded database migrated: {url.split('@')[-1]}")
        return
    url = settings.database_url.get_secret_value()
    applied = prepare_database(url)
    print(f"{len(applied)} migrations applied ({', '.join(applied) or 'none pending'}): {url.split('@')[-1]}")


def _cleanup() -> None:
    from functions.core.cleanup import sweep
    from functions.core.db.pool import get_database
    from functions.core.settings import get_settings

    report = asyncio.run(sweep(get_database(), get_settings()))
    print(report.model_dump_json())


def _providers_check(names: list[str], simli_face: str | None) -> int:
    from functions.core.providers.check import CHECKS, exit_code, render, run_checks
    from functions.core.settings import get_settings

    unknown = sorted(set(names) - set(CHECKS))
    if unknown:
        print(f"unknown check(s) {', '.join(unknown)}: choose from {', '.join(CHECKS)}", file=sys.stderr)
        return 2
    steps = asyncio.run(run_checks(get_settings(), names, simli_face=simli_face))
    print(render(steps), end="")
    if all(step.status == "skipped" for step in steps):
        print("No provider key is set, so nothing was checked: set the keys above and run this again.")
    return exit_code(steps)


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
    from functions.core.knowledge.ingest import ingest_path, on_behalf_of, resolve_avatar
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
        principal = on_behalf_of(user["id"], get_settings())
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


def _deploy_check(api_url: str | None, stream_url: str | None) -> int:
    import httpx
    from pydantic import ValidationError

    from functions.core.deploy.check import run_checks
    from functions.core.settings import Settings

    try:
        settings = Settings()
    except ValidationError as exc:
        for error in exc.errors():
            print(f"FAIL  settings: {error['msg']}")
        return 1

    async def checks() -> list[str]:
        async with httpx.AsyncClient(timeout=10) as http:
            found = await run_checks(settings, api_url=api_url, stream_url=stream_url, http=http)
        return [check.line() for check in found] + (
            ["all checks passed"] if all(check.ok for check in found) else []
        )

    lines = asyncio.run(checks())
    print("\n".join(lines))
    return 0 if lines[-1] == "all checks passed" else 1


def _deploy_site(stage: str, region: str | None, dist: Path) -> int:
    import boto3

    from functions.core.deploy.site import upload_site

    done = upload_site(dist, f"avatar-studio-{stage}", boto3.Session(region_name=region))
    print(
        f"uploaded {done.uploaded} file(s) to s3://{done.bucket} (removed {done.deleted});"
        f" CloudFront invalidation {done.invalidation_id}; the studio is at {done.url}"
    )
    return 0


def _write_openapi(output: Path) -> int:
    """The local server's OpenAPI document, every route's: the web build generates its API types from it."""
    from functions.core.local import create_local_app

    output.write_text(json.dumps(create_local_app().openapi(), indent=1, ensure_ascii=False) + "\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="avatar-studio", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    dev = commands.add_parser("dev", help="serve the API and web client locally")
    dev.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    dev.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    commands.add_parser("migrate", help="apply pending migrations to the database")
    commands.add_parser("cleanup", help="end expired and idle sessions once")
    openapi = commands.add_parser("openapi", help="write the API's OpenAPI document (for the web's types)")
    openapi.add_argument("output", type=Path, metavar="PATH")
    ingest = commands.add_parser("ingest", help="add files to an avatar's knowledge base (local mode)")
    ingest.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    ingest.add_argument("--avatar", required=True, help="the avatar's id or public id")
    ingest.add_argument("--email", help="the owner's email (default: the demo owner)")
    deploy = commands.add_parser("deploy", help="check the cloud settings, or upload the static site")
    steps = deploy.add_subparsers(dest="step", required=True)
    check = steps.add_parser("check", help="verify the cloud settings and that both API addresses answer")
    check.add_argument("--api-url", help="the HTTP API address (the HttpApiUrl output)")
    check.add_argument("--stream-url", help="the streaming Function URL (default: PUBLIC_API_BASE)")
    site = steps.add_parser("site", help="upload web/dist to the stack's bucket and refresh CloudFront")
    site.add_argument("--stage", required=True)
    site.add_argument("--region")
    site.add_argument("--dist", type=Path, default=Path("web/dist"))
    providers = commands.add_parser("providers", help="the avatar, voice and LLM providers")
    provider_commands = providers.add_subparsers(dest="providers_command", required=True)
    check = provider_commands.add_parser(
        "check", help="the smallest real round trip with each configured key (run it first with a new key)"
    )
    check.add_argument("names", nargs="*", metavar="NAME", help="checks to run (default: all)")
    check.add_argument("--simli-face", help="a Simli face id, to mint a Simli session token too")
    args = parser.parse_args(argv)
    from functions.core.db.embedded import EmbeddedDatabaseError

    try:
        if args.command == "deploy":
            if args.step == "check":
                return _deploy_check(args.api_url, args.stream_url)
            return _deploy_site(args.stage, args.region, args.dist)
        if args.command == "dev":
            return _serve(args.host, args.port)
        if args.command == "migrate":
            _migrate()
        elif args.command == "ingest":
            return asyncio.run(_ingest_files(args.paths, args.avatar, args.email))
        elif args.command == "providers":
            return _providers_check(args.names, args.simli_face)
        elif args.command == "openapi":
            return _write_openapi(args.output)
        else:
            _cleanup()
    except EmbeddedDatabaseError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
