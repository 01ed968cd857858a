"""Two-channel test calls composed from the labelled recordings in ``shared/audio``.

A call is stereo 16 kHz float audio: channel 0 is the agent, channel 1 the debtor. Turns
alternate between the channels, each one a whole recording of the call's language, with
a random gap of silence between turns and a short lead-in. Some turns are band-limited
to the telephone band (resampled to 8 kHz and back), and a call may travel as 8 kHz
G.711 μ-law instead of 16 kHz PCM. A faint noise floor covers both channels, so silence
is never digital zero.

Every clip is trimmed to its words with an energy threshold, so a turn's ``end`` is the
moment its last word ends: the instant from which a benchmark measures turn latency.
Everything is derived from one seed, so the same seed gives the same call.
"""

from __future__ import annotations

import csv
import functools
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import av
import numpy as np
import numpy.typing as npt
import soxr

from transcription.audio import MULAW_TABLE, AudioDecoder
from transcription.schemas import StreamParams
from transcription.streaming import SAMPLE_RATE, FloatArray

Language = Literal["en", "zh"]
WireChoice = Literal["pcm", "mulaw", "mixed"]
SPEAKERS = ("agent", "debtor")
AUDIO_DIR = Path(
    os.environ.get("PARLEY_SHARED_AUDIO", Path(__file__).resolve().parents[2] / "shared" / "audio")
)
"""The project's shared recordings beside the checkout (as the tests find them)."""

TRIM_FRAME = 0.02
TRIM_BELOW_PEAK_DB = 35.0
TRIM_ABOVE_NOISE_DB = 6.0
TRIM_RUN = 3
"""Speech is a run of at least three 20 ms frames whose RMS is within 35 dB of the clip's
loudest frame and 6 dB above the recording's own noise (its 10th-percentile frame, where
that is at least 12 dB below the peak): a lone click in the noise is not a word."""


@dataclass(frozen=True, slots=True)
class ClipSource:
    """One labelled recording; ``channel`` picks a side of a stereo file."""

    file: str
    channel: int | None = None


CLIPS: dict[str, tuple[ClipSource, ...]] = {
    "en": (
        ClipSource("deepspeech_LDC93S1.wav"),
        ClipSource("deepspeech_new-home-in-the-stars-16k.wav"),
        ClipSource("wenet_librispeech-1995-1837-0001.wav"),
        ClipSource("speechbrain_spk1_snt1.wav"),
        ClipSource("speechbrain_spk1_snt3.wav"),
        ClipSource("speechbrain_spk1_snt4.wav"),
        ClipSource("speechbrain_spk1_snt5.wav"),
        ClipSource("speechbrain_spk2_snt2.wav"),
        ClipSource("speechbrain_spk2_snt4.wav"),
        ClipSource("azure_whatstheweatherlike.wav"),
        ClipSource("google_brooklyn.flac"),
        # fw_jfk.flac is left out: its reverberant hall keeps ~0.6 s of sound after the
        # last word, so the energy trim puts the turn's end where no word is.
        ClipSource("fw_stereo_diarization.wav", channel=0),
        ClipSource("fw_stereo_diarization.wav", channel=1),
    ),
    "zh": (
        ClipSource("wenet_aishell-BAC009S0724W0121.wav"),
        ClipSource("wenet_nst_ID001.wav"),
        ClipSource("wenet_nst_ID002.wav"),
        ClipSource("firered_BAC009S0764W0121.wav"),
        ClipSource("firered_IT0011W0001.wav"),
        ClipSource("firered_TEST_NET_Y0000000000_-KTKHdZ2fb8_S00000.wav"),
        ClipSource("firered_TEST_MEETING_T0000000001_S00000.wav"),
        ClipSource("funasr_asr_example.wav"),
    ),
}
"""Human-labelled recordings without digit words (no number-format arguments in WER)."""


