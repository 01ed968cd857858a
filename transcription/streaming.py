"""The streaming policy: when to run VAD, what is a partial, when a final is committed.

Pure logic in the spirit of whisper_streaming's ``OnlineASRProcessor``: this module never
imports faster-whisper, never reads a clock and does no I/O. Every time is derived from
sample counts, so a fake backend fed fixed chunks reproduces a live call exactly.

Per channel the policy keeps only the audio that is not yet committed. Every
``vad_every`` seconds of new audio it asks the backend for speech spans in that buffer and
groups spans separated by less than ``min_silence`` into utterances:

* an utterance followed by at least ``min_silence`` of silence is transcribed once more,
  with word timestamps, and emitted as a :class:`Final`; its audio is dropped;
* the utterance still being spoken gets a :class:`Partial` at most every
  ``partial_every`` seconds of stream audio;
* an utterance longer than ``max_utterance`` is force-committed up to the last word that
  ends ``commit_holdback`` before the buffer end, so a monologue still produces finals;
* silence is discarded, so memory stays bounded however long the call lasts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

SAMPLE_RATE = 16_000
"""Every buffer in this module is 16 kHz mono float32, the rate Whisper expects."""

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class Word:
    """One recognised word; times in seconds relative to the audio the backend was given."""

    word: str
    start: float
    end: float
    probability: float


@dataclass(frozen=True, slots=True)
class Segment:
    """A backend hypothesis; ``text`` keeps Whisper's leading space so texts concatenate."""

    start: float
    end: float
    text: str
    words: tuple[Word, ...] = ()
    no_speech_prob: float = 0.0
    avg_logprob: float = 0.0


class Backend(Protocol):
    """What the policy needs from a speech recogniser (see ``backend.FasterWhisperBackend``)."""

    def transcribe(
        self,
        audio: FloatArray,
        *,
        language: str | None,
        prompt: str | None = None,
        hotwords: str | None = None,
        partial: bool = False,
    ) -> list[Segment]:
        """Recognise ``audio``; ``partial`` asks for a fast draft without word timestamps."""
        ...

    def speech_spans(self, audio: FloatArray) -> list[tuple[float, float]]:
        """Speech regions of ``audio`` as ``(start, end)`` seconds."""
        ...


@dataclass(frozen=True, slots=True)
class StreamPolicy:
    """Tuning knobs, all in seconds of stream audio."""

    vad_every: float = 0.5
    partial_every: float = 0.7
    min_silence: float = 0.6
    max_utterance: float = 12.0
    commit_holdback: float = 1.0
    pad: float = 0.2
    keep_silence: float = 0.5
    min_partial: float = 0.3
    max_buffer: float = 30.0
    partials: bool = True


@dataclass(frozen=True, slots=True)
class Context:
    """Recognition hints that hold for a whole session; replaced, never mutated."""

    language: str | None = None
    prompt: str | None = None
    hotwords: tuple[str, ...] = ()

    @property
    def hotword_text(self) -> str | None:
        return " ".join(self.hotwords) or None


@dataclass(frozen=True, slots=True)
class Partial:
    """Provisional text of the utterance being spoken; superseded by the next event."""

    channel: int
    speaker: str
    text: str
    start: float

    def to_message(self) -> dict[str, Any]:
        return {
            "type": "partial",
            "channel": self.channel,
            "speaker": self.speaker,
            "text": self.text,
            "start": _round(self.start),
        }


@dataclass(frozen=True, slots=True)
class Final:
    """Committed text of one utterance, with word times in stream time."""

    channel: int
    speaker: str
    text: str
    start: float
    end: float
    words: tuple[Word, ...] = ()

    def to_message(self) -> dict[str, Any]:
        return {
            "type": "final",
            "channel": self.channel,
            "speaker": self.speaker,
            "text": self.text,
            "start": _round(self.start),
            "end": _round(self.end),
            "words": [_word_message(w) for w in self.words],
        }


Event = Partial | Final


def speaker_labels(channels: int) -> tuple[str, ...]:
    """Stereo calls carry the agent on the left and the debtor on the right; mono is unknown."""
    return ("agent", "debtor") if channels == 2 else ("speaker",) * channels


def join_text(parts: Sequence[str]) -> str:
    """Whisper pieces carry their own leading spaces (none in Chinese), so plain concatenation."""
    return "".join(parts).strip()


