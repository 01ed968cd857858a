"""QA review pages: the flag queue, a flag in context, a call's scorecard, rule precision
and the CSV export. Reviewers and supervisors only; handlers stay thin (qa_review.service
does every read and write)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from datetime import date
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl, quote, urlencode

import yaml
from fastapi import (
    APIRouter,
    Depends,
    File,
    Form,
    HTTPException,
    Query,
    Request,
    UploadFile,
    status,
)
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from pydantic import ValidationError

from agent_console import service as console_service
from agent_console.dependencies import DbSession, csrf_token, require_role, verify_csrf
from agent_console.templating import templates
from case_store import service as case_service
from case_store.models import Role, User
from qa_review import export
from qa_review import service as qa_service
from qa_review.engine import SPEAKERS, Hit, RuleEngine, RuleLibrary, spec_from_yaml
from qa_review.evidence import highlight
from qa_review.models import (
    Category,
    FlagStatus,
    QaPhraseList,
    QaRequiredStatement,
    QaRule,
    QaRuleVersion,
    ReviewReason,
    Severity,
)
from qa_review.normalize import LANGUAGES
from qa_review.schemas import (
    DISMISS_REASONS,
    REASON_LABELS,
    Decision,
    MissingFilters,
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


def _partial(request: Request) -> bool:
    """An htmx swap wants a fragment; a history restore needs the whole page back."""
    return (
        request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-History-Restore-Request") != "true"
    )


def _page(
    request: Request,
    name: str,
    context: dict[str, Any],
    block: str | None = None,
    status_code: int = status.HTTP_200_OK,
) -> Response:
    """The whole page, or just ``block`` for an htmx swap (see ``_partial``)."""
    context = {
        "csrf_token": csrf_token(request),
        "REASON_LABELS": REASON_LABELS,
        "DISMISS_REASONS": DISMISS_REASONS,
        **context,
    }
    if block and _partial(request):
        return templates.TemplateResponse(
            request, name, context, block_name=block, status_code=status_code
        )
    return templates.TemplateResponse(request, name, context, status_code=status_code)


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
        "reviews": qa_service.flag_reviews(session=db, flag_id=flag.id),
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


# --- the rule editor (QA leads) -----------------------------------------------------------
# Supervisors edit, reviewers may look. The form is the rule's YAML form spread over fields;
# qa_service.save_rule validates it, so an error message names what is wrong and the page
# comes back with the lead's input as typed.

Editor = Annotated[User, Depends(require_role(Role.SUPERVISOR))]
LIBRARY_TEMPLATE = "qa_library.html"
RULE_TEMPLATE = "qa_rule_edit.html"
MAX_IMPORT_BYTES = 1024 * 1024
MAX_TEST_CHARS = 2000


@dataclass
class RuleForm:
    """The editor's fields as typed; ``definition`` turns them into the rule's YAML form."""

    key: str = ""
    category: str = Category.ABUSE.value
    language: str = "en"
    severity: str = Severity.HIGH.value
    description: str = ""
    enabled: bool = True
    phrases: str = ""
    exceptions: str = ""
    near_phrases: str = ""
    near_within: str = "8"
    not_near_phrases: str = ""
    not_near_within: str = "5"
    speakers: list[str] = field(default_factory=lambda: ["agent"])
    note: str = ""

    @classmethod
    def from_rule(cls, rule: QaRule) -> RuleForm:
        conditions = rule.conditions or {}
        near = conditions.get("near") or {}
        not_near = conditions.get("not_near") or {}
        return cls(
            key=rule.key,
            category=rule.category,
            language=rule.language,
            severity=rule.severity,
            description=rule.description,
            enabled=rule.enabled,
            phrases="\n".join(rule.phrases),
            exceptions="\n".join(conditions.get("exceptions") or ()),
            near_phrases="\n".join(near.get("phrases") or ()),
            near_within=str(near.get("within", 8)),
            not_near_phrases="\n".join(not_near.get("phrases") or ()),
            not_near_within=str(not_near.get("within", 5)),
            speakers=list(conditions.get("speakers") or ["agent"]),
        )

    def definition(self) -> dict[str, Any]:
        """The rule's YAML form; ``ValueError`` for what the engine cannot be asked about."""
        data: dict[str, Any] = {
            "key": self.key.strip(),
            "category": self.category,
            "language": self.language,
            "severity": self.severity,
            "description": self.description.strip(),
            "phrases": _lines(self.phrases),
        }
        if not data["phrases"]:
            raise ValueError("Enter at least one phrase (one per line).")
        if exceptions := _lines(self.exceptions):
            data["exceptions"] = exceptions
        for name, phrases, within in (
            ("near", self.near_phrases, self.near_within),
            ("not_near", self.not_near_phrases, self.not_near_within),
        ):
            if listed := _lines(phrases):
                data[name] = {"phrases": listed, "within": _within(name, within)}
        if not self.speakers:
            raise ValueError("Choose whose words the rule judges.")
        if self.speakers != ["agent"]:
            data["speakers"] = self.speakers
        return data


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _within(name: str, value: str) -> int:
    try:
        within = int(value.strip())
    except ValueError:
        raise ValueError(f"{name.replace('_', ' ')}: “within” must be a whole number.") from None
    if within < 0:
        raise ValueError(f"{name.replace('_', ' ')}: “within” must be zero or more.")
    return within


