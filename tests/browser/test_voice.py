"""Voice input in the studio, in Chromium with a fake microphone, against the local app.

The studio is opened through HostPages' forwarding origin, which keeps each request's body: DevTools (and
so Playwright) does not see the body of a FormData upload, and the tests check the recording that went out.

This module launches its own Chromium: the fake audio device plays a recorded "utterance" (a voiced
burst between silences, see `utterance_wav`), and there is no `--use-fake-ui-for-media-stream`, so each
context decides the microphone permission itself (granted by `page`, refused by `denied_page`).
"""

import asyncio
import io
import json
import re
import threading
import uuid
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Locator, Page, Request, expect

from functions.core.settings import get_settings
from functions.core.speech.piper_tts import LocalTts
from tests.browser.conftest import HostPages, chromium, new_tab, screenshot
from tests.scripted_llm import Script, ScriptedLLM

NO_STT_REASON = "Voice input needs a transcription key on this server; type your question instead."
LOOP_MS = 6_500  # longer than the fake microphone's loop (silence, the question, silence)
MIC_DENIED = "The microphone is blocked. Allow it from the icon in the address bar"
SAMPLE_RATE = 48_000
WEBM_MAGIC = b"\x1a\x45\xdf\xa3"  # EBML, the start of every WebM file
SPOKEN = "When does the keeper feed the seagulls?"
REPLY = "The keeper feeds the seagulls every Tuesday at noon."
STT_KEY = "sk-voice-test-key"


@pytest.fixture(scope="module")
def utterance_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What the fake microphone hears, looped: 0.8 s of silence, Piper's voice asking `SPOKEN` and 2.5 s
    of silence, long enough for the voice-activity detector's hangover to end the utterance."""
    path = tmp_path_factory.mktemp("voice") / "utterance.wav"
    tts = LocalTts.load()

    async def spoken() -> bytes:
        return b"".join([chunk async for chunk in tts.stream(SPOKEN, sample_rate=SAMPLE_RATE)])

    frames = bytes(int(SAMPLE_RATE * 0.8) * 2) + asyncio.run(spoken()) + bytes(int(SAMPLE_RATE * 2.5) * 2)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(bytes(frames))
    return path


