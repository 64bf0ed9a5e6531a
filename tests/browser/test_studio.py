"""The owner's whole journey in the studio, in Chromium against the local app."""

import itertools
import uuid

import httpx
from playwright.sync_api import Page, Route, expect

from functions.core.avatar_basics import END_OF_SPEECH_DEFAULT_MS
from tests.browser.conftest import (
    HostPages,
    page_problems,
    screenshot,
    serious_accessibility_violations,
    shot,
    sign_in,
    within_viewport,
)

DOCUMENT = b"""# Lighthouse handbook

## Feeding schedule

The Zephyr lighthouse keeper feeds the seagulls every Tuesday at noon with sardines.
The seagulls wait on the north pier from eleven o'clock.

## Lamp

The lamp turns once every twelve seconds and can be seen forty kilometres away.
"""

COLLECT_SNAPSHOTS = """() => {
  window.__answers = [];
  const log = document.querySelector('.avs-transcript');
  new MutationObserver(() => {
    const last = [...log.querySelectorAll('li.avs-avatar[data-turn] .avs-text')].pop();
    if (last) window.__answers.push(last.textContent);
  }).observe(log, {subtree: true, childList: true, characterData: true});
}"""


def test_owner_builds_an_avatar_talks_to_it_and_finds_the_session_in_history(
    page: Page, base_url: str
) -> None:
    page.goto(f"{base_url}/studio/")
    page.get_by_label("Email").fill("studio-owner@example.test")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("Signed in as studio-owner@example.test")).to_be_visible()
    screenshot(page, "studio-signed-in")

    page.get_by_role("button", name="New avatar").click()
    # A new avatar's end-of-speech wait is the server's default, as /v1/config publishes it.
    expect(page.get_by_label("End of speech (ms)")).to_have_value(str(END_OF_SPEECH_DEFAULT_MS))
    page.get_by_label("Name").fill("Keeper")
    page.get_by_label("Greeting").fill("Hello, I keep the lighthouse.")
    page.get_by_role("button", name="Create avatar").click()
    expect(page.get_by_role("tab", name="Knowledge")).to_have_attribute("aria-selected", "true")

    page.get_by_label("Choose documents to upload").set_input_files(
        {"name": "lighthouse.md", "mimeType": "text/markdown", "buffer": DOCUMENT}
    )
    expect(page.locator(".docs li[data-status=ready]")).to_have_count(1, timeout=60_000)
    expect(page.locator(".docs li")).to_contain_text("ready")
    screenshot(page, "studio-knowledge-ready")

    page.get_by_role("tab", name="Conversation").click()
    page.get_by_role("button", name="Start").click()
    conversation = page.locator(".avs-conversation")
    expect(conversation).to_have_attribute("data-status", "speaking", timeout=30_000)
    expect(page.locator(".avs-transcript")).to_contain_text("Hello, I keep the lighthouse.")
    expect(conversation).to_have_attribute("data-status", "listening", timeout=30_000)

    page.evaluate(COLLECT_SNAPSHOTS)
    page.get_by_label("Your question").fill(
        "When does the Zephyr lighthouse keeper feed the seagulls, and where do they wait?"
    )
    page.get_by_label("Your question").press("Enter")
    face = page.locator("canvas.avs-face")
    page.wait_for_function(
        "() => Number(document.querySelector('canvas.avs-face').dataset.mouth) > 0.05", timeout=30_000
    )
    expect(face).to_have_attribute("data-state", "speaking")
    screenshot(page, "studio-speaking")
    answer = page.locator("li.avs-avatar[data-turn]").last
    expect(answer.locator(".avs-sources li").first).to_contain_text("Lighthouse")
    expect(conversation).to_have_attribute("data-status", "listening", timeout=60_000)
    snapshots: list[str] = page.evaluate("window.__answers")
    growing = [text for text in snapshots if text]
    assert len(set(growing)) >= 2, f"the answer arrived in one piece: {growing}"
    assert all(later.startswith(earlier) for earlier, later in itertools.pairwise(growing)), growing
    assert "Tuesday" in growing[-1]
    expect(page.locator("[data-part=latency]")).to_contain_text("first audio")
    for name in ("Helpful answer", "Unhelpful answer"):  # drawn, not an emoji that needs the visitor's fonts
        expect(answer.get_by_role("button", name=name, exact=True).locator("svg path")).to_be_visible()
        expect(answer.get_by_role("button", name=name, exact=True)).to_have_text("")
    answer.get_by_role("button", name="Unhelpful answer").click()
    expect(answer.locator(".avs-feedback [role=status]")).to_have_text("Thanks for the feedback.")
    answer.get_by_label("Comment on this answer").fill("It missed the sardines")
    answer.get_by_label("Comment on this answer").press("Enter")
    screenshot(page, "studio-feedback")

    page.get_by_label("Your question").fill("Tell me everything about the lamp and the feeding schedule.")
    page.get_by_label("Your question").press("Enter")
    expect(face).to_have_attribute("data-state", "speaking", timeout=30_000)
    page.get_by_role("button", name="Interrupt the avatar").click()
    interrupted = page.locator("li.avs-avatar[data-interrupted=true]")
    expect(interrupted).to_have_count(1)
    expect(face).not_to_have_attribute("data-state", "speaking")
    screenshot(page, "studio-interrupted")
    assert serious_accessibility_violations(page) == [], "with an interrupted answer and its sources"

    page.get_by_role("button", name="End the conversation").click()
    expect(conversation).to_have_attribute("data-status", "ended")

    page.get_by_role("tab", name="History").click()
    session = page.locator(".sessions details[data-session]").first
    expect(session).to_contain_text("Your test")
    expect(session).to_contain_text("Ended by the visitor")
    session.locator("summary").click()
    expect(session.locator("li[data-role=user]").first).to_contain_text("Zephyr")
    expect(page.locator("[data-part=usage]")).to_contain_text("This month")
    assert serious_accessibility_violations(page) == [], "in History with a session opened"
    screenshot(page, "studio-history")