@dataclass(frozen=True, slots=True, eq=False)
class Clip:
    """A recording trimmed to its words, 16 kHz mono, with its reference text."""

    name: str
    reference: str
    audio: FloatArray

    @property
    def seconds(self) -> float:
        return len(self.audio) / SAMPLE_RATE


@dataclass(frozen=True, slots=True)
class Turn:
    """One spoken turn in call time: ``end`` is when its last word ends."""

    channel: int
    start: float
    end: float
    reference: str
    clip: str
    telephone: bool

    @property
    def speaker(self) -> str:
        return SPEAKERS[self.channel]


@dataclass(frozen=True, slots=True)
class WireFormat:
    """How the call travels to the service (the ``/v1/stream`` query parameters)."""

    encoding: Literal["pcm_s16le", "mulaw"] = "pcm_s16le"
    sample_rate: int = SAMPLE_RATE

    @property
    def bytes_per_sample(self) -> int:
        return 1 if self.encoding == "mulaw" else 2

    def params(self, language: str | None, channels: int = 2) -> StreamParams:
        return StreamParams(self.sample_rate, channels, self.encoding, language)

    def __str__(self) -> str:
        return f"{self.sample_rate // 1000} kHz {'μ-law' if self.encoding == 'mulaw' else 'PCM'}"


PCM_16K = WireFormat()
MULAW_8K = WireFormat("mulaw", 8000)


@dataclass(frozen=True, slots=True)
class CallOptions:
    """How calls are composed; all times in seconds."""

    seconds: float = 60.0
    gap: tuple[float, float] = (0.7, 2.5)
    lead_in: tuple[float, float] = (0.3, 1.0)
    tail: float = 2.0
    telephone_share: float = 0.3
    wire: WireChoice = "mixed"
    mulaw_share: float = 0.5
    noise_floor_dbfs: float | None = -65.0


@dataclass(frozen=True, slots=True, eq=False)
class Call:
    """A composed stereo call and what was said in it, turn by turn."""

    seed: int
    language: Language
    audio: FloatArray  # (frames, 2) at 16 kHz
    turns: tuple[Turn, ...]
    wire: WireFormat = PCM_16K
    name: str = ""
    _wire_cache: dict[str, bytes] = field(default_factory=dict, init=False, repr=False)

    @property
    def seconds(self) -> float:
        return len(self.audio) / SAMPLE_RATE

    def channel_turns(self, channel: int) -> list[Turn]:
        return [t for t in self.turns if t.channel == channel]

    def wire_bytes(self) -> bytes:
        """The whole call as interleaved bytes in its wire format (computed once)."""
        if "all" not in self._wire_cache:
            self._wire_cache["all"] = encode(self.audio, self.wire)
        return self._wire_cache["all"]

    def frames(self, seconds: float) -> list[bytes]:
        """The wire bytes cut into frames of ``seconds``, each of whole stereo samples."""
        size = max(1, round(seconds * self.wire.sample_rate)) * 2 * self.wire.bytes_per_sample
        data = self.wire_bytes()
        return [data[i : i + size] for i in range(0, len(data), size)]

    def received(self) -> list[FloatArray]:
        """Each channel as the service decodes it: 16 kHz float after the wire round trip."""
        decoder = AudioDecoder(self.wire.params(self.language))
        parts = [decoder.feed(frame) for frame in self.frames(0.25)] + [decoder.flush()]
        return [np.concatenate([p[ch] for p in parts]) for ch in range(2)]


