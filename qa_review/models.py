"""QA rules (data, versioned) and the flags they raise on transcript segments."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from case_store.database import Base
from case_store.models import str_enum, utcnow


class Category(enum.StrEnum):
    """Fixed misconduct category ids from shared/PRODUCT.md."""

    THREAT = "threat"
    ABUSE = "abuse"
    FALSE_LEGAL = "false_legal"
    IMPERSONATION = "impersonation"
    DISCLOSURE = "disclosure"
    HARASSMENT = "harassment"


class Severity(enum.StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class FlagStatus(enum.StrEnum):
    OPEN = "open"
    CONFIRMED = "confirmed"
    DISMISSED = "dismissed"


class ReviewReason(enum.StrEnum):
    """Why a reviewer decided as they did; a fixed set so rule precision can be broken down."""

    CONFIRMED = "confirmed"  # the only reason a confirmation takes
    NEGATED_OR_COMPLIANT = "negated_or_compliant"
    DEBTOR_SPEECH = "debtor_speech"
    TRANSCRIPTION_ERROR = "transcription_error"
    WRONG_CONTEXT = "wrong_context"
    OTHER = "other"


class QaRule(Base):
    """One rule: phrases in one language for one category; editing bumps ``version``.

    ``conditions`` holds the rest of the rule as its YAML writes it (``exceptions``,
    ``near``, ``not_near``, ``speakers``), so a new kind of condition needs no migration.
    """

    __tablename__ = "qa_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    category: Mapped[str] = mapped_column(String(32), index=True)
    language: Mapped[str] = mapped_column(String(8))
    description: Mapped[str] = mapped_column(Text, default="")
    phrases: Mapped[list[str]] = mapped_column(JSON, default=list)
    conditions: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    severity: Mapped[str] = mapped_column(String(16), default=Severity.HIGH.value)
    enabled: Mapped[bool] = mapped_column(default=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class QaRuleVersion(Base):
    """Every saved version of a rule, whole, so a flag's ``rule_version`` can be read back
    and a lead can see who changed what."""

    __tablename__ = "qa_rule_versions"
    __table_args__ = (UniqueConstraint("rule_key", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    rule_key: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int] = mapped_column(Integer)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    enabled: Mapped[bool] = mapped_column(default=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class QaPhraseList(Base):
    """A reusable word collection that rules name as ``{name}``, per language."""

    __tablename__ = "qa_phrase_lists"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    entries: Mapped[dict[str, list[str]]] = mapped_column(JSON, default=dict)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class QaRequiredStatement(Base):
    """A statement every call must contain, per language and tenant, editable by QA leads.

    ``tenant`` is the creditor whose accounts are being collected (``Case.creditor``); the
    empty string is the default that applies to every tenant. A tenant's row replaces the
    default with the same ``key`` and ``language`` (its own wording, or ``enabled=False``
    to waive it), and a tenant may add keys of its own.
    """

    __tablename__ = "qa_required_statements"
    __table_args__ = (UniqueConstraint("key", "language", "tenant"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8))
    tenant: Mapped[str] = mapped_column(String(128), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    phrases: Mapped[list[str]] = mapped_column(JSON, default=list)
    enabled: Mapped[bool] = mapped_column(default=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class QaCallStatement(Base):
    """Whether one required statement was heard in one call, written when the call ends.

    A missing statement is a finding the scorecard and the queue show; a said one keeps
    the words, the segment and the stream time where it was heard, so a reviewer can check
    it (the statement may have been edited since, so the words are kept, not re-matched).
    """

    __tablename__ = "qa_call_statements"
    __table_args__ = (UniqueConstraint("call_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"), index=True)
    key: Mapped[str] = mapped_column(String(64))
    said: Mapped[bool] = mapped_column(default=False)
    segment_id: Mapped[int | None] = mapped_column(ForeignKey("transcript_segments.id"))
    stream_start: Mapped[float | None] = mapped_column(Float)
    evidence: Mapped[str | None] = mapped_column(Text)  # the agent's words that said it
    statement_version: Mapped[int] = mapped_column(Integer, default=1)
    checked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class QaFlag(Base):
    """A rule hit with its evidence, so a reviewer can find and judge it in context."""

    __tablename__ = "qa_flags"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"), index=True)
    segment_id: Mapped[int] = mapped_column(ForeignKey("transcript_segments.id"))
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("qa_rules.id"))
    rule_key: Mapped[str] = mapped_column(String(64))
    rule_version: Mapped[int] = mapped_column(Integer)
    category: Mapped[str] = mapped_column(String(32), index=True)
    severity: Mapped[str] = mapped_column(String(16))
    start_char: Mapped[int] = mapped_column(Integer)
    end_char: Mapped[int] = mapped_column(Integer)
    evidence: Mapped[str] = mapped_column(Text)
    stream_start: Mapped[float] = mapped_column(Float)
    stream_end: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(
        str_enum(FlagStatus),
        default=FlagStatus.OPEN,
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # The latest review decision; a re-review overwrites it, and these fields say who and when.
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    review_reason: Mapped[str | None] = mapped_column(str_enum(ReviewReason))
    review_comment: Mapped[str | None] = mapped_column(Text)

    # The review queue filters by status and lists newest first.
    __table_args__ = (Index("ix_qa_flags_status_created_at", "status", "created_at"),)


class QaFlagReview(Base):
    """Every review decision on a flag, oldest first; the flag's own review fields hold the
    latest, so the queue need not join this table to filter."""

    __tablename__ = "qa_flag_reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    flag_id: Mapped[int] = mapped_column(ForeignKey("qa_flags.id"), index=True)
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(str_enum(FlagStatus))
    reason: Mapped[str | None] = mapped_column(str_enum(ReviewReason))
    comment: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
