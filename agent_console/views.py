"""Console routes: sign-in, worklist, case file and live call view. Thin by design."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated, Any

from fastapi import (
    APIRouter,
    Depends,
    Form,
    HTTPException,
    Request,
    WebSocket,
    WebSocketDisconnect,
    status,
)
from fastapi.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
)
from sqlalchemy.orm import Session, sessionmaker

from agent_console import service as calls
from agent_console.dependencies import (
    CurrentUser,
    DbSession,
    csrf_token,
    require_role,
    valid_call,
    valid_case,
    verify_csrf,
)
from agent_console.live_call import AudioInlet, AudioInterrupted, ConsoleUpdate, LiveCall
from agent_console.templating import render_fragment, templates
from case_store import service as case_service
from case_store.models import Call, Case
from transcription.schemas import (
    ProtocolError,
    StopMessage,
    StreamParams,
    parse_call_metadata,
    parse_client_message,
)
from transcription.views import check_origin, protocol_errors

log = logging.getLogger(__name__)
router = APIRouter()
CALL_TEMPLATE = "call.html"


def _page(
    request: Request, name: str, context: dict[str, Any], block: str | None = None
) -> Response:
    """Whole page for a normal request; just ``block`` for an htmx request that asks for it."""
    context = {"csrf_token": csrf_token(request), **context}
    if block and request.headers.get("HX-Request") == "true":
        return templates.TemplateResponse(request, name, context, block_name=block)
    return templates.TemplateResponse(request, name, context)


@router.get("/", include_in_schema=False)
def home(user: CurrentUser) -> RedirectResponse:
    return RedirectResponse("/worklist", status.HTTP_303_SEE_OTHER)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> Response:
    return _page(request, "login.html", {"error": None})


@router.post("/login", dependencies=[Depends(verify_csrf)])
def login(
    request: Request,
    db: DbSession,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
) -> Response:
    user = case_service.authenticate(session=db, username=username.strip(), password=password)
    if user is None:
        response = _page(request, "login.html", {"error": "Wrong username or password."})
        response.status_code = status.HTTP_401_UNAUTHORIZED
        return response
    request.session.clear()
    request.session["user_id"] = user.id
    return RedirectResponse("/worklist", status.HTTP_303_SEE_OTHER)


@router.post("/logout", dependencies=[Depends(verify_csrf)])
def logout(request: Request) -> RedirectResponse:
    request.session.clear()
    return RedirectResponse("/login", status.HTTP_303_SEE_OTHER)


@router.get("/worklist", response_class=HTMLResponse)
def worklist(request: Request, user: CurrentUser, db: DbSession) -> Response:
    cases = case_service.list_worklist(session=db, user=user)
    return _page(request, "worklist.html", {"user": user, "cases": cases})


@router.get("/cases/{case_id}", response_class=HTMLResponse)
def case_view(
    request: Request, user: CurrentUser, db: DbSession, case: Annotated[Case, Depends(valid_case)]
) -> Response:
    return _page(
        request, CALL_TEMPLATE, calls.call_page_context(session=db, case=case, call=None, user=user)
    )


@router.post(
    "/cases/{case_id}/calls/simulate",
    dependencies=[Depends(verify_csrf), Depends(require_role(*calls.CALLING_ROLES))],
)
async def simulate_call(
    request: Request, user: CurrentUser, case: Annotated[Case, Depends(valid_case)]
) -> Response:
    call_id = await calls.start_simulated_call(request.app, case_id=case.id, user_id=user.id)
    return _to_call_page(request, call_id)


def _to_call_page(request: Request, call_id: int) -> Response:
    """After starting a call: htmx follows ``HX-Redirect``, a form post a 303."""
    url = f"/calls/{call_id}"
    if request.headers.get("HX-Request") == "true":
        return Response(status_code=status.HTTP_204_NO_CONTENT, headers={"HX-Redirect": url})
    return RedirectResponse(url, status.HTTP_303_SEE_OTHER)


@router.post(
    "/cases/{case_id}/calls/stream",
    dependencies=[Depends(verify_csrf), Depends(require_role(*calls.CALLING_ROLES))],
)
async def start_streamed_call(
    request: Request, user: CurrentUser, case: Annotated[Case, Depends(valid_case)]
) -> Response:
    """A call whose audio a softphone, bridge or the browser streams in; JSON for programs."""
    started = await calls.start_streamed_call(request.app, case_id=case.id, user_id=user.id)
    if "application/json" in request.headers.get("accept", ""):
        audio = calls.audio_path(started.call_id, started.token)
        return JSONResponse(
            {
                "call_id": started.call_id,
                "call_url": str(request.url.replace(path=f"/calls/{started.call_id}", query="")),
                "audio_url": _websocket_url(request, audio),
            },
            status_code=status.HTTP_201_CREATED,
        )
    return _to_call_page(request, started.call_id)


@router.get("/calls/{call_id}", response_class=HTMLResponse)
def call_view(
    request: Request, user: CurrentUser, db: DbSession, call: Annotated[Call, Depends(valid_call)]
) -> Response:
    case = case_service.get_case_or_raise(session=db, case_id=call.case_id)
    context = calls.call_page_context(session=db, case=case, call=call, user=user)
    audio = calls.waiting_audio_path(request.app, call.id)
    audio_url = _websocket_url(request, audio) if audio else None
    return _page(request, CALL_TEMPLATE, {**context, "audio_url": audio_url})


def _websocket_url(request: Request, path: str) -> str:
    """``path`` on this server as a WebSocket URL (``wss`` behind HTTPS)."""
    scheme = "wss" if request.url.scheme == "https" else "ws"
    return f"{scheme}://{request.url.netloc}{path}"


@router.get("/calls/{call_id}/recording")
def call_recording(call: Annotated[Call, Depends(valid_call)]) -> FileResponse:
    """The call's audio for whoever may open the call page; Range requests let the player seek."""
    path = calls.recording_file(call)
    if path is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "No recording was kept for this call.")
    return FileResponse(
        path,
        filename=f"call-{call.id}{path.suffix}",
        content_disposition_type="inline",
        headers={"Cache-Control": "private, no-store"},
    )


