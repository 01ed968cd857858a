"""The console app exposes the transcription service's probes and metrics, local or remote."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from agent_console.app import create_app
from agent_console.settings import Settings


def ready_response(client: TestClient) -> httpx.Response:
    """Poll ``/ready`` while the model loads in the background; never a fixed sleep."""
    deadline = time.monotonic() + 60
    while (response := client.get("/ready")).json()["status"] == "loading":
        assert time.monotonic() < deadline, "the model never loaded"
        time.sleep(0.05)
    return response


@pytest.mark.model
def test_the_console_reports_health_readiness_and_metrics(tmp_path: Path) -> None:
    with TestClient(create_app(Settings(data_dir=tmp_path))) as client:
        assert client.get("/health").json() == {"status": "ok"}
        ready = ready_response(client)
        metrics = client.get("/metrics")
    assert ready.status_code == 200
    assert ready.json()["transcription"] == "in-process"
    assert "parley_transcription_sessions_active 0.0" in metrics.text


def test_a_console_using_a_remote_service_is_ready_without_a_model(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, transcription_url="ws://gpu-box:8000")
    with TestClient(create_app(settings)) as client:
        ready = client.get("/ready")
        metrics = client.get("/metrics")
        assert client.get("/healthz").status_code == 404  # one health endpoint: /health
    assert (ready.status_code, ready.json()) == (
        200,
        {"status": "ready", "transcription": "remote"},
    )
    assert metrics.status_code == 404 and "PARLEY_TRANSCRIPTION_URL" in metrics.text
