"""Lambda: indexes a knowledge file when it arrives in the uploads bucket (S3 ObjectCreated event)."""

import asyncio
from typing import Any
from urllib.parse import unquote_plus

from functions.core.db.pool import get_database
from functions.core.http_client import app_clients
from functions.core.knowledge.uploads import index_uploaded, upload_storage
from functions.core.logs import configure_logging
from functions.core.settings import get_settings

configure_logging(get_settings().log_level, structured=not get_settings().is_local)
_loop: asyncio.AbstractEventLoop | None = None
_clients = app_clients()  # held by the handler, closed after each upload


def handler(event: dict[str, Any], context: Any) -> dict[str, int]:
    global _loop
    if _loop is None or _loop.is_closed():
        _loop = asyncio.new_event_loop()
    settings = get_settings()
    storage = upload_storage(settings, "")
    # Object keys arrive URL-encoded in S3 event notifications (spaces as '+').
    keys = [unquote_plus(record["s3"]["object"]["key"]) for record in event.get("Records", [])]
    try:
        for key in keys:
            _loop.run_until_complete(index_uploaded(get_database(), storage, key, settings))
    finally:
        # Uploads are rare: nothing is kept open between them.
        _loop.run_until_complete(_clients.aclose())
    return {"indexed": len(keys)}