def _rule_form(
    # Aliased: ``key`` is also the path parameter of /library/{key}.
    rule_key: Annotated[str, Form(alias="key", max_length=64)] = "",
    category: Annotated[str, Form()] = Category.ABUSE.value,
    language: Annotated[str, Form()] = "en",
    severity: Annotated[str, Form()] = Severity.HIGH.value,
    description: Annotated[str, Form(max_length=2000)] = "",
    enabled: Annotated[bool, Form()] = False,
    phrases: Annotated[str, Form(max_length=20000)] = "",
    exceptions: Annotated[str, Form(max_length=20000)] = "",
    near_phrases: Annotated[str, Form(max_length=20000)] = "",
    near_within: Annotated[str, Form(max_length=8)] = "8",
    not_near_phrases: Annotated[str, Form(max_length=20000)] = "",
    not_near_within: Annotated[str, Form(max_length=8)] = "5",
    speakers: Annotated[list[str] | None, Form()] = None,
    note: Annotated[str, Form(max_length=qa_service.MAX_COMMENT_CHARS)] = "",
) -> RuleForm:
    return RuleForm(
        key=rule_key,
        category=category,
        language=language,
        severity=severity,
        description=description,
        enabled=enabled,
        phrases=phrases,
        exceptions=exceptions,
        near_phrases=near_phrases,
        near_within=near_within,
        not_near_phrases=not_near_phrases,
        not_near_within=not_near_within,
        speakers=speakers or [],
        note=note,
    )


RuleFormData = Annotated[RuleForm, Depends(_rule_form)]


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    version: QaRuleVersion
    author: str
    diff: list[tuple[str, str]]  # (kind, line): kind is "add", "del", "hunk" or "same"


def _definition_text(version: QaRuleVersion) -> list[str]:
    data = {"enabled": version.enabled, **version.definition}
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100)
    return str(text).splitlines()


def _diff(older: QaRuleVersion, newer: QaRuleVersion) -> list[tuple[str, str]]:
    lines = difflib.unified_diff(_definition_text(older), _definition_text(newer), n=1, lineterm="")
    kinds = {"+": "add", "-": "del", "@": "hunk"}
    return [
        (kinds.get(line[:1], "same"), line) for line in lines if not line.startswith(("+++", "---"))
    ]


