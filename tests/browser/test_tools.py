"""The studio's tools and contacts in Chromium: an owner adds an HTTP tool with a secret header (never shown
back), tests it against their own system on loopback, sees its calls in History; a visitor leaves their
details through the widget's form, and the owner finds them under Contacts."""

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from playwright.sync_api import APIResponse, Page, Response, Route, expect

from tests.browser.conftest import (
    ARTIFACTS,
    HostPages,
    delivered_late,
    screenshot,
    serious_accessibility_violations,
    sign_in,
)
from tests.functional.loopback import Endpoint, Received, reachable_endpoint
from tests.functional.turns_support import scripted_llm, stream_turn
from tests.scripted_llm import Script, calls_then_reply

SECRET = "owner-system-secret-7f3a"
SHOTS = ARTIFACTS / "h18"
SITE_PAGE = """<!doctype html><html lang="en"><head><title>Lighthouse shop</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><main><h1>The lighthouse shop</h1></main>
<script src="{app}/widget.js" data-avatar="{public_id}" async></script></body></html>"""


def lookup(request: Received) -> bytes:
    order = request.json().get("order")
    return json.dumps({"order": order, "status": "shipped on Monday", "padding": "x" * 3000}).encode()


@pytest.fixture
def orders(monkeypatch: pytest.MonkeyPatch) -> Iterator[Endpoint]:
    """The owner's order system on loopback, which this deployment lets tools reach."""
    with reachable_endpoint(monkeypatch, lookup) as state:
        yield state


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size
    screenshot(page, f"h18/{name}-{'phone' if size and size['width'] < 600 else 'desktop'}")


def owner_headers(base_url: str, email: str) -> dict[str, str]:
    reply = httpx.post(f"{base_url}/v1/dev/login", json={"email": email}, timeout=10)
    reply.raise_for_status()
    return {"authorization": f"Bearer {reply.json()['access_token']}"}