@pytest.fixture(scope="module")
def browser(utterance_wav: Path) -> Iterator[Browser]:
    """Overrides conftest's: the fake microphone plays `utterance_wav`, and permission prompts are not
    auto-accepted (headless Chromium refuses the microphone unless the context grants it)."""
    with chromium(
        "--use-fake-device-for-media-stream", f"--use-file-for-fake-audio-capture={utterance_wav}"
    ) as launched:
        yield launched


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A tab whose site may use the microphone."""
    with new_tab(browser, permissions=["microphone"]) as tab:
        yield tab


@pytest.fixture
def denied_page(browser: Browser) -> Iterator[Page]:
    """A tab whose microphone request is refused, as when the person blocked it."""
    with new_tab(browser) as tab:
        yield tab


def start_conversation(page: Page, origin: str) -> Locator:
    """Signs a new owner in, creates a local avatar and starts talking to it; returns the conversation."""
    email = f"voice-{uuid.uuid4().hex[:10]}@example.test"
    page.goto(f"{origin}/studio/")
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text(f"Signed in as {email}")).to_be_visible()
    page.get_by_role("button", name="New avatar").click()
    page.get_by_label("Name").fill("Keeper")
    page.get_by_role("button", name="Create avatar").click()
    page.get_by_role("tab", name="Conversation").click()
    page.get_by_role("button", name="Start").click()
    conversation = page.locator(".avs-conversation")
    expect(conversation).to_have_attribute("data-status", "listening", timeout=30_000)
    return conversation


def is_turn(request: Request) -> bool:
    return request.method == "POST" and request.url.endswith("/turns")


def hold_to_talk(page: Page, seconds: float = 1.5) -> None:
    """Presses the talk control with the mouse, keeps it down while the fake microphone plays, releases."""
    talk = page.get_by_role("button", name="Hold to talk")
    talk.hover()
    page.mouse.down()
    expect(talk).to_have_attribute("data-recording", "true")
    page.wait_for_timeout(seconds * 1000)
    page.mouse.up()
    expect(talk).to_have_attribute("data-recording", "false")


@dataclass
class Part:
    filename: str | None
    content_type: str
    content: bytes


def form_parts(content_type: str, body: bytes) -> dict[str, Part]:
    """The fields of a multipart/form-data body, by name."""
    message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    assert message.is_multipart(), content_type
    parts: dict[str, Part] = {}
    for part in message.iter_parts():
        assert isinstance(part, Message)
        name = part.get_param("name", header="content-disposition")
        assert isinstance(name, str)
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        parts[name] = Part(part.get_filename(), part.get_content_type(), payload)
    return parts


def recorded_audio(request: Request, host: HostPages, *, hands_free: bool = False) -> Part:
    """Asserts the turn went out as a multipart form with a turn id and the recording: WebM (Opus) when
    held to talk, 16 kHz WAV hands-free (which keeps the moment before speech was detected); returns it."""
    content_type = request.headers["content-type"]
    assert content_type.startswith("multipart/form-data; boundary="), content_type
    assert request.headers["accept"] == "text/event-stream"
    path = urlsplit(request.url).path
    sent = [f for f in host.forwarded if f.method == "POST" and f.path == path]
    assert sent, f"no turn was forwarded to {path}"
    body = sent[-1].body
    assert body is not None, "the turn was sent without a body"
    parts = form_parts(content_type, body)
    assert set(parts) == {"turn_id", "audio"}, set(parts)
    assert parts["turn_id"].content.decode().startswith("turn-")
    audio = parts["audio"]
    assert audio.filename is not None
    if hands_free:
        assert audio.content_type == "audio/wav", audio.content_type
        assert audio.filename.endswith(".wav"), audio.filename
        with wave.open(io.BytesIO(audio.content)) as recording:
            assert (recording.getframerate(), recording.getnchannels()) == (16_000, 1)
            # The question takes about two seconds, and the end-of-speech wait follows it.
            assert recording.getnframes() > 16_000 * 2, recording.getnframes()
        return audio
    assert audio.content_type == "audio/webm", audio.content_type
    assert audio.filename.endswith(".webm"), audio.filename
    assert audio.content.startswith(WEBM_MAGIC), audio.content[:16]
    # Chromium records Opus at about 7 kB a second; headers alone take a few hundred bytes.
    assert len(audio.content) > 2_000, f"only {len(audio.content)} bytes were recorded"
    return audio


def ask_by_typing(page: Page, conversation: Locator, question: str) -> Locator:
    """Types a question and waits for the whole answer; returns the answer's transcript line."""
    page.get_by_label("Your question").fill(question)
    page.get_by_label("Your question").press("Enter")
    expect(conversation.locator("li.avs-user").last).to_contain_text(question)
    answer = conversation.locator("li.avs-avatar[data-turn]").last
    expect(answer.locator(".avs-text")).not_to_be_empty(timeout=30_000)
    expect(conversation).to_have_attribute("data-status", "listening", timeout=60_000)
    return answer


