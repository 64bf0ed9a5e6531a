"""The owner's whole journey in the studio, in Chromium against the local app."""

import itertools

from playwright.sync_api import Page, expect

from tests.browser.conftest import screenshot

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

    page.get_by_role("button", name="End the conversation").click()
    expect(conversation).to_have_attribute("data-status", "ended")

    page.get_by_role("tab", name="History").click()
    session = page.locator(".sessions details[data-session]").first
    expect(session).to_contain_text("Your test")
    expect(session).to_contain_text("Ended by the visitor")
    session.locator("summary").click()
    expect(session.locator("li[data-role=user]").first).to_contain_text("Zephyr")
    expect(page.locator("[data-part=usage]")).to_contain_text("This month")
    screenshot(page, "studio-history")


def test_the_provider_form_is_built_from_the_providers_declarations(page: Page, base_url: str) -> None:
    page.goto(f"{base_url}/studio/")
    page.get_by_label("Email").fill("studio-options@example.test")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="New avatar").click()
    provider = page.locator("select[name=provider]")
    labels = provider.locator("option").all_inner_texts()
    assert labels[:2] == ["Built-in avatar", "HeyGen LiveAvatar (no key configured)"]
    assert labels[-1] == "HeyGen Interactive Avatar (legacy) (no key configured)"
    assert page.locator("fieldset[aria-label='Provider options']").is_hidden()

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
