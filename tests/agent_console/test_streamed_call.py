"""Streamed calls: a client streams a call's audio into the console over a real WebSocket,
the real tiny.en model transcribes it, and the audio is kept as the call's recording."""

from __future__ import annotations

import io
import re
import time
import wave
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import WebSocketTestSession
from starlette.websockets import WebSocketDisconnect

from agent_console import service as console_service
from agent_console.app import create_app
from agent_console.recording import WavRecorder, repair
from agent_console.settings import Settings
from case_store import service as case_service
from case_store.models import Call, CallStatus, TranscriptSegment
from tests.agent_console.test_console_views import case_ids, csrf_of, sign_in
from tests.transcription.tx_wire import send_audio, to_mulaw
from transcription import model_store
from transcription.audio import MULAW_TABLE, WavAudio, read_wav
from transcription.model_store import ModelPool
from transcription.schemas import StreamParams
from transcription.service import TranscriptionService, load_backend

pytestmark = pytest.mark.model

STEREO = "speechbrain_stereo_spk1_snt1_and_2.wav"  # agent left, debtor right, 16 kHz
MONO_8K = "deepspeech_LDC93S1_8k.wav"
JOHN = "NW-100231"  # alice's case, in English


@pytest.fixture(scope="module")
def tx_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TranscriptionService]:
    """The real bundled model, loaded once for the module and shared by its apps."""
    load = partial(load_backend, device="auto", cache_dir=tmp_path_factory.mktemp("models"))
    service = TranscriptionService(ModelPool(model_store.DEFAULT_MODELS, load), max_sessions=4)
    yield service
    service.close()


@pytest.fixture
def client(
    committing_engine: Engine, tmp_path: Path, tx_service: TranscriptionService
) -> Iterator[TestClient]:
    """The console with demo data on a fresh SQLite or PostgreSQL database."""
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=committing_engine.url.render_as_string(hide_password=False),
        demo=True,
    )
    with TestClient(create_app(settings, transcription=tx_service)) as test_client:
        yield test_client


def factory(client: TestClient) -> sessionmaker[Session]:
    made: sessionmaker[Session] = client.app.state.session_factory  # type: ignore[attr-defined]
    return made


def start_call(client: TestClient, user: str = "alice", account_ref: str = JOHN) -> dict[str, Any]:
    """Sign in and start a streamed call the way a program does (JSON)."""
    sign_in(client, user)
    case_id = case_ids(client.get("/worklist").text)[account_ref]
    page = client.get(f"/cases/{case_id}").text
    response = client.post(
        f"/cases/{case_id}/calls/stream",
        headers={"X-CSRF-Token": csrf_of(page), "Accept": "application/json"},
    )
    assert response.status_code == 201, response.text
    started: dict[str, Any] = response.json()
    return started


def audio_url(started: dict[str, Any], query: str = "", *, token: bool = True) -> str:
    url = str(started["audio_url"])
    if not token:
        url = url.split("?", 1)[0]
    return url + ("&" if "?" in url else "?") + query if query else url


def stream(ws: WebSocketTestSession, audio: bytes, params: StreamParams) -> None:
    send_audio(ws, WavAudio(audio, params.sample_rate, params.channels))


def finish(ws: WebSocketTestSession) -> list[dict[str, Any]]:
    """``stop``, then every message up to ``end`` (or ``error``) and the close code."""
    ws.send_json({"type": "stop"})
    messages = []
    while not messages or messages[-1]["type"] not in ("end", "error"):
        messages.append(ws.receive_json())
    return messages


def hang_up(client: TestClient, url: str) -> None:
    """End a waiting call with no audio, so no call is left running when the app stops."""
    with client.websocket_connect(url) as ws:
        assert ws.receive_json()["type"] == "ready"
        assert finish(ws)[-1] == {"type": "end"}


def refusal(ws: WebSocketTestSession) -> tuple[str, int]:
    """The ``error`` event's code and the close code that follows it."""
    event = ws.receive_json()
    assert event["type"] == "error", event
    assert event["message"]
    with pytest.raises(WebSocketDisconnect) as closed:
        ws.receive_json()
    return str(event["code"]), closed.value.code


def call_row(client: TestClient, call_id: int) -> Call:
    with factory(client)() as session:
        call = case_service.get_call_or_raise(session=session, call_id=call_id)
        session.expunge(call)
        return call


