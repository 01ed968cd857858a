"""Sessions over the shared backend: parameters, limits, model choice, load shedding."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from tx_fakes import FakeBackend, say, silence

from transcription.audio import AudioFormatError
from transcription.schemas import StreamParams, parse_client_message, parse_stream_params
from transcription.service import (
    ModelPool,
    ParamError,
    SessionLimitError,
    TranscriptionService,
)
from transcription.streaming import Backend


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


def test_model_pool_serves_english_from_tiny_en_and_the_rest_from_base() -> None:
    loads: list[str] = []

    def load(name: str) -> Backend:
        loads.append(name)
        return FakeBackend()

    pool = ModelPool("tiny.en", load)
    assert pool("en") is pool("en")
    assert pool("zh") is pool(None)
    assert pool("en") is not pool("zh")
    assert loads == ["tiny.en", "base"]
    assert ModelPool("small", load).model_for("zh") == "small"


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


def test_inference_runs_on_one_worker_thread_off_the_loop() -> None:
    threads: set[str] = set()

    class Spy(FakeBackend):
        def speech_spans(self, audio: np.ndarray) -> list[tuple[float, float]]:
            import threading

            threads.add(threading.current_thread().name)
            return super().speech_spans(audio)

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
    assert len(threads) == 1 and next(iter(threads)).startswith("parley-asr")


def test_partials_are_skipped_while_the_worker_is_backed_up() -> None:
    async def scenario(overloaded: bool) -> list[str]:
        service = TranscriptionService.with_backend(FakeBackend())
        service.overloaded = lambda: overloaded  # type: ignore[method-assign]
        try:
            async with service.session(StreamParams()) as live:
                events = await live.feed(pcm(say("alpha", "bravo", "charlie")))
                return [str(e["type"]) for e in events + await live.finish()]
        finally:
            service.close()

    assert "partial" in asyncio.run(scenario(False))
    assert asyncio.run(scenario(True)) == ["final", "end"]