class ChannelStream:
    """The uncommitted audio of one channel and the decisions taken on it."""

    def __init__(self, channel: int, speaker: str, backend: Backend, policy: StreamPolicy) -> None:
        self.channel = channel
        self.speaker = speaker
        self._backend = backend
        self._policy = policy
        self._buffer: FloatArray = np.zeros(0, dtype=np.float32)
        self._incoming: list[FloatArray] = []
        self._offset = 0  # stream sample index of _buffer[0]
        self._unstepped = 0  # samples received since the last VAD step
        self._last_partial_at: int | None = None  # stream sample of the last partial
        self._last_partial_text = ""

    @property
    def buffered_seconds(self) -> float:
        """Audio held in memory; bounded by the policy whatever the input."""
        return (len(self._buffer) + self._unstepped) / SAMPLE_RATE

    @property
    def received_seconds(self) -> float:
        """Stream time: seconds of audio received on this channel so far."""
        return (self._offset + len(self._buffer) + self._unstepped) / SAMPLE_RATE

    def feed(self, samples: FloatArray, context: Context, *, partials: bool = True) -> list[Event]:
        """Add 16 kHz samples; runs a VAD step once ``vad_every`` of new audio arrived.

        ``partials=False`` skips drafts for this step only (the caller is shedding load);
        finals are never skipped.
        """
        if len(samples):
            self._incoming.append(np.asarray(samples, dtype=np.float32))
            self._unstepped += len(samples)
        if self._unstepped < _samples(self._policy.vad_every):
            return []
        return self._step(context, closing=False, partials=partials)

    def flush(self, context: Context) -> list[Event]:
        """End of stream: every utterance still pending becomes a final."""
        events = self._step(context, closing=True, partials=False)
        self._drop(len(self._buffer))
        return events

    def _take_incoming(self) -> None:
        if self._incoming:
            self._buffer = np.concatenate([self._buffer, *self._incoming])
            self._incoming = []
        self._unstepped = 0

    def _step(self, context: Context, *, closing: bool, partials: bool) -> list[Event]:
        self._take_incoming()
        if not len(self._buffer):
            return []
        utterances = self._utterances()
        end = len(self._buffer)
        events: list[Event] = []
        cut = end - _samples(self._policy.keep_silence)
        for start, stop in utterances:
            if closing or end - stop >= _samples(self._policy.min_silence):
                events.extend(self._finalise(start, stop, context))
                cut = max(cut, min(stop + _samples(self._policy.pad), end))
            else:
                open_events, cut = self._open_utterance(start, context, partials)
                events.extend(open_events)
        self._drop(max(cut, end - _samples(self._policy.max_buffer)))
        return events

    def _utterances(self) -> list[tuple[int, int]]:
        """Speech spans as buffer sample indices, merged across pauses shorter than min_silence."""
        merged: list[tuple[int, int]] = []
        gap = _samples(self._policy.min_silence)
        for start_s, end_s in self._backend.speech_spans(self._buffer):
            start, stop = _samples(start_s), min(_samples(end_s), len(self._buffer))
            if merged and start - merged[-1][1] < gap:
                merged[-1] = (merged[-1][0], max(stop, merged[-1][1]))
            elif stop > start:
                merged.append((start, stop))
        return merged

    def _finalise(self, start: int, stop: int, context: Context) -> list[Event]:
        """Transcribe a closed utterance with word times and emit it as one final."""
        first = max(0, start - _samples(self._policy.pad))
        last = min(len(self._buffer), stop + _samples(self._policy.pad))
        segments = self._transcribe(first, last, context, partial=False)
        self._last_partial_at = None
        self._last_partial_text = ""
        return self._final(segments, first, fallback=(start, stop))

    def _open_utterance(
        self, start: int, context: Context, partials: bool
    ) -> tuple[list[Event], int]:
        """The utterance still being spoken: force-commit if too long, else maybe a partial."""
        end = len(self._buffer)
        first = max(0, start - _samples(self._policy.pad))
        if end - start >= _samples(self._policy.max_utterance):
            return self._force_commit(first, context)
        if not (partials and self._policy.partials):
            return [], first
        return self._partial(start, first, context), first

    def _partial(self, start: int, first: int, context: Context) -> list[Event]:
        policy = self._policy
        end = len(self._buffer)
        now = self._offset + end
        too_soon = self._last_partial_at is not None and now - self._last_partial_at < _samples(
            policy.partial_every
        )
        if too_soon or end - start < _samples(policy.min_partial):
            return []
        self._last_partial_at = now
        text = join_text([s.text for s in self._transcribe(first, end, context, partial=True)])
        if not text or text == self._last_partial_text:
            return []
        self._last_partial_text = text
        return [Partial(self.channel, self.speaker, text, self._stream_time(start))]

    def _force_commit(self, first: int, context: Context) -> tuple[list[Event], int]:
        """Commit a long utterance's words except the last ``commit_holdback`` seconds.

        The cut falls between the last committed word and the next one, so the remainder
        is re-transcribed from a word boundary; audio with no words at all is dropped up to
        the hold-back point so a noisy line cannot grow the buffer.
        """
        end = len(self._buffer)
        segments = self._transcribe(first, end, context, partial=False)
        words = [w for s in segments for w in s.words]
        limit = (end - first) / SAMPLE_RATE - self._policy.commit_holdback
        kept = [w for w in words if w.end <= limit]
        self._last_partial_at = None
        self._last_partial_text = ""
        if not kept:
            cut_at = min(words[0].start, limit) if words else limit
            return [], first + max(0, _samples(cut_at))
        following = words[len(kept)].start if len(kept) < len(words) else limit
        cut = first + _samples((kept[-1].end + max(kept[-1].end, following)) / 2)
        final = Final(
            self.channel,
            self.speaker,
            join_text([w.word for w in kept]),
            self._stream_time(first) + kept[0].start,
            self._stream_time(first) + kept[-1].end,
            self._to_stream(kept, first),
        )
        return [final], cut

    def _final(
        self, segments: list[Segment], first: int, *, fallback: tuple[int, int]
    ) -> list[Event]:
        words = [w for s in segments for w in s.words]
        text = (
            join_text([w.word for w in words]) if words else join_text([s.text for s in segments])
        )
        if not text:
            return []
        origin = self._stream_time(first)
        if words:
            start, end = origin + words[0].start, origin + words[-1].end
        else:
            start, end = self._stream_time(fallback[0]), self._stream_time(fallback[1])
        return [Final(self.channel, self.speaker, text, start, end, self._to_stream(words, first))]

    def _transcribe(
        self, first: int, last: int, context: Context, *, partial: bool
    ) -> list[Segment]:
        return self._backend.transcribe(
            self._buffer[first:last],
            language=context.language,
            prompt=context.prompt,
            hotwords=context.hotword_text,
            partial=partial,
        )

    def _to_stream(self, words: Sequence[Word], first: int) -> tuple[Word, ...]:
        origin = self._stream_time(first)
        return tuple(
            Word(w.word.strip(), origin + w.start, origin + w.end, w.probability) for w in words
        )

    def _stream_time(self, index: int) -> float:
        return (self._offset + index) / SAMPLE_RATE

    def _drop(self, count: int) -> None:
        """Forget the first ``count`` buffered samples (already committed or silence)."""
        count = max(0, min(count, len(self._buffer)))
        if count:
            self._buffer = self._buffer[count:].copy()
            self._offset += count