def segments(client: TestClient, call_id: int) -> list[TranscriptSegment]:
    with factory(client)() as session:
        return list(case_service.list_segments(session=session, call_id=call_id))


def text_of(rows: list[TranscriptSegment], speaker: str) -> str:
    return " ".join(s.text for s in rows if s.speaker == speaker).lower()


def wait_until_ended(client: TestClient, call_id: int, timeout: float = 60.0) -> Call:
    """Poll until the call is no longer live; never a fixed sleep."""
    deadline = time.monotonic() + timeout
    while (call := call_row(client, call_id)).status == CallStatus.LIVE:
        assert time.monotonic() < deadline, "the call never ended"
        time.sleep(0.05)
    return call


def recorded(path: str | None) -> tuple[Any, bytes]:
    """A recording's parameters and its samples."""
    assert path is not None
    with wave.open(path, "rb") as wav:
        return wav.getparams(), wav.readframes(wav.getnframes())


# --- a whole call ---------------------------------------------------------------------


def test_a_streamed_stereo_call_is_transcribed_recorded_and_served(
    client: TestClient, shared_audio: Path
) -> None:
    audio = read_wav(shared_audio / STEREO)
    started = start_call(client)
    call_id = started["call_id"]
    assert started["audio_url"].startswith(f"ws://testserver/calls/{call_id}/audio?token=")

    page = client.get(f"/calls/{call_id}").text
    assert 'data-testid="audio-url"' in page, "the call page shows where to stream the audio"
    with client.websocket_connect(audio_url(started, "sample_rate=16000&channels=2")) as ws:
        assert ws.receive_json() == {"type": "ready", "call_id": call_id}
        send_audio(ws, audio)
        assert finish(ws)[-1] == {"type": "end"}
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert closed.value.code == 1000

    call = call_row(client, call_id)
    assert (call.source, call.status, call.language) == ("stream", CallStatus.COMPLETED, "en")
    rows = segments(client, call_id)
    assert "small dog" in text_of(rows, "agent")
    assert "figures" in text_of(rows, "debtor")
    assert {s.channel for s in rows if s.speaker == "agent"} == {0}

    params, frames = recorded(call.recording)
    assert (params.nchannels, params.framerate, params.sampwidth) == (2, 16000, 2)
    assert frames == audio.pcm, "every sample received is in the recording, as received"
    assert (
        Path(str(call.recording)).parent
        == (client.app.state.settings.data_dir / "recordings").resolve()
    )  # type: ignore[attr-defined]

    whole = client.get(f"/calls/{call_id}/recording")
    assert whole.status_code == 200 and whole.headers["content-type"] == "audio/x-wav"
    assert whole.content == Path(str(call.recording)).read_bytes()
    part = client.get(f"/calls/{call_id}/recording", headers={"Range": "bytes=44-1043"})
    assert part.status_code == 206 and part.content == audio.pcm[:1000]

    page = client.get(f"/calls/{call_id}").text
    assert "Call ended." in page and "small dog" in page.lower()
    assert 'data-testid="audio-url"' not in page, "a call that had its audio offers no socket"


def test_a_bridge_streams_8k_mulaw_with_the_calls_token_and_no_session(
    client: TestClient, shared_audio: Path
) -> None:
    audio = read_wav(shared_audio / MONO_8K)
    wire = to_mulaw(audio)
    started = start_call(client)
    client.cookies.clear()  # a telephony bridge has no console session, only the URL
    url = audio_url(started, "sample_rate=8000&channels=1&encoding=mulaw&language=en")
    with client.websocket_connect(url) as ws:
        assert ws.receive_json()["type"] == "ready"
        stream(ws, wire, StreamParams(8000, 1, "mulaw"))
        assert finish(ws)[-1] == {"type": "end"}

    call = call_row(client, started["call_id"])
    assert "greasy" in text_of(segments(client, call.id), "speaker")
    params, frames = recorded(call.recording)
    assert (params.nchannels, params.framerate, params.sampwidth) == (1, 8000, 2)
    expanded = MULAW_TABLE[list(wire)].astype("<i2").tobytes()
    assert frames == expanded, "μ-law is kept as the 16-bit PCM transcription decoded"


