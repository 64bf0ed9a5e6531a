"""An owner's system on loopback, as avatar tools call it: records each request, answers as told."""

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from functions.core.settings import get_settings


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    """One scripted answer: its status and headers, or (`stall`) no answer at all until the end."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    stall: bool = False


@dataclass
class Endpoint:
    """`answer` makes the response body from the request; `hold`, while unset, keeps every answer back.
    `script` answers the first requests, one `Reply` each, before `status` and `headers` apply."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    answer: Callable[[Received], bytes] = lambda _request: b'{"ok": true}'
    hold: threading.Event | None = None
    script: list[Reply] = field(default_factory=list)
    seen: list[Received] = field(default_factory=list)
    url: str = ""


@contextmanager
def loopback_endpoint() -> Iterator[Endpoint]:
    """A server on 127.0.0.1 in a thread for the duration; `url` is its base address."""
    state = Endpoint()
    closing = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            request = Received(
                self.command,
                self.path,
                {k.lower(): v for k, v in self.headers.items()},
                self.rfile.read(length),
            )
            state.seen.append(request)
            if state.hold is not None:
                state.hold.wait(timeout=10)
            reply = state.script.pop(0) if state.script else Reply(state.status, state.headers)
            if reply.stall:
                closing.wait(timeout=10)
                return
            body = state.answer(request)
            self.send_response(reply.status)
            for name, value in {"content-type": "application/json", **state.headers, **reply.headers}.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

        def log_message(self, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield state
    finally:
        closing.set()
        if state.hold is not None:
            state.hold.set()
        server.shutdown()
        server.server_close()


@contextmanager
def reachable_endpoint(
    monkeypatch: pytest.MonkeyPatch, answer: Callable[[Received], bytes]
) -> Iterator[Endpoint]:
    """`loopback_endpoint` answering with `answer`, which this deployment lets tools reach
    (TOOL_ALLOWED_HOSTS) for the duration."""
    monkeypatch.setenv("TOOL_ALLOWED_HOSTS", '["127.0.0.1/32"]')
    get_settings.cache_clear()
    try:
        with loopback_endpoint() as state:
            state.answer = answer
            yield state
    finally:
        monkeypatch.delenv("TOOL_ALLOWED_HOSTS")
        get_settings.cache_clear()