def _history(db: DbSession, key: str) -> list[HistoryEntry]:
    versions = qa_service.rule_history(session=db, key=key)
    entries = []
    for newer, older in zip(versions, [*versions[1:], None], strict=True):
        author = (
            case_service.get_user(session=db, user_id=newer.author_id) if newer.author_id else None
        )
        entries.append(
            HistoryEntry(
                version=newer,
                author=author.display_name if author else "Parley",
                diff=_diff(older, newer) if older is not None else [],
            )
        )
    return entries


def _rule_page(
    request: Request,
    db: DbSession,
    user: User,
    form: RuleForm,
    *,
    rule: QaRule | None,
    error: str = "",
    saved: bool = False,
    status_code: int = status.HTTP_200_OK,
) -> Response:
    context = {
        "user": user,
        "form": form,
        "rule": rule,
        "history": _history(db, rule.key) if rule is not None else [],
        "error": error,
        "saved": saved,
        "can_edit": user.role == Role.SUPERVISOR,
        "categories": list(Category),
        "severities": list(Severity),
        "languages": list(LANGUAGES),
        "all_speakers": list(SPEAKERS),
        "lists": sorted(qa_service.load_library(session=db).lists),
    }
    return _page(request, RULE_TEMPLATE, context, status_code=status_code)


def _library_page(
    request: Request,
    db: DbSession,
    user: User,
    *,
    category: str = "",
    language: str = "",
    imported: qa_service.ImportResult | None = None,
    import_error: str = "",
    statements: dict[str, Any] | None = None,
    status_code: int = status.HTTP_200_OK,
) -> Response:
    """The library page; ``statements`` is the required-statements part when a statement
    is being edited (``_statements_context``), else it lists them."""
    rules = [
        r
        for r in qa_service.list_rules(session=db)
        if (not category or r.category == category) and (not language or r.language == language)
    ]
    context = {
        "user": user,
        "rules": rules,
        "category": category,
        "language": language,
        "categories": list(Category),
        "languages": list(LANGUAGES),
        "can_edit": user.role == Role.SUPERVISOR,
        "phrase_lists": qa_service.list_lists(session=db),
        "imported": imported,
        "import_error": import_error,
        **(statements if statements is not None else _statements_context(db)),
    }
    return _page(
        request, LIBRARY_TEMPLATE, context, block="library_results", status_code=status_code
    )


@router.get("/library", response_class=HTMLResponse)
def library(
    request: Request,
    user: Reviewer,
    db: DbSession,
    category: Annotated[str, Query(max_length=32)] = "",
    language: Annotated[str, Query(max_length=8)] = "",
) -> Response:
    return _library_page(request, db, user, category=category, language=language)


@router.get("/library/export.yaml")
def library_export(user: Reviewer, db: DbSession) -> Response:
    """The whole library (rules and lists) in the YAML that the import reads back."""
    filename = f"qa-rules-{date.today().isoformat()}.yaml"
    return Response(
        qa_service.load_library(session=db).to_yaml(),
        media_type="application/yaml; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "private, no-store",
        },
    )


@router.post("/library/import", dependencies=[Depends(verify_csrf)])
def library_import(
    request: Request, user: Editor, db: DbSession, file: Annotated[UploadFile, File()]
) -> Response:
    """Validate the whole file, then add and update; nothing is written when it fails."""
    data = file.file.read(MAX_IMPORT_BYTES + 1)
    error = ""
    result: qa_service.ImportResult | None = None
    if len(data) > MAX_IMPORT_BYTES:
        error = (
            f"The file is larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MB; nothing was imported."
        )
    else:
        try:
            library = RuleLibrary.from_yaml(data.decode("utf-8"))
            with db.begin_nested():
                result = qa_service.import_library(session=db, library=library, author=user)
        except UnicodeDecodeError:
            error = "The file is not UTF-8 text; nothing was imported."
        except yaml.YAMLError as problem:
            error = f"The file is not valid YAML ({problem}); nothing was imported."
        except (ValueError, TypeError, KeyError) as problem:
            error = f"{problem}; nothing was imported."
    return _library_page(
        request,
        db,
        user,
        imported=result,
        import_error=error,
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT if error else status.HTTP_200_OK,
    )