def test_a_waiting_call_is_offered_on_the_case_page_and_watched_live(client: TestClient) -> None:
    started = start_call(client)
    call_id = started["call_id"]
    case_page = client.get(f"/cases/{call_row(client, call_id).case_id}").text
    assert f'href="/calls/{call_id}"' in case_page, "the case page opens the live call"
    with client.websocket_connect(f"/calls/{call_id}/live") as ws:
        snapshot = ws.receive_text()
    assert 'data-status="connecting"' in snapshot and "waiting for its audio" in snapshot
    hang_up(client, audio_url(started))


def test_the_case_page_button_starts_a_call_and_opens_its_page(client: TestClient) -> None:
    sign_in(client, "alice")
    case_id = case_ids(client.get("/worklist").text)[JOHN]
    page = client.get(f"/cases/{case_id}").text
    assert 'data-testid="start-call"' in page
    response = client.post(
        f"/cases/{case_id}/calls/stream",
        headers={"X-CSRF-Token": csrf_of(page), "HX-Request": "true"},
    )
    assert response.status_code == 204
    call_page = client.get(response.headers["HX-Redirect"]).text
    match = re.search(
        r'data-testid="audio-url">(ws://testserver/calls/\d+/audio\?token=[^<]+)<', call_page
    )
    assert match, "the call page shows the audio URL with its token"
    assert 'data-testid="start-mic"' in call_page
    hang_up(client, match.group(1))


# --- bad input ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("sample_rate=12345", "unsupported_sample_rate"),
        ("sample_rate=fast", "unsupported_sample_rate"),
        ("channels=3", "unsupported_channels"),
        ("encoding=opus", "unsupported_encoding"),
        ("language=zh", "unsupported_language"),  # the case is in English
    ],
)
def test_bad_parameters_are_refused_and_the_call_still_waits_for_its_audio(
    client: TestClient, shared_audio: Path, query: str, code: str
) -> None:
    started = start_call(client)
    with client.websocket_connect(audio_url(started, query)) as ws:
        assert refusal(ws) == (code, 1008)
    audio = read_wav(shared_audio / MONO_8K)
    with client.websocket_connect(audio_url(started, "sample_rate=8000")) as ws:
        assert ws.receive_json()["type"] == "ready"
        send_audio(ws, audio)
        assert finish(ws)[-1] == {"type": "end"}
    assert call_row(client, started["call_id"]).status == CallStatus.COMPLETED


@pytest.mark.parametrize(
    ("first", "code", "close"),
    [
        ("hello", "invalid_message", 1003),
        (b"\0" * (5 * 16000 * 2 + 2), "frame_too_large", 1009),
        ('{"type": "start", "sample_rate": 16000}', "invalid_message", 1003),
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", "not_raw_audio", 1007),
        (b"\x01\x02\x03", "invalid_frame", 1007),
    ],
)
def test_a_malformed_first_message_is_refused_with_its_reason(
    client: TestClient, first: str | bytes, code: str, close: int
) -> None:
    started = start_call(client)
    with client.websocket_connect(audio_url(started)) as ws:
        assert ws.receive_json()["type"] == "ready"
        if isinstance(first, bytes):
            ws.send_bytes(first)
        else:
            ws.send_text(first)
        assert refusal(ws) == (code, close)
    call = wait_until_ended(client, started["call_id"])
    assert call.status == CallStatus.INTERRUPTED
    assert not Path(str(call.recording)).exists(), "nothing valid arrived, so nothing is kept"


def test_an_odd_byte_count_mid_call_keeps_the_transcript_and_recording_so_far(
    client: TestClient, shared_audio: Path
) -> None:
    audio = read_wav(shared_audio / STEREO)
    started = start_call(client)
    with client.websocket_connect(audio_url(started, "channels=2")) as ws:
        assert ws.receive_json()["type"] == "ready"
        send_audio(ws, audio)
        ws.send_bytes(b"\x00" * 6)  # 1.5 stereo samples
        assert refusal(ws) == ("invalid_frame", 1007)

    call = wait_until_ended(client, started["call_id"])
    assert call.status == CallStatus.INTERRUPTED
    rows = segments(client, call.id)
    assert "small dog" in text_of(rows, "agent") and "figures" in text_of(rows, "debtor")
    assert recorded(call.recording)[1] == audio.pcm


