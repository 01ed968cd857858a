"""Stereo sounds that are not speech, for checking that the service stays silent on them.

Each kind is synthesised from a seed (no recordings): digital silence, white noise at
about −40 dBFS, pink noise, "hold music" (chords of sines with note envelopes and a
melody on top) and breathing (band-passed noise bursts with a slow rise and fall). The two
channels get different noise so the check covers both of the service's channel streams.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from transcription.streaming import SAMPLE_RATE, FloatArray

Generator = Callable[[int, np.random.Generator], FloatArray]
Float64Array = npt.NDArray[np.float64]


def silence(count: int, rng: np.random.Generator) -> FloatArray:
    return np.zeros(count, dtype=np.float32)


def white_noise(count: int, rng: np.random.Generator) -> FloatArray:
    return at_dbfs(rng.standard_normal(count), -40.0)


def pink_noise(count: int, rng: np.random.Generator) -> FloatArray:
    """White noise shaped to 1/f power (−3 dB per octave) in the frequency domain."""
    spectrum = np.fft.rfft(rng.standard_normal(count))
    freqs = np.fft.rfftfreq(count, 1 / SAMPLE_RATE)
    spectrum /= np.sqrt(np.maximum(freqs, 20.0))
    return at_dbfs(np.fft.irfft(spectrum, count), -35.0)


def hold_music(count: int, rng: np.random.Generator) -> FloatArray:
    """Major and minor triads, one per second, with a plucked melody note every half."""
    t = np.arange(count) / SAMPLE_RATE
    out = np.zeros(count)
    roots = (220.0, 174.61, 196.0, 261.63)  # A, F, G, C
    for i, start in enumerate(np.arange(0.0, count / SAMPLE_RATE, 1.0)):
        root = roots[i % len(roots)]
        for ratio in (1.0, 1.26 if i % 2 else 1.19, 1.5):
            out += _note(t, start, 1.0, root * ratio, decay=1.5)
    scale = (440.0, 493.88, 523.25, 587.33, 659.25, 698.46, 783.99)
    for start in np.arange(0.0, count / SAMPLE_RATE, 0.5):
        out += 0.8 * _note(t, start, 0.5, float(rng.choice(scale)), decay=6.0)
    return at_dbfs(out, -22.0)


def breathing(count: int, rng: np.random.Generator) -> FloatArray:
    """Inhale/exhale bursts of band-passed (300-2500 Hz) noise, about one every 1.8 s."""
    spectrum = np.fft.rfft(rng.standard_normal(count))
    freqs = np.fft.rfftfreq(count, 1 / SAMPLE_RATE)
    spectrum[(freqs < 300) | (freqs > 2500)] = 0
    noise = np.fft.irfft(spectrum, count)
    envelope = np.zeros(count)
    at = 0.3
    while at < count / SAMPLE_RATE:
        length = float(rng.uniform(0.8, 1.3))
        first, last = round(at * SAMPLE_RATE), round((at + length) * SAMPLE_RATE)
        envelope[first:last] = np.hanning(last - first)[: count - first]
        at += length + float(rng.uniform(0.4, 0.9))
    return at_dbfs(noise * envelope, -32.0)


KINDS: dict[str, Generator] = {
    "digital silence": silence,
    "white noise −40 dBFS": white_noise,
    "pink noise": pink_noise,
    "hold music": hold_music,
    "breathing": breathing,
}


def stereo(kind: str, seconds: float, seed: int) -> FloatArray:
    """``kind`` on both channels, different noise on each, as ``(frames, 2)`` at 16 kHz."""
    count = round(seconds * SAMPLE_RATE)
    rng = np.random.default_rng(seed)
    channels = [KINDS[kind](count, rng) for _ in range(2)]
    return np.stack(channels, axis=1).astype(np.float32)


def at_dbfs(signal: Float64Array, dbfs: float) -> FloatArray:
    """``signal`` scaled to an RMS of ``dbfs`` relative to full scale."""
    rms = float(np.sqrt(np.mean(np.square(signal))))
    scaled = signal * (10 ** (dbfs / 20) / rms) if rms > 0 else signal
    return np.clip(scaled, -1.0, 1.0).astype(np.float32)


def _note(
    t: Float64Array,
    start: float,
    length: float,
    freq: float,
    *,
    decay: float,
) -> Float64Array:
    """A sine with a 10 ms attack and exponential decay, zero outside its slot."""
    local = t - start
    inside = (local >= 0) & (local < length)
    envelope = np.where(inside, np.minimum(local / 0.01, 1.0) * np.exp(-decay * local), 0.0)
    return envelope * np.sin(2 * np.pi * freq * t)
