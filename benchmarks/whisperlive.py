"""The streaming benchmark run against a WhisperLive server, for a side-by-side comparison.

WhisperLive (collabora/WhisperLive) is a separate project: it is not a dependency of Parley
and is installed and started apart from it (docs/transcription-service.md, "Measuring it").
This module is only our client for its WebSocket protocol, as its own client speaks it:

* the first message is JSON options: ``uid``, ``language``, ``task``, ``model`` and
  ``use_vad``; the server answers ``{"uid", "message": "SERVER_READY", "backend"}`` (or a
  ``status`` of ``WAIT``/``ERROR``);
* then binary frames of float32 16 kHz mono samples, and finally the bytes
  ``END_OF_AUDIO``, after which the server closes the connection;
* the server sends ``{"uid", "segments": [{"start", "end", "text", "completed"}, ...]}``:
  its last few completed segments again each time, plus the segment still in progress.
  Times are seconds of audio since the stream's first sample (as strings).

WhisperLive is mono, so each stereo call is two connections, one per channel, opened
together; the call's clock starts (``t0``) once both have answered ``SERVER_READY``, and
frame ``k`` of both channels is sent at ``t0 + (k+1)·f`` exactly as
``benchmarks.streamclient`` sends ``/v1/stream`` frames. What is sent is each channel as
Parley decodes it from the call's wire format (``Call.received()``: 16 kHz float after the
μ-law or PCM round trip), so both services transcribe the same samples.

Messages become the scorer's events: a ``completed`` segment is a final, recorded once, at
the first arrival of its ``(start, end, text)`` (WhisperLive resends it with every update);
the segment in progress is a partial whenever it changes. Their times are the segment's, or
its first and last word's where ``--extra-options '{"word_timestamps": true}'`` asks for
words (as the scorer takes Parley's). After the last frame the client waits, as
WhisperLive's own client does before ``END_OF_AUDIO``, until nothing new has arrived for
``--settle`` seconds (at most ``--linger``): WhisperLive does not complete the segment in
progress when the audio ends. Everything else (composed calls, staggered starts, scoring,
the offline pass with Parley's model, the printed table) is the code of
``benchmarks.streaming_transcription``, so the figures are computed the same way.

Usage, from the repository root, with WhisperLive listening on PORT:

    .venv/bin/python -m benchmarks.whisperlive --url ws://127.0.0.1:PORT [--language en|zh]
        [--calls 1,2,4] [--seconds 60] [--seed 1] [--server-pid PID] [--json OUT]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, ConnectionClosedOK, InvalidHandshake

from benchmarks import figures, printout
from benchmarks.callgen import Call, CallOptions, Language
from benchmarks.figures import RunOptions
from benchmarks.scoring import Received
from benchmarks.streamclient import StreamResult
from benchmarks.streaming_transcription import Target, run_language
from transcription.streaming import SAMPLE_RATE

END_OF_AUDIO = b"END_OF_AUDIO"
CLOSE_TIMEOUT = 30.0


@dataclass(frozen=True, slots=True)
class Options:
    """What every connection asks WhisperLive for, and how long to wait after the audio."""

    model: str = "tiny.en"
    use_vad: bool = True
    settle: float = 15.0
    linger: float = 60.0
    extra: dict[str, Any] = field(default_factory=dict)

    def handshake(self, uid: str, language: str) -> str:
        return json.dumps(
            {
                "uid": uid,
                "language": language,
                "task": "transcribe",
                "model": self.model,
                "use_vad": self.use_vad,
                **self.extra,
            }
        )


@dataclass(slots=True)
class ChannelState:
    """One connection's state: what is new, and when something new last arrived."""

    channel: int
    uid: str
    seen: set[tuple[str, str, str]] = field(default_factory=set)
    partial: tuple[str, str, str] | None = None
    last_news: float = 0.0
    closed: bool = False


# --- one call ------------------------------------------------------------------------