def test_the_owner_adds_an_http_tool_with_a_secret_header_and_tests_it(
    any_tab: Page, base_url: str, orders: Endpoint
) -> None:
    page = any_tab
    bodies: list[str] = []

    def keep(response: Response) -> None:
        if "/tools" in response.url and response.request.method != "DELETE":
            bodies.append(response.text())

    page.on("response", keep)
    sign_in(page, base_url, f"tools-{uuid.uuid4().hex[:8]}@example.test")
    page.get_by_role("button", name="Create avatar").click()
    page.get_by_role("tab", name="Tools").click()
    expect(page.get_by_role("tabpanel", name="Tools")).to_contain_text("No HTTP tools yet.")
    page.get_by_role("button", name="Add an HTTP tool").click()
    form = page.get_by_role("form", name="New HTTP tool")
    form.get_by_label("Name").fill("order_status")
    form.get_by_label("Description").fill("Look up the status of an order by its number.")
    parameters = form.get_by_label("Parameters (JSON Schema)")
    parameters.fill('{"type": "array"}')
    expect(form.locator("[data-part=schema-check]")).to_have_text(
        'The arguments must be an object: start with "type": "object".'
    )
    expect(parameters).to_have_attribute("aria-invalid", "true")
    parameters.fill(
        '{"type": "object", "properties": {"order": {"type": "string"}}, "required": ["order", "x"]}'
    )
    expect(form.locator("[data-part=schema-check]")).to_contain_text('"properties" does not define: x')
    parameters.fill(
        '{"type": "object", "properties": {"order": {"type": "string", "pattern": "^A-[0-9]+$",'
        ' "examples": ["A-17"]}}, "required": ["order"]}'
    )
    expect(form.locator("[data-part=schema-check]")).to_have_text("Valid: an object of arguments.")
    form.get_by_label("URL").fill(f"{orders.url}/orders")
    form.get_by_label("Timeout (ms)").fill("3000")
    form.get_by_role("button", name="Add a header").click()
    form.get_by_label("Header name").fill("X-Api-Key")
    form.get_by_label("Header value (secret)").fill(SECRET)
    expect(form.get_by_label("Header value (secret)")).to_have_attribute("type", "password")
    shot(page, "tool-editor")
    form.get_by_role("button", name="Add tool").click()

    status = page.locator("[data-part=tools-status]")
    expect(status).to_contain_text("Added order_status.")
    expect(status.locator("[data-part=signing-secret]")).not_to_be_empty()
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]
    tool = page.locator("li[data-tool=order_status]")
    expect(tool).to_contain_text("X-Api-Key: set")
    expect(tool).to_contain_text(f"POST {orders.url}/orders")

    tool.get_by_role("button", name="Test this tool: order_status").click()
    tester = page.get_by_role("form", name="Test order_status")
    expect(tester.get_by_label("Sample arguments (JSON)")).to_have_value('{\n  "order": "A-17"\n}')
    tester.get_by_role("button", name="Run test").click()
    summary = tester.locator("[data-part=test-summary]")
    expect(summary).to_contain_text("Worked · HTTP 200 · ")
    expect(summary).to_contain_text(" ms")
    result = tester.locator("[data-part=test-result]")
    expect(result).to_contain_text('"status": "shipped on Monday"')
    expect(result).to_contain_text("more characters)")  # a long answer is cut to a readable length
    [request] = orders.seen
    assert request.json() == {"order": "A-17"}
    assert request.headers["x-api-key"] == SECRET
    assert "x-avatar-studio-signature" in request.headers
    assert serious_accessibility_violations(page) == [], serious_accessibility_violations(page)
    shot(page, "tool-tested")

    tester.get_by_label("Sample arguments (JSON)").fill('{"order": "B-1"}')
    tester.get_by_role("button", name="Run test").click()
    expect(tester.locator("[data-part=test-problem]")).to_contain_text("order_status: order:")
    assert len(orders.seen) == 1, "arguments that break the schema reached the tool"

    # Editing shows the header as set, never its value; saving without replacing keeps it.
    tool.get_by_role("button", name="Edit order_status").click()
    edit = page.get_by_role("form", name="Edit order_status")
    expect(edit.locator("[data-part=header-names]")).to_have_text("Set: X-Api-Key: set")
    expect(edit.get_by_label("Header value (secret)")).to_have_count(0)
    edit.get_by_label("Timeout (ms)").fill("4000")
    edit.get_by_role("button", name="Save tool").click()
    expect(status).to_contain_text("Saved order_status.")
    page.reload()
    page.get_by_role("tab", name="Tools").click()
    expect(page.locator("li[data-tool=order_status]")).to_contain_text("X-Api-Key: set")
    page.locator("li[data-tool=order_status]").get_by_role(
        "button", name="Test this tool: order_status"
    ).click()
    page.get_by_role("button", name="Run test").click()
    expect(page.locator("[data-part=test-summary]")).to_contain_text("Worked · HTTP 200")
    assert orders.seen[-1].headers["x-api-key"] == SECRET

    assert bodies, "no tool responses were seen"
    assert not [body for body in bodies if SECRET in body], "a response carried the header's secret value"
    assert SECRET not in page.content()