@router.post("/library/test", response_class=HTMLResponse, dependencies=[Depends(verify_csrf)])
def library_test(
    request: Request,
    user: Reviewer,
    db: DbSession,
    form: RuleFormData,
    utterance: Annotated[str, Form(max_length=MAX_TEST_CHARS)] = "",
    test_speaker: Annotated[str, Form()] = "agent",
) -> Response:
    """What the rule as edited (not saved) would flag in one utterance. Reviewers may try
    rules too: nothing is written."""
    hits: list[Hit] = []
    error = ""
    try:
        spec = spec_from_yaml({**form.definition(), "key": form.key.strip() or "unsaved"})
        engine = RuleEngine([spec], qa_service.load_library(session=db).lists)
        hits = engine.scan(utterance, speaker=test_speaker, language=spec.language)
    except (ValueError, TypeError) as problem:
        error = str(problem)
    context = {
        "user": user,
        "tested": True,
        "utterance": utterance,
        "test_error": error,
        "hits": hits,
        "pieces": _marked(utterance, hits),
    }
    return templates.TemplateResponse(
        request,
        RULE_TEMPLATE,
        {"csrf_token": csrf_token(request), **context},
        block_name="test_result",
    )


def _marked(text: str, hits: list[Hit]) -> list[tuple[str, bool]]:
    """``text`` in pieces, each marked or not, for a template to escape and <mark>."""
    pieces: list[tuple[str, bool]] = []
    at = 0
    for hit in sorted(hits, key=lambda h: h.start):
        if hit.start < at:
            continue
        pieces += [(text[at : hit.start], False), (text[hit.start : hit.end], True)]
        at = hit.end
    pieces.append((text[at:], False))
    return [p for p in pieces if p[0]]


@router.get("/library/new", response_class=HTMLResponse)
def rule_new(request: Request, user: Editor, db: DbSession) -> Response:
    return _rule_page(request, db, user, RuleForm(), rule=None)


@router.post("/library/new", dependencies=[Depends(verify_csrf)])
def rule_create(request: Request, user: Editor, db: DbSession, form: RuleFormData) -> Response:
    if qa_service.get_rule(session=db, key=form.key.strip()) is not None:
        error = f"A rule with the key {form.key.strip()!r} exists already; choose another key."
        return _rule_page(
            request, db, user, form, rule=None, error=error, status_code=_UNPROCESSABLE
        )
    return _save(request, db, user, form, rule=None)


@router.get("/library/{key}", response_class=HTMLResponse)
def rule_detail(
    request: Request, user: Reviewer, db: DbSession, key: str, saved: bool = False
) -> Response:
    rule = _rule_or_404(db, key)
    return _rule_page(request, db, user, RuleForm.from_rule(rule), rule=rule, saved=saved)


@router.post("/library/{key}", dependencies=[Depends(verify_csrf)])
def rule_update(
    request: Request, user: Editor, db: DbSession, key: str, form: RuleFormData
) -> Response:
    rule = _rule_or_404(db, key)
    form.key = rule.key  # the key is read-only once a rule exists
    return _save(request, db, user, form, rule=rule)


_UNPROCESSABLE = status.HTTP_422_UNPROCESSABLE_CONTENT


def _rule_or_404(db: DbSession, key: str) -> QaRule:
    rule = qa_service.get_rule(session=db, key=key)
    if rule is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Rule not found.")
    return rule


def _save(
    request: Request, db: DbSession, user: User, form: RuleForm, *, rule: QaRule | None
) -> Response:
    try:
        with db.begin_nested():
            saved = qa_service.save_rule(
                session=db,
                definition=form.definition(),
                author=user,
                enabled=form.enabled,
                note=form.note.strip(),
            )
    except (ValueError, TypeError) as problem:
        return _rule_page(
            request, db, user, form, rule=rule, error=str(problem), status_code=_UNPROCESSABLE
        )
    url = f"/qa/library/{quote(saved.key, safe='')}?saved=true"
    return RedirectResponse(url, status.HTTP_303_SEE_OTHER)


