"""Twilio Media Streams in: ``/v1/twilio/stream`` transcribes a ``<Stream>`` of a live call.

Twilio sends each leg of a call as its own track of 20 ms μ-law packets, in JSON text
frames with a base64 payload and a timestamp per packet. :class:`TrackAligner` lays the
two tracks on one stereo timeline (``outbound``, what the call centre sends, is the agent
on channel 0; ``inbound``, the caller, is the debtor on channel 1), so one stereo session
of the shared service transcribes the call exactly as ``/v1/stream`` would. Transcript
events go back on the same socket, tagged with the ``streamSid``, for a recording or relay
client (Twilio ignores them). The endpoint is documented in ``docs/twilio-media-streams.md``.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Mapping
from typing import Any, Literal

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from transcription import views
from transcription.audio import AudioFormatError
from transcription.schemas import (
    AUTO_LANGUAGE,
    ContextMessage,
    MessageError,
    ParamError,
    StreamParams,
)
from transcription.service import LiveSession, TranscriptionService
from transcription.views import AccessError

logger = logging.getLogger(__name__)
router = APIRouter()

RATE = 8000
"""Twilio streams G.711 μ-law at 8 kHz, one byte per sample."""
SILENCE = b"\xff"
"""The μ-law code word for zero, used wherever a track sent nothing."""
Track = Literal["inbound", "outbound"]
CHANNELS: dict[Track, int] = {"outbound": 0, "inbound": 1}
"""Twilio track to Parley channel: the call centre's side is the agent, the caller the debtor."""
FRAMES_BEFORE_START = 8
"""Twilio sends ``connected`` then ``start``; more notices than this before ``start`` are
refused, since the token may only arrive with ``start``."""


def _samples(milliseconds: int) -> int:
    return milliseconds * RATE // 1000


def _heard_prefix(heard: bytearray) -> int:
    """Samples received without a hole from the start of the buffer."""
    hole = heard.find(0)
    return len(heard) if hole < 0 else hole


class TrackAligner:
    """Two mono μ-law tracks on one stereo timeline, each packet placed by its timestamp.

    Twilio sends the legs' packets independently: they interleave unevenly, a leg may be
    silent or absent, and a packet may overtake the one before it. Audio is released once
    both tracks have covered it, or once the furthest track is more than ``lead_ms``
    ahead, so a one-sided stream still flows and a reordered packet has ``lead_ms`` to
    arrive. Whatever a track did not send is μ-law silence.

    Memory stays bounded whatever a client sends: a packet for audio already released is
    dropped, and a jump more than ``max_gap_ms`` past the furthest audio is cut down to
    ``max_gap_ms`` of silence (enough to end an utterance), so the buffer never holds more
    than ``lead_ms + max_gap_ms`` plus one packet. Cutting shifts later audio earlier, so
    transcript times count audio received, as on ``/v1/stream``.

    Pure logic: no I/O and no clock, so tests script any arrival order exactly.
    """

    def __init__(self, *, lead_ms: int = 200, max_gap_ms: int = 2000) -> None:
        self._lead = _samples(lead_ms)
        self._max_gap = _samples(max_gap_ms)
        self._released = 0  # timeline position of the first buffered sample
        self._shift = 0  # samples cut out of the timeline by skipped gaps
        self._audio = (bytearray(), bytearray())
        self._heard = (bytearray(), bytearray())  # 1 per sample received, 0 per hole
        self.late_samples = 0
        self.skipped_samples = 0

    @property
    def buffered(self) -> int:
        """Samples held for the furthest track (what bounded memory bounds)."""
        return max(len(audio) for audio in self._audio)

    def push(self, channel: int, timestamp_ms: int, payload: bytes) -> bytes:
        """Place one packet; return the interleaved stereo μ-law now ready (maybe none)."""
        start = self._place(_samples(timestamp_ms) - self._shift) - self._released
        if start < 0:
            self._drop_late(channel, min(-start, len(payload)))
            payload, start = payload[-start:], 0
        audio, heard = self._audio[channel], self._heard[channel]
        end = start + len(payload)
        if end > len(audio):
            heard.extend(bytes(end - len(audio)))
            audio.extend(SILENCE * (end - len(audio)))
        audio[start:end] = payload
        heard[start:end] = b"\x01" * len(payload)
        return self._release(self._ready())

    def flush(self) -> bytes:
        """Everything still held, holes as silence (end of stream)."""
        return self._release(self.buffered)

    def _place(self, position: int) -> int:
        """``position`` on the timeline, after cutting a gap longer than ``max_gap``."""
        jump = position - (self._released + self.buffered) - self._max_gap
        if jump <= 0:
            return position
        self._shift += jump
        self.skipped_samples += jump
        logger.warning("skipped %.1f s of missing audio in a Twilio stream", jump / RATE)
        return position - jump

    def _drop_late(self, channel: int, samples: int) -> None:
        if not self.late_samples:
            logger.warning("dropping audio of channel %d that arrived after its time", channel)
        self.late_samples += samples

    def _ready(self) -> int:
        """How far both tracks have covered, or all but ``lead`` of the furthest track."""
        covered = min(_heard_prefix(heard) for heard in self._heard)
        return max(covered, self.buffered - self._lead)

    def _release(self, samples: int) -> bytes:
        if samples <= 0:
            return b""
        stereo = bytearray(2 * samples)
        for channel, (audio, heard) in enumerate(zip(self._audio, self._heard, strict=True)):
            part = audio[:samples]
            stereo[channel::2] = part + SILENCE * (samples - len(part))
            del audio[:samples], heard[:samples]
        self._released += samples
        return bytes(stereo)


