"""Negotiation scripts that the console suggests during a call."""

from __future__ import annotations

import enum

from sqlalchemy import JSON, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from case_store.database import Base
from case_store.models import str_enum


class ScriptStatus(enum.StrEnum):
    DRAFT = "draft"
    IN_REVIEW = "in_review"
    APPROVED = "approved"
    RETIRED = "retired"


class Script(Base):
    __tablename__ = "scripts"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(8))
    intents: Mapped[list[str]] = mapped_column(JSON, default=list)
    buckets: Mapped[list[str]] = mapped_column(JSON, default=list)  # empty = every bucket
    status: Mapped[ScriptStatus] = mapped_column(
        str_enum(ScriptStatus),
        default=ScriptStatus.DRAFT,
    )
    version: Mapped[int] = mapped_column(Integer, default=1)
