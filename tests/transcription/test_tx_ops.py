"""/health, /ready and /metrics over the fake backend: what probes and scrapers will see."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from tx_fakes import FakeBackend

from transcription import ops
from transcription.client import RemoteTranscriber
from transcription.metrics import ServiceMetrics
from transcription.routes import router
from transcription.service import TranscriptionService
from transcription.streaming import Backend

DOC = Path(__file__).resolve().parents[2] / "docs" / "transcription-service.md"


def exposed_names(metrics: ServiceMetrics) -> set[str]:
    """Metric names as a scraper sees them (counters gain ``_total``)."""
    return {
        family.name + ("_total" if family.type == "counter" else "")
        for family in metrics.registry.collect()
    }


def test_health_answers_while_the_model_is_still_loading(fake_client: TestClient) -> None:
    assert fake_client.get("/health").json() == {"status": "ok"}
    response = fake_client.get("/ready")
    assert response.status_code == 503
    assert response.json() == {
        "status": "loading",
        "transcription": "in-process",
        "sessions_active": 0,
        "sessions_max": 1,
    }


def test_ready_once_warmed_up_and_counts_open_sessions(
    fake_client: TestClient, fake_service: TranscriptionService
) -> None:
    asyncio.run(fake_service.warm_up("en"))
    response = fake_client.get("/ready")
    assert response.status_code == 200
    assert response.json()["status"] == "ready"
    with fake_client.websocket_connect("/v1/stream") as ws:
        assert ws.receive_json()["type"] == "ready"
        assert fake_client.get("/ready").json()["sessions_active"] == 1


def test_metrics_are_the_services_own_in_prometheus_text(
    fake_client: TestClient, fake_service: TranscriptionService
) -> None:
    fake_service.metrics.sessions_refused.inc(3)
    response = fake_client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    families = list(text_string_to_metric_families(response.text))
    samples = {s.name: s.value for family in families for s in family.samples}
    assert samples["parley_transcription_sessions_refused_total"] == 3
    assert samples["parley_transcription_sessions_active"] == 0
    assert {family.name for family in families} >= {
        "parley_transcription_sessions_active",
        "parley_transcription_decode_seconds",
        "parley_transcription_queue_depth",
    }


def test_every_metric_is_documented() -> None:
    text = DOC.read_text()
    for name in exposed_names(ServiceMetrics()):
        assert f"`{name}`" in text, f"{name} is missing from {DOC.name}"


def remote_app(service: TranscriptionService, how: str) -> FastAPI:
    app = FastAPI()
    app.include_router(router)
    app.state.transcription = service
    if how == "url":  # the console with PARLEY_TRANSCRIPTION_URL keeps an idle local service
        app.state.transcription_url = "ws://gpu-box:8000"
    else:
        app.state.transcription = RemoteTranscriber("ws://gpu-box:8000")
    return app


@pytest.mark.parametrize("how", ["url", "client"])
def test_an_app_using_a_remote_service_is_ready_and_sends_scrapers_there(
    fake_service: TranscriptionService, how: str
) -> None:
    with TestClient(remote_app(fake_service, how)) as client:
        ready = client.get("/ready")
        metrics = client.get("/metrics")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "transcription": "remote"}
    assert metrics.status_code == 404
    assert "scrape that service's /metrics" in metrics.text


def warming_app(service: TranscriptionService) -> FastAPI:
    """An app whose lifespan loads the model in the background, as both real apps do."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with ops.warming(app, service):
            yield

    app = FastAPI(lifespan=lifespan)
    app.include_router(router)
    app.state.transcription = service
    return app


@pytest.fixture
def gated_service() -> Iterator[tuple[threading.Event, TranscriptionService]]:
    """A service whose model load waits for the event, so 'loading' can be observed."""
    release = threading.Event()

    def backend_for(language: str | None) -> Backend:
        release.wait(timeout=30)
        return FakeBackend()

    service = TranscriptionService(backend_for)
    yield release, service
    release.set()
    service.close()


@pytest.fixture
def unloadable_service() -> Iterator[TranscriptionService]:
    def backend_for(language: str | None) -> Backend:
        raise OSError("model.bin not found")

    service = TranscriptionService(backend_for)
    yield service
    service.close()


def after_loading(client: TestClient) -> httpx.Response:
    """Poll ``/ready`` until it stops saying ``loading``; never a fixed sleep."""
    deadline = time.monotonic() + 30
    while (response := client.get("/ready")).json()["status"] == "loading":
        assert time.monotonic() < deadline, "warm-up never finished"
        time.sleep(0.01)
    return response


def test_the_app_answers_while_the_model_loads_in_the_background(
    gated_service: tuple[threading.Event, TranscriptionService],
) -> None:
    release, service = gated_service
    with TestClient(warming_app(service)) as client:
        assert client.get("/health").status_code == 200
        assert client.get("/ready").status_code == 503
        release.set()
        response = after_loading(client)
    assert (response.status_code, response.json()["status"]) == (200, "ready")


def test_a_model_that_fails_to_load_is_reported_not_left_loading(
    unloadable_service: TranscriptionService, caplog: pytest.LogCaptureFixture
) -> None:
    with (
        caplog.at_level(logging.ERROR, logger="transcription.ops"),
        TestClient(warming_app(unloadable_service)) as client,
    ):
        response = after_loading(client)
        assert client.get("/health").status_code == 200
    assert (response.status_code, response.json()["status"]) == (503, "failed")
    assert "did not load" in caplog.text