def test_a_dropped_connection_ends_the_call_interrupted_keeping_what_arrived(
    client: TestClient, shared_audio: Path
) -> None:
    audio = read_wav(shared_audio / STEREO)
    sent = audio.pcm[: len(audio.pcm) // 2 // 4 * 4]  # the first half, whole stereo samples
    started = start_call(client)
    path = Path(str(call_row(client, started["call_id"]).recording))
    with client.websocket_connect(audio_url(started, "channels=2")) as ws:
        assert ws.receive_json()["type"] == "ready"
        stream(ws, sent, StreamParams(16000, 2))
        deadline = time.monotonic() + 30  # the server has taken every frame...
        while not path.exists() or path.stat().st_size < 44 + len(sent):
            assert time.monotonic() < deadline, "the audio never reached the recording"
            time.sleep(0.05)
    # ...and the client leaves without stop

    call = wait_until_ended(client, started["call_id"])
    assert call.status == CallStatus.INTERRUPTED
    assert "child" in text_of(segments(client, call.id), "agent"), "pending speech is finalised"
    assert recorded(call.recording)[1] == sent
    page = client.get(f"/calls/{call.id}").text
    assert "Call interrupted" in page


def test_a_second_audio_connection_is_refused_and_the_first_goes_on(
    client: TestClient, shared_audio: Path
) -> None:
    audio = read_wav(shared_audio / MONO_8K)
    started = start_call(client)
    with client.websocket_connect(audio_url(started, "sample_rate=8000")) as first:
        assert first.receive_json()["type"] == "ready"
        with client.websocket_connect(audio_url(started, "sample_rate=8000")) as second:
            assert refusal(second) == ("audio_already_connected", 1008)
        send_audio(first, audio)
        assert finish(first)[-1] == {"type": "end"}
    call = call_row(client, started["call_id"])
    assert call.status == CallStatus.COMPLETED
    assert recorded(call.recording)[1] == audio.pcm


def test_a_call_nobody_connects_to_ends_interrupted(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(console_service, "AUDIO_CONNECT_TIMEOUT", 0.2)
    started = start_call(client)
    call = wait_until_ended(client, started["call_id"])
    assert call.status == CallStatus.INTERRUPTED
    with client.websocket_connect(audio_url(started)) as ws:
        assert refusal(ws) == ("call_ended", 1008)


# --- access -----------------------------------------------------------------------------


def test_only_the_calls_collector_a_supervisor_or_the_token_may_stream(client: TestClient) -> None:
    started = start_call(client)
    bare = audio_url(started, token=False)
    for user in ("bob", "quinn"):  # another collector; a QA reviewer cannot make calls
        sign_in(client, user)
        with client.websocket_connect(bare) as ws:
            assert refusal(ws) == ("unauthorized", 1008), user
    client.cookies.clear()
    with client.websocket_connect(bare) as ws:
        assert refusal(ws) == ("unauthorized", 1008)
    with client.websocket_connect(bare + "?token=guess") as ws:
        assert refusal(ws) == ("unauthorized", 1008)
    sign_in(client, "alice")
    with client.websocket_connect(bare, headers={"Origin": "http://evil.example"}) as ws:
        assert refusal(ws) == ("forbidden_origin", 1008)
    sign_in(client, "sara")  # a supervisor may stream any call
    with client.websocket_connect(bare) as ws:
        assert ws.receive_json()["type"] == "ready"
        assert finish(ws)[-1] == {"type": "end"}
    assert call_row(client, started["call_id"]).status == CallStatus.COMPLETED


def test_a_token_opens_only_its_own_call(client: TestClient) -> None:
    first, second = start_call(client), start_call(client)
    client.cookies.clear()
    stolen = audio_url(second, token=False) + "?token=" + first["audio_url"].split("token=")[1]
    with client.websocket_connect(stolen) as ws:
        assert refusal(ws) == ("unauthorized", 1008)
    for started in (first, second):
        hang_up(client, audio_url(started))


def test_starting_a_streamed_call_follows_the_case_rules(client: TestClient) -> None:
    sign_in(client, "alice")
    case_id = case_ids(client.get("/worklist").text)[JOHN]
    assert client.post(f"/cases/{case_id}/calls/stream").status_code == 403  # no CSRF token
    sign_in(client, "bob")
    bob_token = csrf_of(client.get("/worklist").text)
    response = client.post(f"/cases/{case_id}/calls/stream", headers={"X-CSRF-Token": bob_token})
    assert response.status_code == 404, "another collector's case does not exist for bob"
    sign_in(client, "quinn")
    quinn_token = csrf_of(client.get(f"/cases/{case_id}").text)
    response = client.post(f"/cases/{case_id}/calls/stream", headers={"X-CSRF-Token": quinn_token})
    assert response.status_code == 403


def test_simulated_and_ended_calls_take_no_audio(client: TestClient) -> None:
    sign_in(client, "alice")
    case_id = case_ids(client.get("/worklist").text)[JOHN]
    page = client.get(f"/cases/{case_id}").text
    simulated = client.post(
        f"/cases/{case_id}/calls/simulate",
        headers={"X-CSRF-Token": csrf_of(page)},
        follow_redirects=False,
    )
    with client.websocket_connect(f"{simulated.headers['location']}/audio") as ws:
        assert refusal(ws) == ("not_a_streamed_call", 1008)
    started = start_call(client)
    hang_up(client, audio_url(started))
    with client.websocket_connect(audio_url(started)) as ws:
        assert refusal(ws) == ("call_ended", 1008)


# --- recordings cut by a crash ----------------------------------------------------------


def test_a_recording_cut_before_its_header_update_is_repaired_when_served(
    client: TestClient, tmp_path: Path
) -> None:
    started = start_call(client)
    with client.websocket_connect(audio_url(started)) as ws:
        assert ws.receive_json()["type"] == "ready"
        ws.send_bytes(b"\x10\x00" * 1600)
        assert finish(ws)[-1] == {"type": "end"}
    call = call_row(client, started["call_id"])
    path = Path(str(call.recording))
    with path.open("ab") as file:  # a frame written, then the server killed before the header
        file.write(b"\x20\x00" * 800)
    assert recorded(call.recording)[0].nframes == 1600

    served = client.get(f"/calls/{call.id}/recording")
    with wave.open(io.BytesIO(served.content), "rb") as wav:
        assert wav.getnframes() == 2400
    assert not repair(path), "a sound header is left alone"


def test_every_write_leaves_a_playable_file(tmp_path: Path) -> None:
    """What a kill mid-call leaves: the header counts every frame written so far."""
    path = tmp_path / "call.wav"
    recorder = WavRecorder(path)
    params = StreamParams(8000, 2, "mulaw")
    for _ in range(3):
        recorder.write(b"\xff\x7f" * 800, params)
        with wave.open(str(path), "rb") as wav:  # read while still open for writing
            assert wav.getnchannels() == 2 and wav.getframerate() == 8000
    with wave.open(str(path), "rb") as wav:
        assert wav.getnframes() == 2400
    recorder.close()
    assert path.stat().st_size == 44 + 2400 * 4


def test_a_chinese_case_is_streamed_in_chinese(client: TestClient) -> None:
    started = start_call(client, "bob", "AX-2108845")
    assert call_row(client, started["call_id"]).language == "zh"
    with client.websocket_connect(audio_url(started, "language=en")) as ws:
        assert refusal(ws) == ("unsupported_language", 1008)
    hang_up(client, audio_url(started, "language=zh"))
    assert call_row(client, started["call_id"]).status == CallStatus.COMPLETED


# --- the docs stay true -----------------------------------------------------------------

DOC = Path(__file__).resolve().parents[2] / "docs" / "console-calls.md"


CODES = {  # every code the audio socket sends: its own and /v1/stream's
    "forbidden_origin",
    "unauthorized",
    "not_a_streamed_call",
    "call_ended",
    "unsupported_sample_rate",
    "unsupported_channels",
    "unsupported_encoding",
    "unsupported_language",
    "audio_already_connected",
    "invalid_frame",
    "not_raw_audio",
    "frame_too_large",
    "invalid_message",
    "too_many_sessions",
}


def test_every_error_code_of_the_audio_socket_is_documented() -> None:
    documented = set(re.findall(r"`([a-z_]+)`", DOC.read_text()))
    assert documented >= CODES, CODES - documented
