"""Each cloud avatar adapter in Chromium, with the provider's SDK replaced by a stub (web/test/browser/stubs)
and the provider's HTTP API by a fake, against the real server and database: a turn's sentences are spoken
in order, interrupt stops speech, and a dropped stream falls back to the local avatar and reconnects."""

import itertools
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from playwright.sync_api import Page

from functions.core.providers.avatar.base import AvatarProvider
from functions.core.providers.avatar.heygen import HeyGenProvider
from functions.core.providers.avatar.liveavatar import LiveAvatarProvider
from functions.core.providers.avatar.simli import SimliProvider
from functions.core.providers.avatar.tavus import TavusProvider
from functions.core.settings import get_settings
from functions.core.text.speakable import speakable
from tests.browser.conftest import HostPages, screenshot
from tests.functional.support import event_types, use_provider
from tests.providers.fake import (
    LIVEAVATAR_BASE,
    FakeProvider,
    heygen_fake,
    liveavatar_fake,
    tavus_fake,
)
from tests.providers.vendors import serve, vendor

WEB = Path(__file__).resolve().parents[2] / "web"
KNOWLEDGE = (
    "# Refunds\n\nRefunds go back to the card. A refund needs the order number. "
    "Gift card refunds become store credit. Refunds take five working days. An email confirms each refund.\n"
)
QUESTION = "Tell me everything about refunds."
DROP_NOTICE = "The avatar's video connection dropped."


@pytest.fixture(scope="module")
def harness_script(tmp_path_factory: pytest.TempPathFactory) -> str:
    out = tmp_path_factory.mktemp("harness") / "harness.js"
    subprocess.run(["node", "test/browser/build.mjs", str(out)], cwd=WEB, check=True)
    script = out.read_text()
    assert "</script" not in script
    return script


@dataclass
class Provider:
    name: str
    fake: FakeProvider
    make: Callable[[FakeProvider], AvatarProvider]
    avatar: dict[str, Any]
    # The stub SDK's log lines that carry what the avatar was given to say.
    said: str
    halted: str
    # How many sentences the adapter hands over before the avatar has finished the first.
    ahead: int


def _simli_fake() -> FakeProvider:
    fake = FakeProvider()
    tokens = itertools.count(1)
    fake.on(
        "POST",
        "/compose/token",
        lambda _request: httpx.Response(200, json={"session_token": f"simli-token-{next(tokens)}"}),
    )
    fake.on("GET", "/compose/ice", httpx.Response(200, json=[{"urls": ["stun:stun.simli.test:3478"]}]))
    return fake


PROVIDERS: dict[str, Callable[[], Provider]] = {
    "heygen": lambda: Provider(
        "heygen",
        heygen_fake(),
        lambda fake: vendor(HeyGenProvider, fake),
        {"provider": "heygen", "provider_avatar_id": "Anna_public_3"},
        "heygen.speak repeat/async ",
        "heygen.interrupt",
        3,
    ),
    "simli": lambda: Provider(
        "simli",
        _simli_fake(),
        lambda fake: vendor(SimliProvider, fake),
        {"provider": "simli", "provider_avatar_id": "face-42"},
        "simli.audio ",
        "simli.clear",
        2,
    ),
    "liveavatar": lambda: Provider(
        "liveavatar",
        liveavatar_fake(),
        lambda fake: vendor(LiveAvatarProvider, fake),
        {
            "provider": "liveavatar",
            "provider_avatar_id": str(uuid.uuid4()),
            "provider_options": {"mode": "LITE"},
        },
        "liveavatar.audio ",
        "liveavatar.interrupt",
        2,
    ),
}


class Harness:
    def __init__(self, page: Page) -> None:
        self.page = page

    def start(self, avatar_id: str, token: str) -> None:
        self.page.evaluate("([avatar, token]) => avatarHarness.start(avatar, token)", [avatar_id, token])

    def calls(self, prefix: str = "") -> list[str]:
        calls: list[str] = self.page.evaluate("stubSdk.calls")
        return [call[len(prefix) :] for call in calls if call.startswith(prefix)]

    def seen(self, kind: str) -> list[Any]:
        seen: list[Any] = self.page.evaluate(
            "kind => avatarHarness.seen.filter(e => e.type === kind).map(e => e.detail)", kind
        )
        return seen

    def ask(self, question: str) -> None:
        """Sends a question and returns once the turn is over (spoken to the end or interrupted)."""
        self.page.evaluate("question => avatarHarness.controller().ask(question)", question)

    def wait_for(self, script: str, arg: Any = None) -> None:
        self.page.wait_for_function(script, arg=arg, timeout=30_000)


