"""A real Parley server in a subprocess (uvicorn, SQLite file, bundled model, demo data).

``Server`` runs any ``parley`` serving command (``args``); the ``server`` fixture is the
console with demo data, waited for until its model is loaded.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "artifacts"
CHROMIUM = "/usr/bin/chromium"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    url: str
    data_dir: Path
    port: int
    args: tuple[str, ...] = ("serve", "--demo")
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, "PARLEY_DATA_DIR": str(self.data_dir), "PYTHONUNBUFFERED": "1"}
        command = [sys.executable, "-m", "agent_console.cli", *self.args, "--port", str(self.port)]
        with (self.data_dir / "server.log").open("ab") as log:  # the child keeps its own descriptor
            self.process = subprocess.Popen(
                command, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        self._wait_until_up()

    def _wait_until_up(self) -> None:
        """Until ``/health`` answers: the process serves HTTP (its model may still load)."""
        self._poll("/health", "did not start")

    def wait_until_ready(self) -> None:
        """Until ``/ready`` answers 200: the model is loaded."""
        self._poll("/ready", "did not load its model")

    def _poll(self, path: str, failure: str, timeout: float = 120.0) -> None:
        """Poll until ``path`` answers 200; never a fixed sleep."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}{path}", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"server {failure}:\n{self.log()}")

    def kill(self) -> None:
        """An abrupt stop (SIGKILL): no shutdown hook runs, as in a crash."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        path = self.data_dir / "server.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    port = free_port()
    srv = Server(url=f"http://127.0.0.1:{port}", data_dir=tmp_path / "data", port=port)
    srv.data_dir.mkdir()
    try:
        srv.start()
        srv.wait_until_ready()
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def browser_page() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        yield page
        browser.close()


def sign_in(client: httpx.Client, username: str, password: str = "parley-demo") -> None:
    """Sign in over plain HTTP, reading the CSRF token from the login form."""
    import re

    form = client.get("/login").text
    token = re.search(r'name="csrf" value="([^"]+)"', form)
    assert token, "login form carries a CSRF token"
    response = client.post(
        "/login", data={"username": username, "password": password, "csrf": token.group(1)}
    )
    assert response.status_code == 303, response.text