def test_the_provider_form_is_built_from_the_providers_declarations(page: Page, base_url: str) -> None:
    sign_in(page, base_url, f"options-{uuid.uuid4().hex[:8]}@example.test")
    provider = page.locator("select[name=provider]")
    expect(provider.locator("option").first).to_have_text("Built-in avatar")  # the form is built
    labels = provider.locator("option").all_inner_texts()
    assert labels[:2] == [
        "Built-in avatar",
        "HeyGen LiveAvatar (not set up: needs LIVEAVATAR_API_KEY on the server)",
    ]
    assert labels[-1].startswith("HeyGen Interactive Avatar (legacy) (not set up")
    assert page.locator("fieldset[aria-label='Provider options']").is_hidden()
    # The voices: ours, then each declared provider's own (no list of names in the studio).
    voices = page.locator("select[name=voice_provider] option").evaluate_all(
        "options => options.map(o => o.value)"
    )
    declared = provider.locator("option").evaluate_all("options => options.map(o => o.value)")
    assert voices == ["local", "elevenlabs", *[name for name in declared if name != "local"]]

    # As a server with a LiveAvatar key would declare it: the provider can be chosen, its options shown.
    def configured(route: Route) -> None:
        config = route.fetch().json()
        for info in config["provider_catalog"]:
            if info["name"] == "liveavatar":
                info["configured"] = True
        route.fulfill(json=config)

    page.route("**/v1/config", configured)
    page.reload()
    page.get_by_label("Name").fill("Options")
    provider.select_option("liveavatar")
    page.locator("select[name=option_mode]").select_option("FULL")
    page.locator("input[name=option_sandbox]").check()
    page.locator("input[name=option_llm_model]").fill("bakery-guide")
    with page.expect_response(lambda response: response.url.endswith("/v1/avatars")) as created:
        page.get_by_role("button", name="Create avatar").click()
    assert created.value.json()["provider_options"] == {
        "mode": "FULL",
        "sandbox": True,
        "llm_model": "bakery-guide",
    }
    screenshot(page, "studio-provider-options")


def test_a_new_owner_is_guided_to_a_first_avatar_that_works_without_any_key(
    any_tab: Page, base_url: str
) -> None:
    page = any_tab
    sign_in(page, base_url, f"first-{uuid.uuid4().hex[:8]}@example.test")
    heading = page.get_by_role("heading", name="Create your first avatar")
    expect(heading).to_be_focused()
    expect(page.get_by_label("Name")).to_have_value("Ava")
    expect(page.get_by_label("Greeting")).not_to_be_empty()
    expect(page.get_by_label("Name")).to_have_accessible_description(
        "Shown to visitors as the avatar's name."
    )
    provider = page.locator("select[name=provider]")
    expect(provider).to_have_value("local")
    heygen = provider.locator("option[value=heygen]")
    expect(heygen).to_be_disabled()
    expect(heygen).to_contain_text("not set up: needs HEYGEN_API_KEY on the server")
    # The built-in avatar has no provider avatar id or video quality to fill in.
    expect(page.get_by_label("Provider avatar id")).to_be_hidden()
    assert serious_accessibility_violations(page) == []
    shot(page, "studio-first-run")

    page.get_by_role("button", name="Create avatar").click()
    expect(page.get_by_role("tab", name="Knowledge")).to_have_attribute("aria-selected", "true")
    expect(page.get_by_role("status").filter(has_text="Ava is ready")).to_contain_text("upload documents")
    expect(page.get_by_role("heading", name="Ava", exact=True)).to_be_focused()


