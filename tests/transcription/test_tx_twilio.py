"""Twilio Media Streams: the track aligner, replayed calls on real tiny.en, bad input refused."""

from __future__ import annotations

import base64
import json
import random
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soxr
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketTestSession
from tx_fakes import FakeBackend, say, silence
from tx_wire import collect, text_of, to_mulaw

from transcription.audio import AudioFormatError, WavAudio, read_wav
from transcription.schemas import MessageError, ParamError
from transcription.service import SessionLimitError, TranscriptionService
from transcription.twilio import TrackAligner
from transcription.views import CLOSE_CODES, AccessError

URL = "/v1/twilio/stream"
SID = "MZ00000000000000000000000000000001"
PACKET = 160  # 20 ms of 8 kHz μ-law
DOC = Path(__file__).resolve().parents[2] / "docs" / "twilio-media-streams.md"

Message = dict[str, Any]


# -- the aligner ---------------------------------------------------------------------------


def packet(value: int) -> bytes:
    return bytes([value]) * PACKET


def channels_of(stereo: bytes) -> tuple[bytes, bytes]:
    return stereo[0::2], stereo[1::2]


def test_balanced_tracks_are_released_as_interleaved_stereo_once_both_arrive() -> None:
    aligner = TrackAligner()
    assert aligner.push(0, 0, packet(1)) == b""
    assert aligner.push(1, 0, packet(2)) == b"\x01\x02" * PACKET
    assert aligner.push(1, 20, packet(4)) == b""
    assert aligner.push(0, 20, packet(3)) == b"\x03\x04" * PACKET
    assert aligner.flush() == b""


def test_a_one_sided_stream_flows_once_it_is_more_than_the_lead_ahead() -> None:
    aligner = TrackAligner(lead_ms=200)
    out = [aligner.push(1, 20 * k, packet(7)) for k in range(50)]
    assert out[:10] == [b""] * 10  # 200 ms may still be matched by the other track
    released = b"".join(out)
    assert len(released) == 2 * (50 - 10) * PACKET
    left, right = channels_of(released + aligner.flush())
    assert left == b"\xff" * 50 * PACKET and right == b"\x07" * 50 * PACKET


def test_a_packet_overtaken_by_the_next_one_keeps_its_place() -> None:
    aligner = TrackAligner()
    arrivals = [(0, 0), (1, 0), (0, 2), (1, 1), (0, 1), (1, 2), (0, 3), (1, 3)]
    out = b"".join(aligner.push(track, 20 * k, packet(10 * track + k)) for track, k in arrivals)
    left, right = channels_of(out + aligner.flush())
    assert left == b"".join(packet(k) for k in range(4))
    assert right == b"".join(packet(10 + k) for k in range(4))


def test_a_missing_packet_becomes_silence() -> None:
    aligner = TrackAligner(lead_ms=100)
    out = b""
    for k in range(10):
        out += aligner.push(0, 20 * k, packet(1))
        if k != 3:
            out += aligner.push(1, 20 * k, packet(2))
    left, right = channels_of(out + aligner.flush())
    assert left == packet(1) * 10
    assert right == packet(2) * 3 + packet(0xFF) + packet(2) * 6


