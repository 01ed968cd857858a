"""Console routes: sign-in, worklist, case file and live call view. Thin by design."""

from __future__ import annotations

import asyncio
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
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
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
from agent_console.live_call import ConsoleUpdate, LiveCall
from agent_console.templating import render_fragment, templates
from case_store import service as case_service
from case_store.models import Call, Case

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
    url = f"/calls/{call_id}"
    if request.headers.get("HX-Request") == "true":
        return Response(status_code=status.HTTP_204_NO_CONTENT, headers={"HX-Redirect": url})
    return RedirectResponse(url, status.HTTP_303_SEE_OTHER)


@router.get("/calls/{call_id}", response_class=HTMLResponse)
def call_view(
    request: Request, user: CurrentUser, db: DbSession, call: Annotated[Call, Depends(valid_call)]
) -> Response:
    case = case_service.get_case_or_raise(session=db, case_id=call.case_id)
    return _page(
        request, CALL_TEMPLATE, calls.call_page_context(session=db, case=case, call=call, user=user)
    )


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
