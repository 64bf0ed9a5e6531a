"""Turns the backend has the avatar's provider speak (HeyGen `streaming.task`), for avatars set up so.

With `voice.settings.server_speech`, each sentence of a turn goes to the provider from here as soon
as the turn engine produces it, beside the stream to the browser, which then only shows the video.
"""

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from functions.core.errors import ProviderError
from functions.core.settings import Settings
from functions.core.turns.models import SentenceEvent, TurnEvent

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServerSpeech:
    provider: str
    provider_session_id: str


@runtime_checkable
class SpeakingProvider(Protocol):
    async def speak(self, provider_session_id: str, text: str) -> None: ...


async def spoken(
    events: AsyncIterator[TurnEvent], speech: ServerSpeech, settings: Settings
) -> AsyncIterator[TurnEvent]:
    """Passes the turn's events on unchanged while the provider says each sentence, in order.

    Speaking never holds an event back. A turn that runs to its end waits for its last sentence to
    be handed over; one cut short (the client left, or interrupted) sends nothing more.
    """
    # Only avatars set up so need the providers (this one's module loads with it, as for a session start).
    from functions.core.providers.avatar.registry import get_provider

    provider = get_provider(speech.provider, settings)
    if not isinstance(provider, SpeakingProvider):
        # The setting means nothing to this provider; the turn itself must not fail over it.
        log.warning("%s cannot speak from the backend; server_speech is ignored", speech.provider)
        async for event in events:
            yield event
        return
    sentences: asyncio.Queue[str | None] = asyncio.Queue()

    async def speak_in_order() -> None:
        while (text := await sentences.get()) is not None:
            try:
                await provider.speak(speech.provider_session_id, text)
            except ProviderError as exc:
                log.warning("%s could not speak a sentence: %s", speech.provider, exc.detail)

    speaker = asyncio.create_task(speak_in_order())
    try:
        async for event in events:
            if isinstance(event, SentenceEvent) and event.data.speech:
                sentences.put_nowait(event.data.speech)
            yield event
        sentences.put_nowait(None)
        await speaker
    finally:
        speaker.cancel()
