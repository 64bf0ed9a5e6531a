"""The embeddable widget on other sites: an allowed origin completes a turn, another is refused visibly."""

import httpx
from playwright.sync_api import Page, expect

from tests.browser.conftest import HostPages, screenshot

HOST_PAGE = """<!doctype html><html><head><title>Host</title>
<style>button{all:unset;color:red} div{font-size:40px}</style></head>
<body><h1>A site with the widget</h1>
<script src="/widget.js" data-avatar="{public_id}" async></script></body></html>"""


def _avatar(base_url: str, token: str, allowed_origin: str) -> str:
    reply = httpx.post(
        f"{base_url}/v1/avatars",
        headers={"authorization": f"Bearer {token}"},
        json={"name": "Widget Ava", "greeting": "Welcome to our site.", "allowed_origins": [allowed_origin]},
        timeout=10,
    )
    reply.raise_for_status()
    public_id: str = reply.json()["public_id"]
    return public_id


def test_widget_on_an_allowed_origin_completes_a_turn(
    page: Page, base_url: str, owner_token: str, host_pages: HostPages
) -> None:
    origin = host_pages.serve()
    host_pages.pages["/site.html"] = HOST_PAGE.replace("{public_id}", _avatar(base_url, owner_token, origin))
    chunks: list[str] = []
    page.on("request", lambda request: "/chunks/" in request.url and chunks.append(request.url))
    page.goto(f"{origin}/site.html")
    launcher = page.get_by_role("button", name="Talk to our avatar")
    expect(launcher).to_be_visible()
    assert chunks == [], "the conversation code loaded before the visitor opened the widget"
    launcher.click()
    page.get_by_role("button", name="Start").click()
    conversation = page.locator(".avs-conversation")
    expect(page.locator(".avs-transcript")).to_contain_text("Welcome to our site.", timeout=30_000)
    expect(conversation).to_have_attribute("data-status", "listening", timeout=30_000)
    page.get_by_label("Your question").fill("What is Interactive Avatar Studio?")
    page.get_by_label("Your question").press("Enter")
    answer = page.locator("li.avs-avatar[data-turn] .avs-text").last
    expect(answer).not_to_be_empty(timeout=30_000)
    expect(conversation).to_have_attribute("data-status", "listening", timeout=60_000)
    assert any(url.endswith("/chunks/widget-app.js") for url in chunks)
    assert any("/chunks/local-" in url for url in chunks), "the local adapter chunk was not loaded"
    screenshot(page, "widget-allowed")


def test_widget_on_another_origin_is_refused_with_a_visible_message(
    page: Page, base_url: str, owner_token: str, host_pages: HostPages
) -> None:
    allowed = host_pages.serve()
    other = host_pages.serve()
    host_pages.pages["/site.html"] = HOST_PAGE.replace("{public_id}", _avatar(base_url, owner_token, allowed))
    page.goto(f"{other}/site.html")
    page.get_by_role("button", name="Talk to our avatar").click()
    refusal = page.get_by_role("alert")
    expect(refusal).to_contain_text("not allowed to show this avatar")
    expect(page.get_by_role("button", name="Start")).to_have_count(0)
    screenshot(page, "widget-refused")
