"""Client side of the streaming protocol, for a transcription service on another machine.

:class:`RemoteTranscriber` and :class:`RemoteSession` mirror ``TranscriptionService`` and
``LiveSession`` (same methods, same messages, same ``ProtocolError`` codes), so the console
switches to a GPU box by setting ``PARLEY_TRANSCRIPTION_URL`` and nothing else. Events
arrive asynchronously; a reader task collects them and each call returns what has arrived.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any
from urllib.parse import urlencode

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from transcription.audio import AudioFormatError
from transcription.schemas import MessageError, ParamError, ProtocolError, StreamParams
from transcription.service import SessionLimitError

Message = dict[str, Any]
_ERRORS: dict[str, type[ProtocolError]] = {
    "invalid_frame": AudioFormatError,
    "not_raw_audio": AudioFormatError,
    "frame_too_large": AudioFormatError,
    "invalid_message": MessageError,
    "too_many_sessions": SessionLimitError,
}


def protocol_error(event: Message) -> ProtocolError:
    """The exception an ``error`` event stands for, as the in-process service would raise."""
    code = str(event.get("code", "internal_error"))
    kind = ParamError if code.startswith("unsupported_") else _ERRORS.get(code, ProtocolError)
    return kind(code, str(event.get("message", "")))


class RemoteSession:
    """A live stream on a remote service; open it with :meth:`connect`."""

    def __init__(self, connection: ClientConnection, session_id: str) -> None:
        self.session_id = session_id
        self._ws = connection
        self._events: list[Message] = []
        self._error: ProtocolError | None = None
        self._context: str | None = None  # sent ahead of the next frame
        self._arrived = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    @classmethod
    def connect(
        cls, base_url: str, params: StreamParams, *, token: str | None = None
    ) -> AbstractAsyncContextManager[RemoteSession]:
        """``async with RemoteSession.connect("ws://host:8000", params) as session: ...``"""
        return RemoteTranscriber(base_url, token=token).session(params)

    async def feed(self, data: bytes) -> list[Message]:
        """Send one audio frame; returns the events that have arrived since the last call."""
        await self._send(data)
        return self._take()

    def set_context(self, hotwords: Sequence[str] = (), prompt: str | None = None) -> None:
        """Like ``LiveSession.set_context``; sent just before the next audio frame or stop."""
        message = {"type": "context", "hotwords": list(hotwords), "prompt": prompt}
        self._context = json.dumps(message, ensure_ascii=False)

    async def finish(self) -> list[Message]:
        """Send ``stop``, wait for the server to close; ``end`` is last unless the link broke."""
        await self._send(json.dumps({"type": "stop"}))
        await self._reader
        return self._take()

    async def close(self) -> None:
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader

    async def _send(self, frame: str | bytes) -> None:
        try:
            if self._context is not None:
                context, self._context = self._context, None
                await self._ws.send(context)
            await self._ws.send(frame)
        except ConnectionClosed:
            # The server closed. Finals it sent before are still handed out by _take();
            # the error (its own, or the broken link) is raised once they are.
            await self._reader
            if self._error is None:
                self._error = ProtocolError(
                    "connection_closed", "the transcription service closed the stream"
                )

    async def poll(self) -> list[Message]:
        """Wait for events the server pushes between frames; ``[]`` once the stream is over."""
        while not self._events and self._error is None and not self._reader.done():
            self._arrived.clear()
            await self._arrived.wait()
        return self._take() if self._events or self._error else []

    async def _read(self) -> None:
        try:
            with contextlib.suppress(ConnectionClosed):
                async for frame in self._ws:
                    event = json.loads(frame)
                    if event.get("type") == "error":
                        self._error = protocol_error(event)
                    else:
                        self._events.append(event)
                    self._arrived.set()
        finally:
            self._arrived.set()

    def _take(self) -> list[Message]:
        """Events received so far; an error is raised only once every earlier event is out."""
        if self._events:
            events, self._events = self._events, []
            return events
        if self._error is not None:
            raise self._error
        return []


class RemoteTranscriber:
    """Opens sessions on ``ws://host:port`` like ``TranscriptionService.session`` does."""

    def __init__(
        self, base_url: str, *, token: str | None = None, open_timeout: float = 10.0
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.open_timeout = open_timeout
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}

    @asynccontextmanager
    async def session(self, params: StreamParams) -> AsyncIterator[RemoteSession]:
        url = f"{self.base_url}/v1/stream?{urlencode(params.to_query())}"
        async with connect(
            url, open_timeout=self.open_timeout, additional_headers=self._headers
        ) as connection:
            first = json.loads(await connection.recv())
            if first.get("type") != "ready":
                raise protocol_error(first)
            session = RemoteSession(connection, str(first["session_id"]))
            try:
                yield session
            finally:
                await session.close()
