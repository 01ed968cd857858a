"""Prints how fast and how well ``/v1/stream`` transcribes live stereo calls, and how many at once.

Method. Two-channel calls (agent left, debtor right) are composed from the labelled
recordings in ``shared/audio`` (``benchmarks.callgen``): alternating turns, random gaps
of 0.7-2.5 s, some turns band-limited to the 8 kHz telephone band, each call sent either
as 16 kHz PCM or as 8 kHz μ-law. Every turn's end is the end of its words, known from the
composition. For each concurrency level N, N different calls start a random 0-3 s apart,
each on its own WebSocket, sending 100 ms frames at real-time pace
(``benchmarks.streamclient``) to a service started here in a subprocess (or ``--url``).

Figures, per language and level (definitions in ``benchmarks.scoring``):

* turn latency: wall time from the end of a turn's words until a final carrying its last
  words arrives, p50 and p95; turns no final completes are **missed**;
* first-partial latency from the turn's onset;
* streaming WER (English) or CER (Chinese, Simplified), finals against references, beside
  the offline WER/CER of the same model on the same decoded audio, transcribed in this
  process with ``transcribe_long`` after the streams (so it does not compete for CPU);
* extra finals: finals overlapping no turn (invented in pauses);
* memory per session: the server's peak RSS (sampled every 0.5 s) during the level minus
  its RSS just before, divided by N; and, across levels, the slope of peak RSS against N,
  which leaves out the shared worker's transient inference memory (only for a server
  started here, after a warm-up that loads the model);
* capacity: the largest N for which every level up to N has p95 ≤ 2 s and no missed turn.

Then 30 s of each non-speech sound (``benchmarks.nonspeech``) on both channels: the
service should send no final at all. Offline real-time factor is decode time over audio
seconds (each channel counted separately). The model is whatever ``PARLEY_*`` settings
choose, for the server and for the offline pass alike (by default tiny.en for English
and base for Chinese). ``--json`` also writes every turn and event, for digging into a
miss.

Usage, from the repository root:

    .venv/bin/python -m benchmarks.streaming_transcription [--language en|zh|both]
        [--calls 1,2,4,8] [--seconds 60] [--seed 1] [--json OUT] [--url ws://HOST:PORT]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import tempfile
import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Protocol, cast

import numpy as np

from agent_console.settings import Settings
from benchmarks import callgen, figures, nonspeech, printout, scoring
from benchmarks._server import PeakRss, Server, local_server
from benchmarks.callgen import Call, CallOptions, Language, WireChoice
from benchmarks.figures import Level, Offline, Report, RunOptions
from benchmarks.streamclient import StreamResult, stream_call
from transcription.offline import FileBackend
from transcription.service import TranscriptionService
from transcription.streaming import SAMPLE_RATE, Segment

STAGGER = 3.0
"""Calls of one level start a random 0-3 s apart, so their turns do not all end at once."""


class Streamer(Protocol):
    """Streams one call to the service under test (Parley here, WhisperLive beside it)."""

    def __call__(
        self, call: Call, *, frame_seconds: float = 0.1, delay: float = 0.0, realtime: bool = True
    ) -> Awaitable[StreamResult]: ...


@dataclass(frozen=True)
class Target:
    """The service the calls go to: how to stream to it, and its process for RSS."""

    stream: Streamer
    pid: int | None = None

    @classmethod
    def parley(cls, server: Server) -> Target:
        return cls(partial(stream_call, server.url), server.pid)


# --- running -------------------------------------------------------------------------


def run_language(target: Target, language: Language, run: RunOptions, data_dir: Path) -> Report:
    """Streams at every level and the non-speech check, then offline on the same calls."""
    report, calls = asyncio.run(measure_streams(target, language, run))
    started = time.monotonic()
    report.offline = transcribe_offline(calls, language, data_dir)
    _progress(f"{language}: offline transcription took {time.monotonic() - started:.0f} s")
    for level in report.levels:
        level.offline_error = figures.offline_error(calls[: level.calls], report.offline)
    report.capacity = figures.capacity(report.levels)
    report.mib_per_extra_session = figures.memory_slope(report.levels)
    return report


async def measure_streams(
    target: Target, language: Language, run: RunOptions
) -> tuple[Report, list[Call]]:
    """Every concurrency level in turn, then the non-speech check, for one language."""
    report = Report(language)
    calls = [callgen.compose(language, run.seed + i, run.call) for i in range(max(run.levels))]
    await warm_up(target, language, run)
    for count in run.levels:
        started = time.monotonic()
        level, results = await stream_level(target, calls[:count], run)
        report.add(level, results)
        _progress(f"{language}: {count} call(s) streamed in {time.monotonic() - started:.0f} s")
    if run.nonspeech_seconds > 0:
        report.nonspeech = await check_nonspeech(target, language, run)
        _progress(f"{language}: non-speech check done")
    return report, calls


async def warm_up(target: Target, language: Language, run: RunOptions) -> None:
    """Two short calls (PCM and μ-law) at full speed, so models, resamplers and buffers are
    in place before anything is timed or the server's idle memory is read."""
    wires: tuple[WireChoice, ...] = ("pcm", "mulaw")
    calls = [
        callgen.compose(language, run.seed + 10_000 + i, CallOptions(seconds=20.0, wire=wire))
        for i, wire in enumerate(wires)
    ]
    results = await asyncio.gather(
        *(target.stream(c, frame_seconds=0.25, realtime=False) for c in calls)
    )
    if errors := [r.error for r in results if r.error]:
        raise RuntimeError(f"warm-up failed: {errors}")


