"""The streaming policy: voice activity, partials, finals and the commit policy.

Pure logic in the spirit of whisper_streaming's ``OnlineASRProcessor``: this module never
imports faster-whisper, never reads a clock and does no I/O. Every time is derived from
sample counts, so a fake backend fed fixed chunks reproduces a live call exactly.

Per channel the policy keeps only the audio of the utterance being spoken (plus a short
pre-roll) and asks the backend for a speech probability per 32 ms frame as audio arrives,
so voice activity costs the same however long the utterance grows. A small hysteresis
state machine over those probabilities decides:

* speech followed by ``min_silence`` of silence closes an utterance: a ``final``
  :class:`Request` for its audio, decoded with word timestamps;
* while someone speaks, a ``partial`` request at most every ``partial_every`` seconds
  (one at a time per channel, superseded by the final);
* an utterance longer than ``max_utterance`` gets a ``commit`` request: its words up to
  ``commit_holdback`` before the end become a final and the utterance continues from
  the word boundary, so a monologue never waits for a pause that does not come;
* silence is dropped, so memory stays bounded however long the call lasts.

Recognition itself is not done here: the policy emits :class:`Request` objects and is
told their results through :meth:`ChannelStream.resolve`. A service can therefore run
requests of many sessions on one scheduler (finals first, partials when there is time),
while tests and offline callers use :meth:`StreamSession.feed`, which runs them inline.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt

SAMPLE_RATE = 16_000
"""Every buffer in this module is 16 kHz mono float32, the rate Whisper expects."""
VAD_FRAME = 512
"""Samples per voice-activity frame (32 ms), the window Silero VAD is trained on."""
VAD_CONTEXT = 64
"""Samples of the previous frame Silero sees in front of each frame (see ``backend``)."""

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

    def voice_detector(self) -> VoiceDetector:
        """Voice-activity state for one channel (each channel needs its own)."""
        ...


class VoiceDetector(Protocol):
    """Scores a channel's audio as it arrives; keeps whatever state the model needs."""

    def __call__(self, frames: FloatArray) -> FloatArray:
        """Speech probability (0..1) of each :data:`VAD_FRAME`-sample frame of ``frames``."""
        ...


@dataclass(frozen=True, slots=True)
class StreamPolicy:
    """Tuning knobs, in seconds of stream audio unless stated otherwise."""

    partial_every: float = 0.6
    min_silence: float = 0.5
    early_final: float | None = 0.2
    """Silence after which the final is decoded speculatively (``None``: never). It is
    sent once ``min_silence`` confirms the end, or dropped if the speaker goes on, so
    the decode overlaps the wait instead of following it."""
    min_speech: float = 0.15
    max_utterance: float = 10.0
    commit_holdback: float = 1.0
    pad: float = 0.2
    min_partial: float = 0.3
    threshold: float = 0.35
    """Speech probability that starts speech; it ends below ``threshold - 0.15``."""
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
Kind = Literal["partial", "final", "commit"]
_request_ids = itertools.count()


@dataclass(frozen=True, slots=True, eq=False)
class Request:
    """Audio the policy wants recognised, and everything needed to use the answer.

    ``first`` is the stream sample of ``audio[0]``; ``utterance`` identifies the
    utterance, so an answer that arrives after its utterance moved on is recognised as
    stale. Finals and commits must be answered in the order they were made.
    """

    kind: Kind
    channel: int
    audio: FloatArray
    first: int
    utterance: int
    context: Context
    speech: tuple[int, int] = (0, 0)
    """Stream samples where the VAD heard speech start and end."""
    draft: int = 0
    """Partials already shown for this utterance: a scheduler serves first drafts first."""
    id: int = field(default_factory=lambda: next(_request_ids))

    @property
    def partial(self) -> bool:
        return self.kind == "partial"

    @property
    def seconds(self) -> float:
        return len(self.audio) / SAMPLE_RATE


def speaker_labels(channels: int) -> tuple[str, ...]:
    """Stereo calls carry the agent on the left and the debtor on the right; mono is unknown."""
    return ("agent", "debtor") if channels == 2 else ("speaker",) * channels


def join_text(parts: Sequence[str]) -> str:
    """Whisper pieces carry their own leading spaces (none in Chinese), so plain concatenation."""
    return "".join(parts).strip()


