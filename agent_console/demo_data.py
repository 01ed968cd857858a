"""Demo users, cases, scripts and QA rules, loaded idempotently (``parley demo load``)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
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
from scripts_library import service as scripts_service

DEMO_DIR = Path(__file__).resolve().parent / "demo"
DEMO_PASSWORD = "parley-demo"


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
        return {
            "users": len(users),
            "cases": added,
            "rules": qa_service.seed_starter_rules(session=session),
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
