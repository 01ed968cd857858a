"""Rules and flags in the database, on SQLite and PostgreSQL."""

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from case_store import service as case_service
from case_store.models import Call, TranscriptSegment
from qa_review import service as qa_service
from qa_review.engine import Hit, RuleSpec, starter_rule_specs
from qa_review.models import FlagStatus, QaRule
from tests.factories import make_case, make_user


def _call_with_segment(db: Session, text: str) -> tuple[Call, TranscriptSegment]:
    collector = make_user(db)
    case = make_case(db, collector=collector)
    call = case_service.start_call(
        session=db, case_id=case.id, collector_id=collector.id, source="test", language="en"
    )
    segment = case_service.add_segment(
        session=db,
        call_id=call.id,
        channel=0,
        speaker="agent",
        start=1.0,
        end=3.5,
        text=text,
        words=[],
    )
    return call, segment


def test_seed_inserts_every_starter_rule_once(db: Session) -> None:
    expected = len(starter_rule_specs())
    assert qa_service.seed_starter_rules(session=db) == expected
    assert qa_service.seed_starter_rules(session=db) == 0
    assert len(db.scalars(select(QaRule)).all()) == expected


def test_seed_keeps_a_supervisors_edit(db: Session) -> None:
    qa_service.seed_starter_rules(session=db)
    rule = db.scalars(select(QaRule).where(QaRule.key == "en_abuse_insult")).one()
    rule.phrases = ["numpty"]
    rule.version = 2
    db.flush()
    qa_service.seed_starter_rules(session=db)
    db.refresh(rule)
    assert (rule.phrases, rule.version) == (["numpty"], 2)


def test_loaded_engine_uses_enabled_rules_with_their_exceptions(db: Session) -> None:
    qa_service.seed_starter_rules(session=db)
    engine = qa_service.load_engine(session=db)
    assert engine.scan("We will sue you.", speaker="agent", language="en")
    assert (
        engine.scan(
            "The creditor may sue you where the law allows.", speaker="agent", language="en"
        )
        == []
    )

    rule = db.scalars(select(QaRule).where(QaRule.key == "en_abuse_insult")).one()
    rule.enabled = False
    db.flush()
    engine = qa_service.load_engine(session=db)
    assert engine.scan("You scumbag.", speaker="agent", language="en") == []


def test_a_malformed_rule_is_skipped_not_fatal(db: Session) -> None:
    qa_service.seed_starter_rules(session=db)
    db.add(QaRule(key="broken", category="not_a_category", language="en", phrases=["boo"]))
    db.flush()
    engine = qa_service.load_engine(session=db)
    assert "broken" not in {rule.key for rule in engine.rules}
    assert engine.scan("You scumbag.", speaker="agent", language="en")


def test_a_rule_naming_a_missing_list_is_skipped_not_fatal(db: Session) -> None:
    qa_service.seed_starter_rules(session=db)
    db.add(QaRule(key="orphan", category="abuse", language="en", phrases=["you {gone}"]))
    db.flush()
    engine = qa_service.load_engine(session=db)
    assert "orphan" not in {rule.key for rule in engine.rules}
    assert engine.scan("You scumbag.", speaker="agent", language="en")


def test_record_flag_persists_the_evidence(db: Session) -> None:
    qa_service.seed_starter_rules(session=db)
    text = "If you don't pay today, you will be arrested."
    call, segment = _call_with_segment(db, text)
    (hit,) = qa_service.load_engine(session=db).scan(text, speaker="agent", language="en")

    flag = qa_service.record_flag(
        session=db,
        call_id=call.id,
        segment_id=segment.id,
        hit=hit,
        stream_start=1.0,
        stream_end=3.5,
    )

    rule = db.scalars(select(QaRule).where(QaRule.key == hit.rule_key)).one()
    assert flag.id is not None and flag.rule_id == rule.id
    assert (flag.category, flag.severity, flag.rule_version) == ("false_legal", "critical", 1)
    assert text[flag.start_char : flag.end_char] == flag.evidence == "you will be arrested"
    assert flag.status == FlagStatus.OPEN
    assert qa_service.list_flags_for_call(session=db, call_id=call.id) == [flag]


def test_flag_for_an_unknown_rule_keeps_its_key(db: Session) -> None:
    call, segment = _call_with_segment(db, "x")
    hit = Hit("abuse", "adhoc_rule", 3, "low", 0, 1, "x")
    flag = qa_service.record_flag(
        session=db,
        call_id=call.id,
        segment_id=segment.id,
        hit=hit,
        stream_start=0.0,
        stream_end=1.0,
    )
    assert (flag.rule_id, flag.rule_key, flag.rule_version) == (None, "adhoc_rule", 3)


def test_flags_are_listed_in_call_order(db: Session) -> None:
    call, segment = _call_with_segment(db, "x")
    late = Hit("abuse", "a", 1, "high", 0, 1, "x")
    early = Hit("threat", "b", 1, "high", 0, 1, "x")
    for hit, at in ((late, 9.0), (early, 2.0)):
        qa_service.record_flag(
            session=db,
            call_id=call.id,
            segment_id=segment.id,
            hit=hit,
            stream_start=at,
            stream_end=at + 1,
        )
    flags = qa_service.list_flags_for_call(session=db, call_id=call.id)
    assert [f.rule_key for f in flags] == ["b", "a"]


def test_import_keeps_a_disabled_rule_disabled_and_reserved_keys_are_refused(db: Session) -> None:
    qa_service.seed_starter_rules(session=db)
    library = qa_service.load_library(session=db)
    [insult] = [r for r in library.rules if r.key == "en_abuse_insult"]
    qa_service.save_rule(session=db, definition=insult.to_yaml(), author=None, enabled=False)

    result = qa_service.import_library(session=db, library=library, author=None)
    assert (result.added, result.updated) == (0, 0)
    rule = qa_service.get_rule(session=db, key="en_abuse_insult")
    assert rule is not None and rule.enabled is False

    with pytest.raises(ValueError, match="reserved"):
        qa_service.save_rule(
            session=db, definition=RuleSpec("new", "abuse", "en", ["boo"]).to_yaml(), author=None
        )