def test_audio_arriving_after_its_time_is_dropped_and_counted() -> None:
    aligner = TrackAligner(lead_ms=100)
    out = b"".join(aligner.push(1, 20 * k, packet(2)) for k in range(10))  # 100 ms released
    out += aligner.push(0, 90, packet(1))  # its first half was already released as silence
    left, _ = channels_of(out + aligner.flush())
    assert aligner.late_samples == PACKET // 2
    assert left == b"\xff" * 800 + b"\x01" * (PACKET // 2) + b"\xff" * 720


def test_a_jump_far_ahead_is_cut_to_the_maximum_gap() -> None:
    aligner = TrackAligner(lead_ms=200, max_gap_ms=2000)
    out = aligner.push(0, 0, packet(1)) + aligner.push(1, 0, packet(2))
    out += aligner.push(1, 3_600_000_000, packet(3))  # a thousand hours on
    assert aligner.buffered <= 200 * 8 + PACKET
    out += aligner.push(0, 3_600_000_000, packet(4))  # the other track agrees: in step again
    left, right = channels_of(out + aligner.flush())
    assert left == packet(1) + b"\xff" * 16_000 + packet(4)
    assert right == packet(2) + b"\xff" * 16_000 + packet(3)
    assert aligner.skipped_samples == 3_600_000_000 * 8 - 16_000 - PACKET


def test_jittered_arrival_with_losses_rebuilds_the_timeline() -> None:
    """Packets a few places out of order, some lost: every kept sample lands in its place."""
    rng = random.Random(7)
    count = 200
    arrivals = [(track, k) for k in range(count) for track in (0, 1) if rng.random() > 0.05]
    for i in range(0, len(arrivals), 4):  # shuffle within windows of four packets
        window = arrivals[i : i + 4]
        rng.shuffle(window)
        arrivals[i : i + 4] = window
    aligner = TrackAligner()
    out = b"".join(aligner.push(t, 20 * k, packet(1 + t * 100 + k % 90)) for t, k in arrivals)
    out += aligner.flush()
    assert aligner.late_samples == 0 and aligner.skipped_samples == 0
    sent = set(arrivals)
    last = max(k for _, k in arrivals)
    for track, received in enumerate(channels_of(out)):
        expected = b"".join(
            packet(1 + track * 100 + k % 90) if (track, k) in sent else packet(0xFF)
            for k in range(last + 1)
        )
        assert received == expected


# -- the WebSocket: Twilio's messages, generated from recordings ----------------------------


def mulaw_8k(samples: np.ndarray) -> bytes:
    """16-bit samples at 8 kHz as G.711 μ-law (what Twilio carries)."""
    return to_mulaw(WavAudio(samples.astype("<i2").tobytes(), 8000, 1))


def recording_tracks(path: Path) -> tuple[bytes, bytes]:
    """A 16 kHz stereo recording as two 8 kHz μ-law tracks: (left, right)."""
    audio = read_wav(path)
    frames = np.frombuffer(audio.pcm, dtype="<i2").reshape(-1, 2)
    narrow = soxr.resample(frames, audio.sample_rate, 8000)
    return mulaw_8k(narrow[:, 0]), mulaw_8k(narrow[:, 1])


def start_message(**custom: str) -> Message:
    return {
        "event": "start",
        "sequenceNumber": "1",
        "start": {
            "accountSid": "AC0000",
            "streamSid": SID,
            "callSid": "CA0000",
            "tracks": ["inbound", "outbound"],
            "customParameters": custom,
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
        },
        "streamSid": SID,
    }


def media_message(track: str, chunk: int, payload: bytes) -> Message:
    return {
        "event": "media",
        "media": {
            "track": track,
            "chunk": str(chunk),
            "timestamp": str(20 * (chunk - 1)),
            "payload": base64.b64encode(payload).decode(),
        },
        "streamSid": SID,
    }


def twilio_call(
    tracks: dict[str, bytes], *, overtake_every: int = 0, **custom: str
) -> list[Message]:
    """The messages Twilio sends for ``tracks`` (name to μ-law), in 20 ms packets.

    With ``overtake_every``, that often a packet arrives after its successor on the
    same track, as happens with network jitter.
    """
    media = []
    for chunk in range(1, max(map(len, tracks.values())) // PACKET + 1):
        for track, audio in tracks.items():
            payload = audio[(chunk - 1) * PACKET : chunk * PACKET]
            if payload:
                media.append(media_message(track, chunk, payload))
    step = len(tracks)  # media[i + step] is the same track's next packet
    for i in range(0, len(media) - step, overtake_every * step) if overtake_every else ():
        media[i], media[i + step] = media[i + step], media[i]
    messages = [
        {"event": "connected", "protocol": "Call", "version": "1.0.0"},
        start_message(**custom),
        *media,
        {"event": "stop", "stop": {"accountSid": "AC0000", "callSid": "CA0000"}, "streamSid": SID},
    ]
    for number, message in enumerate(messages[1:], start=1):
        message["sequenceNumber"] = str(number)
    return messages


def replay(client: TestClient, messages: list[Message], url: str = URL) -> list[Message]:
    """Send a whole Twilio stream; return every event up to ``end`` (or ``error``)."""
    with client.websocket_connect(url) as ws:
        for message in messages:
            ws.send_text(json.dumps(message))
        return collect(ws)


def finals(events: list[Message], speaker: str) -> list[Message]:
    return [e for e in events if e["type"] == "final" and e["speaker"] == speaker]


@pytest.mark.model
def test_a_two_track_call_is_transcribed_per_speaker(
    tx_client: TestClient, shared_audio: Path
) -> None:
    # LEFT: "He began a confused complaint against the wizard, who had vanished behind the
    # curtain on the left."  RIGHT: "The horizon seems extremely distant."
    left, right = recording_tracks(shared_audio / "fw_stereo_diarization.wav")
    messages = twilio_call({"outbound": left, "inbound": right}, overtake_every=7, language="en")
    events = replay(tx_client, messages)
    assert events[0]["type"] == "ready"
    assert events[-1] == {"type": "end", "streamSid": SID}
    assert [e["type"] for e in events].count("end") == 1
    assert all(e["streamSid"] == SID for e in events)
    agent = text_of(finals(events, "agent"))
    debtor = text_of(finals(events, "debtor"))
    assert "wizard" in agent and "curtain" in agent and "horizon" not in agent
    assert "horizon" in debtor and "distant" in debtor and "wizard" not in debtor
    assert {(e["channel"], e["speaker"]) for e in events[1:-1]} == {(0, "agent"), (1, "debtor")}


@pytest.mark.model
def test_an_inbound_only_stream_is_transcribed_as_the_debtor(
    tx_client: TestClient, shared_audio: Path
) -> None:
    _, right = recording_tracks(shared_audio / "fw_stereo_diarization.wav")
    events = replay(tx_client, twilio_call({"inbound": right}), URL + "?language=en")
    assert events[-1]["type"] == "end"
    assert "horizon" in text_of(finals(events, "debtor"))
    assert not finals(events, "agent")


# -- the WebSocket with a fake recogniser ---------------------------------------------------


def tones() -> bytes:
    """Fake-backend words at 8 kHz μ-law (the fake's tones, every other sample)."""
    audio = np.concatenate([say("alpha", "bravo"), silence(1.0)])[::2]
    return mulaw_8k(np.round(audio * 32767))


def test_custom_parameters_set_language_and_hints(
    fake_client: TestClient, fake_backend: FakeBackend
) -> None:
    call = twilio_call(
        {"inbound": tones()}, language="zh", hotwords="分期, 还款,", prompt="催收电话"
    )
    events = replay(fake_client, call, URL + "?language=en")
    assert [e["type"] for e in events][-2:] == ["final", "end"]
    recognised = fake_backend.calls[-1]
    assert (recognised.language, recognised.prompt, recognised.hotwords) == (
        "zh",
        "催收电话",
        "分期 还款",
    )


def test_the_url_language_applies_without_a_custom_parameter(
    fake_client: TestClient, fake_backend: FakeBackend
) -> None:
    replay(fake_client, twilio_call({"inbound": tones()}), URL + "?language=zh")
    assert fake_backend.calls[-1].language == "zh"


def test_marks_dtmf_and_unknown_events_are_skipped(fake_client: TestClient) -> None:
    call = twilio_call({"outbound": tones(), "inbound": tones()})
    notices = [
        {"event": "mark", "sequenceNumber": "9", "streamSid": SID, "mark": {"name": "greeting"}},
        {"event": "dtmf", "streamSid": SID, "dtmf": {"track": "inbound_track", "digit": "1"}},
        {"event": "future", "streamSid": SID},
    ]
    events = replay(fake_client, [*call[:5], *notices, *call[5:]])
    assert events[-1]["type"] == "end"
    assert {e["speaker"] for e in events if e["type"] == "final"} == {"agent", "debtor"}


def test_a_caller_hanging_up_without_stop_frees_the_session(
    fake_client: TestClient, fake_service: TranscriptionService
) -> None:
    with fake_client.websocket_connect(URL) as ws:
        for message in twilio_call({"inbound": tones()})[:-1]:
            ws.send_text(json.dumps(message))
        assert ws.receive_json()["type"] == "ready"
    assert fake_service.active_sessions == 0


def with_media(media: dict[str, str]) -> list[Message]:
    return [start_message(), {"event": "media", "media": media, "streamSid": SID}]


def with_format(**media_format: object) -> list[Message]:
    start = start_message()
    start["start"]["mediaFormat"].update(media_format)
    return [start]


GOOD_PAYLOAD = base64.b64encode(packet(0xFF)).decode()
BAD_INPUT = {
    "not JSON": (["hello"], "invalid_message"),
    "not an object": (["[]"], "invalid_message"),
    "start without its details": ([{"event": "start"}], "invalid_message"),
    "media before start": (with_media({"timestamp": "0", "payload": ""})[1:], "unexpected_event"),
    "stop before start": ([{"event": "stop"}], "unexpected_event"),
    "a-law": (with_format(encoding="audio/x-alaw"), "unsupported_encoding"),
    "16 kHz": (with_format(sampleRate=16000), "unsupported_sample_rate"),
    "stereo track": (with_format(channels=2), "unsupported_channels"),
    "unknown language": ([start_message(language="fr")], "unsupported_language"),
    "too many hotwords": ([start_message(hotwords="a," * 201)], "invalid_message"),
    "payload not base64": (
        with_media({"track": "inbound", "timestamp": "0", "payload": "no*base64"}),
        "invalid_payload",
    ),
    "unknown track": (
        with_media({"track": "both", "timestamp": "0", "payload": GOOD_PAYLOAD}),
        "invalid_message",
    ),
    "negative timestamp": (
        with_media({"track": "inbound", "timestamp": "-20", "payload": GOOD_PAYLOAD}),
        "invalid_message",
    ),
    "a second start": ([start_message(), start_message()], "unexpected_event"),
    "no start at all": ([{"event": "connected"}] * 8, "unexpected_event"),
}
CLOSE = {
    "invalid_message": CLOSE_CODES[MessageError],
    "unexpected_event": CLOSE_CODES[MessageError],
    "unsupported_encoding": CLOSE_CODES[ParamError],
    "unsupported_sample_rate": CLOSE_CODES[ParamError],
    "unsupported_channels": CLOSE_CODES[ParamError],
    "unsupported_language": CLOSE_CODES[ParamError],
    "invalid_payload": CLOSE_CODES[AudioFormatError],
}


def refused(ws: WebSocketTestSession) -> tuple[Message, int]:
    """The ``error`` event (skipping ``ready``) and the close code that followed it."""
    event = ws.receive_json()
    while event["type"] == "ready":
        event = ws.receive_json()
    return event, ws.receive()["code"]


@pytest.mark.parametrize(("frames", "code"), BAD_INPUT.values(), ids=BAD_INPUT)
def test_bad_input_is_refused_with_a_stable_code_and_the_next_call_is_served(
    fake_client: TestClient,
    fake_service: TranscriptionService,
    frames: list[Message | str],
    code: str,
) -> None:
    with fake_client.websocket_connect(URL) as ws:
        for frame in frames:
            ws.send_text(frame if isinstance(frame, str) else json.dumps(frame))
        error, close = refused(ws)
    assert error["type"] == "error" and error["code"] == code and error["message"]
    assert close == CLOSE[code]
    assert fake_service.active_sessions == 0
    events = replay(fake_client, twilio_call({"inbound": tones()}))
    assert events[-1]["type"] == "end"


def test_a_binary_frame_is_refused(fake_client: TestClient) -> None:
    with fake_client.websocket_connect(URL) as ws:
        ws.send_bytes(packet(0xFF))
        error, close = refused(ws)
    assert (error["code"], close) == ("invalid_message", CLOSE_CODES[MessageError])


@pytest.mark.parametrize("start", [start_message(), start_message(token="wrong")])
def test_a_stream_without_the_token_is_refused_before_a_session_opens(
    fake_client: TestClient, start: Message
) -> None:
    fake_client.app.state.transcription_token = "s3cret"  # type: ignore[attr-defined]
    with fake_client.websocket_connect(URL) as ws:
        ws.send_text(json.dumps(start))
        error = ws.receive_json()  # the error itself: no ``ready``, so no session was opened
        close = ws.receive()["code"]
    assert (error["code"], close) == ("unauthorized", CLOSE_CODES[AccessError])


def test_the_token_may_come_as_a_custom_parameter_or_in_the_url(fake_client: TestClient) -> None:
    """Twilio drops query strings from ``<Stream url>``; relay clients may still use them."""
    fake_client.app.state.transcription_token = "s3cret"  # type: ignore[attr-defined]
    by_parameter = replay(fake_client, twilio_call({"inbound": tones()}, token="s3cret"))
    by_url = replay(fake_client, twilio_call({"inbound": tones()}), URL + "?token=s3cret")
    assert by_parameter[-1]["type"] == by_url[-1]["type"] == "end"


def test_a_foreign_browser_page_is_refused_at_once(fake_client: TestClient) -> None:
    with fake_client.websocket_connect(URL, headers={"origin": "http://evil.example"}) as ws:
        error, close = refused(ws)
    assert (error["code"], close) == ("forbidden_origin", CLOSE_CODES[AccessError])


def test_a_call_beyond_the_session_limit_is_told_to_retry(fake_client: TestClient) -> None:
    with fake_client.websocket_connect(URL) as first:
        first.send_text(json.dumps(start_message()))
        assert first.receive_json()["type"] == "ready"
        with fake_client.websocket_connect(URL) as second:
            second.send_text(json.dumps(start_message()))
            error, close = refused(second)
    assert (error["code"], close) == ("too_many_sessions", CLOSE_CODES[SessionLimitError])


def test_the_documented_errors_are_the_ones_the_endpoint_sends() -> None:
    rows = re.findall(r"^\| `([a-z_]+)`\s*\|[^|]*\|\s*(\d{4})", DOC.read_text(), re.MULTILINE)
    expected = {
        **CLOSE,
        "forbidden_origin": CLOSE_CODES[AccessError],
        "unauthorized": CLOSE_CODES[AccessError],
        "too_many_sessions": CLOSE_CODES[SessionLimitError],
        "internal_error": 1011,
    }
    assert {code: int(close) for code, close in rows} == expected
