"""The /v1/stream protocol end to end: real tiny.en on real recordings, bad input refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect
from tx_fakes import FakeBackend, say, silence
from tx_wire import send_audio, stereo, stop_and_collect, text_of, to_mulaw, wav

from transcription.audio import WavAudio
from transcription.service import TranscriptionService

LIBRISPEECH = "wenet_librispeech-1995-1837-0001.wav"


def assert_well_formed(events: list[dict[str, Any]], duration: float) -> None:
    """Partials and finals only, then ``end``; every final timed inside the audio."""
    assert events[-1] == {"type": "end"}
    assert {e["type"] for e in events[:-1]} <= {"partial", "final"}
    for final in (e for e in events if e["type"] == "final"):
        assert 0 <= final["start"] <= final["end"] <= duration + 0.05
        assert final["words"], final
        for word in final["words"]:
            assert set(word) == {"word", "start", "end", "probability"}
            assert final["start"] - 1e-3 <= word["start"] <= word["end"] <= final["end"] + 1e-3


def fake_pcm(samples: Any) -> bytes:
    return (samples * 32767).astype("<i2").tobytes()


@pytest.mark.model
def test_mono_16k_call_streams_ready_partials_finals_and_end(
    tx_client: TestClient, shared_audio: Path
) -> None:
    audio = wav(shared_audio, LIBRISPEECH)
    with tx_client.websocket_connect("/v1/stream?sample_rate=16000&channels=1&language=en") as ws:
        ready = ws.receive_json()
        send_audio(ws, audio, real_time_for=3.0)  # drafts exist while someone is speaking
        events = stop_and_collect(ws)
        assert ws.receive()["code"] == 1000
    assert ready["type"] == "ready" and ready["session_id"]
    assert_well_formed(events, audio.duration)
    assert "sorrow" in text_of(events) and "cotton" in text_of(events)
    assert any(e["type"] == "partial" for e in events)
    assert {(e["channel"], e["speaker"]) for e in events[:-1]} == {(0, "speaker")}


@pytest.mark.model
def test_stereo_call_labels_agent_left_and_debtor_right(
    tx_client: TestClient, shared_audio: Path
) -> None:
    agent = wav(shared_audio, "speechbrain_spk1_snt1.wav")  # the child almost hurt the small dog
    debtor = wav(shared_audio, "deepspeech_LDC93S1.wav")  # she had your dark suit in greasy...
    call = stereo(agent, debtor, right_delay=3.5)
    with tx_client.websocket_connect("/v1/stream?channels=2&language=en") as ws:
        assert ws.receive_json()["type"] == "ready"
        send_audio(ws, call)
        events = stop_and_collect(ws)
    assert_well_formed(events, call.duration)
    assert "child" in text_of(events, channel=0) and "child" not in text_of(events, channel=1)
    # "greasy", not "water": tiny.en hears "wash water" or "wash for" by a hair either way
    assert "greasy" in text_of(events, channel=1) and "greasy" not in text_of(events, channel=0)
    debtor_finals = [e for e in events if e["type"] == "final" and e["channel"] == 1]
    assert {(e["channel"], e["speaker"]) for e in events[:-1]} == {(0, "agent"), (1, "debtor")}
    assert min(e["start"] for e in debtor_finals) >= 3.4


@pytest.mark.model
@pytest.mark.parametrize("encoding", ["pcm_s16le", "mulaw"])
def test_8khz_telephone_audio_is_resampled(
    tx_client: TestClient, shared_audio: Path, encoding: str
) -> None:
    audio = wav(shared_audio, "deepspeech_LDC93S1_8k.wav")
    frames = audio.chunks(0.1)
    if encoding == "mulaw":
        frames = [to_mulaw(WavAudio(f, audio.sample_rate, 1)) for f in frames]
    url = f"/v1/stream?sample_rate=8000&encoding={encoding}&language=en"
    with tx_client.websocket_connect(url) as ws:
        assert ws.receive_json()["type"] == "ready"
        for frame in frames:
            ws.send_bytes(frame)
        events = stop_and_collect(ws)
    assert_well_formed(events, audio.duration)
    assert "suit" in text_of(events) or "water" in text_of(events)


@pytest.mark.model
def test_server_keeps_serving_after_a_broken_stream(
    tx_client: TestClient, tx_service: TranscriptionService, shared_audio: Path
) -> None:
    with tx_client.websocket_connect("/v1/stream?language=en") as ws:
        assert ws.receive_json()["type"] == "ready"
        ws.send_bytes(b"\x00\x01\x02")
        assert ws.receive_json()["code"] == "invalid_frame"
    assert tx_service.active_sessions == 0
    audio = wav(shared_audio, "deepspeech_new-home-in-the-stars-16k.wav")
    with tx_client.websocket_connect("/v1/stream?language=en") as ws:
        assert ws.receive_json()["type"] == "ready"
        send_audio(ws, audio)
        events = stop_and_collect(ws)
    assert "stars" in text_of(events)


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("sample_rate=11025", "unsupported_sample_rate"),
        ("sample_rate=fast", "unsupported_sample_rate"),
        ("channels=3", "unsupported_channels"),
        ("encoding=alaw", "unsupported_encoding"),
        ("language=fr", "unsupported_language"),
    ],
)
def test_unsupported_parameters_are_refused_with_1008(
    fake_client: TestClient, query: str, code: str
) -> None:
    with fake_client.websocket_connect(f"/v1/stream?{query}") as ws:
        error = ws.receive_json()
        assert ws.receive()["code"] == 1008
    assert error["type"] == "error" and error["code"] == code and error["message"]


@pytest.mark.parametrize(("query", "frame"), [("", b"\x00" * 3), ("channels=2", b"\x00" * 6)])
def test_frames_that_tear_a_sample_are_refused_with_1007(
    fake_client: TestClient, query: str, frame: bytes
) -> None:
    with fake_client.websocket_connect(f"/v1/stream?{query}") as ws:
        assert ws.receive_json()["type"] == "ready"
        ws.send_bytes(frame)
        error = ws.receive_json()
        assert ws.receive()["code"] == 1007
    assert error["code"] == "invalid_frame"


@pytest.mark.parametrize(
    "text", ["hello", '{"type": "pause"}', "[]", '{"type": "context", "hotwords": 5}']
)
def test_text_frames_that_are_not_commands_are_refused_with_1003(
    fake_client: TestClient, text: str
) -> None:
    with fake_client.websocket_connect("/v1/stream") as ws:
        assert ws.receive_json()["type"] == "ready"
        ws.send_text(text)
        error = ws.receive_json()
        assert ws.receive()["code"] == 1003
    assert error["code"] == "invalid_message"


def test_session_limit_refuses_with_1013_then_frees_the_slot(fake_client: TestClient) -> None:
    with fake_client.websocket_connect("/v1/stream") as first:
        assert first.receive_json()["type"] == "ready"
        with fake_client.websocket_connect("/v1/stream") as second:
            error = second.receive_json()
            assert second.receive()["code"] == 1013
        assert error["code"] == "too_many_sessions"
    with fake_client.websocket_connect("/v1/stream") as third:
        assert third.receive_json()["type"] == "ready"


def test_context_hints_reach_the_recogniser(
    fake_client: TestClient, fake_backend: FakeBackend
) -> None:
    with fake_client.websocket_connect("/v1/stream?language=zh") as ws:
        assert ws.receive_json()["type"] == "ready"
        ws.send_json({"type": "context", "hotwords": ["分期", "还款"], "prompt": "催收电话"})
        ws.send_bytes(fake_pcm(say("alpha", "bravo")))
        events = stop_and_collect(ws)
    assert [e["type"] for e in events][-2:] == ["final", "end"]
    call = fake_backend.calls[-1]
    assert (call.language, call.prompt, call.hotwords) == ("zh", "催收电话", "分期 还款")


def test_client_leaving_mid_call_releases_the_session(
    fake_client: TestClient, fake_service: TranscriptionService
) -> None:
    with fake_client.websocket_connect("/v1/stream") as ws:
        assert ws.receive_json()["type"] == "ready"
        ws.send_bytes(fake_pcm(say("alpha")))
    assert fake_service.active_sessions == 0


def test_unexpected_failure_is_reported_without_internals(
    fake_client: TestClient, fake_backend: FakeBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*args: object, **kwargs: object) -> Any:
        raise ZeroDivisionError("secret internals")

    monkeypatch.setattr(fake_backend, "voice_detector", lambda: explode)
    with fake_client.websocket_connect("/v1/stream") as ws:
        assert ws.receive_json()["type"] == "ready"
        ws.send_bytes(fake_pcm(silence(1.0)))
        error = ws.receive_json()
        assert ws.receive()["code"] == 1011
    assert error == {"type": "error", "code": "internal_error", "message": "internal server error"}


def test_connecting_needs_no_parameters(fake_client: TestClient) -> None:
    with fake_client.websocket_connect("/v1/stream") as ws:
        assert ws.receive_json()["type"] == "ready"
        assert stop_and_collect(ws) == [{"type": "end"}]
        with pytest.raises(WebSocketDisconnect):
            ws.receive_json()


@pytest.mark.model
def test_mandarin_uses_the_multilingual_model_and_simplified_script(
    tx_client: TestClient, shared_audio: Path
) -> None:
    audio = wav(shared_audio, "firered_BAC009S0764W0121.wav")  # 甚至出现交易几乎停滞的情况
    with tx_client.websocket_connect("/v1/stream?language=zh") as ws:
        assert ws.receive_json()["type"] == "ready"
        send_audio(ws, audio)
        events = stop_and_collect(ws)
    assert_well_formed(events, audio.duration)
    text = text_of(events)
    assert "交易" in text and "出现" in text
    assert "現" not in text and "見" not in text  # Traditional forms converted
