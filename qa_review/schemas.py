"""Value objects of the review queue: filters, sort orders, decisions and what the pages read.

The filters are a Pydantic model so the queue route can take them straight from the query
string (``Annotated[QueueFilters, Query()]``) and the export and "next flag" links can
write them back with ``to_query()``: one definition, so what is filtered is what is exported.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

from case_store.models import Call, Case, TranscriptSegment, User
from qa_review.models import (
    Category,
    FlagStatus,
    QaCallStatement,
    QaFlag,
    QaFlagReview,
    QaPhraseList,
    QaRule,
    ReviewReason,
    Severity,
)

PAGE_SIZE = 50
ALL_STATUSES = "all"  # the status filter's value for "every status" (no filter)


class QueueSort(enum.StrEnum):
    """Orders a reviewer can pick; the default puts the flags that matter most first."""

    SEVERITY = "severity"  # critical first, then newest
    NEWEST = "newest"
    OLDEST = "oldest"
    CATEGORY = "category"
    COLLECTOR = "collector"


class Decision(enum.StrEnum):
    CONFIRM = "confirm"
    DISMISS = "dismiss"


DISMISS_REASONS = (
    ReviewReason.NEGATED_OR_COMPLIANT,
    ReviewReason.DEBTOR_SPEECH,
    ReviewReason.TRANSCRIPTION_ERROR,
    ReviewReason.WRONG_CONTEXT,
    ReviewReason.OTHER,
)
REASON_LABELS = {
    ReviewReason.CONFIRMED: "Confirmed misconduct",
    ReviewReason.NEGATED_OR_COMPLIANT: "Negated or compliant statement",
    ReviewReason.DEBTOR_SPEECH: "Said by the debtor, not the agent",
    ReviewReason.TRANSCRIPTION_ERROR: "Transcription error",
    ReviewReason.WRONG_CONTEXT: "Phrase used in another sense",
    ReviewReason.OTHER: "Other (explain in the comment)",
}


class QueueFilters(BaseModel):
    """What the queue shows. Dates are UTC calendar days of the flag, both ends inclusive.

    ``status=None`` means every status; a missing status means open flags, the reviewer's
    work. Empty form fields mean "no filter" rather than a validation error.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    category: Category | None = None
    severity: Severity | None = None
    collector_id: int | None = None
    date_from: date | None = None
    date_to: date | None = None
    status: FlagStatus | None = FlagStatus.OPEN

    @model_validator(mode="before")
    @classmethod
    def _blank_means_unset(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        values = {name: value for name, value in data.items() if value != ""}
        if values.get("status") == ALL_STATUSES:
            values["status"] = None
        return values

    def to_query(self) -> dict[str, str]:
        """The filters as query parameters; parsing them back gives equal filters."""
        query = {
            name: str(value)
            for name, value in self.model_dump(exclude={"status"}).items()
            if value is not None
        }
        query["status"] = self.status.value if self.status else ALL_STATUSES
        return query


@dataclass(frozen=True, slots=True)
class QueueItem:
    """One flag with what a reviewer needs to judge it without another query."""

    flag: QaFlag
    call: Call
    case: Case
    collector: User
    segment: TranscriptSegment
    reviewer: User | None


@dataclass(frozen=True, slots=True)
class FlagReviewEntry:
    """One decision in a flag's history, with its reviewer read in the same query.

    ``reviewer`` is None only for a decision whose reviewer row is gone; the page then
    says "unknown" rather than hiding the decision.
    """

    review: QaFlagReview
    reviewer: User | None


@dataclass(frozen=True, slots=True)
class PhraseListUsage:
    """A phrase list with the rules that name it, so a lead sees what an edit will touch."""

    phrase_list: QaPhraseList
    rules: list[QaRule]


@dataclass(frozen=True, slots=True)
class QueuePage:
    items: list[QueueItem]
    total: int
    page: int
    page_size: int = PAGE_SIZE

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


@dataclass(frozen=True, slots=True)
class StatusCounts:
    open: int = 0
    confirmed: int = 0
    dismissed: int = 0

    @property
    def total(self) -> int:
        return self.open + self.confirmed + self.dismissed


@dataclass(frozen=True, slots=True)
class Scorecard:
    """One call's flags summed up, and its required statements as stored at call end.

    The verdict is "fail" as soon as one flag is confirmed, "pending" while any is open:
    a call is only clean once it was reviewed. With its flags settled, a call missing a
    required statement is "incomplete" (a finding, yet no misconduct to confirm), else
    "pass". A call stored before statements were kept has none and is judged on flags.
    """

    call: Call
    case: Case
    collector: User
    flags: list[QaFlag]
    by_category: dict[str, StatusCounts]
    by_severity: dict[str, StatusCounts]
    totals: StatusCounts
    statements: list[QaCallStatement] = field(default_factory=list)

    @property
    def missing_statements(self) -> list[str]:
        return [statement.key for statement in self.statements if not statement.said]

    @property
    def verdict(self) -> str:
        if self.totals.confirmed:
            return "fail"
        if self.totals.open:
            return "pending"
        return "incomplete" if self.missing_statements else "pass"


@dataclass(frozen=True, slots=True)
class RulePrecision:
    """How often reviewers agreed with one version of one rule.

    ``precision`` is confirmed / (confirmed + dismissed): None until someone decided, so an
    unreviewed rule is never shown as perfect or useless.
    """

    rule_key: str
    rule_version: int
    category: str
    confirmed: int
    dismissed: int
    open: int
    dismiss_reasons: dict[str, int] = field(default_factory=dict)

    @property
    def precision(self) -> float | None:
        decided = self.confirmed + self.dismissed
        return self.confirmed / decided if decided else None

    @property
    def top_dismiss_reason(self) -> str | None:
        if not self.dismiss_reasons:
            return None
        return max(self.dismiss_reasons.items(), key=lambda kv: (kv[1], kv[0]))[0]


# --- calls missing required statements ------------------------------------------------------


class MissingFilters(BaseModel):
    """Which calls the "missing statements" list shows; dates are UTC days of the call's
    start, both ends inclusive. Empty form fields mean "no filter"."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    key: str | None = None
    collector_id: int | None = None
    date_from: date | None = None
    date_to: date | None = None

    @model_validator(mode="before")
    @classmethod
    def _blank_means_unset(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        return {name: value for name, value in data.items() if value != ""}

    def to_query(self) -> dict[str, str]:
        """The filters as query parameters (for the pager's links)."""
        return {name: str(value) for name, value in self.model_dump().items() if value is not None}


@dataclass(frozen=True, slots=True)
class MissingCall:
    """A call with the required statements it missed, in the order it required them."""

    call: Call
    case: Case
    collector: User
    missing: list[str]


@dataclass(frozen=True, slots=True)
class MissingPage:
    items: list[MissingCall]
    total: int
    page: int
    page_size: int = PAGE_SIZE

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))