class StreamSession:
    """All channels of one call; each channel is transcribed independently."""

    def __init__(
        self,
        backend: Backend,
        *,
        channels: int = 1,
        language: str | None = None,
        policy: StreamPolicy | None = None,
    ) -> None:
        policy = policy or StreamPolicy()
        labels = speaker_labels(channels)
        self.context = Context(language=language)
        self.channels = [
            ChannelStream(index, labels[index], backend, policy) for index in range(channels)
        ]

    def set_context(self, hotwords: Sequence[str] = (), prompt: str | None = None) -> None:
        """Swap hints for later inference; an atomic assignment, safe from another thread."""
        self.context = Context(self.context.language, prompt or None, tuple(hotwords))

    def feed(self, samples: Sequence[FloatArray], *, partials: bool = True) -> list[Event]:
        """Feed one 16 kHz array per channel; returns the events this audio produced."""
        if len(samples) != len(self.channels):
            raise ValueError(f"expected {len(self.channels)} channels, got {len(samples)}")
        context = self.context
        return [
            e
            for ch, s in zip(self.channels, samples, strict=True)
            for e in ch.feed(s, context, partials=partials)
        ]

    def flush(self) -> list[Event]:
        """Finalise everything pending on every channel (end of stream)."""
        context = self.context
        return [e for ch in self.channels for e in ch.flush(context)]


def _samples(seconds: float) -> int:
    return round(seconds * SAMPLE_RATE)


def _round(seconds: float) -> float:
    return round(seconds, 3)


def _word_message(word: Word) -> dict[str, Any]:
    return {
        "word": word.word,
        "start": _round(word.start),
        "end": _round(word.end),
        "probability": round(word.probability, 3),
    }
