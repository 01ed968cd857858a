"""QA rules and flags: every database read and write for the domain.

Rules live in ``qa_rules`` so supervisors can edit them; the starter YAML
(``engine.starter_rule_specs``) only seeds keys that are not there yet. A rule's compliant ``exceptions`` are stored in the same ``phrases`` JSON
list, each prefixed with ``!`` (gitignore style), so no schema change was needed.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from qa_review.engine import Hit, RuleEngine, RuleSpec, starter_rule_specs
from qa_review.models import QaFlag, QaRule

log = logging.getLogger(__name__)

EXCEPTION_PREFIX = "!"


# --- rules in the database --------------------------------------------------------------


def seed_starter_rules(*, session: Session) -> int:
    """Insert starter rules whose key is not in the table yet; returns how many were added.

    Existing rules are left alone, so a supervisor's edits survive a re-seed.
    """
    existing = set(session.scalars(select(QaRule.key)))
    new_rules = [_row_from_spec(spec) for spec in starter_rule_specs() if spec.key not in existing]
    session.add_all(new_rules)
    session.flush()
    return len(new_rules)


def load_engine(*, session: Session) -> RuleEngine:
    """An engine over every enabled rule. A malformed row is logged and skipped: one bad
    edit must not stop every live call from being judged."""
    rows = session.scalars(select(QaRule).where(QaRule.enabled.is_(True)).order_by(QaRule.key))
    specs: list[RuleSpec] = []
    for row in rows:
        try:
            specs.append(_spec_from_row(row))
        except ValueError as error:
            log.warning("QA rule %s skipped: %s", row.key, error)
    return RuleEngine(specs)


def _row_from_spec(spec: RuleSpec) -> QaRule:
    return QaRule(
        key=spec.key,
        category=spec.category,
        language=spec.language,
        description=spec.description,
        phrases=list(spec.phrases) + [EXCEPTION_PREFIX + e for e in spec.exceptions],
        severity=spec.severity,
        enabled=True,
        version=spec.version,
    )


def _spec_from_row(row: QaRule) -> RuleSpec:
    return RuleSpec(
        key=row.key,
        category=row.category,
        language=row.language,
        phrases=[p for p in row.phrases if not p.startswith(EXCEPTION_PREFIX)],
        severity=row.severity,
        version=row.version,
        description=row.description,
        exceptions=[
            p[len(EXCEPTION_PREFIX) :] for p in row.phrases if p.startswith(EXCEPTION_PREFIX)
        ],
    )


# --- flags ------------------------------------------------------------------------------


def record_flag(
    *,
    session: Session,
    call_id: int,
    segment_id: int,
    hit: Hit,
    stream_start: float,
    stream_end: float,
) -> QaFlag:
    """Persist a hit with its evidence; the rule version is kept so later edits do not
    rewrite what a flag was raised under."""
    rule_id = session.scalar(select(QaRule.id).where(QaRule.key == hit.rule_key))
    flag = QaFlag(
        call_id=call_id,
        segment_id=segment_id,
        rule_id=rule_id,
        rule_key=hit.rule_key,
        rule_version=hit.rule_version,
        category=hit.category,
        severity=hit.severity,
        start_char=hit.start,
        end_char=hit.end,
        evidence=hit.evidence,
        stream_start=stream_start,
        stream_end=stream_end,
    )
    session.add(flag)
    session.flush()
    return flag


def list_flags_for_call(*, session: Session, call_id: int) -> list[QaFlag]:
    """A call's flags in the order they happened."""
    query = (
        select(QaFlag)
        .where(QaFlag.call_id == call_id)
        .order_by(QaFlag.stream_start, QaFlag.start_char, QaFlag.id)
    )
    return list(session.scalars(query))