class ChannelStream:
    """One channel: its recent audio, voice activity and the utterance being spoken.

    Buffer and voice-activity state are indexed in stream samples. Between utterances
    only ``pad`` seconds of pre-roll are kept; during one, audio from its start.
    """

    def __init__(self, channel: int, speaker: str, backend: Backend, policy: StreamPolicy) -> None:
        self.channel = channel
        self.speaker = speaker
        self._backend = backend
        self._policy = policy
        self._vad = backend.voice_detector()
        self._buffer: FloatArray = np.zeros(0, dtype=np.float32)
        self._offset = 0  # stream sample of _buffer[0]
        self._scored = 0  # stream sample up to which VAD frames have been scored
        self._speech_start: int | None = None  # start of the utterance being spoken
        self._voiced = 0  # stream sample where the last speech frame ended
        self._utterance = 0
        self._last_partial_at: int | None = None
        self._last_partial_text = ""
        self._partial_pending = False
        self._commit_pending = False
        self._floor = 0  # no request reaches back before this (a commit's cut)
        self._hold_from: int | None = None  # audio a pending commit's follow-up still needs
        self._waiting: list[tuple[int, int]] = []  # utterances closed during a commit
        self._early: Request | None = None  # speculative final awaiting confirmation
        self._early_result: list[Segment] | None = None  # its answer, if it came first
        self._superseded: set[int] = set()  # speculative finals the speaker talked over
        self._drafts = 0  # partials shown for the current utterance
        self._outbox: list[Event] = []  # events decided outside resolve()

    @property
    def buffered_seconds(self) -> float:
        """Audio held in memory; bounded by the policy whatever the input."""
        return len(self._buffer) / SAMPLE_RATE

    @property
    def received_seconds(self) -> float:
        """Stream time: seconds of audio received on this channel so far."""
        return self._end / SAMPLE_RATE

    @property
    def _end(self) -> int:
        return self._offset + len(self._buffer)

    def push(
        self, samples: FloatArray, context: Context, *, partials: bool = True
    ) -> list[Request]:
        """Add 16 kHz samples, score whole VAD frames, and say what should be recognised.

        ``partials=False`` asks for no draft this time (the caller is shedding load);
        finals are never skipped.
        """
        if len(samples):
            self._buffer = np.concatenate([self._buffer, np.asarray(samples, dtype=np.float32)])
        requests: list[Request] = []
        frames = (self._end - self._scored) // VAD_FRAME
        if frames:
            probs = self._vad(self._slice(self._scored, self._scored + frames * VAD_FRAME))
            for prob in probs:
                requests += self._frame(float(prob), context, speculate=partials)
        if self._speech_start is not None:
            requests += self._while_speaking(context, partials=partials)
        self._trim()
        return requests

    def flush(self, context: Context) -> list[Request]:
        """End of stream: the utterance still being spoken (if any) is finalised."""
        requests: list[Request] = []
        if self._speech_start is not None:
            requests += self._close(self._voiced, context)
        self._scored = self._end
        self._trim()
        return requests

    def resolve(
        self, request: Request, segments: list[Segment]
    ) -> tuple[list[Event], list[Request]]:
        """Turn a recognition result into events (and, after a commit, maybe a final)."""
        if request.kind == "partial":
            return self._resolve_partial(request, segments), []
        if request.kind == "commit":
            return self._resolve_commit(request, segments)
        if request.id in self._superseded:
            self._superseded.discard(request.id)
            return [], []
        if request is self._early:
            self._early_result = segments  # held until min_silence confirms the end
            return [], []
        return self._resolve_final(request, segments), []

    def take_events(self) -> list[Event]:
        """Events decided while pushing audio (a speculative final confirmed)."""
        events, self._outbox = self._outbox, []
        return events

    # --- voice activity -------------------------------------------------------------

    def _frame(self, prob: float, context: Context, *, speculate: bool) -> list[Request]:
        """Advance the speech/silence state machine by one scored frame."""
        start, self._scored = self._scored, self._scored + VAD_FRAME
        policy = self._policy
        if self._speech_start is None:
            if prob >= policy.threshold:
                self._speech_start = start
                self._voiced = self._scored
            return []
        if prob >= policy.threshold - 0.15:
            self._voiced = self._scored
            self._drop_early()  # the speaker went on: the speculative final is void
            return []
        silent = self._scored - self._voiced
        if silent >= _samples(policy.min_silence):
            return self._close(self._voiced, context)
        if (
            speculate
            and policy.early_final is not None
            and silent >= _samples(policy.early_final)
            and self._early is None
            and not self._commit_pending
            and self._voiced - self._speech_start >= _samples(policy.min_speech)
        ):
            self._early = self._request("final", self._speech_start, self._voiced, context)
            return [self._early]
        return []

    def _drop_early(self) -> None:
        if self._early is not None:
            if self._early_result is None:  # its answer is still to come: ignore it then
                self._superseded.add(self._early.id)
            self._early, self._early_result = None, None

    def _close(self, end: int, context: Context) -> list[Request]:
        """The utterance ended at stream sample ``end``: request its final."""
        start = self._speech_start
        assert start is not None
        self._speech_start = None
        if self._commit_pending:
            self._waiting.append((start, end))  # its start depends on the commit's cut
            return []
        early, result = self._early, self._early_result
        self._early, self._early_result = None, None
        if early is not None and early.speech == (start, end):
            self._new_utterance()  # confirmed: its final is already decoded or on its way
            if result is not None:
                self._outbox += self._resolve_final(early, result)
            return []
        if early is not None and result is None:
            self._superseded.add(early.id)
        return self._final(start, end, context)

    def _new_utterance(self) -> None:
        self._utterance += 1
        self._partial_pending = False
        self._last_partial_at = None
        self._last_partial_text = ""
        self._drafts = 0

    def _final(self, start: int, end: int, context: Context) -> list[Request]:
        self._new_utterance()
        if end - start < _samples(self._policy.min_speech):
            return []  # a click or a breath, not an utterance
        return [self._request("final", start, end, context)]

    def _while_speaking(self, context: Context, *, partials: bool) -> list[Request]:
        """Force a commit of a long utterance, or ask for a partial when one is due."""
        start = self._speech_start
        assert start is not None
        policy = self._policy
        if self._commit_pending or self._early is not None:
            return []  # a commit is decoding, or the speaker has paused
        if self._end - start >= _samples(policy.max_utterance):
            self._commit_pending = True
            self._hold_from = start
            return [self._request("commit", start, self._end, context)]
        if not (partials and policy.partials) or self._partial_pending:
            return []
        due = self._last_partial_at is None or self._end - self._last_partial_at >= _samples(
            policy.partial_every
        )
        if not due or self._voiced - start < _samples(policy.min_partial):
            return []
        self._partial_pending = True
        self._last_partial_at = self._end
        return [self._request("partial", start, self._end, context)]

    def _request(self, kind: Kind, start: int, end: int, context: Context) -> Request:
        pad = _samples(self._policy.pad)
        first = max(self._offset, self._floor, start - pad)
        last = min(self._end, end + pad)
        return Request(
            kind,
            self.channel,
            self._slice(first, last).copy(),
            first,
            self._utterance,
            context,
            (start, end),
            self._drafts,
        )

    def _trim(self) -> None:
        """Keep the utterance being spoken (or just the pre-roll) and forget the rest."""
        pad = _samples(self._policy.pad)
        keep_from = self._end - pad
        for start in (self._speech_start, self._hold_from):
            if start is not None:
                keep_from = min(keep_from, start - pad)
        keep_from = min(keep_from, self._scored)
        drop = min(len(self._buffer), max(0, keep_from - self._offset))
        if drop:
            self._buffer = self._buffer[drop:].copy()
            self._offset += drop

    def _slice(self, first: int, last: int) -> FloatArray:
        """Buffered stream samples ``[first, last)``."""
        return self._buffer[first - self._offset : last - self._offset]

    # --- results ---------------------------------------------------------------------

    def _resolve_partial(self, request: Request, segments: list[Segment]) -> list[Event]:
        if request.utterance != self._utterance:
            return []  # the utterance was finalised while the draft was being made
        self._partial_pending = False
        text = join_text([s.text for s in segments])
        if not text or text == self._last_partial_text:
            return []
        self._last_partial_text = text
        self._drafts += 1
        return [Partial(self.channel, self.speaker, text, request.speech[0] / SAMPLE_RATE)]

    def _resolve_final(self, request: Request, segments: list[Segment]) -> list[Event]:
        words = [w for s in segments for w in s.words]
        text = (
            join_text([w.word for w in words]) if words else join_text([s.text for s in segments])
        )
        if not text:
            return []
        if words:
            start = request.first / SAMPLE_RATE + words[0].start
            end = request.first / SAMPLE_RATE + words[-1].end
        else:
            start, end = request.speech[0] / SAMPLE_RATE, request.speech[1] / SAMPLE_RATE
        stream_words = self._to_stream(words, request.first)
        return [Final(self.channel, self.speaker, text, start, end, stream_words)]

    def _resolve_commit(
        self, request: Request, segments: list[Segment]
    ) -> tuple[list[Event], list[Request]]:
        """Commit the words that end ``commit_holdback`` before the request's end.

        The utterance then continues from between the last committed word and the next,
        so the rest is re-read from a word boundary. With no word at all the audio up to
        the hold-back point is dropped, so a noisy line cannot grow the buffer.
        """
        self._commit_pending = False
        words = [w for s in segments for w in s.words]
        limit = request.seconds - self._policy.commit_holdback
        kept = list(itertools.takewhile(lambda w: w.end <= limit, words))
        if not kept and words and words[0].start < self._policy.pad + 0.1:
            kept = words[:1]  # one word stretched over the hold-back: commit it, move on
        events: list[Event] = []
        if kept:
            following = words[len(kept)].start if len(kept) < len(words) else limit
            cut = request.first + _samples((kept[-1].end + max(kept[-1].end, following)) / 2)
            origin = request.first / SAMPLE_RATE
            events.append(
                Final(
                    self.channel,
                    self.speaker,
                    join_text([w.word for w in kept]),
                    origin + kept[0].start,
                    origin + kept[-1].end,
                    self._to_stream(kept, request.first),
                )
            )
        else:
            cut = request.first + _samples(min(words[0].start, limit) if words else limit)
        cut = max(cut, request.speech[0])
        self._floor = cut  # committed words must not be read again through the padding
        self._hold_from = None
        self._new_utterance()
        requests: list[Request] = []
        waiting, self._waiting = self._waiting, []
        for index, (start, end) in enumerate(waiting):
            requests += self._final(max(start, cut) if index == 0 else start, end, request.context)
        if self._speech_start is not None and not waiting:
            self._speech_start = max(self._speech_start, cut)
        self._trim()
        return events, requests

    def _to_stream(self, words: Sequence[Word], first: int) -> tuple[Word, ...]:
        origin = first / SAMPLE_RATE
        return tuple(
            Word(w.word.strip(), origin + w.start, origin + w.end, w.probability) for w in words
        )


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
        self.backend = backend
        self.context = Context(language=language)
        self.channels = [
            ChannelStream(index, labels[index], backend, policy) for index in range(channels)
        ]

    def set_context(self, hotwords: Sequence[str] = (), prompt: str | None = None) -> None:
        """Swap hints for later requests; an atomic assignment, safe from another thread."""
        self.context = Context(self.context.language, prompt or None, tuple(hotwords))

    def push(self, samples: Sequence[FloatArray], *, partials: bool = True) -> list[Request]:
        """Add one 16 kHz array per channel; returns what should now be recognised."""
        if len(samples) != len(self.channels):
            raise ValueError(f"expected {len(self.channels)} channels, got {len(samples)}")
        context = self.context
        return [
            r
            for ch, s in zip(self.channels, samples, strict=True)
            for r in ch.push(s, context, partials=partials)
        ]

    def close(self) -> list[Request]:
        """End of stream: finals for whatever is still being spoken."""
        context = self.context
        return [r for ch in self.channels for r in ch.flush(context)]

    def resolve(
        self, request: Request, segments: list[Segment]
    ) -> tuple[list[Event], list[Request]]:
        return self.channels[request.channel].resolve(request, segments)

    def take_events(self) -> list[Event]:
        """Events the policy decided without a new answer (confirmed speculative finals)."""
        return [e for ch in self.channels for e in ch.take_events()]

    def feed(self, samples: Sequence[FloatArray], *, partials: bool = True) -> list[Event]:
        """:meth:`push` and recognise every request at once (tests, offline replay)."""
        requests = self.push(samples, partials=partials)
        return self.take_events() + self.run(requests)

    def flush(self) -> list[Event]:
        """:meth:`close` and recognise at once: every pending utterance becomes a final."""
        requests = self.close()
        return self.take_events() + self.run(requests)

    def run(self, requests: list[Request]) -> list[Event]:
        """Recognise ``requests`` in order with this session's backend, inline."""
        events: list[Event] = []
        queue = list(requests)
        while queue:
            request = queue.pop(0)
            done, more = self.resolve(request, recognise(self.backend, request))
            events += done + self.take_events()
            queue += more
        return events


def recognise(backend: Backend, request: Request) -> list[Segment]:
    """Run one request on ``backend`` with its own context."""
    return backend.transcribe(
        request.audio,
        language=request.context.language,
        prompt=request.context.prompt,
        hotwords=request.context.hotword_text,
        partial=request.partial,
    )


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