class _TwilioModel(BaseModel):
    """Twilio's camelCase fields; fields Twilio adds later are ignored, not refused."""

    model_config = ConfigDict(alias_generator=to_camel, extra="ignore", frozen=True)


class MediaFormat(_TwilioModel):
    encoding: str = "audio/x-mulaw"
    sample_rate: int = RATE
    channels: int = 1


class StartInfo(_TwilioModel):
    stream_sid: str
    call_sid: str = ""
    tracks: list[str] = []
    custom_parameters: dict[str, str] = {}
    media_format: MediaFormat = MediaFormat()


class Start(_TwilioModel):
    """``start``: which call this is, its tracks, format and custom parameters."""

    start: StartInfo


class MediaInfo(_TwilioModel):
    track: Track = "inbound"  # Twilio's default track, and the only one of <Connect>
    timestamp: int = Field(ge=0)  # milliseconds since the stream started
    payload: str

    def audio(self) -> bytes:
        """The packet's μ-law bytes; base64 that does not decode is ``invalid_payload``."""
        try:
            return base64.b64decode(self.payload, validate=True)
        except binascii.Error:
            raise AudioFormatError(
                "invalid_payload", "media.payload must be base64-encoded μ-law audio"
            ) from None


class Media(_TwilioModel):
    """``media``: one packet of one track."""

    media: MediaInfo


class Stop(_TwilioModel):
    """``stop``: the stream is over."""


TwilioEvent = Start | Media | Stop
_EVENTS: dict[str, type[TwilioEvent]] = {"start": Start, "media": Media, "stop": Stop}


def parse_event(text: str) -> TwilioEvent | None:
    """A Twilio text frame as its event; ``None`` for events that carry nothing to transcribe.

    ``connected``, ``mark`` and ``dtmf`` are expected and skipped; an unknown event is
    skipped too, so a protocol addition on Twilio's side never ends a call's transcript.
    """
    try:
        frame = json.loads(text)
        name = frame["event"]
        kind = _EVENTS.get(name)
        if kind is None:
            logger.debug("skipping Twilio %r event", name)
            return None
        return kind.model_validate(frame)
    except (ValueError, TypeError, KeyError, ValidationError) as exc:
        raise MessageError(
            "invalid_message", "text frames must be Twilio Media Streams messages (JSON)"
        ) from exc


def stream_params(start: StartInfo, language: str | None) -> StreamParams:
    """One stereo μ-law session; ``customParameters.language`` beats the URL's ``language``."""
    media_format = start.media_format
    if media_format.encoding != "audio/x-mulaw":
        raise ParamError(
            "unsupported_encoding",
            f"mediaFormat.encoding must be audio/x-mulaw, got {media_format.encoding!r}",
        )
    if media_format.sample_rate != RATE:
        raise ParamError("unsupported_sample_rate", f"mediaFormat.sampleRate must be {RATE}")
    if media_format.channels != 1:
        raise ParamError("unsupported_channels", "mediaFormat.channels must be 1 (one per track)")
    chosen = start.custom_parameters.get("language", language or "")
    return StreamParams(
        sample_rate=RATE,
        channels=2,
        encoding="mulaw",
        language=None if chosen in AUTO_LANGUAGE else chosen,
    )