@pytest.fixture
def harness(page: Page, host_pages: HostPages, harness_script: str) -> Harness:
    origin = host_pages.serve()
    host_pages.pages["/harness.html"] = (
        '<!doctype html><html><body><div id="stage" style="width:320px;height:320px"></div>'
        f"<script>{harness_script}</script></body></html>"
    )
    page.goto(f"{origin}/harness.html")
    return Harness(page)


def _owner(base_url: str) -> dict[str, str]:
    reply = httpx.post(
        f"{base_url}/v1/dev/login", json={"email": f"adapters-{uuid.uuid4().hex[:8]}@example.test"}
    )
    reply.raise_for_status()
    return {"authorization": f"Bearer {reply.json()['access_token']}"}


def _avatar_with_knowledge(base_url: str, headers: dict[str, str], fields: dict[str, Any]) -> str:
    with httpx.Client(base_url=base_url, headers=headers, timeout=30) as http:
        created = http.post("/v1/avatars", json={"name": "Cloud Ava", "greeting": "", **fields})
        assert created.status_code == 201, created.text
        avatar_id: str = created.json()["id"]
        upload = http.post(
            f"/v1/avatars/{avatar_id}/knowledge",
            files={"file": ("refunds.md", KNOWLEDGE.encode(), "text/markdown")},
        )
        assert upload.status_code == 202, upload.text
        document_id = upload.json()["document_id"]
        document = upload.json()
        deadline = time.monotonic() + 30
        while document["status"] not in ("ready", "failed") and time.monotonic() < deadline:
            time.sleep(0.1)
            document = http.get(f"/v1/knowledge/{document_id}").json()
        assert document["status"] == "ready", document
    return avatar_id


