"""Wraps a FastAPI app for API Gateway HTTP API events."""

import asyncio
from collections.abc import Sequence

from fastapi import FastAPI
from mangum import Mangum
from mangum.adapter import DEFAULT_TEXT_MIME_TYPES

TEXT_MIME_TYPES = [*DEFAULT_TEXT_MIME_TYPES, "application/problem+json"]


def lambda_handler(app: FastAPI, *, preload: Sequence[str] = ()) -> Mangum:
    """Lifespan off: Mangum would run it on every invocation; the pool opens lazily instead.

    Mangum runs every invocation on the loop it finds (or sets) here, so SnapStart's hooks close and
    reopen that loop's pool (functions/core/snapstart.py). `preload`: the modules the app's routes import
    when they first run, which a SnapStart snapshot holds already."""
    # Imported here: a handler imports this module with the framework, before its paused init
    # (functions/core/api/init.py) imports our code.
    from functions.core.snapstart import register_hooks

    handler = Mangum(app, lifespan="off", text_mime_types=TEXT_MIME_TYPES)
    register_hooks(asyncio.get_event_loop(), preload)
    return handler
