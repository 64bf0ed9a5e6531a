"""The embeddable widget on other sites: an allowed origin completes a turn, another is refused visibly."""

import httpx
from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import (
    HostPages,
    page_problems,
    screenshot,
    serious_accessibility_violations,
    shot,
    within_viewport,
)

# A site has an icon of its own (without one, Chromium asks the site for /favicon.ico).
HOST_PAGE = """<!doctype html><html><head><title>Host</title><link rel="icon" href="data:,">
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
    problems = page_problems(page)
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
    assert problems == [], "\n".join(problems)
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
    expect(refusal).to_contain_text(f"This website ({other}) is not allowed to show this avatar yet.")
    expect(page.get_by_role("button", name="Start")).to_have_count(0)
    screenshot(page, "widget-refused")


# A site on an origin of its own that loads widget.js from the app's origin, as a real site does.
SITE_PAGE = """<!doctype html><html lang="en"><head><title>Lighthouse shop</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>button{all:unset;color:red} div{font-size:40px} body{margin:0;font:18px Georgia,serif}</style></head>
<body><main><h1>The lighthouse shop</h1><p>Lamps, lenses and foghorns since 1890.</p></main>
<script src="{app}/widget.js" data-avatar="{public_id}" {attributes} async></script></body></html>"""


def site_page(app: str, public_id: str, attributes: str = "") -> str:
    return (
        SITE_PAGE.replace("{app}", app).replace("{public_id}", public_id).replace("{attributes}", attributes)
    )


def _allow(base_url: str, token: str, public_id: str, origins: list[str]) -> None:
    headers = {"authorization": f"Bearer {token}"}
    avatars = httpx.get(f"{base_url}/v1/avatars", headers=headers, timeout=10).json()
    avatar = next(a for a in avatars if a["public_id"] == public_id)
    reply = httpx.patch(
        f"{base_url}/v1/avatars/{avatar['id']}",
        headers=headers,
        json={"allowed_origins": origins},
        timeout=10,
    )
    reply.raise_for_status()


def test_a_site_sees_the_refusal_in_the_widget_then_talks_at_once_after_its_origin_is_allowed(
    any_tab: Page, base_url: str, owner_token: str, host_pages: HostPages
) -> None:
    page = any_tab
    site = host_pages.serve()
    public_id = _avatar(base_url, owner_token, "https://elsewhere.example.com")
    host_pages.pages["/"] = site_page(base_url, public_id)
    page.goto(f"{site}/")
    page.get_by_role("button", name="Talk to our avatar").click()
    refusal = page.get_by_role("alert")
    expect(refusal).to_have_text(
        f"This website ({site}) is not allowed to show this avatar yet. Its owner can add it to the avatar's"
        " allowed widget origins in the studio."
    )
    shot(page, "widget-cross-origin-refused")

    _allow(base_url, owner_token, public_id, [site])
    page.reload()
    page.get_by_role("button", name="Talk to our avatar").click()
    start = page.get_by_role("button", name="Start")
    expect(start).to_be_focused()
    start.click()
    conversation = page.locator(".avs-conversation")
    expect(page.locator(".avs-transcript")).to_contain_text("Welcome to our site.", timeout=30_000)
    expect(conversation).to_have_attribute("data-status", "listening", timeout=30_000)
    page.get_by_label("Your question").fill("What is Interactive Avatar Studio?")
    page.get_by_label("Your question").press("Enter")
    expect(page.locator("li.avs-avatar[data-turn] .avs-text").last).not_to_be_empty(timeout=30_000)
    expect(conversation).to_have_attribute("data-status", "listening", timeout=60_000)
    # Timings are for the site's developers, not its visitors.
    expect(page.locator("[data-part=latency]")).to_have_count(0)
    expect(conversation).not_to_contain_text(" ms")
    for name in ("Your question", "Interrupt the avatar", "End the conversation"):
        control = page.get_by_label(name)
        assert within_viewport(page, control), f"{name} is off screen"
    assert within_viewport(page, page.locator(".avs-stage canvas"))
    assert serious_accessibility_violations(page) == []
    shot(page, "widget-cross-origin-talking")


def talk_on_a_site(
    page: Page, base_url: str, owner_token: str, host_pages: HostPages
) -> tuple[Locator, Locator]:
    """Opens a site embedding a new avatar's widget and starts talking: the launcher and the conversation,
    listening."""
    site = host_pages.serve()
    host_pages.pages["/"] = site_page(base_url, _avatar(base_url, owner_token, site))
    page.goto(f"{site}/")
    launcher = page.get_by_role("button", name="Talk to our avatar")
    launcher.click()
    page.get_by_role("button", name="Start").click()
    conversation = page.locator(".avs-conversation")
    expect(conversation).to_have_attribute("data-status", "listening", timeout=30_000)
    return launcher, conversation


def test_escape_interrupts_the_avatar_then_closes_the_widget_and_end_keeps_focus_in_it(
    any_tab: Page, base_url: str, owner_token: str, host_pages: HostPages
) -> None:
    page = any_tab
    launcher, conversation = talk_on_a_site(page, base_url, owner_token, host_pages)
    page.get_by_label("Your question").fill("Tell me everything about the knowledge base and the widget.")
    page.get_by_label("Your question").press("Enter")
    expect(conversation).to_have_attribute("data-status", "speaking", timeout=30_000)
    page.keyboard.press("Escape")
    expect(page.locator("li.avs-avatar[data-interrupted=true]")).to_have_count(1)
    expect(page.get_by_role("dialog")).to_be_visible()
    page.get_by_role("button", name="End the conversation").click()
    expect(conversation).to_have_attribute("data-status", "ended")
    expect(page.get_by_role("button", name="Start")).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_be_hidden()
    expect(launcher).to_be_focused()
    expect(launcher).to_have_attribute("aria-expanded", "false")


def test_the_site_sets_the_widgets_text_colour_position_size_and_language_with_data_attributes(
    any_tab: Page, base_url: str, owner_token: str, host_pages: HostPages
) -> None:
    page = any_tab
    site = host_pages.serve()
    attributes = (
        'data-launcher-text="Ask the keeper" data-color="#0f766e" data-position="left" data-size="full"'
        ' data-lang="fr" data-open'
    )
    host_pages.pages["/"] = site_page(base_url, _avatar(base_url, owner_token, site), attributes)
    page.goto(f"{site}/")
    dialog = page.get_by_role("dialog", name="Conversation avec l'avatar")
    expect(dialog).to_be_visible()
    start = page.get_by_role("button", name="Commencer")
    expect(start).to_be_visible()
    assert start.evaluate("(b) => getComputedStyle(b).backgroundColor") == "rgb(15, 118, 110)"
    box = dialog.bounding_box()
    size = page.viewport_size
    assert box is not None
    assert size is not None
    if size["width"] > 600:
        assert box["x"] == 20, "the panel is not on the left"
        assert box["width"] == 560, "the full size is not the tall, wide panel"
    else:
        assert box == {"x": 0, "y": 0, "width": size["width"], "height": size["height"]}
    shot(page, "widget-styled-fr")
    page.get_by_role("button", name="Fermer la conversation").click()
    launcher = page.get_by_role("button", name="Ask the keeper")
    expect(launcher).to_be_visible()
    launcher_box = launcher.bounding_box()
    assert launcher_box is not None
    assert launcher_box["x"] == 20
    assert launcher.evaluate("(b) => getComputedStyle(b).color") == "rgb(255, 255, 255)"


TRANSCRIPT_AT_ITS_END = "list => list.scrollHeight - list.scrollTop - list.clientHeight < 2"


def test_the_newest_answer_stays_in_view_as_it_grows_and_reading_back_is_left_alone(
    any_tab: Page, base_url: str, owner_token: str, host_pages: HostPages
) -> None:
    page = any_tab
    _, conversation = talk_on_a_site(page, base_url, owner_token, host_pages)
    transcript = page.locator(".avs-transcript")
    # Each answer is added as an empty line, then grows by a few lines as its sentences arrive: once the
    # transcript scrolls, the end of the answer must still be what it shows.
    for question in ("Where are you?", "When do you open?", "Do you deliver?", "Can I pay by card?"):
        page.get_by_label("Your question").fill(question)
        page.get_by_label("Your question").press("Enter")
        expect(page.locator("li.avs-avatar[data-turn] .avs-text").last).not_to_be_empty(timeout=30_000)
        expect(conversation).to_have_attribute("data-status", "listening", timeout=60_000)
        assert transcript.evaluate(TRANSCRIPT_AT_ITS_END), question
    assert transcript.evaluate("list => list.scrollHeight > list.clientHeight"), (
        "the transcript never scrolled"
    )
    shot(page, "widget-transcript-end")
    # Scrolled up to read while an answer arrives, the visitor is left where they are.
    page.get_by_label("Your question").fill("Is there parking?")
    page.get_by_label("Your question").press("Enter")
    expect(conversation).to_have_attribute("data-status", "speaking", timeout=30_000)
    transcript.evaluate("list => list.scrollTo(0, 0)")
    expect(conversation).to_have_attribute("data-status", "listening", timeout=60_000)
    assert transcript.evaluate("list => list.scrollTop") == 0
