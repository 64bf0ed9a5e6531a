"""PCM16 helpers: resampling keeps pitch and length, WAV headers read back, levels."""

import io
import math
import struct
import wave
from collections.abc import Callable

import numpy as np
import pytest

from functions.core.speech.audio import (
    PCM16_MAX,
    resample_pcm16,
    rms_level,
    to_wav,
    trim_leading_silence,
    wav_header,
)


def _sine(freq: float, rate: int, seconds: float, amplitude: float = 0.5) -> bytes:
    t = np.arange(round(rate * seconds)) / rate
    return (np.sin(2 * np.pi * freq * t) * amplitude * (PCM16_MAX - 1)).astype("<i2").tobytes()


def _samples(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm, dtype="<i2").astype(np.float64)


def _dominant_frequency(pcm: bytes, rate: int) -> float:
    samples = _samples(pcm) * np.hanning(len(pcm) // 2)
    spectrum = np.abs(np.fft.rfft(samples))
    return float(np.argmax(spectrum)) * rate / len(samples)


def _zero_crossing_frequency(pcm: bytes, rate: int) -> float:
    samples = _samples(pcm)
    crossings = np.count_nonzero(np.signbit(samples[1:]) != np.signbit(samples[:-1]))
    return crossings / 2 / (len(samples) / rate)


@pytest.mark.parametrize(
    ("src_rate", "dst_rate"),
    [(22050, 16000), (22050, 24000), (16000, 22050), (48000, 44100), (22051, 16000)],
)
def test_resampling_keeps_frequency_and_length_ratio(src_rate: int, dst_rate: int) -> None:
    source = _sine(440.0, src_rate, 1.0)

    result = resample_pcm16(source, src_rate, dst_rate)

    assert len(result) // 2 == dst_rate  # one second
    assert _dominant_frequency(result, dst_rate) == pytest.approx(440.0, abs=1.0)
    assert _zero_crossing_frequency(result, dst_rate) == pytest.approx(440.0, abs=2.0)
    assert rms_level(result) == pytest.approx(rms_level(source), rel=0.01)


def test_resampled_sine_matches_the_ideal_signal() -> None:
    result = _samples(resample_pcm16(_sine(1000.0, 22050, 0.5), 22050, 16000))

    t = np.arange(len(result)) / 16000
    ideal = np.sin(2 * np.pi * 1000.0 * t) * 0.5 * (PCM16_MAX - 1)
    # Away from the edges, where the filter sees the silence around the clip.
    assert np.max(np.abs(result - ideal)[100:-100]) < 3.0


def test_downsampling_removes_tones_above_the_new_nyquist_frequency() -> None:
    # 10 kHz would alias to 6 kHz at 16000 Hz without an anti-alias filter.
    result = resample_pcm16(_sine(10000.0, 22050, 0.5), 22050, 16000)

    assert rms_level(result[400:-400]) < 1e-4


@pytest.mark.parametrize("samples", [1, 2, 3, 441, 1000])
def test_output_length_is_the_input_length_scaled_up(samples: int) -> None:
    result = resample_pcm16(b"\x10\x00" * samples, 22050, 16000)

    assert len(result) // 2 == math.ceil(samples * 16000 / 22050)


def test_empty_input_gives_empty_output() -> None:
    assert resample_pcm16(b"", 22050, 16000) == b""


def test_same_rate_returns_the_input() -> None:
    source = _sine(440.0, 16000, 0.1)

    assert resample_pcm16(source, 16000, 16000) == source


def test_loud_input_is_clipped_not_wrapped() -> None:
    square = struct.pack("<20h", *([32767] * 10 + [-32768] * 10)) * 50

    result = _samples(resample_pcm16(square, 22050, 16000))

    assert result.max() <= 32767
    assert result.min() >= -32768
    # Wrapping around would flip the sign of the overshoot next to each edge.
    assert np.count_nonzero(np.abs(np.diff(result)) > 60000) == 0


@pytest.mark.parametrize(
    "function", [lambda data: resample_pcm16(data, 22050, 16000), rms_level, lambda data: to_wav(data, 16000)]
)
def test_odd_byte_count_is_rejected(function: Callable[[bytes], object]) -> None:
    with pytest.raises(ValueError, match="even number of bytes"):
        function(b"\x00\x00\x00")


@pytest.mark.parametrize(("src_rate", "dst_rate"), [(0, 16000), (22050, -1)])
def test_non_positive_rates_are_rejected(src_rate: int, dst_rate: int) -> None:
    with pytest.raises(ValueError, match="positive"):
        resample_pcm16(b"\x00\x00", src_rate, dst_rate)


def test_wav_fields_read_back_with_the_wave_module() -> None:
    pcm = _sine(440.0, 24000, 0.25)

    data = to_wav(pcm, 24000)

    assert len(wav_header(24000, 0)) == 44
    with wave.open(io.BytesIO(data)) as wav:
        assert wav.getnchannels() == 1
        assert wav.getsampwidth() == 2
        assert wav.getframerate() == 24000
        assert wav.getcomptype() == "NONE"
        assert wav.getnframes() == len(pcm) // 2
        assert wav.readframes(wav.getnframes()) == pcm
    assert struct.unpack_from("<I", data, 4)[0] == len(data) - 8


def test_streaming_wav_header_reads_back_with_unknown_length() -> None:
    pcm = _sine(440.0, 16000, 0.1)

    header = wav_header(16000, None)

    assert struct.unpack_from("<I", header, 4)[0] == 0xFFFFFFFF
    assert struct.unpack_from("<I", header, 40)[0] == 0xFFFFFFFF
    with wave.open(io.BytesIO(header + pcm)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 16000)
        assert wav.readframes(1_000_000) == pcm


def test_wav_header_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="negative"):
        wav_header(16000, -1)
    with pytest.raises(ValueError, match="do not fit"):
        wav_header(16000, 2**31)
    with pytest.raises(ValueError, match="positive"):
        wav_header(0, 10)


def test_rms_level() -> None:
    assert rms_level(b"") == 0.0
    assert rms_level(b"\x00\x00" * 100) == 0.0
    assert rms_level(struct.pack("<2h", -32768, -32768)) == 1.0
    assert rms_level(_sine(440.0, 16000, 1.0, amplitude=1.0)) == pytest.approx(math.sqrt(0.5), rel=1e-3)


def test_leading_silence_is_trimmed_to_the_margin_before_the_first_loud_sample() -> None:
    rate = 24_000
    quiet = np.full(rate // 10, 40, dtype="<i2").tobytes()  # 100 ms at about -58 dBFS
    tone = np.full(rate // 5, 8000, dtype="<i2").tobytes()
    trimmed = trim_leading_silence(quiet + tone, rate, keep_ms=10)
    assert len(trimmed) == len(tone) + 2 * (rate // 100)
    assert trimmed.endswith(tone)


def test_audio_that_is_all_quiet_or_starts_loud_is_kept_whole() -> None:
    rate = 16_000
    quiet = np.zeros(rate // 10, dtype="<i2").tobytes()
    tone = _sine(440, rate, 0.1)
    assert trim_leading_silence(quiet, rate) == quiet
    assert trim_leading_silence(tone, rate) == tone
    assert trim_leading_silence(b"", rate) == b""