async def stream_call(
    base: str,
    call: Call,
    options: Options,
    *,
    frame_seconds: float = 0.1,
    delay: float = 0.0,
    realtime: bool = True,
) -> StreamResult:
    """Wait ``delay``, then stream both channels of ``call`` over two connections."""
    frames = channel_frames(call, frame_seconds)  # decoded before the start, off the clock
    await asyncio.sleep(delay)
    result = StreamResult(call)
    try:
        async with contextlib.AsyncExitStack() as stack:
            sockets = [
                await stack.enter_async_context(
                    connect(base, compression=None, ping_interval=None, open_timeout=120)
                )
                for _ in range(2)
            ]
            await _stream(
                sockets, call, frames, options, frame_seconds if realtime else 0.0, result
            )
    except (OSError, TimeoutError, InvalidHandshake, ConnectionClosed) as exc:
        result.error = result.error or f"{type(exc).__name__}: {exc}"
    return result


def channel_frames(call: Call, seconds: float) -> list[list[bytes]]:
    """Per channel, the decoded 16 kHz audio as float32 frames of ``seconds``."""
    size = max(1, round(seconds * SAMPLE_RATE))
    return [
        [audio[i : i + size].astype("<f4").tobytes() for i in range(0, len(audio), size)]
        for audio in call.received()
    ]


async def _stream(
    sockets: list[ClientConnection],
    call: Call,
    frames: list[list[bytes]],
    options: Options,
    pace: float,
    result: StreamResult,
) -> None:
    states = [ChannelState(ch, f"{call.name}-ch{ch}-{uuid.uuid4().hex[:8]}") for ch in (0, 1)]
    for ws, state in zip(sockets, states, strict=True):
        await ws.send(options.handshake(state.uid, call.language))
    for ws in sockets:
        if error := await _ready(ws):
            result.error = error
            return
    t0 = time.monotonic()
    receivers = [
        asyncio.create_task(_receive(ws, state, t0, result))
        for ws, state in zip(sockets, states, strict=True)
    ]
    try:
        result.send_lag = await _send(sockets, frames, t0, pace)
        await _settle(states, t0, options)
        for ws in sockets:
            await ws.send(END_OF_AUDIO)
    except ConnectionClosed as exc:
        result.error = result.error or f"connection closed while sending: {exc}"
    _, pending = await asyncio.wait(receivers, timeout=CLOSE_TIMEOUT)
    for task in pending:
        task.cancel()
    result.ended = not pending and all(s.closed for s in states)
    result.wall = time.monotonic() - t0


async def _ready(ws: ClientConnection) -> str | None:
    """Wait for ``SERVER_READY``; a ``WAIT`` or ``ERROR`` status is the error returned."""
    while True:
        message = json.loads(await ws.recv())
        if message.get("message") == "SERVER_READY":
            return None
        if message.get("status") in ("WAIT", "ERROR"):
            return f"{message['status']}: {message.get('message')}"


async def _send(
    sockets: list[ClientConnection], frames: list[list[bytes]], t0: float, seconds: float
) -> float:
    """Frame ``k`` of every channel at its deadline; returns the largest lateness."""
    lag = 0.0
    for k, channel_frames in enumerate(zip(*frames, strict=True)):
        deadline = t0 + (k + 1) * seconds
        wait = deadline - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        for ws, frame in zip(sockets, channel_frames, strict=True):
            await ws.send(frame)
        lag = max(lag, time.monotonic() - deadline)
    return lag


async def _settle(states: Sequence[ChannelState], t0: float, options: Options) -> None:
    """Until no channel has had news for ``settle`` s, or ``linger`` s after the audio."""
    last_frame = time.monotonic()
    while time.monotonic() - last_frame < options.linger:
        newest = max(last_frame - t0, *(s.last_news for s in states))
        if time.monotonic() - t0 - newest >= options.settle or all(s.closed for s in states):
            return
        await asyncio.sleep(0.1)