def test_history_shows_the_tool_calls_of_each_reply(
    any_tab: Page, base_url: str, orders: Endpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = any_tab
    email = f"history-{uuid.uuid4().hex[:8]}@example.test"
    headers = owner_headers(base_url, email)
    with httpx.Client(base_url=base_url, headers=headers, timeout=10) as client:
        avatar = client.post("/v1/avatars", json={"name": "Orders"}).json()
        created = client.post(
            f"/v1/avatars/{avatar['id']}/tools",
            json={
                "name": "order_status",
                "description": "Look up an order.",
                "parameters": {"type": "object", "properties": {"order": {"type": "string"}}},
                "method": "POST",
                "url": f"{orders.url}/orders",
            },
        )
        assert created.status_code == 201, created.text
        session = client.post("/v1/sessions", json={"avatar_id": avatar["id"]}).json()
        script = Script(
            tool_calls_for=calls_then_reply(("order_status", '{"order": "A-17"}')),
            reply_for=lambda _messages: "Your order shipped on Monday.",
        )
        with scripted_llm(monkeypatch, script):
            stream_turn(client, headers, session["session_id"], "t1", "Where is order A-17?")
        client.post(f"/v1/sessions/{session['session_id']}/end")

    sign_in(page, base_url, email)
    page.get_by_role("tab", name="History").click()
    page.locator(".sessions summary").first.click()
    call = page.locator("li[data-tool-call=order_status]")
    expect(call).to_contain_text('Tool order_status({"order":"A-17"}) worked, HTTP 200,')
    call.locator("summary").click()
    expect(call.locator("pre")).to_contain_text("shipped on Monday")
    assert serious_accessibility_violations(page) == []
    shot(page, "history-tool-calls")


def test_a_visitor_leaves_their_details_in_the_widget_and_the_owner_sees_them(
    any_tab: Page, base_url: str, host_pages: HostPages
) -> None:
    page = any_tab
    email = f"contacts-{uuid.uuid4().hex[:8]}@example.test"
    site = host_pages.serve()
    with httpx.Client(base_url=base_url, headers=owner_headers(base_url, email), timeout=10) as client:
        avatar: dict[str, Any] = client.post(
            "/v1/avatars",
            json={"name": "Keeper", "greeting": "Welcome to the shop.", "allowed_origins": [site]},
        ).json()
    host_pages.pages["/"] = SITE_PAGE.replace("{app}", base_url).replace("{public_id}", avatar["public_id"])

    # The owner switches capture_contact on in the studio.
    sign_in(page, base_url, email)
    page.get_by_role("tab", name="Tools").click()
    page.get_by_label("Take contact details").check()
    expect(page.locator("[data-part=tools-status]")).to_have_text("Take contact details: on.")
    expect(page.get_by_label("Take contact details")).to_be_checked()
    handoff = page.locator("[data-kind=handoff_to_human]")
    handoff.get_by_label("Hand over to a person").click()  # not without the webhook
    expect(handoff.locator(".error")).to_have_text(
        "Enter your webhook's address first: the hand-over is announced there."
    )
    expect(handoff.get_by_label("Hand over to a person")).not_to_be_checked()
    expect(handoff.get_by_label("Webhook address")).to_be_focused()
    handoff.get_by_label("Webhook address").fill("https://crm.example.com/avatar-handoff")
    handoff.get_by_label("Hand over to a person").check()
    expect(page.locator("[data-part=tools-status]")).to_have_text("Hand over to a person: on.")
    expect(page.locator("[data-kind=handoff_to_human]").get_by_label("Webhook address")).to_have_value(
        "https://crm.example.com/avatar-handoff"
    )
    shot(page, "built-in-tools")

    page.goto(f"{site}/")
    page.get_by_role("button", name="Talk to our avatar").click()
    page.get_by_role("button", name="Start").click()
    expect(page.locator(".avs-conversation")).to_have_attribute("data-status", "listening", timeout=30_000)
    opener = page.get_by_role("button", name="Leave your details")
    expect(opener).to_have_attribute("aria-expanded", "false")
    opener.click()
    expect(opener).to_have_attribute("aria-expanded", "true")
    form = page.get_by_role("form", name="Leave your details")
    expect(form.get_by_label("Name")).to_be_focused()
    form.get_by_label("Name").fill("Ada Lovelace")
    form.get_by_role("button", name="Send my details").click()
    expect(form.get_by_role("alert")).to_have_text(
        "Enter an email address or a phone number so we can reach you."
    )
    expect(form.get_by_label("Email")).to_have_attribute("aria-invalid", "true")
    expect(form.get_by_label("Email")).to_be_focused()
    form.get_by_label("Email").fill("ada@example.com")
    form.get_by_label("What can we help with?").fill("A lamp for my lighthouse, please call back.")
    assert serious_accessibility_violations(page) == []
    shot(page, "widget-contact-form")
    form.get_by_role("button", name="Send my details").click()
    expect(page.get_by_role("status").filter(has_text="Thank you")).to_have_text(
        "Thank you, your details were sent. We will get back to you."
    )
    expect(form).to_be_hidden()
    expect(opener).to_be_focused()
    shot(page, "widget-contact-sent")

    page.goto(f"{base_url}/studio/")  # still signed in
    expect(page.get_by_text(f"Signed in as {email}")).to_be_visible()
    page.get_by_role("tab", name="Contacts").click()
    contact = page.locator(".contacts li[data-contact]")
    expect(contact).to_have_count(1)
    expect(contact).to_contain_text("Ada Lovelace")
    expect(contact).to_contain_text("ada@example.com")
    expect(contact).to_contain_text("A lamp for my lighthouse")
    with page.expect_download() as downloading:
        page.get_by_role("button", name="Download CSV").click()
    exported = downloading.value
    assert exported.suggested_filename == "contacts.csv"
    assert "ada@example.com" in Path(exported.path()).read_text(encoding="utf-8")
    with page.expect_download() as downloading:
        page.get_by_role("button", name="Download JSON").click()
    [listed] = json.loads(Path(downloading.value.path()).read_text(encoding="utf-8"))
    assert (listed["name"], listed["email"]) == ("Ada Lovelace", "ada@example.com")
    assert serious_accessibility_violations(page) == []
    shot(page, "contacts")


def test_a_deleted_contact_stays_gone_when_an_older_list_arrives_last(
    page: Page, base_url: str, admin: psycopg.Connection[Any]
) -> None:
    """Two deletions in a row reload the list twice; the first reload, which still lists the second
    contact, answers last. The list keeps showing neither."""
    email = f"contacts-{uuid.uuid4().hex[:8]}@example.test"
    with httpx.Client(base_url=base_url, headers=owner_headers(base_url, email), timeout=10) as client:
        avatar = client.post("/v1/avatars", json={"name": "Keeper"}).json()
    with admin.transaction():
        # As a restore would write them: the trigger that takes the owner from a live session is off.
        admin.execute("set local session_replication_role = replica")
        for name in ("Ada Lovelace", "Grace Hopper"):
            admin.execute(
                "insert into public.contacts (owner_id, avatar_id, name, email)"
                " select owner_id, id, %s, %s from public.avatars where id = %s",
                (name, f"{name.split()[0].lower()}@example.com", avatar["id"]),
            )
    sign_in(page, base_url, email)
    page.get_by_role("tab", name="Contacts").click()
    contacts = page.locator(".contacts li[data-contact]")
    expect(contacts).to_have_count(2)

    held: list[tuple[Route, APIResponse]] = []

    def hold_the_first_reload(route: Route) -> None:
        if route.request.method == "GET" and not held:
            held.append((route, route.fetch()))  # answered by the server now, delivered later
        else:
            route.continue_()

    page.route("**/v1/contacts?*", hold_the_first_reload)
    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete the contact Ada Lovelace").click()
    deadline = time.monotonic() + 10
    while not held and time.monotonic() < deadline:
        page.wait_for_timeout(20)  # lets Playwright route the reload the deletion asks for
    assert held, "the first deletion reloaded no list"
    page.get_by_role("button", name="Delete the contact Grace Hopper").click()
    expect(page.locator(".contacts")).to_contain_text("No contacts yet.")

    # The first reload's list (Grace Hopper still in it) arrives now, after the newer empty one.
    [(route, stale)] = held
    delivered_late(page, route, lambda: route.fulfill(response=stale))
    expect(contacts).to_have_count(0)
    expect(page.locator(".contacts")).to_contain_text("No contacts yet.")
