"""QA review pages: the flag queue, a flag in context, a call's scorecard, rule precision
and the CSV export. Reviewers and supervisors only; handlers stay thin (qa_review.service
does every read and write)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from pydantic import ValidationError

from agent_console import service as console_service
from agent_console.dependencies import DbSession, csrf_token, require_role, verify_csrf
from agent_console.templating import templates
from case_store import service as case_service
from case_store.models import Role, User
from qa_review import export
from qa_review import service as qa_service
from qa_review.evidence import highlight
from qa_review.models import Category, FlagStatus, ReviewReason, Severity
from qa_review.schemas import (
    DISMISS_REASONS,
    REASON_LABELS,
    Decision,
    QueueFilters,
    QueueItem,
    QueueSort,
)

router = APIRouter(prefix="/qa")
Reviewer = Annotated[User, Depends(require_role(*qa_service.REVIEWER_ROLES))]
QueueQuery = Annotated[QueueFilters, Query()]

QUEUE_TEMPLATE = "qa_queue.html"
# Playback starts a little before the flagged words, so the reviewer hears their lead-in.
AUDIO_LEAD_SECONDS = 2.0


def _page(
    request: Request, name: str, context: dict[str, Any], block: str | None = None
) -> Response:
    """The whole page, or just ``block`` for an htmx request (not a history restore,
    which needs the whole page back)."""
    context = {
        "csrf_token": csrf_token(request),
        "REASON_LABELS": REASON_LABELS,
        "DISMISS_REASONS": DISMISS_REASONS,
        **context,
    }
    is_htmx = request.headers.get("HX-Request") == "true"
    restoring = request.headers.get("HX-History-Restore-Request") == "true"
    if block and is_htmx and not restoring:
        return templates.TemplateResponse(request, name, context, block_name=block)
    return templates.TemplateResponse(request, name, context)


def _query_string(filters: QueueFilters, sort: QueueSort) -> str:
    """The queue's filters and order as a query string, for links that keep them."""
    return urlencode({**filters.to_query(), "sort": sort.value})


def _queue_from(query: str) -> tuple[QueueFilters, QueueSort]:
    """The filters a form carried back as a query string; unreadable ones mean defaults."""
    values = dict(parse_qsl(query))
    try:
        filters = QueueFilters.model_validate(values)
    except ValidationError:
        filters = QueueFilters()
    try:
        sort = QueueSort(values.get("sort", QueueSort.SEVERITY))
    except ValueError:
        sort = QueueSort.SEVERITY
    return filters, sort


def _item_or_404(db: DbSession, flag_id: int) -> QueueItem:
    item = qa_service.get_queue_item(session=db, flag_id=flag_id)
    if item is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Flag not found.")
    return item


@router.get("", response_class=HTMLResponse)
def queue(
    request: Request,
    user: Reviewer,
    db: DbSession,
    filters: QueueQuery,
    sort: QueueSort = QueueSort.SEVERITY,
    page: Annotated[int, Query(ge=1)] = 1,
) -> Response:
    result = qa_service.list_queue(session=db, filters=filters, sort=sort, page=page)
    context = {
        "user": user,
        "queue": result,
        "filters": filters,
        "sort": sort,
        "qs": _query_string(filters, sort),
        "collectors": case_service.list_users(session=db, role=Role.COLLECTOR),
        "categories": list(Category),
        "severities": list(Severity),
        "statuses": list(FlagStatus),
        "sorts": list(QueueSort),
    }
    return _page(request, QUEUE_TEMPLATE, context, block="queue_results")


@router.get("/flags/{flag_id}", response_class=HTMLResponse)
def flag_detail(
    request: Request,
    user: Reviewer,
    db: DbSession,
    flag_id: int,
    filters: QueueQuery,
    sort: QueueSort = QueueSort.SEVERITY,
) -> Response:
    item = _item_or_404(db, flag_id)
    flag = item.flag
    lines = [
        {
            "segment": segment,
            "highlight": highlight(segment.text, flag.start_char, flag.end_char, flag.evidence)
            if segment.id == flag.segment_id
            else None,
        }
        for segment in qa_service.flag_context(session=db, flag=flag)
    ]
    context = {
        "user": user,
        "item": item,
        "flag": flag,
        "lines": lines,
        "call_flags": qa_service.list_flags_for_call(session=db, call_id=flag.call_id),
        "has_recording": console_service.recording_file(item.call) is not None,
        "audio_start": round(max(0.0, flag.stream_start - AUDIO_LEAD_SECONDS), 2),
        "qs": _query_string(filters, sort),
    }
    return _page(request, "qa_flag.html", context)


@router.post("/flags/{flag_id}/review", dependencies=[Depends(verify_csrf)])
def review(
    request: Request,
    user: Reviewer,
    db: DbSession,
    flag_id: int,
    decision: Annotated[Decision, Form()],
    reason: Annotated[ReviewReason | None, Form()] = None,
    comment: Annotated[str, Form(max_length=qa_service.MAX_COMMENT_CHARS)] = "",
    origin: Annotated[Literal["queue", "detail"], Form()] = "detail",
    queue: Annotated[str, Form()] = "",
) -> Response:
    """Record the decision; the queue gets its updated row, the flag page the next flag."""
    try:
        qa_service.review_flag(
            session=db,
            flag_id=flag_id,
            reviewer=user,
            decision=decision,
            reason=reason,
            comment=comment,
        )
    except case_service.NotFound as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Flag not found.") from error
    except qa_service.InvalidReview as error:
        return PlainTextResponse(str(error), status.HTTP_422_UNPROCESSABLE_CONTENT)
    is_htmx = request.headers.get("HX-Request") == "true"
    filters, sort = _queue_from(queue)
    qs = _query_string(filters, sort)
    if origin == "queue":
        if not is_htmx:
            return RedirectResponse(f"/qa?{qs}", status.HTTP_303_SEE_OTHER)
        context = {"user": user, "item": _item_or_404(db, flag_id), "qs": qs}
        return _page(request, QUEUE_TEMPLATE, context, block="queue_row")
    next_id = qa_service.next_flag_id(session=db, filters=filters, sort=sort, after_flag_id=flag_id)
    url = f"/qa/flags/{next_id}?{qs}" if next_id else f"/qa?{qs}"
    if is_htmx:
        return Response(status_code=status.HTTP_204_NO_CONTENT, headers={"HX-Redirect": url})
    return RedirectResponse(url, status.HTTP_303_SEE_OTHER)


@router.get("/calls/{call_id}", response_class=HTMLResponse)
def call_scorecard(request: Request, user: Reviewer, db: DbSession, call_id: int) -> Response:
    scorecard = qa_service.call_scorecard(session=db, call_id=call_id)
    if scorecard is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Call not found.")
    context = {
        "user": user,
        "card": scorecard,
        "has_recording": console_service.recording_file(scorecard.call) is not None,
    }
    return _page(request, "qa_call.html", context)


@router.get("/rules", response_class=HTMLResponse)
def rules(request: Request, user: Reviewer, db: DbSession) -> Response:
    return _page(
        request, "qa_rules.html", {"user": user, "rules": qa_service.rule_precision(session=db)}
    )


@router.get("/export.csv")
def export_csv(
    user: Reviewer, db: DbSession, filters: QueueQuery, sort: QueueSort = QueueSort.SEVERITY
) -> Response:
    """The queue as filtered (every page), safe to open in a spreadsheet."""
    rows = qa_service.export_rows(session=db, filters=filters, sort=sort)
    filename = f"qa-flags-{date.today().isoformat()}.csv"
    return Response(
        export.to_csv(rows),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "private, no-store",
        },
    )