def test_settings_confirm_a_save_trim_a_pasted_page_address_and_name_the_field_of_an_error(
    any_tab: Page, base_url: str
) -> None:
    page = any_tab
    sign_in(page, base_url, f"settings-{uuid.uuid4().hex[:8]}@example.test")
    page.get_by_role("button", name="Create avatar").click()
    page.get_by_role("tab", name="Settings").click()
    origins = page.get_by_label("Allowed widget origins")
    origins.fill("https://shop.example.com/products/lamp?colour=red")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status").filter(has_text="Saved Ava")).to_be_visible()
    expect(page.get_by_label("Allowed widget origins")).to_have_value("https://shop.example.com")

    page.get_by_label("Allowed widget origins").fill("shop.example.com")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert")).to_have_text(
        "Allowed widget origins: 'shop.example.com' is not a website address like https://example.com"
    )
    shot(page, "studio-settings-error")


def test_tabs_follow_the_arrow_keys_and_keep_focus(page: Page, base_url: str) -> None:
    sign_in(page, base_url, f"tabs-{uuid.uuid4().hex[:8]}@example.test")
    page.get_by_role("button", name="Create avatar").click()
    knowledge = page.get_by_role("tab", name="Knowledge")
    expect(knowledge).to_have_attribute("aria-selected", "true")
    knowledge.focus()
    page.keyboard.press("ArrowRight")
    tools = page.get_by_role("tab", name="Tools")
    expect(tools).to_have_attribute("aria-selected", "true")
    expect(tools).to_be_focused()
    page.keyboard.press("Home")
    expect(page.get_by_role("tab", name="Conversation")).to_be_focused()
    page.keyboard.press("ArrowLeft")
    expect(page.get_by_role("tab", name="Insights")).to_be_focused()
    expect(page.get_by_role("tabpanel", name="Insights")).to_be_visible()


def test_the_demo_page_link_shows_a_working_widget_out_of_the_box(any_tab: Page, base_url: str) -> None:
    page = any_tab
    sign_in(page, base_url, f"demo-{uuid.uuid4().hex[:8]}@example.test")
    page.get_by_role("button", name="Create avatar").click()
    page.get_by_role("tab", name="Widget & API keys").click()
    page.get_by_role("link", name="Try it on the demo page").click()
    page.get_by_role("button", name="Talk to our avatar").click()
    page.get_by_role("button", name="Start").click()
    expect(page.locator(".avs-transcript")).to_contain_text("Hi, I am Ava.", timeout=30_000)
    expect(page.get_by_role("alert")).to_have_count(0)
    shot(page, "studio-demo-page")


def test_every_studio_panel_passes_axe_without_an_error_and_the_stage_is_above_the_fold_on_a_phone(
    any_tab: Page, base_url: str
) -> None:
    page = any_tab
    problems = page_problems(page)
    sign_in(page, base_url, f"axe-{uuid.uuid4().hex[:8]}@example.test")
    page.get_by_role("button", name="Create avatar").click()
    for tab in ("Conversation", "Settings", "Knowledge", "Tools", "Contacts", "Widget & API keys", "History"):
        page.get_by_role("tab", name=tab).click()
        expect(page.get_by_role("tabpanel", name=tab)).to_be_visible()
        assert serious_accessibility_violations(page) == [], tab
    page.get_by_role("tab", name="Conversation").click()
    page.get_by_role("button", name="Start").click()
    conversation = page.locator(".avs-conversation")
    expect(conversation).to_have_attribute("data-status", "listening", timeout=30_000)
    assert within_viewport(page, page.locator(".avs-stage canvas"))
    assert within_viewport(page, page.get_by_label("Your question"))
    assert serious_accessibility_violations(page) == []
    shot(page, "studio-conversation")
    page.get_by_role("button", name="End the conversation").click()
    expect(conversation).to_have_attribute("data-status", "ended")
    expect(page.get_by_role("button", name="Start")).to_be_focused()
    page.wait_for_load_state("networkidle")
    assert problems == [], "\n".join(problems)