@pytest.fixture
def no_transcription() -> Iterator[None]:
    """The running app with no key and the local Whisper turned off: no transcription at all."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("LOCAL_STT", "false")
        get_settings.cache_clear()
        yield
    get_settings.cache_clear()


def assert_heard(conversation: Locator) -> None:
    """The user's line is what the fake microphone said, as local Whisper wrote it down: its most
    distinctive word ("keeper feed" has come back as "key provide" from tiny.en; the turn is what is
    tested here, `tests/functional/test_local_stt.py` measures the word error rate)."""
    question = conversation.locator("li.avs-user .avs-text").last
    expect(question).to_contain_text(re.compile(r"sea ?gulls", re.IGNORECASE), timeout=30_000)


def test_without_any_transcription_the_voice_buttons_say_why_and_typing_works(
    page: Page, host_pages: HostPages, no_transcription: None
) -> None:
    conversation = start_conversation(page, host_pages.serve())
    note = conversation.locator("[data-part=voice-note]")
    expect(note).to_have_text(NO_STT_REASON)
    for name in ("Hold to talk", "Hands-free listening"):
        button = conversation.get_by_role("button", name=name)
        expect(button).to_be_disabled()
        expect(button).to_have_attribute("title", NO_STT_REASON)
    screenshot(page, "voice-stt-unavailable")

    ask_by_typing(page, conversation, "What can you tell me about the lighthouse?")
    assert not [
        f for f in host_pages.forwarded if f.path.endswith("/turns") and f.body and b"audio" in f.body
    ]


RECORDERS = """(() => {
  const Real = window.MediaRecorder;
  window.__recorders = [];
  window.MediaRecorder = class extends Real {
    constructor(...args) {
      super(...args);
      window.__recorders.push(this);
    }
  };
  // Counts the microphone requests and those the browser has answered: once every one is answered, the
  // page's own code has taken the stream (or let it go) in the microtasks that follow.
  const devices = navigator.mediaDevices;
  const open = devices.getUserMedia.bind(devices);
  window.__microphone = { asked: 0, answered: 0 };
  devices.getUserMedia = (...args) => {
    window.__microphone.asked += 1;
    return open(...args).finally(() => (window.__microphone.answered += 1));
  };
})()"""


def test_a_tap_released_before_the_microphone_opens_records_nothing(
    page: Page, host_pages: HostPages
) -> None:
    page.add_init_script(RECORDERS)
    conversation = start_conversation(page, host_pages.serve())
    talk = conversation.get_by_role("button", name="Hold to talk")

    talk.click()  # pressed and released at once, while the microphone is still being opened
    expect(talk).to_have_attribute("data-recording", "false")
    page.wait_for_function(
        "window.__microphone.asked > 0 && window.__microphone.answered === window.__microphone.asked"
    )
    recording = page.evaluate("window.__recorders.filter(r => r.state !== 'inactive').length")
    assert recording == 0, "the microphone kept recording after the talk button was released"
    assert not [f for f in host_pages.forwarded if f.path.endswith("/turns")]

    with page.expect_response(lambda response: is_turn(response.request)) as turn:
        hold_to_talk(page)
    recorded_audio(turn.value.request, host_pages)
    assert page.evaluate("window.__recorders.map(r => r.state)") == ["inactive"]


def test_talk_control_works_from_the_keyboard(page: Page, host_pages: HostPages) -> None:
    conversation = start_conversation(page, host_pages.serve())
    talk = conversation.get_by_role("button", name="Hold to talk")
    expect(page.get_by_label("Your question")).to_be_focused()
    for _ in range(5):
        if talk.evaluate("element => element === document.activeElement"):
            break
        page.keyboard.press("Tab")
    expect(talk).to_be_focused()
    expect(talk).to_have_accessible_name("Hold to talk")

    with page.expect_response(lambda response: is_turn(response.request)) as turn:
        page.keyboard.down("Space")
        expect(talk).to_have_attribute("data-recording", "true")
        page.wait_for_timeout(LOOP_MS)  # one whole loop of the fake microphone: the question is in it
        page.keyboard.up("Space")
    recorded_audio(turn.value.request, host_pages)
    assert turn.value.status == 200
    assert_heard(conversation)
    expect(talk).to_be_focused()


def test_hands_free_sends_an_utterance_when_the_speaker_pauses(page: Page, host_pages: HostPages) -> None:
    conversation = start_conversation(page, host_pages.serve())
    hands_free = conversation.get_by_role("button", name="Hands-free listening")
    expect(hands_free).to_have_attribute("aria-pressed", "false")

    with page.expect_response(lambda response: is_turn(response.request), timeout=20_000) as turn:
        hands_free.click()
        expect(hands_free).to_have_attribute("aria-pressed", "true")
    audio = recorded_audio(turn.value.request, host_pages, hands_free=True)
    assert turn.value.status == 200
    # Sent ahead at the pause after the question, under the turn's id, for the local engine to transcribe
    # while the end-of-speech wait ran: the very recording the turn then carried.
    turn_path = urlsplit(turn.value.request.url).path
    forwarded = {f.path: f for f in host_pages.forwarded if f.method == "POST"}
    turn_form = form_parts(turn.value.request.headers["content-type"], forwarded[turn_path].body or b"")
    ahead = forwarded.get(f"{turn_path}/{turn_form['turn_id'].content.decode()}/transcription")
    assert ahead is not None, list(forwarded)
    assert ahead.body is not None
    content_type = next(value for key, value in ahead.headers.items() if key.lower() == "content-type")
    assert form_parts(content_type, ahead.body)["audio"].content == audio.content
    assert_heard(conversation)
    # The first word, spoken before the detector was sure it was speech, is heard too.
    expect(conversation.locator("li.avs-user .avs-text").last).to_have_text(
        re.compile(r"^when does", re.IGNORECASE)
    )
    expect(conversation.locator("li.avs-avatar[data-turn] .avs-text").last).not_to_be_empty(timeout=30_000)
    screenshot(page, "voice-transcribed-offline")

    hands_free.click()
    expect(hands_free).to_have_attribute("aria-pressed", "false")


def test_denied_microphone_is_explained_and_nothing_is_sent(denied_page: Page, base_url: str) -> None:
    page = denied_page
    conversation = start_conversation(page, base_url)
    turns: list[Request] = []
    page.on("request", lambda request: turns.append(request) if is_turn(request) else None)

    talk = conversation.get_by_role("button", name="Hold to talk")
    talk.hover()
    page.mouse.down()
    expect(conversation.get_by_role("alert")).to_contain_text(MIC_DENIED)
    page.mouse.up()
    screenshot(page, "voice-microphone-denied")

    hands_free = conversation.get_by_role("button", name="Hands-free listening")
    hands_free.click()
    expect(conversation.get_by_role("alert")).to_contain_text(MIC_DENIED)
    expect(hands_free).to_have_attribute("aria-pressed", "false")
    assert turns == []

    ask_by_typing(page, conversation, "What can you tell me about the lighthouse?")


class FakeTranscription:
    """OpenAI's `POST /audio/transcriptions` (and `/embeddings`, which the turn also calls once a key is
    set), answering every recording with `text`; keeps what it was sent."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.uploads: list[tuple[dict[str, str], dict[str, Part]]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                return None

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                headers = {name.lower(): value for name, value in self.headers.items()}
                if self.path == "/v1/audio/transcriptions":
                    fake.uploads.append((headers, form_parts(headers["content-type"], body)))
                    self.reply({"text": f" {fake.text}\n"})
                elif self.path == "/v1/embeddings":
                    inputs = json.loads(body)["input"]
                    vector = [1.0] + [0.0] * 1535
                    self.reply({"data": [{"index": i, "embedding": vector} for i in range(len(inputs))]})
                else:
                    self.send_error(404)

            def reply(self, payload: object) -> None:
                data = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def speech_to_text() -> Iterator[tuple[FakeTranscription, ScriptedLLM]]:
    """The running app with an OpenAI key whose transcriptions come from a fake, and a scripted chat model
    (a key switches the language model on too)."""
    fake = FakeTranscription(SPOKEN)
    with ScriptedLLM(Script(reply_for=lambda _messages: REPLY)) as llm, pytest.MonkeyPatch.context() as env:
        env.setenv("OPENAI_API_KEY", STT_KEY)
        env.setenv("OPENAI_API_BASE", fake.url)
        env.setenv("LLM_BASE_URL", llm.url)
        env.setenv("LLM_MODEL", "scripted-model")
        get_settings.cache_clear()
        try:
            yield fake, llm
        finally:
            fake.close()
    get_settings.cache_clear()


