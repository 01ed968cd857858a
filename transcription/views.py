"""The ``/v1/stream`` WebSocket: the streaming protocol over a :class:`TranscriptionService`.

Thin by design: parse parameters, open a session, relay frames, turn every
:class:`ProtocolError` into an ``error`` event plus the close code the protocol promises.
Unexpected failures are logged here and reach the client only as ``internal_error``.
The protocol is specified in ``docs/streaming-protocol.md``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.requests import HTTPConnection

from transcription.audio import AudioFormatError, FrameTooLargeError
from transcription.schemas import (
    CallMetadata,
    MessageError,
    ParamError,
    ProtocolError,
    StopMessage,
    parse_call_metadata,
    parse_client_message,
    parse_stream_params,
)
from transcription.service import LiveSession, SessionLimitError, TranscriptionService

logger = logging.getLogger(__name__)
router = APIRouter()

NORMAL = 1000
UNSUPPORTED_DATA = 1003
INVALID_PAYLOAD = 1007
POLICY_VIOLATION = 1008
MESSAGE_TOO_BIG = 1009
INTERNAL_ERROR = 1011
TRY_AGAIN_LATER = 1013


class AccessError(ProtocolError):
    """The client may not use this service."""


CLOSE_CODES: dict[type[ProtocolError], int] = {
    AccessError: POLICY_VIOLATION,
    ParamError: POLICY_VIOLATION,
    SessionLimitError: TRY_AGAIN_LATER,
    FrameTooLargeError: MESSAGE_TOO_BIG,
    AudioFormatError: INVALID_PAYLOAD,
    MessageError: UNSUPPORTED_DATA,
}


@router.websocket("/v1/stream")
async def stream(websocket: WebSocket) -> None:
    """One call's audio in, ``ready``/``partial``/``final``/``end`` events out."""
    service: TranscriptionService = websocket.app.state.transcription
    await websocket.accept()
    async with protocol_errors(websocket):
        check_access(websocket)
        params = parse_stream_params(websocket.query_params)
        async with service.session(params) as live:
            await websocket.send_json({"type": "ready", "session_id": live.session_id})
            await _relay(websocket, live)


def check_origin(connection: HTTPConnection) -> None:
    """Refuse a browser page of another site: browsers let any page open a WebSocket to
    127.0.0.1 (and send our cookies with it); servers and telephony send no ``Origin``."""
    origin = connection.headers.get("origin")
    if origin and urlsplit(origin).netloc != connection.headers.get("host"):
        raise AccessError("forbidden_origin", "cross-site requests are refused")


def check_access(connection: HTTPConnection) -> None:
    """Refuse browser pages of other sites, and anyone without the token when one is set.

    Browsers let any page open a WebSocket to 127.0.0.1, so a foreign ``Origin`` is
    refused outright; servers and telephony send no ``Origin``. When the app is given a
    token (``PARLEY_TRANSCRIPTION_TOKEN``) clients must present it as a bearer token or
    a ``token`` query parameter. HTTP endpoints (``openai_api``) apply the same rules.
    """
    check_origin(connection)
    expected: str | None = getattr(connection.app.state, "transcription_token", None)
    if not expected:
        return
    header = connection.headers.get("authorization", "")
    sent = (
        header.removeprefix("Bearer ").strip()
        if header.startswith("Bearer ")
        else connection.query_params.get("token", "")
    )
    check_token(connection.app, sent)


def check_token(app: Any, sent: str) -> None:
    """Compare a presented token with the configured one in constant time."""
    expected: str | None = getattr(app.state, "transcription_token", None)
    if expected and not secrets.compare_digest(sent.encode(), expected.encode()):
        raise AccessError("unauthorized", "a valid transcription token is required")


async def _relay(websocket: WebSocket, live: LiveSession) -> None:
    """Until ``stop`` or disconnect: audio frames to the session, events to the client.

    Events are pushed by a second task as soon as the worker produces them; one lock
    keeps them in order with those a frame's own ``feed`` returns.
    """
    sending = asyncio.Lock()

    async def push() -> None:
        while messages := await live.poll():
            async with sending:
                await _send_all(websocket, messages)

    pusher = asyncio.create_task(push())
    try:
        await _receive(websocket, live, sending)
    finally:
        pusher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pusher


async def _receive(websocket: WebSocket, live: LiveSession, sending: asyncio.Lock) -> None:
    audio_started = False
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        if message.get("bytes") is not None:
            audio_started = True
            events = await live.feed(message["bytes"])
            async with sending:
                await _send_all(websocket, events)
            continue
        text = message.get("text") or ""
        if not audio_started and (metadata := parse_call_metadata(text)) is not None:
            _apply_metadata(live, metadata)
            audio_started = True  # one metadata frame, as mod_audio_fork sends it
            continue
        command = parse_client_message(text)
        if isinstance(command, StopMessage):
            events = await live.finish()
            async with sending:
                await _send_all(websocket, events)
            await websocket.close(NORMAL)
            return
        live.set_context(command.hotwords, command.prompt)


def _apply_metadata(live: LiveSession, metadata: CallMetadata) -> None:
    """FreeSWITCH mod_audio_fork's opening frame: logged, and its hints used if present."""
    logger.info("stream %s call metadata: %s", live.session_id, metadata.summary())
    if metadata.hotwords or metadata.prompt:
        live.set_context(metadata.hotwords, metadata.prompt)


async def _send_all(websocket: WebSocket, events: list[dict[str, Any]]) -> None:
    for event in events:
        await websocket.send_json(event)


async def _fail(websocket: WebSocket, code: str, message: str, close_code: int) -> None:
    """Tell the client why, then close; the client may already be gone."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
        await websocket.send_json({"type": "error", "code": code, "message": message})
        await websocket.close(close_code, reason=code)


@contextlib.asynccontextmanager
async def protocol_errors(websocket: WebSocket) -> AsyncIterator[None]:
    """End an accepted stream the way the protocol promises, whatever fails in the block.

    A :class:`ProtocolError` becomes its ``error`` event and close code, a client that left
    is only logged, and anything else is logged here and reaches the client as
    ``internal_error``; every WebSocket endpoint that uses it reports failures alike.
    """
    try:
        yield
    except WebSocketDisconnect:
        logger.info("client left the stream")
    except ProtocolError as exc:
        await _fail(websocket, exc.code, exc.message, CLOSE_CODES.get(type(exc), POLICY_VIOLATION))
    except Exception:
        logger.exception("transcription stream failed")
        await _fail(websocket, "internal_error", "internal server error", INTERNAL_ERROR)
