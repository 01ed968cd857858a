"""The ``/v1/stream`` WebSocket: the streaming protocol over a :class:`TranscriptionService`.

Thin by design: parse parameters, open a session, relay frames, turn every
:class:`ProtocolError` into an ``error`` event plus the close code the protocol promises.
Unexpected failures are logged here and reach the client only as ``internal_error``.
The protocol is specified in ``docs/streaming-protocol.md``.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from transcription.audio import AudioFormatError
from transcription.schemas import (
    MessageError,
    ParamError,
    ProtocolError,
    StopMessage,
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
INTERNAL_ERROR = 1011
TRY_AGAIN_LATER = 1013


class AccessError(ProtocolError):
    """The client may not use this service."""


CLOSE_CODES: dict[type[ProtocolError], int] = {
    AccessError: POLICY_VIOLATION,
    ParamError: POLICY_VIOLATION,
    SessionLimitError: TRY_AGAIN_LATER,
    AudioFormatError: INVALID_PAYLOAD,
    MessageError: UNSUPPORTED_DATA,
}


@router.websocket("/v1/stream")
async def stream(websocket: WebSocket) -> None:
    """One call's audio in, ``ready``/``partial``/``final``/``end`` events out."""
    service: TranscriptionService = websocket.app.state.transcription
    await websocket.accept()
    try:
        _check_access(websocket)
        params = parse_stream_params(websocket.query_params)
        async with service.session(params) as live:
            await websocket.send_json({"type": "ready", "session_id": live.session_id})
            await _relay(websocket, live)
    except WebSocketDisconnect:
        logger.info("client left the stream")
    except ProtocolError as exc:
        await _fail(websocket, exc.code, exc.message, CLOSE_CODES.get(type(exc), POLICY_VIOLATION))
    except Exception:
        logger.exception("transcription stream failed")
        await _fail(websocket, "internal_error", "internal server error", INTERNAL_ERROR)


def _check_access(websocket: WebSocket) -> None:
    """Refuse browser pages of other sites, and anyone without the token when one is set.

    Browsers let any page open a WebSocket to 127.0.0.1, so a foreign ``Origin`` is
    refused outright; servers and telephony send no ``Origin``. When the app is given a
    token (``PARLEY_TRANSCRIPTION_TOKEN``) clients must present it as a bearer token or
    a ``token`` query parameter.
    """
    origin = websocket.headers.get("origin")
    if origin and urlsplit(origin).netloc != websocket.headers.get("host"):
        raise AccessError("forbidden_origin", "cross-site WebSocket connections are refused")
    expected: str | None = getattr(websocket.app.state, "transcription_token", None)
    if not expected:
        return
    header = websocket.headers.get("authorization", "")
    sent = (
        header.removeprefix("Bearer ").strip()
        if header.startswith("Bearer ")
        else websocket.query_params.get("token", "")
    )
    if not secrets.compare_digest(sent.encode(), expected.encode()):
        raise AccessError("unauthorized", "a valid transcription token is required")


async def _relay(websocket: WebSocket, live: LiveSession) -> None:
    """Until ``stop`` or disconnect: audio frames to the session, events to the client."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        if message.get("bytes") is not None:
            await _send_all(websocket, await live.feed(message["bytes"]))
            continue
        command = parse_client_message(message.get("text") or "")
        if isinstance(command, StopMessage):
            await _send_all(websocket, await live.finish())
            await websocket.close(NORMAL)
            return
        live.set_context(command.hotwords, command.prompt)


async def _send_all(websocket: WebSocket, events: list[dict[str, Any]]) -> None:
    for event in events:
        await websocket.send_json(event)


async def _fail(websocket: WebSocket, code: str, message: str, close_code: int) -> None:
    """Tell the client why, then close; the client may already be gone."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
        await websocket.send_json({"type": "error", "code": code, "message": message})
        await websocket.close(close_code, reason=code)