def test_spoken_question_is_transcribed_and_answered(
    page: Page, host_pages: HostPages, speech_to_text: tuple[FakeTranscription, ScriptedLLM]
) -> None:
    fake, llm = speech_to_text
    conversation = start_conversation(page, host_pages.serve())

    with page.expect_response(lambda response: is_turn(response.request)) as turn:
        hold_to_talk(page)
    sent = recorded_audio(turn.value.request, host_pages)
    assert turn.value.status == 200
    assert turn.value.headers["content-type"].startswith("text/event-stream")

    expect(conversation.locator("li.avs-user")).to_have_count(1)
    expect(conversation.locator("li.avs-user .avs-text")).to_have_text(SPOKEN)
    answer = conversation.locator("li.avs-avatar[data-turn] .avs-text")
    expect(answer).to_have_text(REPLY, timeout=30_000)
    expect(conversation).to_have_attribute("data-status", "listening", timeout=60_000)
    expect(conversation.get_by_role("alert")).to_be_hidden()
    screenshot(page, "voice-transcribed")

    assert len(fake.uploads) == 1
    headers, upload = fake.uploads[0]
    assert headers["authorization"] == f"Bearer {STT_KEY}"
    assert upload["model"].content == b"gpt-4o-mini-transcribe"
    assert upload["language"].content == b"en", "the transcription listens for the avatar's language"
    assert upload["file"].filename == "audio.webm"
    assert upload["file"].content_type == "audio/webm"
    assert upload["file"].content == sent.content, "the server did not pass the recording on unchanged"
    asked = [m["content"] for m in llm.records[-1].body["messages"] if m["role"] == "user"]
    assert SPOKEN in asked[-1]