# --- phrase lists (QA leads) ----------------------------------------------------------------
# A list is edited as one box of lines per language. qa_service.edit_list checks it and saves
# it through save_list, so every rule naming the list gets a new version; reviewers may look.

LIST_TEMPLATE = "qa_list_edit.html"
MAX_LIST_CHARS = 50_000


@dataclass
class ListForm:
    """The list editor's fields as typed: the name and, per language, one entry a line."""

    name: str = ""
    entries: dict[str, str] = field(default_factory=lambda: dict.fromkeys(LANGUAGES, ""))

    @classmethod
    def from_list(cls, phrase_list: QaPhraseList) -> ListForm:
        entries = phrase_list.entries or {}
        return cls(
            name=phrase_list.name,
            entries={lang: "\n".join(entries.get(lang) or ()) for lang in LANGUAGES},
        )

    def entry_lines(self) -> dict[str, list[str]]:
        return {lang: _lines(text) for lang, text in self.entries.items()}


def _list_form(
    # Aliased: ``name`` is also the path parameter of /library/lists/{name}.
    list_name: Annotated[str, Form(alias="name", max_length=64)] = "",
    entries_en: Annotated[str, Form(max_length=MAX_LIST_CHARS)] = "",
    entries_zh: Annotated[str, Form(max_length=MAX_LIST_CHARS)] = "",
) -> ListForm:
    return ListForm(name=list_name, entries={"en": entries_en, "zh": entries_zh})


ListFormData = Annotated[ListForm, Depends(_list_form)]


def _list_page(
    request: Request,
    db: DbSession,
    user: User,
    form: ListForm,
    *,
    phrase_list: QaPhraseList | None,
    error: str = "",
    saved: bool = False,
    status_code: int = status.HTTP_200_OK,
) -> Response:
    rules = qa_service.rules_naming_list(session=db, name=phrase_list.name) if phrase_list else []
    context = {
        "user": user,
        "form": form,
        "phrase_list": phrase_list,
        "rules": rules,
        "languages": list(LANGUAGES),
        "error": error,
        "saved": saved,
        "can_edit": user.role == Role.SUPERVISOR,
    }
    return _page(request, LIST_TEMPLATE, context, status_code=status_code)


def _list_or_404(db: DbSession, name: str) -> QaPhraseList:
    phrase_list = qa_service.get_list(session=db, name=name)
    if phrase_list is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Phrase list not found.")
    return phrase_list


@router.get("/library/lists/new", response_class=HTMLResponse)
def list_new(request: Request, user: Editor, db: DbSession) -> Response:
    return _list_page(request, db, user, ListForm(), phrase_list=None)


@router.post("/library/lists/new", dependencies=[Depends(verify_csrf)])
def list_create(request: Request, user: Editor, db: DbSession, form: ListFormData) -> Response:
    name = form.name.strip()
    if qa_service.get_list(session=db, name=name) is not None:
        error = f"A list named {name!r} exists already; choose another name or edit that list."
        return _list_page(
            request, db, user, form, phrase_list=None, error=error, status_code=_UNPROCESSABLE
        )
    return _save_list(request, db, user, form, phrase_list=None)


@router.get("/library/lists/{name}", response_class=HTMLResponse)
def list_detail(
    request: Request, user: Reviewer, db: DbSession, name: str, saved: bool = False
) -> Response:
    phrase_list = _list_or_404(db, name)
    form = ListForm.from_list(phrase_list)
    return _list_page(request, db, user, form, phrase_list=phrase_list, saved=saved)


@router.post("/library/lists/{name}", dependencies=[Depends(verify_csrf)])
def list_update(
    request: Request, user: Editor, db: DbSession, name: str, form: ListFormData
) -> Response:
    phrase_list = _list_or_404(db, name)
    form.name = phrase_list.name  # the name is read-only once a list exists: rules use it
    return _save_list(request, db, user, form, phrase_list=phrase_list)


