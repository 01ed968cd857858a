"""The remote client hands out every final it received before the server failed."""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.asyncio.server import ServerConnection, serve

from transcription.client import RemoteTranscriber
from transcription.schemas import ProtocolError, StreamParams

FINAL = {
    "type": "final",
    "channel": 0,
    "speaker": "speaker",
    "text": "hello",
    "start": 0.0,
    "end": 1.0,
    "words": [],
}


async def _fails_after_one_final(ws: ServerConnection) -> None:
    await ws.send(json.dumps({"type": "ready", "session_id": "s1"}))
    await ws.recv()
    await ws.send(json.dumps(FINAL))
    await ws.send(
        json.dumps({"type": "error", "code": "internal_error", "message": "model crashed"})
    )
    await ws.close(1011)


def test_finals_before_a_server_error_are_not_lost() -> None:
    async def scenario() -> list[dict[str, object]]:
        async with serve(_fails_after_one_final, "127.0.0.1", 0) as server:
            port = next(iter(server.sockets)).getsockname()[1]
            received: list[dict[str, object]] = []
            with pytest.raises(ProtocolError) as failure:
                async with RemoteTranscriber(f"ws://127.0.0.1:{port}").session(
                    StreamParams()
                ) as remote:
                    for _ in range(20):  # keep feeding until the error surfaces
                        received += await remote.feed(b"\0\0" * 160)
                        await asyncio.sleep(0.01)
            assert failure.value.code == "internal_error"
            return received

    assert asyncio.run(scenario()) == [FINAL]
