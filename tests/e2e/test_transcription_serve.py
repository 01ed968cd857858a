"""``parley transcription serve`` as an operator runs it: a process, probes, a stream."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.sync.client import connect

from tests.e2e.conftest import Server, free_port

pytestmark = pytest.mark.model


@pytest.fixture
def transcription_server(tmp_path: Path) -> Iterator[Server]:
    """The standalone service on a free port, answering ``/health`` (model maybe loading)."""
    port = free_port()
    srv = Server(
        url=f"http://127.0.0.1:{port}",
        data_dir=tmp_path / "data",
        port=port,
        args=("transcription", "serve"),
    )
    srv.data_dir.mkdir()
    try:
        srv.start()
        yield srv
    finally:
        srv.stop()


def ready_response(server: Server, timeout: float = 120.0) -> httpx.Response:
    """Poll ``/ready`` while the model loads (503 ``loading``); never a fixed sleep."""
    deadline = time.monotonic() + timeout
    while (response := httpx.get(f"{server.url}/ready")).status_code == 503:
        assert response.json()["status"] == "loading", server.log()
        assert time.monotonic() < deadline, f"model never loaded:\n{server.log()}"
        time.sleep(0.2)
    return response


def test_the_standalone_service_reports_health_readiness_metrics_and_streams(
    transcription_server: Server,
) -> None:
    server = transcription_server
    assert httpx.get(f"{server.url}/health").json() == {"status": "ok"}

    ready = ready_response(server)
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ready",
        "transcription": "in-process",
        "sessions_active": 0,
        "sessions_max": 16,
    }

    with connect(f"ws://127.0.0.1:{server.port}/v1/stream?language=en") as ws:
        assert json.loads(ws.recv(timeout=60))["type"] == "ready"
        ws.send(json.dumps({"type": "stop"}))
        assert json.loads(ws.recv(timeout=60)) == {"type": "end"}

    metrics = httpx.get(f"{server.url}/metrics")
    assert metrics.headers["content-type"].startswith("text/plain; version=")
    samples = {
        s.name: s.value
        for family in text_string_to_metric_families(metrics.text)
        for s in family.samples
    }
    assert samples["parley_transcription_sessions_total"] == 1  # the stream above
    assert samples["parley_transcription_sessions_active"] == 0
    assert not (server.data_dir / "parley.db").exists()  # no database, no console