def compose(
    language: Language,
    seed: int,
    options: CallOptions | None = None,
    clips: Sequence[Clip] | None = None,
) -> Call:
    """A call of ``options.seconds`` with alternating turns drawn from ``language``'s clips."""
    options = options or CallOptions()
    clips = list(clips) if clips is not None else load_clips(language)
    rng = np.random.default_rng(seed)
    total = round(options.seconds * SAMPLE_RATE)
    audio = np.zeros((total, 2), dtype=np.float32)
    turns: list[Turn] = []
    cursor = float(rng.uniform(*options.lead_in))
    for clip in _clip_order(clips, rng):
        if cursor + clip.seconds > options.seconds - options.tail:
            break
        telephone = bool(rng.random() < options.telephone_share)
        channel = len(turns) % 2
        turns.append(_place(audio, clip, channel, cursor, telephone))
        cursor = turns[-1].end + float(rng.uniform(*options.gap))
    if len(turns) < 2:
        raise ValueError(f"{options.seconds} s is too short for two turns of {language} speech")
    _add_noise_floor(audio, options.noise_floor_dbfs, rng)
    wire = _pick_wire(options, rng)
    return Call(seed, language, audio, tuple(turns), wire, f"{language}-{seed}")


def _clip_order(clips: Sequence[Clip], rng: np.random.Generator) -> list[Clip]:
    """Every clip once per round in a fresh order, with no clip twice in a row."""
    order: list[Clip] = []
    for _ in range(64):
        round_ = [clips[i] for i in rng.permutation(len(clips))]
        if order and len(round_) > 1 and round_[0] is order[-1]:
            round_[0], round_[1] = round_[1], round_[0]
        order.extend(round_)
    return order


def _place(audio: FloatArray, clip: Clip, channel: int, start: float, telephone: bool) -> Turn:
    samples = telephone_band(clip.audio) if telephone else clip.audio
    first = round(start * SAMPLE_RATE)
    audio[first : first + len(samples), channel] = samples
    end = (first + len(samples)) / SAMPLE_RATE
    return Turn(channel, first / SAMPLE_RATE, end, clip.reference, clip.name, telephone)


def _add_noise_floor(audio: FloatArray, dbfs: float | None, rng: np.random.Generator) -> None:
    if dbfs is not None:
        audio += (rng.standard_normal(audio.shape) * 10 ** (dbfs / 20)).astype(np.float32)


def _pick_wire(options: CallOptions, rng: np.random.Generator) -> WireFormat:
    mulaw = rng.random() < options.mulaw_share  # drawn always, so seeds stay comparable
    if options.wire == "mixed":
        return MULAW_8K if mulaw else PCM_16K
    return MULAW_8K if options.wire == "mulaw" else PCM_16K


def telephone_band(audio: FloatArray) -> FloatArray:
    """Through an 8 kHz line and back: nothing above 4 kHz survives."""
    narrow = soxr.resample(audio, SAMPLE_RATE, 8000, quality="HQ")
    wide: FloatArray = soxr.resample(narrow, 8000, SAMPLE_RATE, quality="HQ")
    out = np.zeros_like(audio)
    out[: min(len(out), len(wide))] = wide[: len(out)]
    return np.clip(out, -1.0, 1.0).astype(np.float32)


# --- wire encoding -------------------------------------------------------------------


def encode(audio: FloatArray, wire: WireFormat) -> bytes:
    """Stereo 16 kHz float to interleaved wire bytes (resampled for 8 kHz lines)."""
    if wire.sample_rate != SAMPLE_RATE:
        audio = soxr.resample(audio, SAMPLE_RATE, wire.sample_rate, quality="HQ")
    pcm = np.round(np.clip(audio, -1.0, 32767 / 32768) * 32768).astype(np.int16)
    if wire.encoding == "mulaw":
        return mulaw_encode(pcm).tobytes()
    return pcm.astype("<i2").tobytes()


_MULAW_ORDER = np.argsort(MULAW_TABLE, kind="stable")
_MULAW_LEVELS = MULAW_TABLE[_MULAW_ORDER].astype(np.int32)


