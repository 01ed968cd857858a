"""Streams one composed call to ``/v1/stream`` at real-time pace and records what comes back.

The call's clock starts (``t0``) when the server says ``ready``. Frame ``k`` holds call
audio from ``k·f`` to ``(k+1)·f`` and is sent at ``t0 + (k+1)·f``, the instant its last
sample would have been spoken on a live line, by sleeping to that deadline (never
cumulative sleeps, so the pace does not drift). Events are read concurrently and stamped
with their arrival relative to ``t0``, on the same monotonic clock. If the server's
back-pressure delays a send, later frames go out as soon as they can, and the largest
delay is reported as ``send_lag``.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from benchmarks.callgen import Call
from benchmarks.scoring import Received


@dataclass(slots=True)
class StreamResult:
    """Everything one call's stream produced."""

    call: Call
    events: list[Received] = field(default_factory=list)
    send_lag: float = 0.0
    error: str | None = None
    ended: bool = False
    wall: float = 0.0


def stream_url(base: str, call: Call) -> str:
    """``ws://host:port`` plus the ``/v1/stream`` query announcing the call's wire format."""
    query = call.wire.params(call.language).to_query()
    return f"{base.rstrip('/')}/v1/stream?{urlencode(query)}"


async def stream_call(
    base: str,
    call: Call,
    *,
    frame_seconds: float = 0.1,
    delay: float = 0.0,
    realtime: bool = True,
) -> StreamResult:
    """Wait ``delay`` (staggered starts), then stream ``call`` in real time until ``end``.

    A connection that fails is reported in ``error``, like a stream the server ends with one.
    """
    frames = call.frames(frame_seconds)  # encoded before the start, off the clock
    await asyncio.sleep(delay)
    result = StreamResult(call)
    try:
        await _stream(base, call, frames, frame_seconds if realtime else 0.0, result)
    except (OSError, TimeoutError, InvalidHandshake, ConnectionClosed) as exc:
        result.error = result.error or f"{type(exc).__name__}: {exc}"
    return result


async def _stream(
    base: str, call: Call, frames: list[bytes], pace: float, result: StreamResult
) -> None:
    async with connect(
        stream_url(base, call), compression=None, ping_interval=None, open_timeout=120
    ) as ws:
        ready = json.loads(await ws.recv())
        if ready.get("type") != "ready":
            result.error = f"{ready.get('code')}: {ready.get('message')}"
            return
        t0 = time.monotonic()
        receiver = asyncio.create_task(_receive(ws, t0, result))
        try:
            result.send_lag = await _send(ws, frames, t0, pace)
            await ws.send(json.dumps({"type": "stop"}))
        except ConnectionClosed as exc:
            result.error = result.error or f"connection closed while sending: {exc}"
        await receiver
        result.wall = time.monotonic() - t0


async def _send(ws: ClientConnection, frames: list[bytes], t0: float, seconds: float) -> float:
    """Each frame at its deadline (all at once for ``seconds == 0``); returns the largest
    lateness of a send."""
    lag = 0.0
    for k, frame in enumerate(frames):
        deadline = t0 + (k + 1) * seconds
        wait = deadline - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        await ws.send(frame)
        lag = max(lag, time.monotonic() - deadline)
    return lag


async def _receive(ws: ClientConnection, t0: float, result: StreamResult) -> None:
    """Record partials and finals until ``end``, an ``error`` or the socket closes."""
    try:
        async for raw in ws:
            arrival = time.monotonic() - t0
            message = json.loads(raw)
            kind = message.get("type")
            if kind in ("partial", "final"):
                result.events.append(Received.from_message(message, arrival))
            elif kind == "end":
                result.ended = True
                return
            elif kind == "error":
                result.error = f"{message.get('code')}: {message.get('message')}"
                return
    except ConnectionClosed as exc:
        result.error = result.error or f"connection closed: {exc}"