def _save_list(
    request: Request,
    db: DbSession,
    user: User,
    form: ListForm,
    *,
    phrase_list: QaPhraseList | None,
) -> Response:
    try:
        with db.begin_nested():
            saved = qa_service.edit_list(
                session=db, name=form.name.strip(), entries=form.entry_lines(), author=user
            )
    except ValueError as problem:
        return _list_page(
            request,
            db,
            user,
            form,
            phrase_list=phrase_list,
            error=str(problem),
            status_code=_UNPROCESSABLE,
        )
    url = f"/qa/library/lists/{quote(saved.name, safe='')}?saved=true"
    return RedirectResponse(url, status.HTTP_303_SEE_OTHER)


# --- required statements (QA leads) --------------------------------------------------------
# Listed on the library page for everyone who may open it; supervisors edit them, add a
# tenant's override and delete it. The editor is a block of the library page: a plain form,
# so a refused save comes back whole with the input kept, and htmx may fetch it alone.

STATEMENTS_TEMPLATE = "qa_statements.html"
MISSING_TEMPLATE = "qa_missing.html"
MissingQuery = Annotated[MissingFilters, Query()]


@dataclass
class StatementForm:
    """The statement editor's fields as typed (phrases one per line)."""

    key: str = ""
    language: str = "en"
    tenant: str = ""
    description: str = ""
    phrases: str = ""
    enabled: bool = True

    @classmethod
    def from_row(cls, row: QaRequiredStatement, *, tenant: str | None = None) -> StatementForm:
        """The row's fields; ``tenant`` starts a tenant's override from a default."""
        return cls(
            key=row.key,
            language=row.language,
            tenant=row.tenant if tenant is None else tenant,
            description=row.description,
            phrases="\n".join(row.phrases),
            enabled=row.enabled,
        )


def _statement_form(
    statement_key: Annotated[str, Form(alias="key", max_length=64)] = "",
    language: Annotated[str, Form(max_length=8)] = "en",
    tenant: Annotated[str, Form(max_length=128)] = "",
    description: Annotated[str, Form(max_length=2000)] = "",
    phrases: Annotated[str, Form(max_length=20000)] = "",
    enabled: Annotated[bool, Form()] = False,
) -> StatementForm:
    return StatementForm(statement_key, language, tenant, description, phrases, enabled)


StatementFormData = Annotated[StatementForm, Depends(_statement_form)]


def _statements_context(
    db: DbSession, *, form: StatementForm | None = None, error: str = "", saved: bool = False
) -> dict[str, Any]:
    """What qa_statements.html reads: the statements by tenant (defaults first) and, when a
    statement is being edited, its form, its stored row and the default it overrides."""
    rows = qa_service.list_statements(session=db)
    groups: dict[str, list[QaRequiredStatement]] = {}
    for row in rows:
        groups.setdefault(row.tenant, []).append(row)
    current = default = None
    if form is not None:
        where = {"key": form.key, "language": form.language}
        current = qa_service.get_statement(session=db, **where, tenant=form.tenant)
        default = qa_service.get_statement(session=db, **where) if form.tenant.strip() else None
    return {
        "statement_groups": groups,
        "default_statements": {(r.key, r.language) for r in groups.get("", [])},
        "statement_keys": sorted({r.key for r in rows}),
        "tenants": qa_service.list_tenants(session=db),
        "statement_form": form,
        "statement_row": current,
        "statement_default": default,
        "statement_error": error,
        "statement_saved": saved,
    }


