"""Small factories for model objects, so tests state only what matters to them."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from case_store import service as case_service
from case_store.models import Case, Debtor, Role, User

_seq = itertools.count(1)


def make_user(
    session: Session, *, role: Role = Role.COLLECTOR, password: str = "pw-123456", **kw: str
) -> User:
    n = next(_seq)
    return case_service.upsert_user(
        session=session,
        username=kw.get("username", f"user{n}"),
        display_name=kw.get("display_name", f"User {n}"),
        role=role,
        password=password,
    )


def make_case(
    session: Session,
    *,
    collector: User | None = None,
    days_past_due: int = 45,
    balance: str = "1200.00",
    name: str = "Test Debtor",
    language: str = "en",
    phone: str = "+1 555 010 9999",
    national_id: str = "123-45-6789",
) -> Case:
    n = next(_seq)
    case = Case(
        account_ref=f"T-{n:06d}",
        debtor=Debtor(
            name=name, phone=phone, national_id=national_id, language=language, timezone="UTC"
        ),
        creditor="Test Bank",
        balance=Decimal(balance),
        principal=Decimal(balance),
        due_date=date.today() - timedelta(days=days_past_due),
        collector_id=collector.id if collector else None,
    )
    session.add(case)
    session.flush()
    return case
