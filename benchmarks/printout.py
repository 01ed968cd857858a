"""The printed tables of ``benchmarks.streaming_transcription``."""

from __future__ import annotations

import os
import platform
from typing import Any

from benchmarks._server import Server
from benchmarks.figures import (
    TARGET_ERROR_GAP,
    TARGET_FIRST_PARTIAL,
    TARGET_P50,
    TARGET_P95,
    Report,
    RunOptions,
)

NAMES = {"en": "English", "zh": "Chinese"}
METRIC = {"en": "WER", "zh": "CER"}


def print_header(run: RunOptions, server: Server) -> None:
    where = f"server pid {server.pid} started here" if server.pid else f"server at {server.url}"
    print("Streaming transcription — stereo calls at real-time pace through /v1/stream")
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPU cores; {where}; calls of "
        f"{run.call.seconds:.0f} s, {run.frame_seconds * 1000:.0f} ms frames, seed {run.seed}"
    )


def print_report(report: Report) -> None:
    name, metric = NAMES[report.language], METRIC[report.language]
    model = report.offline.model if report.offline else "?"
    print(f"\n{name} (model {model})")
    print(
        f"{'calls':>5} {'turns':>5} {'missed':>6} {'extra':>5} | turn latency s: "
        f"{'p50':>5} {'p95':>5} {'min':>5} | 1st partial s: {'p50':>5} {'p95':>5} | "
        f"{metric} stream {'offline':>7} | MiB/session | send lag s | wire"
    )
    for lv in report.levels:
        print(
            f"{lv.calls:>5} {lv.turns:>5} {lv.missed:>6} {lv.extra_finals:>5} |"
            f"{'':>16}{_s(lv.latency_p50)} {_s(lv.latency_p95)} {_s(lv.latency_min)} |"
            f"{'':>15}{_s(lv.first_partial_p50)} {_s(lv.first_partial_p95)} |"
            f" {lv.stream_error:>10.1f} {_s(lv.offline_error, 1, 7)} |"
            f" {_s(lv.mib_per_session, 1, 11)} | {lv.send_lag:>10.2f} | {lv.wires}"
        )
        for error in lv.errors:
            print(f"      stream error: {error}")
    cap = report.capacity
    print(
        f"largest level with p95 ≤ {TARGET_P95:.1f} s and no missed turn: "
        f"{'none' if cap is None else f'{cap} concurrent call(s)'}"
        f" (of {', '.join(str(lv.calls) for lv in report.levels)})"
    )
    if report.mib_per_extra_session is not None:
        print(
            f"memory: {report.mib_per_extra_session:.1f} MiB of server RSS per extra session "
            "(slope of peak RSS across levels; MiB/session above is (peak - idle) / calls)"
        )
    if report.offline:
        off = report.offline
        print(
            f"offline real-time factor {off.real_time_factor:.3f} ({off.decode_seconds:.1f} s "
            f"to decode {off.audio_seconds:.0f} s of channel audio)"
        )
    _print_missed(report)
    _print_extra(report)
    _print_nonspeech(report)
    _print_targets(report)


def _print_missed(report: Report) -> None:
    missed = [t for t in report.turns if t["latency"] is None]
    negative = [t for t in report.turns if (t["latency"] or 0.0) < 0]
    for title, turns in (("missed turns", missed), ("negative latencies", negative)):
        if turns:
            print(f"{title}:")
        for t in turns:
            print(
                f"  {t['level']} call(s), {t['call']} ch{t['channel']} {t['start']:.2f}-"
                f"{t['end']:.2f} s {t['clip']}{' (telephone)' if t['telephone'] else ''}"
                f" ({t['wire']}) latency {t['latency']}"
            )
            if t["latency"] is None:
                _print_nearby(t["nearby_finals"])


def _print_nearby(finals: list[dict[str, Any]]) -> None:
    if not finals:
        print("    no final overlaps this turn")
    for f in finals:
        print(
            f"    final {f['start']:.2f}-{f['end'] or f['start']:.2f} s, arrived "
            f"{f['arrival']:.2f} s: {f['text']!r}"
        )


def _print_extra(report: Report) -> None:
    if report.extra:
        print("extra finals (overlapping no turn):")
    for e in report.extra:
        print(
            f"  {e['level']} call(s), {e['call']} ch{e['channel']} {e['start']:.2f}-"
            f"{e['end'] or e['start']:.2f} s: {e['text']!r}"
        )


def _print_nonspeech(report: Report) -> None:
    if not report.nonspeech:
        return
    print("non-speech on both channels: finals (should be none), partials")
    for kind, found in report.nonspeech.items():
        texts = "; ".join(repr(t) for t in found["finals"])
        error = f" error: {found['error']}" if found["error"] else ""
        print(f"  {kind:<22} {len(found['finals']):>3} {found['partials']:>4}  {texts}{error}")


def _print_targets(report: Report) -> None:
    levels = {lv.calls: lv for lv in report.levels}
    checks: list[tuple[str, bool]] = []
    for count in (1, 8):
        if lv := levels.get(count):
            ok = _at_most(lv.latency_p50, TARGET_P50) and lv.meets
            checks.append(
                (f"{count} call(s): p50 ≤ {TARGET_P50} s, p95 ≤ {TARGET_P95} s, no miss", ok)
            )
    if lv := levels.get(min(levels, default=0)):
        checks.append(
            (
                f"first partial p50 ≤ {TARGET_FIRST_PARTIAL} s",
                _at_most(lv.first_partial_p50, TARGET_FIRST_PARTIAL),
            )
        )
    gaps = [
        lv.stream_error - lv.offline_error for lv in report.levels if lv.offline_error is not None
    ]
    if gaps:
        checks.append(
            (
                f"streaming error within {TARGET_ERROR_GAP} points of offline at every level",
                max(gaps) <= TARGET_ERROR_GAP,
            )
        )
    if report.nonspeech:
        finals = sum(len(f["finals"]) for f in report.nonspeech.values())
        checks.append(("no finals on non-speech", finals == 0))
    print("targets: " + "; ".join(f"{label}: {'met' if ok else 'NOT met'}" for label, ok in checks))


def _at_most(value: float | None, limit: float) -> bool:
    return value is not None and value <= limit


def _s(value: float | None, digits: int = 2, width: int = 5) -> str:
    return f"{'—':>{width}}" if value is None else f"{value:>{width}.{digits}f}"