async def stream_level(
    target: Target, calls: Sequence[Call], run: RunOptions
) -> tuple[Level, list[StreamResult]]:
    """Stream ``calls`` at once, starts staggered, and score them (offline error comes later)."""
    rng = np.random.default_rng([run.seed, len(calls)])
    delays = rng.uniform(0.0, STAGGER, len(calls))
    rss = PeakRss(target.pid) if target.pid else None
    async with rss or contextlib.nullcontext():
        results = await asyncio.gather(
            *(
                target.stream(c, frame_seconds=run.frame_seconds, delay=float(d))
                for c, d in zip(calls, delays, strict=True)
            )
        )
    level = figures.score_level(calls[0].language, results)
    if rss is not None:
        level.mib_per_session = (rss.peak - rss.idle) / len(calls)
        level.rss_idle_mib, level.rss_peak_mib = rss.idle, rss.peak
    return level, results


async def check_nonspeech(target: Target, language: Language, run: RunOptions) -> dict[str, Any]:
    """Every non-speech kind on both channels, all at once: finals and partials per kind."""
    calls = [
        Call(
            run.seed + i,
            language,
            nonspeech.stereo(kind, run.nonspeech_seconds, run.seed + i),
            (),
            name=kind,
        )
        for i, kind in enumerate(nonspeech.KINDS)
    ]
    results = await asyncio.gather(
        *(target.stream(c, frame_seconds=run.frame_seconds) for c in calls)
    )
    return {
        r.call.name: {
            "finals": [e.text for e in r.events if e.type == "final"],
            "partials": sum(e.type == "partial" for e in r.events),
            "error": r.error,
        }
        for r in results
    }


def transcribe_offline(calls: Sequence[Call], language: str, data_dir: Path) -> Offline:
    """Each channel of each call, as the server decodes it, through ``transcribe_long``."""
    service = TranscriptionService.from_settings(Settings(data_dir=data_dir))
    try:
        backend = service.backend(language)
        if not isinstance(backend, FileBackend):
            raise TypeError(f"{type(backend).__name__} cannot transcribe whole recordings")
        offline = Offline(str(getattr(backend, "model", "?")))
        for call in calls:
            for channel, audio in enumerate(call.received()):
                started = time.perf_counter()
                result: object = backend.transcribe_long(audio, language=language)
                offline.decode_seconds += time.perf_counter() - started
                offline.audio_seconds += len(audio) / SAMPLE_RATE
                offline.texts[f"{call.name}/{channel}"] = _transcript_text(result, language)
        return offline
    finally:
        service.close()


def _transcript_text(result: object, language: str) -> str:
    """``transcribe_long``'s answer, a segment list or an object with ``.segments``."""
    segments = cast(Sequence[Segment], getattr(result, "segments", result))
    return scoring.join_texts([s.text for s in segments], language)


def _progress(line: str) -> None:
    print(f"  … {line}", file=sys.stderr, flush=True)


# --- command line ----------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    languages: list[Language] = ["en", "zh"] if args.language == "both" else [args.language]
    run = RunOptions(
        levels=tuple(sorted({int(n) for n in args.calls.split(",")})),
        call=CallOptions(seconds=args.seconds, wire=args.wire),
        seed=args.seed,
        frame_seconds=args.frame_ms / 1000,
        nonspeech_seconds=args.nonspeech_seconds,
    )
    with (
        tempfile.TemporaryDirectory(prefix="parley-bench-") as tmp,
        contextlib.ExitStack() as stack,
    ):
        data_dir = Path(tmp)
        server = Server(args.url) if args.url else stack.enter_context(local_server(data_dir))
        printout.print_header(run, server)
        reports = []
        for language in languages:
            reports.append(run_language(Target.parley(server), language, run, data_dir))
            printout.print_report(reports[-1])
    if args.json:
        Path(args.json).write_text(
            json.dumps([figures.report_json(r) for r in reports], indent=2, ensure_ascii=False)
        )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--language", choices=["en", "zh", "both"], default="both")
    parser.add_argument("--calls", default="1,2,4,8", help="concurrency levels, e.g. 1,4,8")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each call")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--frame-ms", type=float, default=100.0, help="audio per WebSocket frame")
    parser.add_argument("--wire", choices=["mixed", "pcm", "mulaw"], default="mixed")
    parser.add_argument("--nonspeech-seconds", type=float, default=30.0, help="0 skips the check")
    parser.add_argument("--url", help="ws://HOST:PORT of a running service (no memory figure)")
    parser.add_argument("--json", help="also write every figure and turn to this file")
    return parser


if __name__ == "__main__":
    main()
