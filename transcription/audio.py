"""Wire audio to model audio: decode pcm_s16le or G.711 μ-law, split channels, resample.

Everything here is streaming-safe: frames may be any length as long as they carry whole
samples, and the resampler keeps its filter state between frames so chunk boundaries
leave no clicks. The μ-law table is computed with numpy because ``audioop`` is gone from
Python 3.13.
"""

from __future__ import annotations

import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soxr

from transcription.schemas import Encoding, ProtocolError, StreamParams
from transcription.streaming import SAMPLE_RATE, FloatArray

BYTES_PER_SAMPLE: dict[str, int] = {"pcm_s16le": 2, "mulaw": 1}


class AudioFormatError(ProtocolError):
    """Audio bytes that cannot be decoded as announced (e.g. a torn sample)."""


def _mulaw_table() -> npt.NDArray[np.int16]:
    """The 256 G.711 μ-law code words expanded to 16-bit linear PCM (ITU-T G.711)."""
    code = ~np.arange(256, dtype=np.int32) & 0xFF
    exponent = (code >> 4) & 0x07
    mantissa = code & 0x0F
    magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84
    return np.where(code & 0x80, -magnitude, magnitude).astype(np.int16)


MULAW_TABLE = _mulaw_table()


def decode(data: bytes, *, encoding: Encoding, channels: int) -> FloatArray:
    """Interleaved bytes to float32 in [-1, 1) with shape ``(frames, channels)``."""
    width = BYTES_PER_SAMPLE[encoding] * channels
    if len(data) % width:
        raise AudioFormatError(
            "invalid_frame",
            f"a frame of {len(data)} bytes is not a whole number of samples: {encoding} with "
            f"{channels} channel(s) needs a multiple of {width} bytes",
        )
    if encoding == "mulaw":
        linear = MULAW_TABLE[np.frombuffer(data, dtype=np.uint8)]
    else:
        linear = np.frombuffer(data, dtype="<i2")
    return (linear.astype(np.float32) / 32768.0).reshape(-1, channels)


class Resampler:
    """Chunked conversion to 16 kHz for all channels at once, carrying filter state.

    soxr's stream output is time-aligned with its input (no leading delay samples), so
    sample counts after resampling still measure stream time.
    """

    def __init__(self, rate: int, channels: int) -> None:
        self._channels = channels
        self._stream = (
            None
            if rate == SAMPLE_RATE
            else soxr.ResampleStream(rate, SAMPLE_RATE, channels, dtype="float32", quality="HQ")
        )

    def __call__(self, frames: FloatArray, *, last: bool = False) -> FloatArray:
        if self._stream is None:
            return frames
        out: FloatArray = self._stream.resample_chunk(np.ascontiguousarray(frames), last=last)
        return out.reshape(-1, self._channels)

    def flush(self) -> FloatArray:
        """The samples still inside the filter; call once at end of stream."""
        return self(np.zeros((0, self._channels), dtype=np.float32), last=True)


MAX_FRAME_SECONDS = 5.0
"""Longest audio one binary frame may carry; live clients send 20-250 ms."""
CONTAINER_MAGIC = {
    b"RIFF": "WAV",
    b"OggS": "Ogg",
    b"fLaC": "FLAC",
    b"ID3": "MP3",
    b'{"type"': "JSON message",
}
"""Starts of files that are not raw samples, so a client sending one hears why."""


class FrameTooLargeError(AudioFormatError):
    """A frame longer than :data:`MAX_FRAME_SECONDS` of audio."""


class AudioDecoder:
    """Bytes as announced by :class:`StreamParams` to one 16 kHz array per channel."""

    def __init__(self, params: StreamParams) -> None:
        self._params = params
        self._resample = Resampler(params.sample_rate, params.channels)
        width = BYTES_PER_SAMPLE[params.encoding] * params.channels
        self.max_frame_bytes = int(MAX_FRAME_SECONDS * params.sample_rate) * width
        self._first = True

    def feed(self, data: bytes) -> list[FloatArray]:
        """Validate and decode one frame; raises :class:`AudioFormatError` with a code."""
        if len(data) > self.max_frame_bytes:
            raise FrameTooLargeError(
                "frame_too_large",
                f"a frame of {len(data)} bytes is over the {self.max_frame_bytes}-byte limit "
                f"({MAX_FRAME_SECONDS:g} s of audio); send 20-250 ms per frame",
            )
        if self._first:
            self._first = False
            _refuse_containers(data)
        frames = decode(data, encoding=self._params.encoding, channels=self._params.channels)
        return _split(self._resample(frames))

    def flush(self) -> list[FloatArray]:
        return _split(self._resample.flush())


def _refuse_containers(data: bytes) -> None:
    """Raw samples cannot be told from noise, but a file header or JSON can."""
    for magic, kind in CONTAINER_MAGIC.items():
        if data.startswith(magic):
            raise AudioFormatError(
                "not_raw_audio",
                f"binary frames must carry raw samples; this one starts like a {kind} file "
                "(strip the header, or send JSON messages as text frames)",
            )


def _split(frames: FloatArray) -> list[FloatArray]:
    return [np.ascontiguousarray(frames[:, i]) for i in range(frames.shape[1])]


@dataclass(frozen=True, slots=True)
class WavAudio:
    """A WAV file's samples as the protocol sends them: interleaved pcm_s16le."""

    pcm: bytes
    sample_rate: int
    channels: int

    @property
    def duration(self) -> float:
        return len(self.pcm) / (2 * self.channels * self.sample_rate)

    def chunks(self, seconds: float) -> list[bytes]:
        """Frames of ``seconds`` each, always whole samples."""
        size = max(1, round(seconds * self.sample_rate)) * 2 * self.channels
        return [self.pcm[i : i + size] for i in range(0, len(self.pcm), size)]


def read_wav(path: Path | str) -> WavAudio:
    """Read a 16-bit PCM WAV file (the stdlib reader; no resampling)."""
    with wave.open(str(path), "rb") as wav:
        if wav.getsampwidth() != 2:
            raise AudioFormatError(
                "unsupported_encoding", f"{path}: only 16-bit PCM WAV files are supported"
            )
        return WavAudio(wav.readframes(wav.getnframes()), wav.getframerate(), wav.getnchannels())
