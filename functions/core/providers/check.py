"""`avatar-studio providers check`: the smallest real round trip with each configured provider's key.

Run it first with a new key. Each provider whose key is set gets a few cheap steps, timed, and everything
started is stopped again: LiveAvatar in sandbox mode (free), Tavus with `test_mode` (no replica joins),
HeyGen token -> new -> stop, Simli ICE servers (and a session token when a face id is given), ElevenLabs
voice list and one short speech request, the OpenAI-compatible chat model's first token, one embedding,
and the transcription of a bundled second of audio. Keys are never printed. A failing step says what to fix.
"""

import io
import time
import uuid
import wave
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

import httpx

from functions.core.errors import AppError, ProviderError
from functions.core.llm.base import ChatMessage
from functions.core.llm.embeddings import embedder_from_settings
from functions.core.llm.openai_compat import OpenAICompatibleChat
from functions.core.providers.avatar.base import AvatarSpec, SessionRequest
from functions.core.providers.avatar.heygen import HeyGenProvider
from functions.core.providers.avatar.liveavatar import LiveAvatarProvider
from functions.core.providers.avatar.simli import SimliProvider
from functions.core.providers.avatar.tavus import TavusProvider
from functions.core.settings import Settings
from functions.core.speech.elevenlabs import ElevenLabsTts
from functions.core.speech.stt import EmptyTranscript, transcriber_from_settings

T = TypeVar("T")
Status = Literal["ok", "failed", "skipped"]

# LiveAvatar's sandbox avatar: sandbox sessions cost no credits (docs.liveavatar.com, sandbox mode).
LIVEAVATAR_SANDBOX_AVATAR = "dd73ea75-1218-4ef3-92ce-606d5f7fbc0a"
# Room for a reasoning model's hidden tokens before the first visible one; the stream is closed after it.
FIRST_TOKEN_BUDGET = 512
CHECKS = ("liveavatar", "tavus", "heygen", "simli", "elevenlabs", "llm", "embeddings", "transcription")
_SETTING = {
    "liveavatar": "LIVEAVATAR_API_KEY",
    "tavus": "TAVUS_API_KEY",
    "heygen": "HEYGEN_API_KEY",
    "simli": "SIMLI_API_KEY",
    "elevenlabs": "ELEVENLABS_API_KEY",
    "llm": "LLM_API_KEY or OPENAI_API_KEY (or LLM_BASE_URL)",
    "embeddings": "OPENAI_API_KEY",
    "transcription": "OPENAI_API_KEY",
}


@dataclass(frozen=True)
class Step:
    check: str
    step: str
    status: Status
    latency_ms: float | None = None
    note: str = ""


def one_second_of_audio() -> bytes:
    """The bundled recording: one second of 16 kHz mono PCM16 in a WAV container (silence)."""
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(16_000)
        wav.writeframes(b"\x00\x00" * 16_000)
    return out.getvalue()


def _fix(check: str, exc: Exception) -> str:
    """What to do about a failure, in a sentence."""
    if isinstance(exc, ProviderError):
        status = exc.provider_status
        if status in (401, 403):
            return f"{exc.detail} -- the key was refused: check {_SETTING[check]}"
        if status == 402:
            return f"{exc.detail} -- the account has no credits left"
        if status == 429:
            return f"{exc.detail} -- rate or concurrency limit: end other sessions or wait"
        if status is None:
            return f"{exc.detail} -- the provider could not be reached: check the network and its base URL"
        return exc.detail
    if isinstance(exc, AppError):
        return exc.detail
    return f"{type(exc).__name__}: {exc}"