@pytest.fixture(params=sorted(PROVIDERS))
def provider(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Provider:
    chosen = PROVIDERS[request.param]()
    use_provider(monkeypatch, chosen.name, chosen.make(chosen.fake))
    return chosen


def _turn_sentences(harness: Harness, turn: int) -> list[str]:
    turn_ids = list(dict.fromkeys(event["turnId"] for event in harness.seen("sentence")))
    return [event["text"] for event in harness.seen("sentence") if event["turnId"] == turn_ids[turn]]


def _assert_speech_follows_the_face(calls: list[str]) -> None:
    """Every `speaking` status comes while the face speaks, every status after it once the face is silent."""
    face, status = "silent", None
    checked = 0
    for call in calls:
        if call in ("simli.speaking", "simli.silent"):
            face = call.removeprefix("simli.")
        elif call.startswith("status "):
            new = call.removeprefix("status ")
            if new == "speaking" or status == "speaking":
                assert face == ("speaking" if new == "speaking" else "silent"), calls
                checked += 1
            status = new
    assert checked >= 2, calls


def test_a_cloud_adapter_speaks_in_order_stops_on_interrupt_and_survives_a_drop(
    harness: Harness, provider: Provider, base_url: str, admin: psycopg.Connection[Any]
) -> None:
    headers = _owner(base_url)
    avatar_id = _avatar_with_knowledge(base_url, headers, provider.avatar)
    harness.start(avatar_id, headers["authorization"].removeprefix("Bearer "))
    [first] = harness.page.evaluate("stubSdk.instances.map(i => i.token)")
    assert first, "the stub SDK was not given the minted token"
    harness.wait_for("() => document.querySelector('#stage video')")

    # A turn: every sentence is given to the avatar, in the order the server sent them.
    harness.ask(QUESTION)
    # The avatar is given each sentence as it is said: without its citation marker.
    sentences = [speakable(sentence) for sentence in _turn_sentences(harness, 0)]
    assert len(sentences) >= 3, sentences
    if provider.name == "heygen":
        assert harness.calls(provider.said) == sentences
        assert harness.calls("heygen.spoken ") == sentences
    else:
        assert harness.calls("tts ") == sentences
        sizes = [int(size) for size in harness.calls(provider.said)]
        assert len(sizes) == len(sentences)
        assert all(size > 1000 for size in sizes), sizes
    [answer] = harness.seen("answer")
    assert answer["interrupted"] is False
    if provider.name == "simli":
        # Simli's own `speaking` / `silent` start and end the speech, not an estimate from the audio's length:
        # the stub starts saying what it was given a moment later, as the real face does.
        harness.wait_for(
            "() => avatarHarness.seen.filter(e => e.type === 'status').pop()?.detail === 'listening'"
        )
        _assert_speech_follows_the_face(harness.calls())
    if provider.name == "liveavatar":
        # Nothing went out before LiveAvatar reported the session connected (start() resolves earlier).
        calls = harness.calls()
        assert "liveavatar.dropped" not in calls
        assert calls.index("liveavatar.connected") < next(
            i for i, call in enumerate(calls) if call.startswith(provider.said)
        )

    # Interrupt while the first sentence plays: the provider is halted and the rest is never sent.
    harness.page.evaluate("stubSdk.sentenceMs = 5000")
    given_before = len(harness.calls(provider.said))
    harness.page.evaluate("question => { void avatarHarness.controller().ask(question); }", QUESTION)
    harness.wait_for("() => avatarHarness.seen.filter(e => e.type === 'status').pop()?.detail === 'speaking'")
    # The server has sent more sentences than the adapter may hand over ahead, so holding them back is seen.
    harness.wait_for(
        """ahead => {
            const sentences = avatarHarness.seen.filter(e => e.type === 'sentence');
            const second = [...new Set(sentences.map(e => e.turnId))][1];
            return sentences.filter(e => e.turnId === second).length > ahead;
        }""",
        provider.ahead,
    )
    harness.page.evaluate("avatarHarness.controller().interrupt()")
    harness.wait_for("() => avatarHarness.seen.filter(e => e.type === 'answer').length === 2")
    assert harness.calls(provider.halted), "the provider was not told to stop"
    interrupted = harness.seen("answer")[1]
    assert interrupted["interrupted"] is True
    harness.page.wait_for_timeout(600)
    given = len(harness.calls(provider.said)) - given_before
    assert given <= provider.ahead < len(_turn_sentences(harness, 1)), "sentences kept going to the avatar"
    harness.page.evaluate("stubSdk.sentenceMs = 150")

    # The stream drops: the built-in avatar takes over at once, the drop is recorded, the provider comes back.
    session_id = harness.page.evaluate("avatarHarness.controller().sessionId")
    harness.page.evaluate("stubSdk.instances[0].drop()")
    harness.wait_for("() => document.querySelector('#stage canvas.avs-face')")
    assert any(DROP_NOTICE in (notice or "") for notice in harness.seen("notice"))
    screenshot(harness.page, f"adapter-{provider.name}-fallback")
    harness.wait_for("() => avatarHarness.seen.filter(e => e.type === 'notice').pop()?.detail === null")
    assert harness.page.locator("#stage video").count() == 1
    assert harness.page.locator("#stage canvas").count() == 0
    second = harness.page.evaluate("stubSdk.instances[1].token")
    assert second != first, "the reconnect reused the dropped session's credentials"
    recorded = event_types(admin, session_id)
    assert "disconnected" in recorded
    assert "reconnected" in recorded
    assert recorded.index("disconnected") < recorded.index("reconnected")

    # After reconnecting, the next turn is spoken by the provider again (its first sentence shows it).
    said = len(harness.calls(provider.said))
    harness.page.evaluate("question => { void avatarHarness.controller().ask(question); }", QUESTION)
    harness.wait_for(
        "([prefix, before]) => stubSdk.calls.filter(c => c.startsWith(prefix)).length > before",
        [provider.said, said],
    )
    calls = harness.calls()
    reconnected = next(
        i for i, call in enumerate(calls) if call.startswith(f"{provider.name}.new token={second} ")
    )
    assert any(call.startswith(provider.said) for call in calls[reconnected:]), calls[reconnected:]
    harness.page.evaluate("avatarHarness.controller().end()")
    harness.wait_for("() => avatarHarness.seen.some(e => e.type === 'ended')")
    ended = httpx.get(f"{base_url}/v1/sessions/{session_id}", headers=headers).json()
    assert ended["status"] == "ended"
    if provider.name == "heygen":
        # stopAvatar() closes the SDK's WebSocket and timer that leaving the room alone would leak.
        assert "heygen.stopAvatar" in harness.calls()


def test_a_tavus_call_takes_typed_questions_survives_a_drop_and_ends_with_the_session(
    harness: Harness, base_url: str, admin: psycopg.Connection[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Daily's frame (createFrame) reports the drop a bare iframe never would (`error`, `left-meeting`), and
    typed questions reach the persona as Tavus `conversation.respond` interactions."""
    fake = tavus_fake(conversation_url="https://tavus.daily.test/{id}")
    serve(monkeypatch, TavusProvider, fake)
    headers = _owner(base_url)
    with httpx.Client(base_url=base_url, headers=headers, timeout=10) as http:
        created = http.post(
            "/v1/avatars", json={"name": "Tavus Ava", "provider": "tavus", "provider_avatar_id": "r1"}
        )
        assert created.status_code == 201, created.text
    harness.start(created.json()["id"], headers["authorization"].removeprefix("Bearer "))

    [first] = list(fake.live)
    assert (
        harness.page.locator("#stage iframe").get_attribute("data-url") == f"https://tavus.daily.test/{first}"
    )
    assert harness.calls("daily.createFrame ") == ["leaveButton=false"]
    assert harness.calls("daily.join ") == [f"url=https://tavus.daily.test/{first} token="]

    harness.ask("Can you hear me?")
    assert harness.calls("daily.app-message ") == ["to=* conversation.respond Can you hear me?"]
    harness.wait_for("() => avatarHarness.seen.some(e => e.type === 'answer')")
    assert harness.seen("answer")[0]["reply"] == "You asked: Can you hear me?"
    assert harness.seen("error") == []

    # The call drops: the built-in avatar takes over, the drop is recorded, and a new conversation is joined.
    session_id = harness.page.evaluate("avatarHarness.controller().sessionId")
    harness.page.evaluate("stubSdk.instances[0].drop()")
    harness.wait_for("() => document.querySelector('#stage canvas.avs-face')")
    harness.wait_for("() => avatarHarness.seen.filter(e => e.type === 'notice').pop()?.detail === null")
    assert first not in fake.live, "the dropped conversation was not ended"
    [second] = list(fake.live)
    assert (
        harness.page.locator("#stage iframe").get_attribute("data-url")
        == f"https://tavus.daily.test/{second}"
    )
    recorded = event_types(admin, session_id)
    assert recorded.index("disconnected") < recorded.index("reconnected")

    harness.page.evaluate("avatarHarness.controller().end()")
    harness.wait_for("() => avatarHarness.seen.some(e => e.type === 'ended')")
    assert harness.page.locator("#stage iframe").count() == 0
    assert "daily.leave" in harness.calls()
    assert fake.live == {}


@pytest.fixture
def public_api_base(base_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Our public URL set, as LiveAvatar FULL needs it for its custom LLM; the settings are reset after."""
    monkeypatch.setenv("PUBLIC_API_BASE", base_url)
    get_settings.cache_clear()
    yield base_url
    monkeypatch.delenv("PUBLIC_API_BASE")
    get_settings.cache_clear()


def test_a_liveavatar_full_session_converses_reconnects_and_leaves_nothing_at_liveavatar(
    harness: Harness, public_api_base: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """FULL: typed questions go to LiveAvatar (`message`), its transcriptions fill ours; a drop falls back
    and reconnects, and every context, secret and LLM configuration made for the session is deleted."""
    fake = liveavatar_fake()
    serve(monkeypatch, LiveAvatarProvider, fake)
    base_url = public_api_base
    headers = _owner(base_url)
    with httpx.Client(base_url=base_url, headers=headers, timeout=10) as http:
        created = http.post(
            "/v1/avatars",
            json={
                "name": "Full Ava",
                "provider": "liveavatar",
                "provider_avatar_id": str(uuid.uuid4()),
                "provider_options": {"mode": "FULL"},
                "persona": "You are Ava.",
            },
        )
        assert created.status_code == 201, created.text
    harness.start(created.json()["id"], headers["authorization"].removeprefix("Bearer "))
    assert harness.calls("liveavatar.new ")[0].endswith(f"voiceChat=true api={LIVEAVATAR_BASE}")
    assert fake.kinds() == ["context", "llm", "secret"]

    harness.ask("What are the hours?")
    assert harness.calls("liveavatar.message ") == ["What are the hours?"]
    harness.wait_for("() => avatarHarness.seen.some(e => e.type === 'answer')")
    assert harness.seen("answer")[0]["reply"] == "You asked: What are the hours?"

    harness.page.evaluate("stubSdk.instances[0].drop()")
    harness.wait_for("() => document.querySelector('#stage canvas.avs-face')")
    harness.wait_for("() => avatarHarness.seen.filter(e => e.type === 'notice').pop()?.detail === null")
    # The dropped session's context, secret and LLM configuration went with it; the new one has its own.
    assert len(fake.calls("POST", "/v1/contexts")) == 2
    assert fake.kinds() == ["context", "llm", "secret"]

    harness.page.evaluate("avatarHarness.controller().end()")
    harness.wait_for("() => avatarHarness.seen.some(e => e.type === 'ended')")
    assert fake.kinds() == []
    assert fake.live == {}
