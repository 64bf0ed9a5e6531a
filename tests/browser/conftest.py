"""Chromium (Debian's, driven by Playwright), a signed-in owner, and host pages served from other origins."""

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Locator,
    Page,
    Request,
    Response,
    Route,
    expect,
    sync_playwright,
)

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
WEB_DIST = Path(__file__).resolve().parents[2] / "web" / "dist"
AXE = Path(__file__).resolve().parents[2] / "web" / "node_modules" / "axe-core" / "axe.min.js"
DESKTOP = {"width": 1200, "height": 900}
PHONE = {"width": 390, "height": 844}
_HOP_BY_HOP = {"connection", "transfer-encoding", "keep-alive", "host", "content-length"}


@contextmanager
def chromium(*args: str) -> Iterator[Browser]:
    """Debian's Chromium, headless, with the web client built and sound allowed without a gesture."""
    assert (WEB_DIST / "widget.js").is_file(), "build the web client first (make web)"
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            headless=True,
            args=["--autoplay-policy=no-user-gesture-required", *args],
        )
        yield launched
        launched.close()


@contextmanager
def new_tab(browser: Browser, **context: Any) -> Iterator[Page]:
    """A tab in a context of its own (`context`: Playwright's context options, e.g. permissions or a
    phone's viewport)."""
    context.setdefault("viewport", DESKTOP)
    opened = browser.new_context(**context)
    tab = opened.new_page()
    tab.set_default_timeout(20_000)
    yield tab
    opened.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Per module: Playwright's sync API keeps an event loop running in this thread while it is open,
    which the asyncio tests of later modules could not share."""
    with chromium("--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream") as launched:
        yield launched


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    with new_tab(browser) as tab:
        yield tab


@pytest.fixture(params=["desktop", "phone"])
def any_tab(request: pytest.FixtureRequest, browser: Browser) -> Iterator[Page]:
    """The same test on the desktop and on a 390x844 phone (touch, mobile viewport)."""
    phone: dict[str, Any] = {"viewport": PHONE, "is_mobile": True, "has_touch": True}
    with new_tab(browser, **(phone if request.param == "phone" else {})) as tab:
        yield tab


def sign_in(page: Page, base_url: str, email: str) -> None:
    """Into the studio with local mode's email sign-in."""
    page.goto(f"{base_url}/studio/")
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text(f"Signed in as {email}")).to_be_visible()


def delivered_late(page: Page, route: Route, deliver: Callable[[], None]) -> None:
    """Deliver a held response (`deliver` continues or fulfils `route`) and return once the page has
    received it and had two frames to handle it before it paints again."""
    with page.expect_response(lambda response: response.url == route.request.url) as late:
        deliver()
    late.value.finished()
    page.evaluate("() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")


def page_problems(page: Page) -> list[str]:
    """What an owner with the browser's console open would see go wrong from now on: a request answered
    with an error, a request that failed (not one the page cancelled itself, as ending a conversation
    cancels its speech), a console error or an uncaught exception (filled as they come)."""
    problems: list[str] = []

    def failed(request: Request) -> None:
        if request.failure != "net::ERR_ABORTED":
            problems.append(f"failed {request.method} {request.url}: {request.failure}")

    def answered(response: Response) -> None:
        if response.status >= 400:
            problems.append(f"{response.status} {response.request.method} {response.url}")

    def logged(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(f"console: {message.text} ({message.location['url']})")

    page.on("response", answered)
    page.on("requestfailed", failed)
    page.on("console", logged)
    page.on("pageerror", lambda error: problems.append(f"uncaught: {error}"))
    return problems


def screenshot(page: Page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def shot(page: Page, name: str) -> None:
    """A screenshot named after the viewport it was taken in (desktop or phone)."""
    size = page.viewport_size
    screenshot(page, f"{name}-{'phone' if size and size['width'] < 600 else 'desktop'}")


def within_viewport(page: Page, locator: Locator) -> bool:
    """The element is wholly on screen without scrolling the page."""
    box = locator.bounding_box()
    size = page.viewport_size
    assert box is not None
    assert size is not None
    return (
        box["x"] >= 0
        and box["y"] >= 0
        and box["x"] + box["width"] <= size["width"]
        and box["y"] + box["height"] <= size["height"]
    )


def serious_accessibility_violations(page: Page) -> list[str]:
    """axe-core's serious and critical violations on the page (open shadow roots included)."""
    page.add_script_tag(path=str(AXE))
    found: list[str] = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ["violations"]})).violations
          .filter((v) => v.impact === "serious" || v.impact === "critical")
          .map((v) => `${v.id}: ${v.nodes.map((n) => JSON.stringify(n.target)).join(", ")}`)"""
    )
    return found


@dataclass(frozen=True)
class Forwarded:
    """One request HostPages passed on to the app, exactly as the browser sent it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes | None


class HostPages:
    """A site embedding the widget: it serves its own pages and forwards everything else to the app
    (keeping each forwarded request in `forwarded`, for what DevTools cannot show, such as uploads)."""

    def __init__(self, app_url: str) -> None:
        self.app_url = app_url
        self.pages: dict[str, str] = {}
        self.forwarded: list[Forwarded] = []
        self._servers: list[ThreadingHTTPServer] = []

    def serve(self) -> str:
        """Starts one more origin for the same pages; returns it (http://127.0.0.1:port)."""
        host = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                return None

            def do_GET(self) -> None:
                if self.path in host.pages:
                    body = host.pages[self.path].encode()
                    self.send_response(200)
                    self.send_header("content-type", "text/html; charset=utf-8")
                    self.send_header("content-length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                else:
                    self.forward()

            def do_POST(self) -> None:
                self.forward()

            def forward(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                host.forwarded.append(Forwarded(self.command, self.path, headers, body))
                try:
                    with (
                        httpx.Client(timeout=60) as client,
                        client.stream(
                            self.command, host.app_url + self.path, headers=headers, content=body
                        ) as reply,
                    ):
                        self.send_response(reply.status_code)
                        for name, value in reply.headers.items():
                            if name.lower() not in _HOP_BY_HOP:
                                self.send_header(name, value)
                        self.end_headers()
                        for chunk in reply.iter_raw():
                            self.wfile.write(chunk)
                            self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    return

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self._servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    def close(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()


@pytest.fixture
def host_pages(base_url: str) -> Iterator[HostPages]:
    pages = HostPages(base_url)
    yield pages
    pages.close()


@pytest.fixture
def owner_token(base_url: str) -> str:
    reply = httpx.post(f"{base_url}/v1/dev/login", json={"email": "browser-owner@example.test"}, timeout=10)
    reply.raise_for_status()
    token: str = reply.json()["access_token"]
    return token