class Checker:
    """Runs the steps of each check, timed; a failed step skips the steps that need it."""

    def __init__(
        self, settings: Settings, client: httpx.AsyncClient, *, simli_face: str | None = None
    ) -> None:
        self.settings = settings
        self.client = client
        self.simli_face = simli_face
        self.steps: list[Step] = []
        self._secrets = [
            key.get_secret_value()
            for key in (
                settings.liveavatar_api_key,
                settings.tavus_api_key,
                settings.heygen_api_key,
                settings.simli_api_key,
                settings.elevenlabs_api_key,
                settings.openai_api_key,
                settings.llm_api_key,
            )
            if key is not None and key.get_secret_value()
        ]

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def skip(self, check: str, step: str, note: str) -> None:
        self.steps.append(Step(check, step, "skipped", note=note))

    async def step(self, check: str, name: str, action: Callable[[], Awaitable[T]]) -> T | None:
        started = time.perf_counter()
        try:
            result = await action()
        except Exception as exc:  # every failure becomes a row of the table, never a traceback
            elapsed = (time.perf_counter() - started) * 1000
            self.steps.append(Step(check, name, "failed", elapsed, self._redact(_fix(check, exc))))
            return None
        elapsed = (time.perf_counter() - started) * 1000
        self.steps.append(Step(check, name, "ok", elapsed))
        return result

    def configured(self, check: str) -> bool:
        settings = self.settings
        keys: dict[str, object] = {
            "liveavatar": settings.liveavatar_api_key,
            "tavus": settings.tavus_api_key,
            "heygen": settings.heygen_api_key,
            "simli": settings.simli_api_key,
            "elevenlabs": settings.elevenlabs_api_key,
            "llm": settings.llm_configured or None,
            "embeddings": settings.openai_key(),
            "transcription": settings.openai_key(),
        }
        return keys[check] is not None

    async def run(self, names: list[str]) -> list[Step]:
        for check in names:
            if not self.configured(check):
                self.skip(check, "configured", f"set {_SETTING[check]} to check it")
                continue
            await getattr(self, f"_{check}")()
        return self.steps

    def _request(self, provider_avatar_id: str | None, options: dict[str, Any]) -> SessionRequest:
        return SessionRequest(
            session_id=uuid.uuid4(),
            avatar=AvatarSpec(
                avatar_id=uuid.uuid4(),
                provider_avatar_id=provider_avatar_id,
                options=options,
                quality="low",
                max_session_seconds=60,
                idle_timeout_seconds=60,
            ),
            expires_at=datetime.now(UTC),
        )

    def _key(self, secret: Any) -> str:
        value: str = secret.get_secret_value()
        return value

    async def _liveavatar(self) -> None:
        provider = LiveAvatarProvider(
            api_key=self._key(self.settings.liveavatar_api_key),
            base_url=self.settings.liveavatar_api_base,
            timeout=self.settings.provider_timeout_seconds,
            client=self.client,
        )
        await self.step("liveavatar", "list active sessions", provider.list_sessions)
        request = self._request(LIVEAVATAR_SANDBOX_AVATAR, {"mode": "LITE", "sandbox": True})
        created = await self.step(
            "liveavatar", "sandbox session token", lambda: provider.create_session(request)
        )
        if created is not None and created.provider_session_id:
            session_id = created.provider_session_id
            await self.step("liveavatar", "stop", lambda: provider.stop_session(session_id))

    async def _tavus(self) -> None:
        provider = TavusProvider(
            api_key=self._key(self.settings.tavus_api_key),
            base_url=self.settings.tavus_api_base,
            timeout=self.settings.provider_timeout_seconds,
            client=self.client,
        )
        await self.step("tavus", "list active conversations", provider.list_sessions)
        replica = await self.step("tavus", "find a replica", provider.first_replica)
        if replica is None:
            if self.steps[-1].status == "ok":
                self.skip("tavus", "test-mode conversation", "the account has no replica to talk with")
            return
        request = self._request(replica, {"test_mode": True})
        created = await self.step("tavus", "test-mode conversation", lambda: provider.create_session(request))
        if created is not None and created.provider_session_id:
            conversation = created.provider_session_id
            await self.step("tavus", "end", lambda: provider.stop_session(conversation))

    async def _heygen(self) -> None:
        provider = HeyGenProvider(
            api_key=self._key(self.settings.heygen_api_key),
            base_url=self.settings.heygen_api_base,
            timeout=self.settings.provider_timeout_seconds,
            client=self.client,
        )
        request = self._request(None, {})
        created = await self.step("heygen", "token and new session", lambda: provider.create_session(request))
        if created is not None and created.provider_session_id:
            session_id = created.provider_session_id
            await self.step("heygen", "stop", lambda: provider.stop_session(session_id))

    async def _simli(self) -> None:
        provider = SimliProvider(
            api_key=self._key(self.settings.simli_api_key),
            base_url=self.settings.simli_api_base,
            timeout=self.settings.provider_timeout_seconds,
            client=self.client,
        )
        await self.step("simli", "ICE servers", provider.ice_servers)
        if self.simli_face is None:
            self.skip("simli", "session token", "pass --simli-face FACE_ID to mint a session token")
            return
        request = self._request(self.simli_face, {})
        await self.step("simli", "session token", lambda: provider.create_session(request))

    async def _elevenlabs(self) -> None:
        tts = ElevenLabsTts(
            api_key=self._key(self.settings.elevenlabs_api_key),
            client=self.client,
            base_url=self.settings.elevenlabs_api_base,
            model=self.settings.elevenlabs_model,
            timeout_s=self.settings.provider_timeout_seconds,
        )
        voice = await self.step("elevenlabs", "voice list", tts.first_voice_id)
        if voice is None:
            return

        async def speak() -> int:
            return sum(
                [
                    len(chunk)
                    async for chunk in tts.stream("Hello.", voice_id=voice, output_format="pcm_16000")
                ]
            )

        await self.step("elevenlabs", "short speech (pcm_16000)", speak)

    async def _llm(self) -> None:
        model = OpenAICompatibleChat(
            api_key=self.settings.llm_key(),
            base_url=self.settings.llm_url,
            model=self.settings.llm_model,
            client=self.client,
            timeout_s=self.settings.llm_timeout_seconds,
        )

        async def first_token() -> str:
            # Closed after the first token, which ends the request.
            stream = model.stream(
                [ChatMessage(role="user", content="Reply with the single word OK.")],
                max_tokens=FIRST_TOKEN_BUDGET,
            )
            try:
                async for piece in stream:
                    return piece
            finally:
                await stream.aclose()
            raise ProviderError(model.name, "the model answered nothing")

        await self.step("llm", f"first token ({self.settings.llm_model})", first_token)

    async def _embeddings(self) -> None:
        embedder = embedder_from_settings(self.settings, self.client)
        assert embedder is not None
        await self.step(
            "embeddings", f"one embedding ({embedder.model})", lambda: embedder.embed_query("hello")
        )

    async def _transcription(self) -> None:
        transcriber = transcriber_from_settings(self.settings, self.client)
        assert transcriber is not None

        async def transcribe() -> str:
            try:
                return await transcriber.transcribe(
                    one_second_of_audio(), filename="check.wav", content_type="audio/wav", language="en"
                )
            except EmptyTranscript:
                return ""  # a second of silence: heard, and rightly no words

        await self.step("transcription", f"one second of audio ({transcriber.model})", transcribe)


async def run_checks(
    settings: Settings,
    names: list[str],
    *,
    client: httpx.AsyncClient | None = None,
    simli_face: str | None = None,
) -> list[Step]:
    """The steps of the named checks (every check when none is named)."""
    own = client is None
    http = client or httpx.AsyncClient(timeout=settings.provider_timeout_seconds)
    try:
        return await Checker(settings, http, simli_face=simli_face).run(names or list(CHECKS))
    finally:
        if own:
            await http.aclose()


def render(steps: list[Step]) -> str:
    """The table printed: check, step, status, latency, and what to fix."""
    rows = [("check", "step", "status", "latency", "what to fix")]
    for step in steps:
        latency = "" if step.latency_ms is None else f"{step.latency_ms:.0f} ms"
        rows.append((step.check, step.step, step.status, latency, step.note))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [
        (
            "  ".join(cell.ljust(width) for cell, width in zip(row[:4], widths, strict=True)) + "  " + row[4]
        ).rstrip()
        for row in rows
    ]
    return "\n".join(lines) + "\n"


def exit_code(steps: list[Step]) -> int:
    return 1 if any(step.status == "failed" for step in steps) else 0
