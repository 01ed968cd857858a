"""Scripts: every database read and write for the library, and live-call suggestions.

Only approved scripts are ever suggested: a draft must not reach a debtor. Ranking is
deliberately simple and explainable (intent score x bucket fit), and every suggestion
says why it was made, quoting the debtor's own words.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from case_store.models import Case
from qa_review.normalize import LANGUAGES
from scripts_library import render
from scripts_library.intents import INTENTS, IntentScore
from scripts_library.models import Script, ScriptStatus

STARTER_SCRIPTS_PATH = Path(__file__).with_name("starter_scripts.yaml")
OPENING = "opening"  # pseudo-intent of the statements said at the start of every call
BUCKETS = ("M0", "M1", "M2", "M3+")
# A script written for the case's bucket beats a generic one; one written for another
# bucket is not suggested at all (an M3+ settlement offer has no place in an M0 call).
BUCKET_MATCH = 1.0
ANY_BUCKET = 0.8


@dataclass(frozen=True, slots=True)
class Suggestion:
    script_id: int
    key: str
    title: str
    text: str
    reason: str
    intent: str
    score: float


# --- starter library ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StarterScript:
    key: str
    title: str
    language: str
    intents: tuple[str, ...]
    buckets: tuple[str, ...]
    status: ScriptStatus
    body: str

    def __post_init__(self) -> None:
        render.validate(self.body)
        if self.language not in LANGUAGES:
            raise ValueError(f"script {self.key}: unsupported language {self.language!r}")
        unknown = (set(self.intents) - {*INTENTS, OPENING}) | (set(self.buckets) - set(BUCKETS))
        if unknown or not self.intents:
            raise ValueError(f"script {self.key}: bad intents/buckets {sorted(unknown)}")


@functools.cache
def starter_scripts(path: Path = STARTER_SCRIPTS_PATH) -> tuple[StarterScript, ...]:
    """The shipped scripts, validated (bad placeholders fail here, not mid-call)."""
    with path.open(encoding="utf-8") as handle:
        document: Mapping[str, Any] = yaml.safe_load(handle)
    return tuple(_starter(entry) for entry in document["scripts"])


def _starter(entry: Mapping[str, Any]) -> StarterScript:
    return StarterScript(
        key=entry["key"],
        title=entry["title"],
        language=entry["language"],
        intents=tuple(entry["intents"]),
        buckets=tuple(entry.get("buckets") or ()),
        status=ScriptStatus(entry.get("status", ScriptStatus.DRAFT.value)),
        body=str(entry["body"]).strip(),
    )


def seed_starter_scripts(*, session: Session) -> int:
    """Insert starter scripts whose key is new; returns how many. Trainers' edits to
    existing scripts survive a re-seed."""
    existing = set(session.scalars(select(Script.key)))
    new_scripts = [
        Script(
            key=s.key,
            title=s.title,
            body=s.body,
            language=s.language,
            intents=list(s.intents),
            buckets=list(s.buckets),
            status=s.status,
        )
        for s in starter_scripts()
        if s.key not in existing
    ]
    session.add_all(new_scripts)
    session.flush()
    return len(new_scripts)


# --- reads and suggestions ------------------------------------------------------------------


def approved_scripts(*, session: Session, language: str) -> list[Script]:
    query = (
        select(Script)
        .where(Script.status == ScriptStatus.APPROVED, Script.language == language)
        .order_by(Script.key)
    )
    return list(session.scalars(query))


def suggest(
    *,
    session: Session,
    case: Case,
    intents: Sequence[IntentScore],
    language: str,
    agent_name: str,
    limit: int = 3,
    today: date | None = None,
) -> list[Suggestion]:
    """The best approved scripts for what the debtor just said, rendered for this case.

    Each script is scored by its best-matching intent: intent score x bucket fit. Ties go
    to the script key, so the same utterance always yields the same order.
    """
    if not intents:
        return []
    bucket = case.bucket(today)
    values = render.case_values(case, agent_name=agent_name, language=language, today=today)
    ranked: list[Suggestion] = []
    for script in approved_scripts(session=session, language=language):
        fit = _bucket_fit(script, bucket)
        best = _best_intent(script, intents)
        if fit and best is not None:
            ranked.append(_suggestion(script, values, best, round(best.score * fit, 3)))
    ranked.sort(key=lambda s: (-s.score, s.key))
    return ranked[:limit]


def opening_scripts(
    *,
    session: Session,
    case: Case,
    language: str,
    agent_name: str,
    today: date | None = None,
) -> list[Suggestion]:
    """The call-opening statements (identity check, recording notice, mini-Miranda), in
    the order to say them: identity first, so nothing is disclosed to the wrong person."""
    values = render.case_values(case, agent_name=agent_name, language=language, today=today)
    return [
        Suggestion(
            script_id=script.id,
            key=script.key,
            title=script.title,
            text=render.render(script.body, values),
            reason="Say at the start of the call",
            intent=OPENING,
            score=1.0,
        )
        for script in approved_scripts(session=session, language=language)
        if OPENING in script.intents
    ]


def _bucket_fit(script: Script, bucket: str) -> float:
    if not script.buckets:
        return ANY_BUCKET
    return BUCKET_MATCH if bucket in script.buckets else 0.0


def _best_intent(script: Script, intents: Sequence[IntentScore]) -> IntentScore | None:
    matching = [i for i in intents if i.intent in script.intents]
    return max(matching, key=lambda i: i.score, default=None)


def _suggestion(
    script: Script, values: Mapping[str, str], intent: IntentScore, score: float
) -> Suggestion:
    return Suggestion(
        script_id=script.id,
        key=script.key,
        title=script.title,
        text=render.render(script.body, values),
        reason=f'Debtor said: "{intent.context or intent.cue}"',
        intent=intent.intent,
        score=score,
    )
