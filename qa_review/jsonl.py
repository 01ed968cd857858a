"""The ``parley qa`` batch contracts: JSON lines in, JSON lines out, one for one.

Audits feed thousands of segments through these, so a broken line must not stop the
run or shift the answers: it gets an output line of its own with ``error`` (and the
``id`` when one could be read), and the run goes on. Blank lines are not records and
are skipped. Offsets are Python string indices (code points) into the input ``text``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from qa_review.engine import (
    RequiredStatementSpec,
    RequiredStatementTracker,
    RuleEngine,
    required_statement_specs,
    resolve_statements,
)
from qa_review.phrases import Lists

Record = dict[str, Any]


class BadRecord(ValueError):
    """An input line that cannot be processed; the message says why, for the output."""


def process(lines: Iterable[str], handle: Callable[[Record], Record]) -> Iterator[tuple[str, bool]]:
    """Each non-blank input line's output line, and whether it was processed."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        record_id: Any = None
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise BadRecord("expected a JSON object")
            record_id = record.get("id")
            output, ok = {"id": record_id, **handle(record)}, True
        except json.JSONDecodeError as error:
            output, ok = {"id": None, "error": f"line {number}: not JSON ({error.msg})"}, False
        except BadRecord as error:
            output, ok = {"id": record_id, "error": f"line {number}: {error}"}, False
        yield json.dumps(output, ensure_ascii=False), ok


def scanner(engine: RuleEngine) -> Callable[[Record], Record]:
    """``{"id","lang","speaker","text"}`` -> ``{"flags":[...]}`` (``parley qa scan``)."""

    def scan(record: Record) -> Record:
        text = _text(record)
        speaker = record.get("speaker")
        if speaker not in ("agent", "debtor"):
            raise BadRecord('\'speaker\' must be "agent" or "debtor"')
        hits = engine.scan(text, speaker=speaker, language=_language(record))
        return {
            "flags": [
                {
                    "category": hit.category,
                    "rule": hit.rule_key,
                    "severity": hit.severity,
                    "start": hit.start,
                    "end": hit.end,
                    "evidence": hit.evidence,
                }
                for hit in hits
            ]
        }

    return scan


def redactor(record: Record) -> Record:
    """``{"id","lang","text"}`` -> ``{"text","entities":[...]}`` (``parley qa redact``)."""
    from qa_review.redact import redact  # its detectors load only for this command

    result = redact(_text(record), _language(record))
    return {
        "text": result.text,
        "entities": [{"type": e.type, "start": e.start, "end": e.end} for e in result.entities],
    }


def call_checker(record: Record) -> Record:
    """``{"id","lang","segments":[{"speaker","text"}]}`` -> the required-statement
    checklist of the whole call (``parley qa calls``), against the shipped defaults."""
    shipped = resolve_statements(required_statement_specs(), language=None)
    return statement_checker(shipped)(record)


def statement_checker(
    statements: Sequence[RequiredStatementSpec], lists: Lists | None = None
) -> Callable[[Record], Record]:
    """``call_checker`` against given statements: a tenant's, resolved over the defaults
    (``resolve_statements``) for every language, with the phrase lists they name."""

    def check(record: Record) -> Record:
        segments = record.get("segments")
        if not isinstance(segments, list):
            raise BadRecord("'segments' must be a list of {speaker, text}")
        tracker = RequiredStatementTracker(statements, language=_language(record), lists=lists)
        for segment in segments:
            if not isinstance(segment, dict) or not isinstance(segment.get("text"), str):
                raise BadRecord("every segment needs a 'text' string")
            tracker.observe(segment["text"], speaker=str(segment.get("speaker", "agent")))
        return {"required": tracker.status(), "missing": tracker.missing()}

    return check


def _text(record: Record) -> str:
    text = record.get("text")
    if not isinstance(text, str):
        raise BadRecord("'text' must be a string")
    return text


def _language(record: Record) -> str | None:
    language = record.get("lang")
    if language is not None and language not in ("en", "zh"):
        raise BadRecord('\'lang\' must be "en" or "zh" (or left out to try both)')
    return language
