"""The collection workflow's tables: users, debtors, cases, calls and their transcripts."""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, DateTime, Enum, Float, ForeignKey, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from case_store.crypto import EncryptedString, EncryptedText
from case_store.database import Base


def utcnow() -> datetime:
    return datetime.now(UTC)


class Role(enum.StrEnum):
    COLLECTOR = "collector"
    QA_REVIEWER = "qa_reviewer"
    TRAINER = "trainer"
    SUPERVISOR = "supervisor"


class CaseStatus(enum.StrEnum):
    OPEN = "open"
    PROMISED = "promised"
    PLAN = "payment_plan"
    DISPUTED = "disputed"
    PAID = "paid"
    ESCALATED = "escalated"
    CLOSED = "closed"


class CallStatus(enum.StrEnum):
    LIVE = "live"
    COMPLETED = "completed"
    INTERRUPTED = "interrupted"  # the server stopped mid-call; segments so far are kept


class PromiseStatus(enum.StrEnum):
    PENDING = "pending"
    KEPT = "kept"
    BROKEN = "broken"


def str_enum(cls: type[enum.StrEnum]) -> Enum:
    # Stored as plain strings (no native ENUM type) so adding a value needs no migration.
    return Enum(cls, native_enum=False, length=32, values_callable=lambda e: [m.value for m in e])


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(128))
    role: Mapped[Role] = mapped_column(str_enum(Role))
    password_hash: Mapped[str] = mapped_column(String(256))
    language: Mapped[str] = mapped_column(String(8), default="en")
    active: Mapped[bool] = mapped_column(default=True)


class Debtor(Base):
    __tablename__ = "debtors"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    national_id: Mapped[str | None] = mapped_column(EncryptedString(512))
    phone: Mapped[str | None] = mapped_column(EncryptedString(512))
    language: Mapped[str] = mapped_column(String(8), default="en")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    address: Mapped[str | None] = mapped_column(String(256))
    email: Mapped[str | None] = mapped_column(String(128))


class Case(Base):
    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_ref: Mapped[str] = mapped_column(String(64), unique=True)  # the lender's account id
    debtor_id: Mapped[int] = mapped_column(ForeignKey("debtors.id"))
    creditor: Mapped[str] = mapped_column(String(128))
    product: Mapped[str | None] = mapped_column(String(64))
    principal: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0"))
    interest: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0"))
    fees: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0"))
    balance: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    due_date: Mapped[date]
    status: Mapped[CaseStatus] = mapped_column(str_enum(CaseStatus), default=CaseStatus.OPEN)
    collector_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    next_follow_up: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    debtor: Mapped[Debtor] = relationship(lazy="joined")
    collector: Mapped[User | None] = relationship(lazy="joined")
    events: Mapped[list[CaseEvent]] = relationship(
        back_populates="case", order_by="CaseEvent.at.desc()", cascade="all, delete-orphan"
    )
    promises: Mapped[list[Promise]] = relationship(
        back_populates="case", order_by="Promise.due_date", cascade="all, delete-orphan"
    )

    def days_past_due(self, today: date | None = None) -> int:
        """Derived, never stored, so it cannot go stale."""
        return max(0, ((today or date.today()) - self.due_date).days)

    def bucket(self, today: date | None = None) -> str:
        dpd = self.days_past_due(today)
        if dpd == 0:
            return "current"
        if dpd <= 30:
            return "M0"
        if dpd <= 60:
            return "M1"
        if dpd <= 90:
            return "M2"
        return "M3+"


class CaseEvent(Base):
    """One line of a case's history: a call outcome, a payment, a note."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    kind: Mapped[str] = mapped_column(String(32))
    summary: Mapped[str] = mapped_column(Text)

    case: Mapped[Case] = relationship(back_populates="events")


class Promise(Base):
    __tablename__ = "promises"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    due_date: Mapped[date]
    status: Mapped[PromiseStatus] = mapped_column(
        str_enum(PromiseStatus), default=PromiseStatus.PENDING
    )

    case: Mapped[Case] = relationship(back_populates="promises")


class Call(Base):
    __tablename__ = "calls"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    collector_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[CallStatus] = mapped_column(str_enum(CallStatus), default=CallStatus.LIVE)
    source: Mapped[str] = mapped_column(String(32), default="simulated")
    language: Mapped[str | None] = mapped_column(String(8))
    recording: Mapped[str | None] = mapped_column(String(512))
    disposition: Mapped[str | None] = mapped_column(String(32))

    segments: Mapped[list[TranscriptSegment]] = relationship(
        back_populates="call", order_by="TranscriptSegment.start", cascade="all, delete-orphan"
    )


class TranscriptSegment(Base):
    """A final transcript segment, written the moment it is produced so nothing is lost."""

    __tablename__ = "transcript_segments"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"), index=True)
    channel: Mapped[int] = mapped_column(Integer)
    speaker: Mapped[str] = mapped_column(String(16))
    start: Mapped[float] = mapped_column(Float)
    end: Mapped[float] = mapped_column(Float)
    text: Mapped[str] = mapped_column(Text)
    words: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    original_text: Mapped[str | None] = mapped_column(EncryptedText())
    """The words before PII redaction, encrypted; only when configured to keep them."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    call: Mapped[Call] = relationship(back_populates="segments")
