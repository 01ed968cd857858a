"""A server killed while a client streams a call's audio: the recording plays back everything
that arrived, and the transcript segments committed so far are kept."""

from __future__ import annotations

import io
import json
import re
import time
import wave
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text
from websockets.sync.client import connect

from tests.e2e.conftest import Server, sign_in
from transcription.audio import WavAudio, read_wav

pytestmark = pytest.mark.model
CALL = "azure_katiesteve.wav"  # two speakers, several turns, 16 kHz mono
SENT_SECONDS = 12


def _start_streamed_call(server: Server) -> dict[str, Any]:
    with httpx.Client(base_url=server.url) as client:
        sign_in(client, "alice")
        case_id = re.search(r'href="/cases/(\d+)">NW-100231<', client.get("/worklist").text)
        assert case_id
        page = client.get(f"/cases/{case_id.group(1)}").text
        token = re.search(r'"X-CSRF-Token": "([^"]+)"', page)
        assert token
        started = client.post(
            f"/cases/{case_id.group(1)}/calls/stream",
            headers={"X-CSRF-Token": token.group(1), "Accept": "application/json"},
        )
    assert started.status_code == 201, started.text
    result: dict[str, Any] = started.json()
    return result


def _segments(server: Server, call_id: int) -> list[str]:
    engine = create_engine(f"sqlite:///{server.data_dir / 'parley.db'}")
    with engine.connect() as conn:
        rows = conn.execute(
            text("select text from transcript_segments where call_id = :c order by start"),
            {"c": call_id},
        ).all()
    engine.dispose()
    return [r.text for r in rows]


def test_a_streamed_calls_recording_survives_a_server_killed_mid_call(
    server: Server, shared_audio: Path
) -> None:
    audio = read_wav(shared_audio / CALL)
    sent = audio.pcm[: SENT_SECONDS * audio.sample_rate * 2]
    started = _start_streamed_call(server)
    call_id = int(started["call_id"])
    recording = server.data_dir / "recordings" / f"call-{call_id}.wav"

    with connect(f"{started['audio_url']}&sample_rate={audio.sample_rate}") as ws:
        assert json.loads(ws.recv())["type"] == "ready"
        for frame in WavAudio(sent, audio.sample_rate, 1).chunks(0.1):
            ws.send(frame)
        deadline = time.monotonic() + 90
        while not (
            recording.exists()
            and recording.stat().st_size == 44 + len(sent)
            and _segments(server, call_id)
        ):
            assert time.monotonic() < deadline, f"the audio was not taken in:\n{server.log()}"
            time.sleep(0.1)
        server.kill()
    kept = _segments(server, call_id)

    server.start()
    with httpx.Client(base_url=server.url) as client:
        sign_in(client, "alice")
        served = client.get(f"/calls/{call_id}/recording")
        page = client.get(f"/calls/{call_id}").text
    assert served.status_code == 200
    with wave.open(io.BytesIO(served.content), "rb") as wav:
        assert (wav.getnchannels(), wav.getframerate()) == (1, audio.sample_rate)
        assert wav.readframes(wav.getnframes()) == sent, "everything received plays back"
    assert _segments(server, call_id) == kept
    assert "Call interrupted" in page
    for segment in kept:
        assert segment.replace("'", "&#39;").replace('"', "&#34;") in page