def context(parameters: Mapping[str, str]) -> ContextMessage | None:
    """Recognition hints from ``customParameters``: ``hotwords`` (comma separated), ``prompt``.

    Checked against the same limits as the ``context`` message of ``/v1/stream``.
    """
    if "hotwords" not in parameters and "prompt" not in parameters:
        return None
    hotwords = [word.strip() for word in parameters.get("hotwords", "").split(",")]
    try:
        return ContextMessage(
            type="context",
            hotwords=[word for word in hotwords if word],
            prompt=parameters.get("prompt") or None,
        )
    except ValidationError:
        raise MessageError(
            "invalid_message",
            "customParameters hotwords (at most 200, 100 characters each) or prompt "
            "(2,000 characters) too long",
        ) from None


@router.websocket("/v1/twilio/stream")
async def twilio_stream(websocket: WebSocket) -> None:
    """A Twilio ``<Stream>`` in; ``ready``/``partial``/``final``/``end`` events out."""
    service: TranscriptionService = websocket.app.state.transcription
    await websocket.accept()
    async with views.protocol_errors(websocket):
        authorised = _access_at_connect(websocket)
        start = await _wait_for_start(websocket)
        if not authorised:
            views.check_token(websocket.app, start.custom_parameters.get("token", ""))
        params = stream_params(start, websocket.query_params.get("language"))
        hints = context(start.custom_parameters)
        logger.info("Twilio stream %s of call %s: %s", start.stream_sid, start.call_sid, params)
        async with service.session(params) as live:
            if hints:
                live.set_context(hints.hotwords, hints.prompt)
            ready = {"type": "ready", "session_id": live.session_id}
            await _send(websocket, [ready], start.stream_sid)
            await _relay(websocket, live, start.stream_sid)


def _access_at_connect(websocket: WebSocket) -> bool:
    """``/v1/stream``'s access rules; ``False`` when only the token is missing or wrong.

    Twilio drops query strings from ``<Stream url>``, so its token arrives later, as the
    ``token`` custom parameter of ``start``; no session opens before it is checked.
    """
    try:
        views.check_access(websocket)
    except AccessError as exc:
        if exc.code != "unauthorized":
            raise
        return False
    return True


async def _wait_for_start(websocket: WebSocket) -> StartInfo:
    """Skip ``connected`` and other notices until Twilio says which call this is."""
    for _ in range(FRAMES_BEFORE_START):
        event = parse_event(await _receive_text(websocket))
        if isinstance(event, Start):
            return event.start
        if event is not None:
            raise MessageError("unexpected_event", "media and stop must follow a start message")
    raise MessageError(
        "unexpected_event", f"no start message among the first {FRAMES_BEFORE_START} frames"
    )


async def _relay(websocket: WebSocket, live: LiveSession, stream_sid: str) -> None:
    """Until ``stop``: packets through the aligner to the session, events to the client."""
    aligner = TrackAligner()
    while True:
        try:
            event = parse_event(await _receive_text(websocket))
        except WebSocketDisconnect:
            await _finish_unheard(live, aligner, stream_sid)
            raise
        if isinstance(event, Media):
            stereo = aligner.push(
                CHANNELS[event.media.track], event.media.timestamp, event.media.audio()
            )
            await _send(websocket, await _feed(live, stereo), stream_sid)
        elif isinstance(event, Stop):
            events = await _feed(live, aligner.flush()) + await live.finish()
            await _send(websocket, events, stream_sid)
            await websocket.close(views.NORMAL)
            return
        elif isinstance(event, Start):
            raise MessageError("unexpected_event", "a stream has exactly one start message")


async def _finish_unheard(live: LiveSession, aligner: TrackAligner, stream_sid: str) -> None:
    """The socket closed without ``stop``: finalise pending speech all the same.

    The session ends the way it does after ``stop`` (the tail of every utterance goes
    through the policy), though the finals can no longer be sent anywhere.
    """
    events = await _feed(live, aligner.flush()) + await live.finish()
    finals = sum(event["type"] == "final" for event in events)
    logger.info("Twilio stream %s closed without stop; %d final(s) unsent", stream_sid, finals)


async def _receive_text(websocket: WebSocket) -> str:
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", views.NORMAL))
    text: str | None = message.get("text")
    if text is None:
        raise MessageError("invalid_message", "Twilio Media Streams send JSON text frames")
    return text


async def _feed(live: LiveSession, stereo: bytes) -> list[dict[str, Any]]:
    return await live.feed(stereo) if stereo else []


async def _send(websocket: WebSocket, events: list[dict[str, Any]], stream_sid: str) -> None:
    """Each event tagged with the ``streamSid``, so a listener can tell calls apart."""
    for event in events:
        await websocket.send_json({**event, "streamSid": stream_sid})