def mulaw_encode(pcm: npt.NDArray[np.int16]) -> npt.NDArray[np.uint8]:
    """G.711 μ-law: the code word whose level (in the service's own table) is nearest."""
    x = pcm.astype(np.int32)
    upper = np.clip(np.searchsorted(_MULAW_LEVELS, x), 1, len(_MULAW_LEVELS) - 1)
    lower = upper - 1
    nearer = np.where(x - _MULAW_LEVELS[lower] <= _MULAW_LEVELS[upper] - x, lower, upper)
    return _MULAW_ORDER[nearer].astype(np.uint8)


# --- clips -----------------------------------------------------------------------------


@functools.cache
def load_clips(language: str, audio_dir: Path = AUDIO_DIR) -> tuple[Clip, ...]:
    """The language's clips, decoded, on one channel, at 16 kHz and trimmed to the words."""
    references = labelled_references(audio_dir)
    clips = []
    for source in CLIPS[language]:
        audio = read_audio(audio_dir / source.file, source.channel)
        start, stop = speech_bounds(audio)
        name = source.file if source.channel is None else f"{source.file}[{source.channel}]"
        reference = side_reference(references[source.file], source.channel)
        clips.append(Clip(name, reference, audio[start:stop]))
    return tuple(clips)


def labelled_references(audio_dir: Path = AUDIO_DIR) -> dict[str, str]:
    """File name to reference text, for the rows of MANIFEST.tsv a person labelled."""
    with (audio_dir / "MANIFEST.tsv").open(newline="", encoding="utf-8") as file:
        rows = csv.DictReader(file, delimiter="\t")
        return {r["file"]: r["reference"] for r in rows if r["reference_quality"] == "label"}


def side_reference(reference: str, channel: int | None) -> str:
    """``LEFT: ... | RIGHT: ...`` references name each side of a stereo file."""
    if not reference.startswith("LEFT:"):
        return reference
    sides = dict(part.split(":", 1) for part in reference.split(" | "))
    return sides["RIGHT" if channel == 1 else "LEFT"].strip()


def read_audio(path: Path, channel: int | None = None) -> FloatArray:
    """Any file PyAV reads, one channel (or the mono mix), resampled to 16 kHz with soxr."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        rate = stream.rate
        to_float = av.AudioResampler(format="fltp")
        planes = [
            out.to_ndarray()
            for frame in container.decode(stream)
            for out in to_float.resample(frame)
        ]
    samples = np.concatenate(planes, axis=1)
    mono = samples.mean(axis=0) if channel is None else samples[channel]
    audio: FloatArray = np.ascontiguousarray(mono, dtype=np.float32)
    if rate != SAMPLE_RATE:
        audio = soxr.resample(audio, rate, SAMPLE_RATE, quality="HQ").astype(np.float32)
    return audio


def speech_bounds(audio: FloatArray) -> tuple[int, int]:
    """First and last sample of the 20 ms frames loud enough to be speech (see TRIM_*)."""
    size = round(TRIM_FRAME * SAMPLE_RATE)
    count = len(audio) // size
    rms = np.sqrt(np.mean(audio[: count * size].reshape(count, size) ** 2, axis=1))
    peak = float(rms.max())
    above_noise = float(np.percentile(rms, 10)) * 10 ** (TRIM_ABOVE_NOISE_DB / 20)
    if above_noise > peak / 4:  # no quiet frames at all: the noise estimate is speech
        above_noise = 0.0
    threshold = max(peak * 10 ** (-TRIM_BELOW_PEAK_DB / 20), above_noise)
    runs = np.flatnonzero(np.convolve(rms >= threshold, np.ones(TRIM_RUN), "valid") == TRIM_RUN)
    if not len(runs):
        return 0, len(audio)
    return int(runs[0]) * size, (int(runs[-1]) + TRIM_RUN) * size


def frame_rms_dbfs(audio: FloatArray) -> float:
    """RMS level in dB relative to full scale (−inf for digital silence)."""
    rms = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) if len(audio) else 0.0
    return 20 * math.log10(rms) if rms > 0 else float("-inf")
