"""The ASGI application: console, transcription endpoints and static files in one process."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from agent_console import views
from agent_console.dependencies import LoginRequired
from agent_console.live_call import LiveCallHub
from agent_console.settings import Settings
from case_store import crypto
from case_store import service as case_service
from case_store.database import make_engine, make_session_factory, transaction
from case_store.schema import upgrade
from qa_review import views as qa_views
from transcription import ops
from transcription import routes as transcription_routes
from transcription.service import TranscriptionService

log = logging.getLogger(__name__)
STATIC_DIR = Path(__file__).resolve().parent.parent / "static"


def create_app(
    settings: Settings | None = None, *, transcription: TranscriptionService | None = None
) -> FastAPI:
    """Build the app; ``transcription`` lets tests share one loaded model between apps."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        crypto.configure(settings.resolved_secret_key, settings.previous_secret_keys)
        engine = make_engine(settings.resolved_database_url)
        upgrade(engine)
        app.state.session_factory = make_session_factory(engine)
        with transaction(app.state.session_factory) as session:
            interrupted = case_service.mark_interrupted_calls(session=session)
        if interrupted:
            log.warning(
                "%d call(s) were cut by the last shutdown; their transcripts are kept", interrupted
            )
        if settings.demo:
            from agent_console import demo_data

            demo_data.load(app.state.session_factory)
        service = transcription or TranscriptionService.from_settings(settings)
        app.state.transcription = service
        app.state.live_calls = LiveCallHub()
        async with contextlib.AsyncExitStack() as stack:  # undone last to first on shutdown
            stack.callback(engine.dispose)
            if transcription is None:
                stack.callback(service.close)
                if not settings.transcription_url:
                    # Load the model before the first call needs it, while /ready says 503.
                    await stack.enter_async_context(ops.warming(app, service))
            stack.push_async_callback(app.state.live_calls.shutdown)
            yield

    app = FastAPI(title="Parley", lifespan=lifespan, docs_url="/api/docs", redoc_url=None)
    app.state.settings = settings
    app.state.transcription_token = settings.transcription_token
    app.state.transcription_url = settings.transcription_url
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.resolved_secret_key,
        session_cookie="parley_session",
        same_site="lax",
        https_only=False,
    )
    app.include_router(views.router)
    app.include_router(qa_views.router)
    app.include_router(transcription_routes.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.exception_handler(LoginRequired)
    async def _to_login(request: Request, exc: LoginRequired) -> Response:
        if request.headers.get("HX-Request") == "true":
            return Response(status_code=401, headers={"HX-Redirect": "/login"})
        return RedirectResponse("/login", status_code=303)

    return app
