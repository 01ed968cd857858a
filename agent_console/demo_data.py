"""Demo users, cases, scripts and QA rules, loaded idempotently (``parley demo load``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.orm import Session, sessionmaker

from case_store import service as case_service
from case_store.database import transaction
from case_store.models import (
    Case,
    CaseEvent,
    CaseStatus,
    Debtor,
    Promise,
    PromiseStatus,
    Role,
    utcnow,
)
from qa_review import service as qa_service
from qa_review.engine import RequiredStatementTracker
from scripts_library import service as scripts_service

DEMO_DIR = Path(__file__).resolve().parent / "demo"
DEMO_PASSWORD = "parley-demo"
REVIEW_CALL_SOURCE = "demo"


@dataclass(frozen=True, slots=True)
class ReviewCall:
    """A past demo call: a transcript (``demo_call_*.json`` format) and maybe its audio."""

    account_ref: str
    transcript: str
    recording: str | None
    days_ago: int
    at: time


REVIEW_CALLS = (
    ReviewCall("NW-100231", "demo_call_en.json", "demo_call_en.wav", 2, time(15, 10)),
    ReviewCall("CA-778012", "demo_review_call_en.json", None, 1, time(10, 40)),
)


def _yaml(name: str) -> Any:
    return yaml.safe_load((DEMO_DIR / name).read_text(encoding="utf-8"))


def load(factory: sessionmaker[Session], today: date | None = None) -> dict[str, int]:
    """Insert what is missing; re-running changes nothing that is already there."""
    today = today or date.today()
    with transaction(factory) as session:
        users = {
            u["username"]: case_service.upsert_user(
                session=session,
                username=u["username"],
                display_name=u["display_name"],
                role=Role(u["role"]),
                password=DEMO_PASSWORD,
                language=u.get("language", "en"),
            )
            for u in _yaml("users.yaml")
        }
        added = 0
        for index, spec in enumerate(_yaml("cases.yaml")):
            if (
                case_service.get_case_by_ref(session=session, account_ref=spec["account_ref"])
                is None
            ):
                _add_case(session, spec, users, today, index)
                added += 1
        rules = qa_service.seed_starter_rules(session=session)  # the review calls need them
        for review_call in REVIEW_CALLS:
            _add_review_call(session, review_call, today)
        return {
            "users": len(users),
            "cases": added,
            "rules": rules,
            "scripts": scripts_service.seed_starter_scripts(session=session),
        }


def _add_case(
    session: Session, spec: dict[str, Any], users: dict[str, Any], today: date, index: int
) -> None:
    d = spec["debtor"]
    debtor = Debtor(
        name=d["name"],
        national_id=d.get("national_id"),
        phone=d.get("phone"),
        language=d.get("language", "en"),
        timezone=d.get("timezone", "UTC"),
        address=d.get("address"),
        email=d.get("email"),
    )
    collector = users.get(spec.get("collector") or "")
    now = utcnow()
    case = Case(
        account_ref=spec["account_ref"],
        debtor=debtor,
        creditor=spec["creditor"],
        product=spec.get("product"),
        principal=Decimal(str(spec.get("principal", 0))),
        interest=Decimal(str(spec.get("interest", 0))),
        fees=Decimal(str(spec.get("fees", 0))),
        balance=Decimal(str(spec["balance"])),
        currency=spec.get("currency", "USD"),
        due_date=today - timedelta(days=int(spec["days_past_due"])),
        status=CaseStatus(spec.get("status", "open")),
        collector_id=collector.id if collector else None,
        # Spread follow-ups over the coming hours so the worklist has a real order.
        next_follow_up=now.replace(minute=0, second=0, microsecond=0)
        + timedelta(minutes=20 * index),
    )
    for event in spec.get("history", []):
        at = datetime.combine(
            today - timedelta(days=int(event["days_ago"])), datetime.min.time(), tzinfo=now.tzinfo
        )
        case.events.append(CaseEvent(at=at, kind=event["kind"], summary=event["summary"]))
    for promise in spec.get("promises", []):
        case.promises.append(
            Promise(
                amount=Decimal(str(promise["amount"])),
                due_date=today + timedelta(days=int(promise["days_from_now"])),
                status=PromiseStatus(promise.get("status", "pending")),
            )
        )
    session.add(case)
    session.flush()


def _add_review_call(session: Session, spec: ReviewCall, today: date) -> None:
    """A finished call with its transcript, the flags today's rules raise on it and its
    required statements said or missing, so a QA reviewer has a queue to work on from the
    first start.

    Skipped when the case already has a demo call (idempotent) or is not in the database.
    """
    case = case_service.get_case_by_ref(session=session, account_ref=spec.account_ref)
    if case is None or case.collector_id is None:
        return
    calls = case_service.list_calls_for_case(session=session, case_id=case.id)
    if any(call.source == REVIEW_CALL_SOURCE for call in calls):
        return
    transcript = json.loads((DEMO_DIR / spec.transcript).read_text(encoding="utf-8"))
    recording = DEMO_DIR / spec.recording if spec.recording else None
    call = case_service.start_call(
        session=session,
        case_id=case.id,
        collector_id=case.collector_id,
        source=REVIEW_CALL_SOURCE,
        language=transcript["language"],
        recording=str(recording) if recording and recording.is_file() else None,
    )
    started = datetime.combine(today - timedelta(days=spec.days_ago), spec.at, tzinfo=UTC)
    engine = qa_service.load_engine(session=session)
    statements = qa_service.statements_for(
        session=session, language=call.language, tenant=case.creditor, lists=engine.lists
    )
    tracker = RequiredStatementTracker(statements, language=call.language, lists=engine.lists)
    for turn in transcript["turns"]:
        segment = case_service.add_segment(
            session=session,
            call_id=call.id,
            channel=int(turn["channel"]),
            speaker=turn["speaker"],
            start=float(turn["start"]),
            end=float(turn["end"]),
            text=turn["text"],
            words=[],
        )
        segment.created_at = started + timedelta(seconds=segment.end)
        hits = engine.scan(segment.text, speaker=segment.speaker, language=call.language)
        for hit in hits:
            flag = qa_service.record_flag(
                session=session,
                call_id=call.id,
                segment_id=segment.id,
                hit=hit,
                stream_start=segment.start,
                stream_end=segment.end,
            )
            flag.created_at = segment.created_at
        tracker.observe(
            segment.text, speaker=segment.speaker, segment_id=segment.id, start=segment.start
        )
    case_service.end_call(session=session, call_id=call.id)
    qa_service.record_call_statements(session=session, call_id=call.id, results=tracker.results())
    call.started_at = started
    call.ended_at = started + timedelta(seconds=float(transcript["turns"][-1]["end"]))
    session.flush()


def login_lines(factory: sessionmaker[Session]) -> list[str]:
    """One line per demo user, for the start-up banner."""
    names = [u["username"] for u in _yaml("users.yaml")]
    with factory() as session:
        users = [case_service.get_user_by_username(session=session, username=n) for n in names]
    return [
        f"  {u.role.value:<12} {u.username:<8} / {DEMO_PASSWORD}   ({u.display_name})"
        for u in users
        if u is not None
    ]