def test_the_concurrent_session_limit_reads_plainly_and_leaves_the_conversation_ready(
    any_tab: Page, base_url: str
) -> None:
    page = any_tab
    email = f"limit-{uuid.uuid4().hex[:8]}@example.test"
    sign_in(page, base_url, email)
    page.get_by_role("button", name="Create avatar").click()
    page.get_by_role("tab", name="Conversation").click()
    token = httpx.post(f"{base_url}/v1/dev/login", json={"email": email}, timeout=10).json()["access_token"]
    headers = {"authorization": f"Bearer {token}"}
    avatar = httpx.get(f"{base_url}/v1/avatars", headers=headers, timeout=10).json()[0]
    limit = httpx.get(f"{base_url}/v1/usage", headers=headers, timeout=10).json()["concurrent_sessions_limit"]
    for _ in range(limit):
        started = httpx.post(f"{base_url}/v1/sessions", json={"avatar_id": avatar["id"]}, headers=headers)
        assert started.status_code == 201, started.text
    page.get_by_role("button", name="Start").click()
    notice = page.get_by_role("alert")
    expect(notice).to_contain_text(f"already has {limit} live conversation(s), the most allowed at once")
    expect(notice).not_to_contain_text("plan")
    conversation = page.locator(".avs-conversation")
    expect(conversation).to_have_attribute("data-status", "idle")
    expect(page.locator("[data-part=state]")).to_have_text("ready")
    expect(page.get_by_role("button", name="Start")).to_be_enabled()
    expect(page.get_by_role("button", name="Start")).to_be_focused()
    shot(page, "studio-session-limit")


def test_the_owner_styles_the_widget_with_a_live_preview_and_sites_show_the_saved_look(
    any_tab: Page, base_url: str, host_pages: HostPages
) -> None:
    page = any_tab
    sign_in(page, base_url, f"look-{uuid.uuid4().hex[:8]}@example.test")
    site = host_pages.serve()
    page.get_by_label("Allowed widget origins").fill(site)
    page.get_by_role("button", name="Create avatar").click()
    page.get_by_role("tab", name="Widget & API keys").click()
    preview = page.frame_locator("iframe[title='Widget preview']")
    expect(preview.get_by_role("button", name="Talk to our avatar")).to_be_visible()

    page.get_by_label("Launcher text").fill("Ask the keeper")
    page.get_by_label("Colour").fill("#0f766e")
    page.get_by_label("Corner").select_option("left")
    page.get_by_label("Language of the widget's texts").select_option("fr")
    launcher = preview.get_by_role("button", name="Ask the keeper")
    expect(launcher).to_be_visible()
    assert launcher.evaluate("(b) => getComputedStyle(b).backgroundColor") == "rgb(15, 118, 110)"
    assert launcher.evaluate("(b) => b.getBoundingClientRect().left") == 20
    # The launcher is fixed inside the frame: Playwright scrolls the page to the frame, not to it.
    page.locator("iframe[title='Widget preview']").scroll_into_view_if_needed()
    launcher.click()
    expect(preview.get_by_role("button", name="Commencer")).to_be_visible()
    assert serious_accessibility_violations(page) == []
    shot(page, "studio-widget-look")
    page.get_by_role("button", name="Save the look").click()
    expect(page.get_by_role("status").filter(has_text="Saved the widget's look")).to_be_visible()

    public_id = page.locator("[data-part=snippet]").inner_text().split('data-avatar="')[1].split('"')[0]
    host_pages.pages["/"] = (
        '<!doctype html><html lang="en"><head><title>Shop</title></head><body><h1>Shop</h1>'
        f'<script src="{base_url}/widget.js" data-avatar="{public_id}" async></script></body></html>'
    )
    page.goto(f"{site}/")
    on_site = page.get_by_role("button", name="Ask the keeper")
    expect(on_site).to_be_visible()
    assert on_site.evaluate("(b) => getComputedStyle(b).backgroundColor") == "rgb(15, 118, 110)"
    on_site.click()
    expect(page.get_by_role("button", name="Commencer")).to_be_visible()


def test_the_api_docs_render_without_any_network_beyond_the_app(page: Page, base_url: str) -> None:
    outside: list[str] = []

    def only_the_app(route: Route) -> None:
        if route.request.url.startswith(base_url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_the_app)
    page.goto(f"{base_url}/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Interactive Avatar Studio")
    expect(page.locator(".opblock-summary-path").filter(has_text="/v1/widget/token")).to_be_visible()
    assert outside == []
