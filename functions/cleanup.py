"""Lambda: the scheduled sweeper, invoked by an EventBridge schedule."""

import asyncio
from typing import Any

from functions.core.cleanup import sweep
from functions.core.db.pool import get_database
from functions.core.http_client import app_clients
from functions.core.logs import configure_logging
from functions.core.settings import get_settings

configure_logging(get_settings().log_level, structured=not get_settings().is_local)
_loop: asyncio.AbstractEventLoop | None = None
_clients = app_clients()  # held by the handler, closed after each sweep


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    global _loop
    if _loop is None or _loop.is_closed():
        _loop = asyncio.new_event_loop()
    try:
        report = _loop.run_until_complete(sweep(get_database(), get_settings()))
    finally:
        # Sweeps are minutes apart: kept connections would not outlive the wait, so none are kept.
        _loop.run_until_complete(_clients.aclose())
    return report.model_dump()
