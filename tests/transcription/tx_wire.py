"""Helpers to drive the WebSocket protocol from tests: audio in, every event out."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
from starlette.testclient import WebSocketTestSession

from transcription.audio import MULAW_TABLE, WavAudio, read_wav


def send_audio(
    ws: WebSocketTestSession, audio: WavAudio, seconds: float = 0.1, *, real_time_for: float = 0.0
) -> None:
    """Send ``audio`` in chunks: the first ``real_time_for`` seconds paced like a live call
    (partials only exist while the speaker is still talking), the rest at once."""
    for index, chunk in enumerate(audio.chunks(seconds)):
        if index * seconds < real_time_for:
            time.sleep(seconds)
        ws.send_bytes(chunk)


def stop_and_collect(ws: WebSocketTestSession) -> list[dict[str, Any]]:
    """Send ``stop``; return every event up to and including ``end``."""
    ws.send_json({"type": "stop"})
    return collect(ws)


def collect(ws: WebSocketTestSession) -> list[dict[str, Any]]:
    """Every event up to and including ``end`` (or ``error``)."""
    events = []
    while True:
        event = ws.receive_json()
        events.append(event)
        if event["type"] in ("end", "error"):
            return events


def stereo(left: WavAudio, right: WavAudio, *, right_delay: float = 0.0) -> WavAudio:
    """Two mono recordings as one stereo stream, the right one starting later."""
    assert left.sample_rate == right.sample_rate and left.channels == right.channels == 1
    a = np.frombuffer(left.pcm, dtype="<i2")
    b = np.concatenate(
        [np.zeros(round(right_delay * right.sample_rate), "<i2"), np.frombuffer(right.pcm, "<i2")]
    )
    n = max(len(a), len(b)) + right.sample_rate  # one second of trailing silence
    frames = np.zeros((n, 2), dtype="<i2")
    frames[: len(a), 0] = a
    frames[: len(b), 1] = b
    return WavAudio(frames.tobytes(), left.sample_rate, 2)


def to_mulaw(audio: WavAudio) -> bytes:
    """Encode pcm_s16le as G.711 μ-law by nearest code word (test-side encoder)."""
    samples = np.frombuffer(audio.pcm, dtype="<i2").astype(np.int32)
    order = np.argsort(MULAW_TABLE)
    table = MULAW_TABLE[order].astype(np.int32)
    index = np.clip(np.searchsorted(table, samples), 1, 255)
    nearer_left = samples - table[index - 1] < table[index] - samples
    return order[index - nearer_left].astype(np.uint8).tobytes()


def wav(shared_audio: Path, name: str) -> WavAudio:
    return read_wav(shared_audio / name)


def text_of(events: list[dict[str, Any]], channel: int | None = None) -> str:
    return " ".join(
        e["text"] for e in events if e["type"] == "final" and channel in (None, e["channel"])
    ).lower()
