"""The figures of a streaming benchmark run: per level, per language, and as JSON.

Scoring of single turns lives in ``benchmarks.scoring``; this module aggregates a level's
streams into one row (:class:`Level`), adds the offline comparison (:class:`Offline`) and
derives the capacity and the memory slope of a language (:class:`Report`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from benchmarks import scoring
from benchmarks.callgen import Call, CallOptions
from benchmarks.scoring import Received, TurnResult
from benchmarks.streamclient import StreamResult

TARGET_P50 = 1.0
TARGET_P95 = 2.0
TARGET_FIRST_PARTIAL = 1.0
TARGET_ERROR_GAP = 1.5


@dataclass(frozen=True, slots=True)
class RunOptions:
    """What the command line chose."""

    levels: tuple[int, ...] = (1, 2, 4, 8)
    call: CallOptions = field(default_factory=CallOptions)
    seed: int = 1
    frame_seconds: float = 0.1
    nonspeech_seconds: float = 30.0


@dataclass(slots=True)
class Level:
    """The figures of one language at one concurrency level."""

    language: str
    calls: int
    turns: int
    missed: int
    extra_finals: int
    latency_p50: float | None
    latency_p95: float | None
    latency_min: float | None
    first_partial_p50: float | None
    first_partial_p95: float | None
    stream_error: float
    offline_error: float | None = None
    mib_per_session: float | None = None
    rss_idle_mib: float | None = None
    rss_peak_mib: float | None = None
    send_lag: float = 0.0
    wires: str = ""
    errors: list[str] = field(default_factory=list)

    @property
    def meets(self) -> bool:
        """p95 turn latency within target, no missed turn, no failed stream."""
        p95 = self.latency_p95
        return p95 is not None and p95 <= TARGET_P95 and not self.missed and not self.errors


@dataclass(slots=True)
class Offline:
    """Each call channel transcribed whole, in this process, with the same model."""

    model: str
    texts: dict[str, str] = field(default_factory=dict)  # "call/channel" -> text
    decode_seconds: float = 0.0
    audio_seconds: float = 0.0

    @property
    def real_time_factor(self) -> float:
        return self.decode_seconds / self.audio_seconds if self.audio_seconds else 0.0


@dataclass(slots=True)
class Report:
    """Everything measured for one language."""

    language: str
    levels: list[Level] = field(default_factory=list)
    offline: Offline | None = None
    capacity: int | None = None
    mib_per_extra_session: float | None = None
    turns: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    extra: list[dict[str, Any]] = field(default_factory=list)
    nonspeech: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add(self, level: Level, results: Sequence[StreamResult]) -> None:
        """A level's row, and every turn, event and extra final of its streams."""
        self.levels.append(level)
        for r in results:
            self.turns += [turn_json(level.calls, r, t) for t in _turns(r)]
            self.events += [event_json(level.calls, r.call.name, e) for e in r.events]
            extra = scoring.extra_finals(r.call, r.events)
            self.extra += [event_json(level.calls, r.call.name, e) for e in extra]


def score_level(language: str, results: Sequence[StreamResult]) -> Level:
    """The figures of one level, from every call's events."""
    turns = [t for r in results for t in _turns(r)]
    latencies = [t.latency for t in turns if t.latency is not None]
    firsts = [t.first_partial for t in turns if t.first_partial is not None]
    refs, hyps = _texts(results)
    return Level(
        language=language,
        calls=len(results),
        turns=len(turns),
        missed=sum(t.missed for t in turns),
        extra_finals=sum(len(scoring.extra_finals(r.call, r.events)) for r in results),
        latency_p50=scoring.percentile(latencies, 50),
        latency_p95=scoring.percentile(latencies, 95),
        latency_min=min(latencies, default=None),
        first_partial_p50=scoring.percentile(firsts, 50),
        first_partial_p95=scoring.percentile(firsts, 95),
        stream_error=scoring.error_rate(refs, hyps, language),
        send_lag=max(r.send_lag for r in results),
        wires=_wire_mix(results),
        errors=[
            f"{r.call.name}: {r.error or 'no end event'}" for r in results if r.error or not r.ended
        ],
    )


def _turns(result: StreamResult) -> list[TurnResult]:
    return scoring.score_turns(result.call, result.events)


def _texts(results: Sequence[StreamResult]) -> tuple[list[str], list[str]]:
    refs = [scoring.reference_text(r.call, ch) for r in results for ch in (0, 1)]
    hyps = [scoring.finals_text(r.events, ch, r.call.language) for r in results for ch in (0, 1)]
    return refs, hyps


def _wire_mix(results: Sequence[StreamResult]) -> str:
    wires = [str(r.call.wire) for r in results]
    return ", ".join(f"{wires.count(w)}× {w}" for w in sorted(set(wires)))


def offline_error(calls: Sequence[Call], offline: Offline) -> float:
    refs = [scoring.reference_text(c, ch) for c in calls for ch in (0, 1)]
    hyps = [offline.texts[f"{c.name}/{ch}"] for c in calls for ch in (0, 1)]
    return scoring.error_rate(refs, hyps, calls[0].language)


def capacity(levels: Sequence[Level]) -> int | None:
    """The largest level such that it and every smaller level meet the latency target."""
    best = None
    for level in sorted(levels, key=lambda lv: lv.calls):
        if not level.meets:
            break
        best = level.calls
    return best


def memory_slope(levels: Sequence[Level]) -> float | None:
    """Peak RSS against concurrent calls, least squares: MiB each further session adds.

    ``(peak - idle) / N`` also charges the shared worker's transient inference memory to
    the sessions; the slope across levels leaves it out.
    """
    points = [(lv.calls, lv.rss_peak_mib) for lv in levels if lv.rss_peak_mib is not None]
    if len({n for n, _ in points}) < 2:
        return None
    calls, peaks = zip(*points, strict=True)
    return float(np.polyfit(calls, peaks, 1)[0])


def turn_json(level: int, stream: StreamResult, result: TurnResult) -> dict[str, Any]:
    """One turn's outcome, with the finals around it on its channel (to explain a miss)."""
    turn = result.turn
    nearby = [
        asdict(e)
        for e in stream.events
        if e.type == "final"
        and e.channel == turn.channel
        and e.start <= turn.end + 2.0
        and (e.end or e.start) >= turn.start - 1.0
    ]
    return {
        "level": level,
        "call": result.call,
        "wire": str(stream.call.wire),
        "channel": turn.channel,
        "start": round(turn.start, 3),
        "end": round(turn.end, 3),
        "clip": turn.clip,
        "telephone": turn.telephone,
        "reference": turn.reference,
        "latency": _round(result.latency),
        "first_partial": _round(result.first_partial),
        "final": None if result.final is None else asdict(result.final),
        "nearby_finals": nearby,
    }


def event_json(level: int, call: str, event: Received) -> dict[str, Any]:
    return {"level": level, "call": call, **asdict(event)}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def report_json(report: Report) -> dict[str, Any]:
    data = asdict(report)
    for level, raw in zip(report.levels, data["levels"], strict=True):
        raw["meets"] = level.meets
    if report.offline:
        data["offline"]["real_time_factor"] = report.offline.real_time_factor
    return data
