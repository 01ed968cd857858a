"""The transcription service in a subprocess, and its resident memory, for benchmarks."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT = 300.0


@dataclass(frozen=True, slots=True)
class Server:
    """Where the service listens; ``pid`` is known only for one started here."""

    url: str
    pid: int | None = None
    log: Path | None = None


@contextmanager
def local_server(data_dir: Path, *, max_sessions: int = 64) -> Iterator[Server]:
    """``uvicorn --factory transcription.app:create_app`` on a free port, until the block ends.

    The environment passes through, so ``PARLEY_MODELS``/``PARLEY_DEVICE`` choose the model
    as they would in production; the data folder and the session limit are the benchmark's.
    """
    port = free_port()
    env = {**os.environ, "PARLEY_DATA_DIR": str(data_dir), "PARLEY_MAX_SESSIONS": str(max_sessions)}
    command = [sys.executable, "-m", "uvicorn", "--factory", "transcription.app:create_app"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    log = data_dir / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, env=env, cwd=REPO_ROOT, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        wait_until_answers(f"http://127.0.0.1:{port}/api/docs", process, log)
        yield Server(f"ws://127.0.0.1:{port}", process.pid, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_until_answers(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """Poll ``url`` until it answers 200; fail early if the server process exits."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    raise TimeoutError(f"the server did not answer {url} within {START_TIMEOUT:.0f} s")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_mib(pid: int) -> float:
    """Resident set size of ``pid`` (``VmRSS`` in ``/proc/PID/status``) in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise LookupError(f"no VmRSS for process {pid}")


class PeakRss:
    """Samples a process's RSS every ``every`` seconds while its ``async with`` runs."""

    def __init__(self, pid: int, every: float = 0.5) -> None:
        self.pid = pid
        self.every = every
        self.idle = rss_mib(pid)
        self.peak = self.idle
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> PeakRss:
        self._task = asyncio.create_task(self._sample())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.peak = max(self.peak, rss_mib(self.pid))

    async def _sample(self) -> None:
        while True:
            self.peak = max(self.peak, rss_mib(self.pid))
            await asyncio.sleep(self.every)