@router.websocket("/calls/{call_id}/live")
async def call_updates(websocket: WebSocket, call_id: int) -> None:
    """Pushes HTML fragments (htmx out-of-band swaps) for every update of a live call."""
    factory: sessionmaker[Session] = websocket.app.state.session_factory
    if not await asyncio.to_thread(
        calls.may_watch, factory, websocket.session.get("user_id"), call_id
    ):
        await websocket.close(code=status.WS_1008_POLICY_VIOLATION, reason="not allowed")
        return
    await websocket.accept()
    live: LiveCall | None = websocket.app.state.live_calls.get(call_id)
    disconnected = asyncio.create_task(_until_disconnect(websocket))
    try:
        if live is None:  # ended before this process started: the page already shows it all
            await websocket.send_text(
                render_fragment(CALL_TEMPLATE, "call_status", call_status="ended", call_error=None)
            )
            await disconnected
            return
        with live.subscribe() as queue:
            await websocket.send_text(_snapshot(live))
            while True:
                next_update = asyncio.create_task(queue.get())
                await asyncio.wait({next_update, disconnected}, return_when=asyncio.FIRST_COMPLETED)
                if disconnected.done():
                    next_update.cancel()
                    return
                await websocket.send_text(_fragment(next_update.result(), live))
    except WebSocketDisconnect:
        return
    finally:
        disconnected.cancel()


@router.websocket("/calls/{call_id}/audio")
async def call_audio(websocket: WebSocket, call_id: int) -> None:
    """A call's audio in, framed as on ``/v1/stream``; it is transcribed and recorded as it
    arrives (``docs/console-calls.md``). Answers ``ready``, then ``end`` after ``stop``."""
    await websocket.accept()
    async with protocol_errors(websocket):
        check_origin(websocket)  # the session cookie rides along on any page's socket
        live, inlet = await calls.audio_inlet(
            websocket.app,
            call_id=call_id,
            user_id=websocket.session.get("user_id"),
            token=_token(websocket),
        )
        params = calls.audio_params(websocket.query_params, live.context.language)
        calls.claim(inlet, call_id)
        await websocket.send_json({"type": "ready", "call_id": call_id})
        await _stream_call_audio(websocket, live, inlet, params)


def _token(websocket: WebSocket) -> str:
    header = websocket.headers.get("authorization", "")
    if header.startswith("Bearer "):
        return header.removeprefix("Bearer ").strip()
    return websocket.query_params.get("token", "")


