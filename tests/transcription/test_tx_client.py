"""RemoteTranscriber against the real app served by uvicorn on a free localhost port."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI

from transcription.audio import AudioFormatError, read_wav
from transcription.client import RemoteSession, RemoteTranscriber, protocol_error
from transcription.schemas import ParamError, StreamParams
from transcription.service import SessionLimitError

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def server_url(tx_app: FastAPI) -> Iterator[str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(tx_app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:  # poll until it answers; never a fixed sleep
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    yield f"ws://127.0.0.1:{port}"
    server.should_exit = True
    thread.join()
    sock.close()


def test_remote_session_streams_a_recording(server_url: str, shared_audio: Path) -> None:
    audio = read_wav(shared_audio / "deepspeech_LDC93S1.wav")

    async def call() -> tuple[str, list[dict[str, Any]]]:
        transcriber = RemoteTranscriber(server_url)
        async with transcriber.session(StreamParams(language="en")) as remote:
            remote.set_context(hotwords=["greasy"], prompt=None)
            events = [e for chunk in audio.chunks(0.1) for e in await remote.feed(chunk)]
            return remote.session_id, events + await remote.finish()

    session_id, events = asyncio.run(call())
    assert session_id
    assert events[-1] == {"type": "end"}
    finals = [e for e in events if e["type"] == "final"]
    assert "greasy" in " ".join(f["text"] for f in finals).lower()
    assert all(f["words"] and f["end"] <= audio.duration + 0.05 for f in finals)


def test_remote_errors_raise_the_same_exceptions(server_url: str) -> None:
    async def bad_rate() -> None:
        async with RemoteTranscriber(server_url).session(StreamParams()) as remote:
            await remote.feed(b"\x00")
            await remote.finish()

    with pytest.raises(AudioFormatError) as torn:
        asyncio.run(bad_rate())
    assert torn.value.code == "invalid_frame"

    async def one_too_many() -> None:
        transcriber = RemoteTranscriber(server_url)
        async with contextlib.AsyncExitStack() as stack:
            for _ in range(4):  # the test service allows four streams
                await stack.enter_async_context(transcriber.session(StreamParams()))
            await stack.enter_async_context(transcriber.session(StreamParams()))

    with pytest.raises(SessionLimitError) as refused:
        asyncio.run(one_too_many())
    assert refused.value.code == "too_many_sessions"


def test_error_events_map_to_exception_classes() -> None:
    error = protocol_error({"type": "error", "code": "unsupported_language", "message": "no"})
    assert isinstance(error, ParamError) and error.message == "no"


def test_remote_session_connect_is_the_console_entry_point(server_url: str) -> None:
    async def call() -> list[dict[str, Any]]:
        async with RemoteSession.connect(server_url, StreamParams(language="en")) as remote:
            remote.set_context(["Acme"], "A call.")
            return await remote.finish()

    assert asyncio.run(call()) == [{"type": "end"}]


def test_events_are_pushed_between_frames(server_url: str, shared_audio: Path) -> None:
    """After the last frame, poll() hands over the final without another frame or stop."""
    audio = read_wav(shared_audio / "deepspeech_LDC93S1.wav")
    silence = b"\0" * (2 * audio.sample_rate)  # one second, enough to end the utterance

    async def call() -> list[dict[str, Any]]:
        async with RemoteTranscriber(server_url).session(StreamParams(language="en")) as remote:
            speech = audio.chunks(0.1)[:26]  # stop inside the last word: no pause yet
            for chunk in [*speech, silence]:  # the turn can only end in this last frame
                await remote.feed(chunk)
            pushed: list[dict[str, Any]] = []
            while not any(e["type"] == "final" for e in pushed):
                pushed += await asyncio.wait_for(remote.poll(), timeout=60)
            await remote.finish()
            return pushed

    finals = [e for e in asyncio.run(call()) if e["type"] == "final"]
    assert "greasy" in " ".join(f["text"] for f in finals).lower()
