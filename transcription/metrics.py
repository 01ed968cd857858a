"""Prometheus metrics of the transcription service, in a registry of its own.

Each :class:`~transcription.service.TranscriptionService` owns one
:class:`ServiceMetrics`, so tests and several apps in one process never share counters
(prometheus_client's global registry would reject the second registration).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

DECODE_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0, 10.0)


class ServiceMetrics:
    """Sessions, audio, decode time, queue depth and shed partials, as an operator needs them."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.sessions_active = Gauge(
            "parley_transcription_sessions_active", "Live streams now open.", registry=r
        )
        self.sessions_started = Counter(
            "parley_transcription_sessions", "Live streams accepted.", registry=r
        )
        self.sessions_refused = Counter(
            "parley_transcription_sessions_refused",
            "Live streams refused because the session limit was reached.",
            registry=r,
        )
        self.audio_seconds = Counter(
            "parley_transcription_audio_seconds",
            "Seconds of audio received, per channel.",
            registry=r,
        )
        self.decode_seconds = Histogram(
            "parley_transcription_decode_seconds",
            "Wall time of one model call, by kind (vad, partial, final, offline).",
            ["kind"],
            buckets=DECODE_BUCKETS,
            registry=r,
        )
        self.queue_depth = Gauge(
            "parley_transcription_queue_depth",
            "Inference jobs waiting for the worker.",
            registry=r,
        )
        self.events = Counter(
            "parley_transcription_events", "Events sent to clients, by type.", ["type"], registry=r
        )
        self.partials_dropped = Counter(
            "parley_transcription_partials_dropped",
            "Partial hypotheses skipped to keep finals on time under load.",
            registry=r,
        )

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric above."""
        return generate_latest(self.registry)
