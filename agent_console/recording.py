"""Call recordings: the audio a client streams into a call, kept as a WAV file as it arrives.

A recording holds the audio exactly as received, stereo (agent left, debtor right) or
mono, at its own sample rate; μ-law is expanded to 16-bit PCM by the transcription
decoder, so the file plays anywhere. Every write updates the header's sizes and is handed
to the operating system at once, so a server killed mid-call leaves a file that plays up
to the last frame it received; :func:`repair` fixes the header of one cut between a frame
and its header update. Writing blocks, so it runs in worker threads, never on the event
loop.
"""

from __future__ import annotations

import asyncio
import os
import struct
import threading
import wave
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from agent_console.live_call import AudioFrames
from transcription.audio import decode
from transcription.schemas import StreamParams

RECORDINGS_DIR = "recordings"
"""Folder of streamed calls' recordings inside the data folder."""
HEADER_BYTES = 44
"""The plain PCM header :mod:`wave` writes: RIFF, a 16-byte ``fmt`` chunk, then ``data``."""


def pcm16(data: bytes, params: StreamParams) -> bytes:
    """A wire frame as interleaved 16-bit PCM (a no-op for ``pcm_s16le``)."""
    samples = decode(data, encoding=params.encoding, channels=params.channels)
    return (samples * 32768.0).astype("<i2").tobytes()  # exact: decode divided by 32768


class WavRecorder:
    """One call's recording, opened by its first frame (whose parameters it takes)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()  # a write cut short by cancellation may still run
        self._file: BinaryIO | None = None
        self._wav: wave.Wave_write | None = None

    def write(self, data: bytes, params: StreamParams) -> None:
        """Append one frame; blocking, so call it in a thread."""
        pcm = pcm16(data, params)
        with self._lock:
            if self._wav is None:
                self._open(params)
            assert self._wav is not None and self._file is not None
            self._wav.writeframes(pcm)  # also rewrites the header's sizes
            self._file.flush()  # in the OS's hands: it survives the process being killed

    def close(self) -> None:
        with self._lock:
            if self._wav is not None and self._file is not None:
                self._wav.close()
                os.fsync(self._file.fileno())
                self._file.close()
            self._wav = self._file = None

    def _open(self, params: StreamParams) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("wb")
        self._wav = wave.open(self._file, "wb")  # noqa: SIM115  # closed by close()
        self._wav.setnchannels(params.channels)
        self._wav.setsampwidth(2)
        self._wav.setframerate(params.sample_rate)

    async def tap(self, frames: AudioFrames) -> AudioFrames:
        """``frames`` passed on, each recorded once its consumer asks for the next one.

        The consumer asks only after transcription took the frame, so a frame it refused
        (a torn sample, a file header) never reaches the recording.
        """
        async for data, params in frames:
            yield data, params
            await asyncio.to_thread(self.write, data, params)

    async def __aenter__(self) -> WavRecorder:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.close)


def repair(path: Path) -> bool:
    """Make a recording's header sizes match its data; True when it had to.

    Only the plain header this module writes is touched: a server killed between writing
    a frame and updating the header leaves sizes one frame short.
    """
    with path.open("r+b") as file:
        header = file.read(HEADER_BYTES)
        if (
            len(header) < HEADER_BYTES
            or header[:4] != b"RIFF"
            or header[8:16] != b"WAVEfmt "
            or header[36:40] != b"data"
        ):
            return False
        (block,) = struct.unpack_from("<H", header, 32)
        data = (file.seek(0, os.SEEK_END) - HEADER_BYTES) // max(block, 1) * max(block, 1)
        sizes = (HEADER_BYTES - 8 + data, data)
        if (
            struct.unpack_from("<I", header, 4)[0],
            struct.unpack_from("<I", header, 40)[0],
        ) == sizes:
            return False
        file.seek(4)
        file.write(struct.pack("<I", sizes[0]))
        file.seek(40)
        file.write(struct.pack("<I", sizes[1]))
        return True
