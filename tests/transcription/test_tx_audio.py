"""Wire audio decoding: G.711 μ-law, pcm_s16le, torn frames, streaming resampling."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from transcription.audio import (
    MULAW_TABLE,
    AudioDecoder,
    AudioFormatError,
    Resampler,
    decode,
    read_wav,
)
from transcription.schemas import StreamParams


def test_mulaw_table_matches_g711_reference_values() -> None:
    # Reference points of ITU-T G.711 μ-law expansion (as audioop.ulaw2lin produced them).
    expected = {0x00: -32124, 0x0F: -16764, 0x7E: -8, 0x7F: 0, 0x80: 32124, 0xFF: 0, 0xFE: 8}
    assert {code: int(MULAW_TABLE[code]) for code in expected} == expected
    assert MULAW_TABLE[0x80:].tolist() == (-MULAW_TABLE[:0x80]).tolist()
    assert np.all(np.diff(MULAW_TABLE[0x80:].astype(int)) < 0)  # monotonic within a sign


def test_mulaw_decodes_to_float_in_range() -> None:
    samples = decode(bytes([0x80, 0xFF, 0x00]), encoding="mulaw", channels=1)
    assert samples.shape == (3, 1)
    assert samples[:, 0].tolist() == pytest.approx([32124 / 32768, 0.0, -32124 / 32768])


def test_pcm_s16le_is_split_into_channels() -> None:
    frames = np.array([[1000, -1000], [32767, -32768]], dtype="<i2").tobytes()
    samples = decode(frames, encoding="pcm_s16le", channels=2)
    assert samples.dtype == np.float32
    assert samples.tolist() == [[1000 / 32768, -1000 / 32768], [32767 / 32768, -1.0]]  # exact


@pytest.mark.parametrize(
    ("encoding", "channels", "size"),
    [("pcm_s16le", 1, 3), ("pcm_s16le", 2, 6), ("mulaw", 2, 5)],
)
def test_frames_with_a_torn_sample_are_rejected(encoding: str, channels: int, size: int) -> None:
    with pytest.raises(AudioFormatError) as error:
        decode(b"\x00" * size, encoding=encoding, channels=channels)  # type: ignore[arg-type]
    assert error.value.code == "invalid_frame"
    assert f"{size} bytes" in error.value.message


def dominant_frequency(signal: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(signal * np.hanning(len(signal))))
    return float(np.fft.rfftfreq(len(signal), 1 / rate)[np.argmax(spectrum)])


@pytest.mark.parametrize("rate", [8000, 44100, 48000])
def test_chunked_resampling_keeps_a_tones_pitch_and_length(rate: int) -> None:
    tone = (0.5 * np.sin(2 * np.pi * 440 * np.arange(2 * rate) / rate)).astype(np.float32)
    resample = Resampler(rate, 1)
    step = rate // 10 + 7  # odd chunk sizes: state must carry across boundaries
    pieces = [resample(tone[i : i + step, None]) for i in range(0, len(tone), step)]
    out = np.concatenate([*pieces, resample.flush()])[:, 0]
    assert len(out) == 32_000
    assert dominant_frequency(out, 16_000) == pytest.approx(440, abs=1)
    reference = 0.5 * np.sin(2 * np.pi * 440 * np.arange(32_000) / 16_000)
    assert np.max(np.abs(out[200:-200] - reference[200:-200])) < 0.01


def test_decoder_yields_one_16k_array_per_channel() -> None:
    decoder = AudioDecoder(StreamParams(sample_rate=8000, channels=2))
    frames = np.zeros((800, 2), dtype="<i2")
    frames[:, 1] = 1000
    out = [decoder.feed(frames.tobytes()), decoder.flush()]
    left = np.concatenate([o[0] for o in out])
    right = np.concatenate([o[1] for o in out])
    assert len(left) == len(right) == 1600
    assert np.allclose(left, 0) and np.allclose(right[100:-100], 1000 / 32768, atol=1e-3)


def test_read_wav_gives_protocol_ready_frames(shared_audio: Path) -> None:
    audio = read_wav(shared_audio / "deepspeech_LDC93S1_8k.wav")
    assert (audio.sample_rate, audio.channels) == (8000, 1)
    assert audio.duration == pytest.approx(2.925, abs=0.01)
    chunks = audio.chunks(0.1)
    assert b"".join(chunks) == audio.pcm
    assert all(len(c) % 2 == 0 for c in chunks) and len(chunks[0]) == 1600