async def _stream_call_audio(
    websocket: WebSocket, live: LiveCall, inlet: AudioInlet, params: StreamParams
) -> None:
    """Frames into the call until ``stop``, a drop, or the call failing on them.

    The call (its own task) tells why it stopped through ``live.failure``; after ``stop``
    the client hears ``end`` once every final is saved.
    """
    assert live.task is not None
    receiving = asyncio.create_task(_receive_audio(websocket, inlet, params))
    try:
        await asyncio.wait({receiving, live.task}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not receiving.done():  # the call stopped first: nothing more is read
            receiving.cancel()
            await asyncio.gather(receiving, return_exceptions=True)
    if receiving.done() and not receiving.cancelled() and not receiving.result():
        return  # the client left; the call ends interrupted on its own
    await asyncio.wait({live.task})  # after stop: until every final is saved
    if live.task.cancelled():
        raise ProtocolError("call_ended", "the server stopped the call")
    if live.failure is not None:
        if isinstance(live.failure, ProtocolError):
            raise live.failure
        raise ProtocolError("call_ended", f"the call stopped: {live.failure}")
    await websocket.send_json({"type": "end"})
    await websocket.close(status.WS_1000_NORMAL_CLOSURE)


async def _receive_audio(websocket: WebSocket, inlet: AudioInlet, params: StreamParams) -> bool:
    """Relay frames to the call; True after ``stop``, False when the client left.

    The messages are those of ``/v1/stream``; a ``context`` message is accepted and left
    unused, since the call gives the model its case's names itself. However this ends
    (even cancelled), the call hears that its audio is over.
    """
    audio_started = False
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return False
            if (data := message.get("bytes")) is not None:
                audio_started = True
                await inlet.put(data, params)
                continue
            text = message.get("text") or ""
            if not audio_started and (metadata := parse_call_metadata(text)) is not None:
                log.info("call audio metadata: %s", metadata.summary())
                audio_started = True  # one metadata frame, as mod_audio_fork sends it
                continue
            if isinstance(parse_client_message(text), StopMessage):
                inlet.end()
                return True
    except ProtocolError as exc:
        inlet.end(AudioInterrupted(f"the client sent a bad message: {exc.message}"))
        raise
    finally:
        inlet.end(AudioInterrupted("the audio connection closed without a stop message"))


async def _until_disconnect(websocket: WebSocket) -> None:
    """Consoles send nothing; reading is how a closed tab is noticed while the call is quiet."""
    while (await websocket.receive())["type"] != "websocket.disconnect":
        pass


def _snapshot(live: LiveCall) -> str:
    state = live.state
    return "".join(
        [
            render_fragment(
                CALL_TEMPLATE,
                "transcript",
                segments=state.segments,
                partials=state.partials,
                call=True,
                oob=True,
            ),
            render_fragment(CALL_TEMPLATE, "suggestions", suggestions=state.suggestions, oob=True),
            render_fragment(CALL_TEMPLATE, "warnings", warnings=state.warnings, oob=True),
            render_fragment(CALL_TEMPLATE, "checklist", checklist=state.checklist, oob=True),
            render_fragment(
                CALL_TEMPLATE, "call_status", call_status=state.status, call_error=state.error
            ),
        ]
    )


def _fragment(update: ConsoleUpdate, live: LiveCall) -> str:
    state = live.state
    match update.kind:
        case "segment":
            return render_fragment(
                CALL_TEMPLATE, "segment_append", segment=update.data
            ) + render_fragment(
                CALL_TEMPLATE, "partial", channel=update.data["channel"], partial=None
            )
        case "partial":
            return render_fragment(
                CALL_TEMPLATE, "partial", channel=update.data["channel"], partial=update.data
            )
        case "suggestions":
            return render_fragment(
                CALL_TEMPLATE, "suggestions", suggestions=state.suggestions, oob=True
            )
        case "warning":
            return render_fragment(CALL_TEMPLATE, "warnings", warnings=state.warnings, oob=True)
        case "checklist":
            return render_fragment(CALL_TEMPLATE, "checklist", checklist=state.checklist, oob=True)
        case "resync":
            return _snapshot(live)
        case "status":
            return render_fragment(
                CALL_TEMPLATE, "call_status", call_status=state.status, call_error=state.error
            )
