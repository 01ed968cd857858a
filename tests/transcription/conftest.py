"""Transcription fixtures: one real tiny.en service per test run, and a fake-backend app."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from tx_fakes import FakeBackend

from transcription import model_store
from transcription.model_store import ModelPool
from transcription.routes import router
from transcription.service import TranscriptionService, load_backend


def make_app(service: TranscriptionService) -> FastAPI:
    app = FastAPI()
    app.include_router(router)
    app.state.transcription = service
    return app


@pytest.fixture(scope="session")
def tx_pool(tmp_path_factory: pytest.TempPathFactory) -> ModelPool:
    """The production model choice; each bundled model loads at most once per test run."""
    cache = tmp_path_factory.mktemp("models")
    return ModelPool(
        model_store.DEFAULT_MODELS, partial(load_backend, device="auto", cache_dir=cache)
    )


@pytest.fixture(scope="session")
def tx_service(tx_pool: ModelPool) -> Iterator[TranscriptionService]:
    service = TranscriptionService(tx_pool, max_sessions=4)
    yield service
    service.close()


@pytest.fixture(scope="session")
def tx_app(tx_service: TranscriptionService) -> FastAPI:
    return make_app(tx_service)


@pytest.fixture
def tx_own_app(tx_service: TranscriptionService) -> FastAPI:
    """A new app over the shared real model, for a test that changes ``app.state``."""
    return make_app(tx_service)


@pytest.fixture
def tx_client(tx_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(tx_app) as client:
        yield client


@pytest.fixture
def fake_backend() -> FakeBackend:
    return FakeBackend()


@pytest.fixture
def fake_service(fake_backend: FakeBackend) -> Iterator[TranscriptionService]:
    service = TranscriptionService.with_backend(fake_backend, max_sessions=1)
    yield service
    service.close()


@pytest.fixture
def fake_client(fake_service: TranscriptionService) -> Iterator[TestClient]:
    with TestClient(make_app(fake_service)) as client:
        yield client
