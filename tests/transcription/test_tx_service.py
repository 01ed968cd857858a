"""Sessions over the shared backend: parameters, limits, model choice, load shedding."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tx_fakes import FakeBackend, fake_detector, say, silence

from agent_console.settings import Settings
from transcription.audio import AudioFormatError
from transcription.schemas import StreamParams, parse_client_message, parse_stream_params
from transcription.service import (
    LiveSession,
    ParamError,
    SessionLimitError,
    TranscriptionService,
)
from transcription.streaming import (
    Backend,
    Context,
    Request,
    Segment,
    StreamPolicy,
    VoiceDetector,
)


def pcm(samples: np.ndarray) -> bytes:
    return (samples * 32767).astype("<i2").tobytes()


def test_query_parameters_parse_with_defaults() -> None:
    assert parse_stream_params({}) == StreamParams(16000, 1, "pcm_s16le", None)
    query = {"sample_rate": "8000", "channels": "2", "encoding": "mulaw", "language": "zh"}
    params = parse_stream_params(query)
    assert params == StreamParams(8000, 2, "mulaw", "zh")
    assert parse_stream_params(params.to_query()) == params
    assert parse_stream_params({"language": "auto"}).language is None


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ({"sample_rate": "22050"}, "unsupported_sample_rate"),
        ({"channels": "two"}, "unsupported_channels"),
        ({"channels": "0"}, "unsupported_channels"),
        ({"encoding": "opus"}, "unsupported_encoding"),
        ({"language": "de"}, "unsupported_language"),
    ],
)
def test_bad_parameters_raise_stable_codes(query: dict[str, str], code: str) -> None:
    with pytest.raises(ParamError) as error:
        parse_stream_params(query)
    assert error.value.code == code


def test_client_messages_are_validated() -> None:
    assert parse_client_message('{"type":"stop"}').type == "stop"
    context = parse_client_message('{"type":"context","hotwords":["a"],"prompt":"p"}')
    assert context.type == "context" and context.hotwords == ["a"] and context.prompt == "p"


def test_a_session_transcribes_and_ends() -> None:
    async def scenario() -> list[dict[str, object]]:
        service = TranscriptionService.with_backend(FakeBackend())
        try:
            async with service.session(StreamParams()) as live:
                events = await live.feed(pcm(np.concatenate([say("alpha", "bravo"), silence(1)])))
                events += await live.feed(pcm(say("charlie")))
                return events + await live.finish()
        finally:
            service.close()

    events = asyncio.run(scenario())
    assert [(e["type"], e.get("text")) for e in events if e["type"] != "partial"] == [
        ("final", "alpha bravo"),
        ("final", "charlie"),
        ("end", None),
    ]


def test_sessions_beyond_the_limit_are_refused_and_slots_come_back() -> None:
    async def scenario() -> None:
        service = TranscriptionService.with_backend(FakeBackend(), max_sessions=2)
        try:
            async with service.session(StreamParams()), service.session(StreamParams()):
                assert service.active_sessions == 2
                with pytest.raises(SessionLimitError) as error:
                    async with service.session(StreamParams()):
                        pass
                assert error.value.code == "too_many_sessions"
            assert service.active_sessions == 0
        finally:
            service.close()

    asyncio.run(scenario())


def test_torn_frame_raises_before_any_inference() -> None:
    async def scenario() -> None:
        backend = FakeBackend()
        service = TranscriptionService.with_backend(backend)
        try:
            async with service.session(StreamParams(channels=2)) as live:
                with pytest.raises(AudioFormatError):
                    await live.feed(b"\x00\x00")
        finally:
            service.close()

    asyncio.run(scenario())


def test_recognition_runs_on_one_worker_and_voice_activity_on_another() -> None:
    """Neither blocks the event loop, and end-of-turn detection never queues behind a decode."""
    recognised: set[str] = set()
    detected: set[str] = set()

    class Spy(FakeBackend):
        def transcribe(self, audio: np.ndarray, **options: Any) -> list[Segment]:
            recognised.add(threading.current_thread().name)
            return super().transcribe(audio, **options)

        def voice_detector(self) -> VoiceDetector:
            def detector(frames: np.ndarray) -> np.ndarray:
                detected.add(threading.current_thread().name)
                return fake_detector(frames)

            return detector

    async def one_call() -> None:
        async with service.session(StreamParams()) as live:
            await live.feed(pcm(say("alpha", "bravo")))
            await live.finish()

    async def scenario() -> None:
        await asyncio.gather(*(one_call() for _ in range(3)))

    service = TranscriptionService.with_backend(Spy())
    try:
        asyncio.run(scenario())
    finally:
        service.close()
    assert len(recognised) == 1 and next(iter(recognised)).startswith("parley-asr")
    assert len(detected) == 1 and next(iter(detected)).startswith("parley-vad")


def test_finals_jump_the_queue_and_stale_partials_are_dropped() -> None:
    """With the worker busy, a final queued after partials runs first; old partials expire."""
    order: list[str] = []
    gate = threading.Event()

    async def scenario() -> list[str]:
        service = TranscriptionService.with_backend(FakeBackend(), partial_max_age=0.0)
        try:
            blocker = service.run_offline(gate.wait)
            task = asyncio.ensure_future(blocker)
            backend = FakeBackend()
            utterance = say("alpha")
            drafts = [
                service.recognise(backend, Request("partial", 0, utterance, 0, 1, Context()))
                for _ in range(3)
            ]
            final = service.recognise(backend, Request("final", 0, utterance, 0, 1, Context()))
            for future, name in [*zip(drafts, "abc", strict=True), (final, "final")]:
                future.add_done_callback(lambda f, n=name: order.append(f"{n}:{len(f.result())}"))
            gate.set()
            await asyncio.gather(task, final, *drafts)
            dropped = service.metrics.partials_dropped._value.get()
            return [*order, f"dropped:{int(dropped)}"]
        finally:
            service.close()

    assert asyncio.run(scenario()) == ["final:1", "a:0", "b:0", "c:0", "dropped:3"]


def test_a_file_replayed_faster_than_real_time_keeps_memory_bounded() -> None:
    """feed() waits for the worker once too much of this session's audio is queued."""
    gate = threading.Event()

    class Slow(FakeBackend):
        def transcribe(self, audio: np.ndarray, **options: Any) -> list[Segment]:
            gate.wait()
            return super().transcribe(audio, **options)

    async def scenario() -> bool:
        service = TranscriptionService.with_backend(Slow())
        try:
            async with service.session(StreamParams()) as live:
                utterance = pcm(np.concatenate([say("alpha", "bravo"), silence(0.8)]))
                feeds = asyncio.ensure_future(_feed_many(live, utterance, 40))
                await asyncio.sleep(0.2)
                blocked = not feeds.done()
                gate.set()
                await feeds
                await live.finish()
                return blocked
        finally:
            service.close()

    assert asyncio.run(scenario())