async def _receive(
    ws: ClientConnection, state: ChannelState, t0: float, result: StreamResult
) -> None:
    """Record new finals and changed partials until the server closes the connection."""
    try:
        async for raw in ws:
            arrival = time.monotonic() - t0
            message = json.loads(raw)
            if message.get("status") == "ERROR":
                result.error = result.error or f"ERROR: {message.get('message')}"
            for event in segment_events(message.get("segments") or [], state, arrival):
                result.events.append(event)
                state.last_news = arrival
        state.closed = True
    except ConnectionClosedOK:
        state.closed = True
    except ConnectionClosed as exc:
        result.error = result.error or f"connection closed: {exc}"


def segment_events(
    segments: Sequence[dict[str, Any]], state: ChannelState, arrival: float
) -> list[Received]:
    """Completed segments not seen before as finals; a changed in-progress one as a partial."""
    events = []
    for segment in segments:
        key = (str(segment["start"]), str(segment["end"]), str(segment["text"]))
        if segment.get("completed"):
            if key not in state.seen:
                state.seen.add(key)
                events.append(_event("final", state.channel, segment, arrival))
        elif key != state.partial:
            state.partial = key
            events.append(_event("partial", state.channel, segment, arrival))
    return events


def _event(kind: str, channel: int, segment: dict[str, Any], arrival: float) -> Received:
    """Times from the word list where the segment has one (``word_timestamps``), as
    ``Received.from_message`` takes them from Parley's events."""
    words = segment.get("words") or []
    start = words[0]["start"] if words else segment["start"]
    end = words[-1]["end"] if words else segment["end"]
    return Received(kind, channel, str(segment["text"]), float(start), float(end), arrival)


# --- levels, as benchmarks.streaming_transcription runs them ---------------------------


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
    options = Options(
        model=args.model,
        use_vad=not args.no_vad,
        settle=args.settle,
        linger=args.linger,
        extra=json.loads(args.extra_options) if args.extra_options else {},
    )
    print("Streaming transcription — stereo calls at real-time pace through WhisperLive")
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPU cores; server at {args.url}"
        f"{f' (pid {args.server_pid})' if args.server_pid else ''}, one connection per channel;"
        f" calls of {run.call.seconds:.0f} s, {run.frame_seconds * 1000:.0f} ms frames,"
        f" seed {run.seed}"
    )
    extra = f", {json.dumps(options.extra)}" if options.extra else ""
    print(
        f"options: model {options.model}, use_vad {str(options.use_vad).lower()}{extra}; "
        f"END_OF_AUDIO after {options.settle:.0f} s without news (at most {options.linger:.0f} s)"
    )
    target = Target(partial(stream_call, args.url, options=options), args.server_pid)
    reports = []
    with tempfile.TemporaryDirectory(prefix="parley-bench-") as tmp:
        for language in languages:
            reports.append(run_language(target, language, run, Path(tmp)))
            printout.print_report(reports[-1])
    if args.json:
        Path(args.json).write_text(
            json.dumps([figures.report_json(r) for r in reports], indent=2, ensure_ascii=False)
        )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--url", required=True, help="ws://HOST:PORT of a WhisperLive server")
    parser.add_argument("--language", choices=["en", "zh", "both"], default="en")
    parser.add_argument("--calls", default="1,2,4", help="concurrency levels, e.g. 1,2,4")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each call")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--frame-ms", type=float, default=100.0, help="audio per WebSocket frame")
    parser.add_argument("--wire", choices=["mixed", "pcm", "mulaw"], default="mixed")
    parser.add_argument("--nonspeech-seconds", type=float, default=30.0, help="0 skips the check")
    parser.add_argument("--model", default="tiny.en", help="model named in the options message")
    parser.add_argument("--no-vad", action="store_true", help="send use_vad false")
    parser.add_argument(
        "--extra-options",
        help="JSON merged into the options message, e.g. '{\"word_timestamps\": true}'",
    )
    parser.add_argument(
        "--settle", type=float, default=15.0, help="quiet seconds before END_OF_AUDIO"
    )
    parser.add_argument(
        "--linger", type=float, default=60.0, help="most seconds waited after the audio"
    )
    parser.add_argument("--server-pid", type=int, help="server process, for its memory figures")
    parser.add_argument("--json", help="also write every figure and turn to this file")
    return parser


if __name__ == "__main__":
    main()
