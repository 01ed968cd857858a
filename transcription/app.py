"""The transcription service on its own (``parley transcription serve``), e.g. on a GPU box.

It has no database and no console: just the model, ``/v1/stream`` and the other
transcription endpoints. Consoles reach it through ``PARLEY_TRANSCRIPTION_URL``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from agent_console.settings import Settings
from transcription import ops, routes
from transcription.service import TranscriptionService


def create_app(
    settings: Settings | None = None, *, transcription: TranscriptionService | None = None
) -> FastAPI:
    """Build the standalone service; ``transcription`` lets tests inject a fake backend."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if transcription is not None:
            app.state.transcription = transcription
            yield
            return
        app.state.transcription = service = TranscriptionService.from_settings(settings)
        try:
            async with ops.warming(app, service):
                yield
        finally:
            service.close()

    app = FastAPI(title="Parley transcription", lifespan=lifespan, docs_url="/api/docs")
    app.state.settings = settings
    app.state.transcription_token = settings.transcription_token
    app.include_router(routes.router)
    return app
