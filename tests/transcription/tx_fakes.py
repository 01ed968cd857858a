"""A deterministic stand-in for Whisper: words are encoded as constant-level tones.

Word ``k`` of :data:`VOCAB` is a run of samples at level ``0.1 + 0.02 * k``; zeros are
silence; :data:`NOISE` is "speech" to the VAD that carries no words. The fake VAD and the
fake recogniser both read runs of non-zero samples, so tests script a call as a sequence
of words and pauses and know exactly what the policy should emit, with no model or clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from transcription.streaming import (
    SAMPLE_RATE,
    VAD_FRAME,
    FloatArray,
    Segment,
    VoiceDetector,
    Word,
)

VOCAB = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel")
WORD_SECONDS = 0.4
GAP_SECONDS = 0.1
NOISE = 0.9


def _level(word: str) -> float:
    return 0.1 + 0.02 * VOCAB.index(word)


def say(*words: str) -> FloatArray:
    """Audio for ``words``: each a 0.4 s tone followed by a 0.1 s pause."""
    parts = []
    for word in words:
        parts.append(np.full(round(WORD_SECONDS * SAMPLE_RATE), _level(word), dtype=np.float32))
        parts.append(silence(GAP_SECONDS))
    return np.concatenate(parts)


def silence(seconds: float) -> FloatArray:
    return np.zeros(round(seconds * SAMPLE_RATE), dtype=np.float32)


def noise(seconds: float) -> FloatArray:
    return np.full(round(seconds * SAMPLE_RATE), NOISE, dtype=np.float32)


def chunks(audio: FloatArray, seconds: float = 0.1) -> list[FloatArray]:
    size = round(seconds * SAMPLE_RATE)
    return [audio[i : i + size] for i in range(0, len(audio), size)]


def _runs(audio: FloatArray) -> list[tuple[int, int, float]]:
    """(start, end, level) of each run of equal non-zero samples."""
    runs: list[tuple[int, int, float]] = []
    nonzero = np.flatnonzero(audio != 0)
    if not len(nonzero):
        return runs
    breaks = np.flatnonzero(np.diff(nonzero) > 1)
    starts = np.concatenate([[nonzero[0]], nonzero[breaks + 1]])
    ends = np.concatenate([nonzero[breaks], [nonzero[-1]]]) + 1
    for start, end in zip(starts, ends, strict=True):
        runs.append((int(start), int(end), float(audio[start])))
    return runs


def fake_detector(frames: FloatArray) -> FloatArray:
    """Speech probability = share of non-zero samples in each frame (tones are speech)."""
    rows = frames.reshape(-1, VAD_FRAME)
    return np.asarray((rows != 0).mean(axis=1), dtype=np.float32)


@dataclass
class Call:
    seconds: float
    partial: bool
    language: str | None
    prompt: str | None
    hotwords: str | None


@dataclass
class FakeBackend:
    """Implements the ``Backend`` protocol over the tone encoding; records every call."""

    calls: list[Call] = field(default_factory=list)

    def voice_detector(self) -> VoiceDetector:
        return fake_detector

    def transcribe(
        self,
        audio: FloatArray,
        *,
        language: str | None,
        prompt: str | None = None,
        hotwords: str | None = None,
        partial: bool = False,
    ) -> list[Segment]:
        self.calls.append(Call(len(audio) / SAMPLE_RATE, partial, language, prompt, hotwords))
        words = [
            Word(" " + VOCAB[round((level - 0.1) / 0.02)], s / SAMPLE_RATE, e / SAMPLE_RATE, 0.9)
            for s, e, level in _runs(audio)
            if level != np.float32(NOISE)
        ]
        if not words:
            return []
        text = "".join(w.word for w in words)
        return [Segment(words[0].start, words[-1].end, text, () if partial else tuple(words))]
