"""What a streamed call's events say about its turns: latency, misses, and error rates.

Definitions (all times in seconds; ``arrival`` is wall time since the call's first audio
instant, turn times are call time, and audio is sent in real time, so both share a clock):

* A turn is **completed** by the first final, in order of arrival, on the turn's channel
  whose ``end`` is at least ``turn.end − 0.35`` and whose ``start`` is at most
  ``turn.end``: a final carrying the turn's last words. Word times are used where the
  final has them. **Turn latency** is that final's arrival minus ``turn.end``. A turn no
  final completes is **missed**.
* **First-partial latency** is the arrival of the first partial (or final) on the channel
  whose ``start`` lies within the turn (from 0.3 s before its onset to its end), minus the
  turn's onset.
* A final that overlaps no turn on its channel is **extra**: text invented in a pause.
* Error rates compare, per channel, all finals in order with all the channel's turn
  references joined: WER for English after lowercasing and stripping punctuation, CER for
  Chinese after converting both sides to Simplified and removing spaces and punctuation.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import jiwer
import numpy as np
import opencc

from benchmarks.callgen import Call, Turn

END_TOLERANCE = 0.35
ONSET_TOLERANCE = 0.3
_TO_SIMPLIFIED = opencc.OpenCC("t2s")


@dataclass(frozen=True, slots=True)
class Received:
    """One ``partial`` or ``final`` event and its arrival (seconds after the call's t0)."""

    type: str
    channel: int
    text: str
    start: float
    end: float | None
    arrival: float

    @classmethod
    def from_message(cls, message: dict[str, Any], arrival: float) -> Received:
        """Times from the word list when a final has one, else from the event itself."""
        words = message.get("words") or []
        start = float(words[0]["start"] if words else message["start"])
        end = words[-1]["end"] if words else message.get("end")
        return cls(
            message["type"],
            int(message["channel"]),
            str(message["text"]),
            start,
            None if end is None else float(end),
            arrival,
        )


@dataclass(frozen=True, slots=True)
class TurnResult:
    """How one turn fared; ``None`` where the event never came."""

    call: str
    turn: Turn
    latency: float | None
    first_partial: float | None
    final: Received | None

    @property
    def missed(self) -> bool:
        return self.latency is None


def score_turns(call: Call, events: Sequence[Received]) -> list[TurnResult]:
    """Every turn of ``call`` against the events streamed back for it."""
    return [_score_turn(call.name, turn, events) for turn in call.turns]


def _score_turn(name: str, turn: Turn, events: Sequence[Received]) -> TurnResult:
    on_channel = sorted((e for e in events if e.channel == turn.channel), key=lambda e: e.arrival)
    final = next((e for e in on_channel if completes(e, turn)), None)
    first = next((e for e in on_channel if _starts_within(e, turn)), None)
    return TurnResult(
        name,
        turn,
        None if final is None else final.arrival - turn.end,
        None if first is None else first.arrival - turn.start,
        final,
    )


def completes(event: Received, turn: Turn) -> bool:
    """A final that carries the turn's last words."""
    return (
        event.type == "final"
        and event.end is not None
        and event.end >= turn.end - END_TOLERANCE
        and event.start <= turn.end
    )


def _starts_within(event: Received, turn: Turn) -> bool:
    return turn.start - ONSET_TOLERANCE <= event.start <= turn.end


def extra_finals(call: Call, events: Sequence[Received]) -> list[Received]:
    """Finals that overlap no turn on their channel (with the onset tolerance either side)."""
    return [
        e
        for e in events
        if e.type == "final"
        and not any(
            e.start <= t.end + ONSET_TOLERANCE and (e.end or e.start) >= t.start - ONSET_TOLERANCE
            for t in call.channel_turns(e.channel)
        )
    ]


def finals_text(events: Sequence[Received], channel: int, language: str) -> str:
    """A channel's finals in order of arrival, as one hypothesis."""
    finals = [e for e in events if e.type == "final" and e.channel == channel]
    return join_texts([e.text for e in sorted(finals, key=lambda e: e.arrival)], language)


def reference_text(call: Call, channel: int) -> str:
    return join_texts([t.reference for t in call.channel_turns(channel)], call.language)


def join_texts(texts: Sequence[str], language: str) -> str:
    """Pieces of one channel's text: spaced words in English, run together in Chinese."""
    return ("" if language == "zh" else " ").join(t.strip() for t in texts)


def normalise(text: str, language: str) -> str:
    """English: lowercase words without punctuation; Chinese: Simplified characters only."""
    if language == "zh":
        simplified = _TO_SIMPLIFIED.convert(text)
        return "".join(c for c in simplified if not _is_space_or_punctuation(c)).lower()
    words = re.sub(r"[^\w\s]", " ", text.lower().replace("'", "").replace("’", ""))
    return " ".join(words.split())


def _is_space_or_punctuation(char: str) -> bool:
    return char.isspace() or unicodedata.category(char)[0] in "PS"


def error_rate(references: Sequence[str], hypotheses: Sequence[str], language: str) -> float:
    """Corpus WER (English) or CER (Chinese) in percent, over normalised texts."""
    refs = [normalise(r, language) for r in references]
    hyps = [normalise(h, language) for h in hypotheses]
    rate = jiwer.cer(refs, hyps) if language == "zh" else jiwer.wer(refs, hyps)
    return 100 * float(rate)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (linear interpolation), ``None`` for no values."""
    return float(np.percentile(values, q)) if values else None
