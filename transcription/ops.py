"""Liveness, readiness and metrics: what load balancers, orchestrators and Prometheus ask.

``/health`` answers as soon as the process serves HTTP, ``/ready`` only once the model is
loaded, so an orchestrator can keep a slow-loading GPU box out of rotation without
killing it. That split only means something if loading does not block start-up, hence
:func:`warming`, which both apps' lifespans use.

A console that sends its audio to a remote service (``PARLEY_TRANSCRIPTION_URL``) has no
model of its own to wait for: it is ready at once, and its ``/metrics`` says to scrape the
remote service instead. ``/metrics`` shows load (sessions, audio, decode times), never
content or credentials, so it is open like ``/health``; see
``docs/transcription-service.md``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Literal

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel

from transcription.service import TranscriptionService

logger = logging.getLogger(__name__)
router = APIRouter(tags=["operations"])


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    """``/ready``'s body; the session counts are absent when transcription is remote."""

    status: Literal["ready", "loading", "failed"]
    transcription: Literal["in-process", "remote"]
    sessions_active: int | None = None
    sessions_max: int | None = None


@router.get("/health")
async def health() -> Health:
    """Liveness: the process answers HTTP (the model may still be loading)."""
    return Health()


@router.get(
    "/ready",
    response_model_exclude_none=True,
    responses={503: {"model": Readiness, "description": "model still loading, or failed"}},
)
async def ready(request: Request, response: Response) -> Readiness:
    """Readiness: 200 once streams can start without waiting for a model, else 503."""
    report = readiness(request.app)
    if report.status != "ready":
        response.status_code = 503
    return report


@router.get("/metrics", response_class=PlainTextResponse)
async def metrics(request: Request) -> Response:
    """Prometheus text exposition of this process's transcription service."""
    service = local_service(request.app)
    if service is None:
        return PlainTextResponse(
            "transcription runs on a remote service (PARLEY_TRANSCRIPTION_URL); "
            "scrape that service's /metrics\n",
            status_code=404,
        )
    return Response(service.metrics.render(), media_type=CONTENT_TYPE_LATEST)


def readiness(app: FastAPI) -> Readiness:
    service = local_service(app)
    if service is None:
        return Readiness(status="ready", transcription="remote")
    status: Literal["ready", "loading", "failed"] = "ready"
    if not service.ready:
        status = "failed" if getattr(app.state, "transcription_failed", False) else "loading"
    return Readiness(
        status=status,
        transcription="in-process",
        sessions_active=service.active_sessions,
        sessions_max=service.max_sessions,
    )


def local_service(app: FastAPI) -> TranscriptionService | None:
    """The service this app transcribes with, or ``None`` when it delegates to a remote one.

    The console names its remote service in ``app.state.transcription_url`` (and may still
    hold an idle local service for ``/v1/stream``, which must not make it look unready);
    anything other than a :class:`TranscriptionService` is a remote client.
    """
    service = getattr(app.state, "transcription", None)
    if getattr(app.state, "transcription_url", None) or not isinstance(
        service, TranscriptionService
    ):
        return None
    return service


@contextlib.asynccontextmanager
async def warming(app: FastAPI, service: TranscriptionService) -> AsyncIterator[None]:
    """Load the English model in the background for the lifespan's duration.

    The app serves ``/health`` (and answers ``/ready`` with 503) meanwhile; a stream that
    arrives early simply queues behind the load on the inference worker. A failed load is
    logged and ``/ready`` reports ``failed`` rather than ``loading`` forever.
    """
    task = asyncio.create_task(_warm_up(app, service), name="parley-warm-up")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _warm_up(app: FastAPI, service: TranscriptionService) -> None:
    try:
        await service.warm_up("en")
    except Exception:
        app.state.transcription_failed = True
        logger.exception("the transcription model did not load; /ready answers 503 until restart")
    else:
        logger.info("transcription model loaded; /ready answers 200")
