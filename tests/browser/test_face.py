"""The built-in avatar's face in Chromium: three looks and a theme colour chosen in the studio, shown
before the conversation, and distinct listening, thinking, speaking and idle states with lip-sync by
visemes; the main-thread time of a frame is measured while it speaks."""

from collections.abc import Iterator

import pytest
from playwright.sync_api import Locator, Page, expect

from functions.core.settings import get_settings
from tests.browser.conftest import ARTIFACTS, sign_in
from tests.scripted_llm import Script, ScriptedLLM

REPLY = (
    "The lamp turns once every twelve seconds. Ships see it from forty kilometres away, on a clear night."
    " Oh, and who knew? Sardines feed the seagulls."
)
FRAME_BUDGET_MS = 4.0
VISEMES = "() => document.querySelector('canvas.avs-face').dataset.viseme"


@pytest.fixture
def slow_model() -> Iterator[ScriptedLLM]:
    """A chat model that thinks for a while before answering, so the thinking face can be seen."""
    with (
        ScriptedLLM(Script(ttft_s=2.0, reply_for=lambda _messages: REPLY)) as llm,
        pytest.MonkeyPatch.context() as env,
    ):
        env.setenv("LLM_BASE_URL", llm.url)
        env.setenv("LLM_MODEL", "scripted-model")
        get_settings.cache_clear()
        yield llm
    get_settings.cache_clear()


def shoot(locator: Locator, name: str) -> None:
    locator.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def test_each_look_and_theme_is_previewed_in_the_settings_and_before_the_conversation(
    page: Page, base_url: str
) -> None:
    sign_in(page, base_url, "face-looks@example.test")
    page.get_by_role("button", name="New avatar").click()
    page.get_by_label("Name").fill("Noor")
    preview = page.get_by_role("img", name="How the built-in avatar looks")
    pixels: dict[str, str] = {}
    for look, theme in (("ada", "#2563eb"), ("kai", "#b45309"), ("noor", "#0f766e")):
        page.locator("select[name=look]").select_option(look)
        page.locator("input[name=theme]").fill(theme)
        expect(preview).to_have_attribute("data-look", look)
        expect(preview).to_have_attribute("data-theme", theme)
        shoot(preview, f"face-look-{look}")
        pixels[look] = preview.evaluate("canvas => canvas.toDataURL()")
    assert len(set(pixels.values())) == 3, "the three looks are drawn alike"
    page.get_by_role("button", name="Create avatar").click()

    page.get_by_role("tab", name="Conversation").click()
    stage = page.locator(".avs-stage")
    portrait = stage.locator("canvas.avs-portrait")
    expect(portrait).to_have_attribute("data-look", "noor")
    # Not an empty box: the portrait holds many colours, the theme's among them.
    colours = portrait.evaluate(
        """canvas => {
          const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
          const seen = new Set();
          for (let i = 0; i < data.length; i += 16) {
            seen.add((data[i] >> 4 << 8) | (data[i + 1] >> 4 << 4) | (data[i + 2] >> 4));
          }
          return seen.size;
        }"""
    )
    assert colours > 40, colours
    shoot(stage, "face-before-start")


def test_the_face_listens_thinks_speaks_with_visemes_and_rests_within_the_frame_budget(
    page: Page, base_url: str, slow_model: ScriptedLLM
) -> None:
    sign_in(page, base_url, "face-states@example.test")
    page.get_by_role("button", name="New avatar").click()
    page.get_by_label("Name").fill("Kai")
    page.locator("select[name=look]").select_option("kai")
    page.get_by_role("button", name="Create avatar").click()
    page.get_by_role("tab", name="Conversation").click()
    page.get_by_role("button", name="Start").click()
    stage = page.locator(".avs-stage")
    face = stage.locator("canvas.avs-face:not(.avs-portrait)")
    expect(face).to_have_attribute("data-look", "kai")
    expect(face).to_have_attribute("data-state", "listening", timeout=30_000)
    shoot(stage, "face-listening")

    page.evaluate(
        """() => {
          window.__visemes = new Set();
          window.__frames = [];
          const watch = () => {
            const face = document.querySelector('canvas.avs-face:not(.avs-portrait)');
            if (face && face.dataset.state === 'speaking') {
              window.__visemes.add(face.dataset.viseme);
              window.__frames.push(Number(face.dataset.frameMs));
            }
            requestAnimationFrame(watch);
          };
          requestAnimationFrame(watch);
        }"""
    )
    page.get_by_label("Your question").fill("Tell me about the lamp.")
    page.get_by_label("Your question").press("Enter")
    expect(face).to_have_attribute("data-state", "thinking")
    page.wait_for_timeout(600)  # let the face settle into the thinking pose for the picture
    shoot(stage, "face-thinking")
    expect(face).to_have_attribute("data-state", "speaking", timeout=30_000)
    page.wait_for_function("() => Number(document.querySelector('canvas.avs-face').dataset.mouth) > 0.3")
    shoot(stage, "face-speaking")
    expect(face).to_have_attribute("data-state", "listening", timeout=60_000)

    visemes = set(page.evaluate("[...window.__visemes]"))
    assert {"rest", "A"} <= visemes, visemes
    assert len(visemes - {"rest"}) >= 3, f"the mouth took too few shapes: {visemes}"
    frames = page.evaluate("window.__frames")
    assert len(frames) > 30, len(frames)
    mean = sum(frames) / len(frames)
    print(f"face frame time while speaking: mean {mean:.2f} ms over {len(frames)} frames")
    assert mean < FRAME_BUDGET_MS, mean

    expect(face).to_have_attribute("data-state", "idle", timeout=20_000)
    shoot(stage, "face-idle")
