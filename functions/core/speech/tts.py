"""Text to speech in an avatar's voice: ElevenLabs when configured, otherwise Piper offline.

Audio is streamed: ElevenLabs' bytes are passed on as they arrive, Piper's sentence by sentence, so the
first sound leaves after the first sentence, never after the whole text. Neither engine is ever given
the whole of a long text at once: it is cut into bounded pieces of whole sentences (an overlong one at a
clause or a space), spoken one after another, so memory and time per piece stay bounded whatever the
text (`speech_pieces`). A WAV stream therefore starts
with a streaming header (RIFF and data sizes 0xFFFFFFFF, "until the end of the stream") rather than
being buffered to learn its length: browsers, ffmpeg and Python's `wave` read it, and buffering would
delay the first sound by the whole text's synthesis.

numpy, Piper and lameenc come with the `local` extra only, so they are imported on the Piper path
alone: the cloud functions speak through ElevenLabs without them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator
from typing import TYPE_CHECKING, Literal, NamedTuple, cast

from functions.core.avatar_basics import Voice
from functions.core.errors import ServiceUnavailable
from functions.core.http_client import app_clients
from functions.core.settings import Settings
from functions.core.speech.elevenlabs import ElevenLabsTts, OutputFormat
from functions.core.text.sentences import speech_pieces

if TYPE_CHECKING:
    import httpx

__all__ = ["AudioFormat", "Speech", "TtsUnavailable", "synthesize", "uses_elevenlabs"]

AudioFormat = Literal["pcm16_16000", "pcm16_24000", "wav", "mp3"]
_PCM_RATES: dict[str, int] = {"pcm16_16000": 16000, "pcm16_24000": 24000}
_ELEVENLABS_WAV_RATE = 24000
_ELEVENLABS_MP3: tuple[OutputFormat, int] = ("mp3_44100_128", 44100)
_MP3_KBPS = 64  # plenty for one voice at Piper's 22050 Hz
_MP3_QUALITY = 2  # LAME: 2 is near-best, still far faster than real time
ELEVENLABS_PIECE_CHARS = 1000  # one request each, well under every ElevenLabs model's character limit


class TtsUnavailable(ServiceUnavailable):
    code = "tts_unavailable"


class Speech(NamedTuple):
    """Audio ready to stream: its media type, response headers and the bytes as they are made."""

    media_type: str
    headers: dict[str, str]
    chunks: AsyncIterator[bytes]


def uses_elevenlabs(voice: Voice, settings: Settings) -> bool:
    """ElevenLabs speaks when its key is set and the avatar has an ElevenLabs voice."""
    return settings.elevenlabs_api_key is not None and voice.provider == "elevenlabs" and bool(voice.voice_id)


def _media_type(fmt: AudioFormat, rate: int) -> str:
    if fmt == "wav":
        return "audio/wav"
    if fmt == "mp3":
        return "audio/mpeg"
    return f"audio/pcm;rate={rate}"


async def synthesize(
    voice: Voice, text: str, fmt: AudioFormat, settings: Settings, *, client: httpx.AsyncClient | None = None
) -> Speech:
    """Start speaking `text` in `voice` as `fmt` (PCM16 mono little-endian, WAV, or MP3).

    Returns once the first audio is ready, so a failure before any audio (no engine, a provider's
    401/429/5xx, a missing voice package) raises here as an `AppError` and can still be answered with
    a problem JSON. `client` replaces the shared HTTP client for ElevenLabs (tests inject one).
    """
    if uses_elevenlabs(voice, settings):
        engine = "elevenlabs"
        rate, audio = _elevenlabs_audio(voice, text, fmt, settings, client)
    elif settings.is_local:
        engine = "piper"
        rate, audio = await _piper_audio(text, fmt)
    elif settings.elevenlabs_api_key is None:
        raise TtsUnavailable(
            "Speech is not configured on this server: set ELEVENLABS_API_KEY and give the avatar an"
            " ElevenLabs voice."
        )
    else:
        raise TtsUnavailable(
            "This avatar has no ElevenLabs voice: choose one (voice provider elevenlabs and a voice id)"
            " in the avatar's settings."
        )
    prefix = b""
    if fmt == "wav":
        from functions.core.speech.audio import wav_header

        prefix = wav_header(rate, None)
    first = await anext(audio, b"")
    headers = {"X-Sample-Rate": str(rate), "X-TTS-Engine": engine, "Cache-Control": "no-store"}
    return Speech(_media_type(fmt, rate), headers, _resume(prefix + first, audio))


async def _resume(first: bytes, rest: AsyncGenerator[bytes, None]) -> AsyncGenerator[bytes, None]:
    async with contextlib.aclosing(rest):
        if first:
            yield first
        async for chunk in rest:
            yield chunk


def _elevenlabs_audio(
    voice: Voice, text: str, fmt: AudioFormat, settings: Settings, client: httpx.AsyncClient | None
) -> tuple[int, AsyncGenerator[bytes, None]]:
    if fmt == "mp3":
        output, rate = _ELEVENLABS_MP3
        return rate, _elevenlabs_stream(voice, text, output, settings, client)
    rate = _PCM_RATES.get(fmt, _ELEVENLABS_WAV_RATE)
    output = "pcm_16000" if rate == 16000 else "pcm_24000"
    return rate, _whole_samples(_elevenlabs_stream(voice, text, output, settings, client))


async def _elevenlabs_stream(
    voice: Voice, text: str, output: OutputFormat, settings: Settings, client: httpx.AsyncClient | None
) -> AsyncGenerator[bytes, None]:
    assert settings.elevenlabs_api_key is not None
    assert voice.voice_id is not None
    tts = ElevenLabsTts(
        api_key=settings.elevenlabs_api_key.get_secret_value(),
        client=client or app_clients().client("elevenlabs"),
        base_url=settings.elevenlabs_api_base,
        model=settings.elevenlabs_model,
        timeout_s=settings.provider_timeout_seconds,
    )
    pieces = speech_pieces(text, ELEVENLABS_PIECE_CHARS)
    for n, piece in enumerate(pieces):
        stream = tts.stream(
            piece,
            voice_id=voice.voice_id,
            output_format=output,
            settings=voice.settings,
            previous_text=pieces[n - 1] if n else None,
            next_text=pieces[n + 1] if n + 1 < len(pieces) else None,
        )
        async with contextlib.aclosing(stream):
            async for chunk in stream:
                yield chunk


async def _whole_samples(chunks: AsyncGenerator[bytes, None]) -> AsyncGenerator[bytes, None]:
    """The same PCM16 bytes, cut only between samples (a network chunk may end mid-sample)."""
    carry = b""
    async with contextlib.aclosing(chunks):
        async for chunk in chunks:
            data = carry + chunk
            cut = len(data) - len(data) % 2
            carry = data[cut:]
            if cut:
                yield data[:cut]


async def _piper_audio(text: str, fmt: AudioFormat) -> tuple[int, AsyncGenerator[bytes, None]]:
    from functions.core.speech.piper_tts import LocalTts

    tts = await asyncio.to_thread(LocalTts.load)
    rate = _PCM_RATES.get(fmt, tts.sample_rate)
    # An async generator, typed as an iterator by its module; closing it ends the synthesis early.
    pcm = cast(AsyncGenerator[bytes, None], tts.stream(text, sample_rate=rate))
    return rate, _mp3(pcm, rate) if fmt == "mp3" else pcm


async def _mp3(pcm: AsyncGenerator[bytes, None], rate: int) -> AsyncGenerator[bytes, None]:
    import lameenc  # type: ignore[import-not-found]

    encoder = lameenc.Encoder()
    encoder.set_in_sample_rate(rate)
    encoder.set_channels(1)
    encoder.set_bit_rate(_MP3_KBPS)
    encoder.set_quality(_MP3_QUALITY)
    async with contextlib.aclosing(pcm):
        async for chunk in pcm:
            frames = bytes(await asyncio.to_thread(encoder.encode, chunk))
            if frames:
                yield frames
    tail = bytes(encoder.flush())
    if tail:
        yield tail