async def _feed_many(live: LiveSession, frame: bytes, times: int) -> None:
    for _ in range(times):
        await live.feed(frame)


def test_partials_are_skipped_while_the_worker_is_backed_up() -> None:
    async def scenario(overloaded: bool) -> list[str]:
        service = TranscriptionService.with_backend(FakeBackend())
        service.overloaded = lambda: overloaded  # type: ignore[method-assign]
        try:
            async with service.session(StreamParams()) as live:
                events = await live.feed(pcm(say("alpha", "bravo", "charlie")))
                if not overloaded:
                    events += await live.poll()
                return [str(e["type"]) for e in events + await live.finish()]
        finally:
            service.close()

    assert "partial" in asyncio.run(scenario(False))
    assert asyncio.run(scenario(True)) == ["final", "end"]


def test_settings_choose_trailing_silence_script_workers_and_window(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    loads: list[dict[str, Any]] = []

    def fake_load(model: str, **options: Any) -> Backend:
        loads.append({"model": model, **options})
        return FakeBackend()

    monkeypatch.setattr("transcription.service.load_backend", fake_load)
    settings = Settings(
        data_dir=tmp_path,
        end_of_turn_silence=1.2,
        simplified_chinese=False,
        inference_workers=3,
        live_window=15.0,
    )
    service = TranscriptionService.from_settings(settings)
    try:
        service.backend("zh")
        assert service.policy.min_silence == 1.2
        assert loads == [
            {
                "model": "base",
                "device": "auto",
                "cache_dir": tmp_path / "models",
                "workers": 3,
                "simplified_chinese": False,
                "live_window": 15.0,
            }
        ]
    finally:
        service.close()


def test_a_failed_decode_costs_one_utterance_not_the_call() -> None:
    class Flaky(FakeBackend):
        failed = False

        def transcribe(self, audio: np.ndarray, **options: Any) -> list[Segment]:
            if not options.get("partial") and not self.failed:
                self.failed = True
                raise RuntimeError("CUDA out of memory")
            return super().transcribe(audio, **options)

    async def scenario() -> list[str]:
        service = TranscriptionService.with_backend(Flaky(), policy=StreamPolicy(early_final=None))
        try:
            async with service.session(StreamParams()) as live:
                speech = np.concatenate([say("alpha"), silence(1.0), say("bravo"), silence(1.0)])
                events = await live.feed(pcm(speech))
                events += await live.finish()
                return [str(e.get("text", e["type"])) for e in events if e["type"] != "partial"]
        finally:
            service.close()

    assert asyncio.run(scenario()) == ["bravo", "end"]