def _statement_page(
    request: Request,
    db: DbSession,
    user: User,
    form: StatementForm,
    *,
    error: str = "",
    saved: bool = False,
    status_code: int = status.HTTP_200_OK,
) -> Response:
    """The editor alone for htmx, else the library page with the editor open."""
    statements = _statements_context(db, form=form, error=error, saved=saved)
    if not _partial(request):
        return _library_page(request, db, user, statements=statements, status_code=status_code)
    context = {"user": user, "can_edit": True, "languages": list(LANGUAGES), **statements}
    return _page(
        request, STATEMENTS_TEMPLATE, context, block="statement_editor", status_code=status_code
    )


@router.get("/statements/edit", response_class=HTMLResponse)
def statement_edit(
    request: Request,
    user: Editor,
    db: DbSession,
    key: Annotated[str, Query(max_length=64)] = "",
    language: Annotated[str, Query(max_length=8)] = "en",
    tenant: Annotated[str, Query(max_length=128)] = "",
    saved: bool = False,
) -> Response:
    """A stored statement as it is; a tenant's override not made yet starts from the
    default's wording; anything else starts blank with the names asked for."""
    row = qa_service.get_statement(session=db, key=key, language=language, tenant=tenant)
    default = qa_service.get_statement(session=db, key=key, language=language)
    if row is not None:
        form = StatementForm.from_row(row)
    elif tenant.strip() and default is not None:
        form = StatementForm.from_row(default, tenant=tenant)
    else:
        form = StatementForm(key=key.strip(), language=language, tenant=tenant)
    return _statement_page(request, db, user, form, saved=saved and row is not None)


@router.post("/statements", dependencies=[Depends(verify_csrf)])
def statement_save(
    request: Request, user: Editor, db: DbSession, form: StatementFormData
) -> Response:
    try:
        with db.begin_nested():
            row = qa_service.save_statement(
                session=db,
                key=form.key,
                language=form.language,
                tenant=form.tenant,
                phrases=_lines(form.phrases),
                description=form.description,
                enabled=form.enabled,
            )
    except (ValueError, TypeError) as problem:
        return _statement_page(
            request, db, user, form, error=str(problem), status_code=_UNPROCESSABLE
        )
    where = {"key": row.key, "language": row.language, "tenant": row.tenant, "saved": "true"}
    return RedirectResponse(
        f"/qa/statements/edit?{urlencode(where)}#statement-editor", status.HTTP_303_SEE_OTHER
    )


@router.post("/statements/delete", dependencies=[Depends(verify_csrf)])
def statement_delete(
    request: Request,
    user: Editor,
    db: DbSession,
    statement_key: Annotated[str, Form(alias="key", max_length=64)],
    language: Annotated[str, Form(max_length=8)],
    tenant: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    """Delete a tenant's statement; a default is refused with the reason (disable it)."""
    where = {"key": statement_key, "language": language, "tenant": tenant}
    try:
        deleted = qa_service.delete_statement(session=db, **where)
    except ValueError as problem:
        row = qa_service.get_statement(session=db, **where)
        form = (
            StatementForm.from_row(row) if row else StatementForm(statement_key, language, tenant)
        )
        return _statement_page(
            request, db, user, form, error=str(problem), status_code=_UNPROCESSABLE
        )
    if not deleted:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Statement not found.")
    return RedirectResponse("/qa/library#required-statements", status.HTTP_303_SEE_OTHER)


@router.get("/statements/missing", response_class=HTMLResponse)
def missing_statements(
    request: Request,
    user: Reviewer,
    db: DbSession,
    filters: MissingQuery,
    page: Annotated[int, Query(ge=1)] = 1,
) -> Response:
    """Calls that missed a required statement, newest first, each linked to its scorecard."""
    result = qa_service.list_calls_missing_statements(session=db, filters=filters, page=page)
    context = {
        "user": user,
        "missing": result,
        "filters": filters,
        "qs": urlencode(filters.to_query()),
        "collectors": case_service.list_users(session=db, role=Role.COLLECTOR),
        "statement_keys": sorted({r.key for r in qa_service.list_statements(session=db)}),
    }
    return _page(request, MISSING_TEMPLATE, context, block="missing_results")
