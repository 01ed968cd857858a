"""Bad input on /v1/stream: a stable error code, the right close code, nobody else hurt."""

from __future__ import annotations

import io
import wave
from collections.abc import Iterator

import numpy as np
import pytest
from conftest import make_app
from fastapi.testclient import TestClient
from tx_fakes import FakeBackend, say, silence
from tx_wire import collect, stop_and_collect

from transcription.audio import MAX_FRAME_SECONDS
from transcription.service import TranscriptionService


def pcm(samples: np.ndarray) -> bytes:
    return (samples * 32767).astype("<i2").tobytes()


@pytest.fixture
def roomy_client(fake_backend: FakeBackend) -> Iterator[TestClient]:
    """Two sessions allowed, so one can misbehave while the other works."""
    service = TranscriptionService.with_backend(fake_backend, max_sessions=2)
    with TestClient(make_app(service)) as client:
        yield client
    service.close()


def test_an_oversized_frame_is_refused_with_1009(fake_client: TestClient) -> None:
    with fake_client.websocket_connect("/v1/stream?sample_rate=8000") as ws:
        assert ws.receive_json()["type"] == "ready"
        ws.send_bytes(b"\x00\x00" * int(8000 * (MAX_FRAME_SECONDS + 1)))
        error = ws.receive_json()
        assert ws.receive()["code"] == 1009
    assert error["code"] == "frame_too_large" and "per frame" in error["message"]


def test_a_wav_file_sent_as_audio_is_refused_with_a_hint(fake_client: TestClient) -> None:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1), out.setsampwidth(2), out.setframerate(16000)
        out.writeframes(pcm(say("alpha")))
    with fake_client.websocket_connect("/v1/stream") as ws:
        assert ws.receive_json()["type"] == "ready"
        ws.send_bytes(buffer.getvalue())
        error = ws.receive_json()
        assert ws.receive()["code"] == 1007
    assert error["code"] == "not_raw_audio" and "WAV" in error["message"]


def test_freeswitch_metadata_frame_before_audio_is_accepted(
    fake_client: TestClient, fake_backend: FakeBackend
) -> None:
    """mod_audio_fork opens with a JSON object of call metadata, then sends L16 frames."""
    metadata = {"uuid": "6a1f-call", "caller": "+15550100", "hotwords": "Northwind, Zhang Wei"}
    with fake_client.websocket_connect("/v1/stream?sample_rate=16000") as ws:
        assert ws.receive_json()["type"] == "ready"
        ws.send_json(metadata)
        ws.send_bytes(pcm(np.concatenate([say("alpha", "bravo"), silence(1.0)])))
        events = stop_and_collect(ws)
    finals = [e for e in events if e["type"] == "final"]
    assert [f["text"] for f in finals] == ["alpha bravo"]
    assert fake_backend.calls[-1].hotwords == "Northwind Zhang Wei"


def test_metadata_is_only_accepted_before_audio(fake_client: TestClient) -> None:
    with fake_client.websocket_connect("/v1/stream") as ws:
        assert ws.receive_json()["type"] == "ready"
        ws.send_bytes(pcm(silence(0.1)))
        ws.send_json({"uuid": "late"})
        error = ws.receive_json()
        assert ws.receive()["code"] == 1003
    assert error["code"] == "invalid_message"


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (b"\x00\x01\x02", "invalid_frame"),
        (b"RIFF\x24\x08\x00\x00WAVEfmt ", "not_raw_audio"),
        ("{not json", "invalid_message"),
        ('{"type": "stop", "now": true}', "invalid_message"),
    ],
)
def test_a_broken_stream_does_not_disturb_another_call(
    roomy_client: TestClient, frame: bytes | str, code: str
) -> None:
    with roomy_client.websocket_connect("/v1/stream") as healthy:
        assert healthy.receive_json()["type"] == "ready"
        healthy.send_bytes(pcm(say("alpha")))
        with roomy_client.websocket_connect("/v1/stream") as broken:
            assert broken.receive_json()["type"] == "ready"
            if isinstance(frame, bytes):
                broken.send_bytes(frame)
            else:
                broken.send_text(frame)
            error = broken.receive_json()
        healthy.send_bytes(pcm(np.concatenate([say("bravo"), silence(1.0)])))
        healthy.send_json({"type": "stop"})
        events = collect(healthy)
    assert error["code"] == code
    assert " ".join(e["text"] for e in events if e["type"] == "final") == "alpha bravo"
    assert events[-1]["type"] == "end"
