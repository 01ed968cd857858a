"""Rules and flags in the database, on SQLite and PostgreSQL."""

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from case_store import service as case_service
from case_store.models import Call, Role, TranscriptSegment
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


# --- phrase lists edited by hand ----------------------------------------------------------


def _rule_naming(db: Session, key: str, language: str = "en", **yaml: object) -> QaRule:
    definition = {"key": key, "category": "disclosure", "language": language, **yaml}
    return qa_service.save_rule(session=db, definition=definition, author=None)


def test_editing_a_list_versions_each_rule_naming_it_in_phrases_or_conditions(
    db: Session,
) -> None:
    lead = make_user(db, role=Role.SUPERVISOR)
    qa_service.edit_list(
        session=db, name="t_kin", entries={"en": ["mother", "father"]}, author=lead
    )
    in_phrases = _rule_naming(db, "t_in_phrases", phrases=["tell your {t_kin}"])
    in_exceptions = _rule_naming(
        db, "t_in_exceptions", phrases=["tell everyone"], exceptions=["unless your {t_kin} asks"]
    )
    in_near = _rule_naming(
        db, "t_in_near", phrases=["we will visit"], near={"phrases": ["{t_kin}"], "within": 5}
    )
    unrelated = _rule_naming(db, "t_unrelated", phrases=["tell your boss"])

    row = qa_service.edit_list(
        session=db, name="t_kin", entries={"en": ["mother", " father ", "", "aunt"]}, author=lead
    )
    assert (row.version, row.entries) == (2, {"en": ["mother", "father", "aunt"]})
    assert [r.version for r in (in_phrases, in_exceptions, in_near)] == [2, 2, 2]
    assert unrelated.version == 1
    newest = qa_service.rule_history(session=db, key="t_in_exceptions")[0]
    assert newest.author_id == lead.id and newest.note == "list {t_kin} changed"
    assert newest.definition["lists"] == {"t_kin": {"en": ["mother", "father", "aunt"]}}
    hits = qa_service.load_engine(session=db).scan(
        "I will tell your aunt", speaker="agent", language="en"
    )
    assert [hit.rule_key for hit in hits] == ["t_in_phrases"]


def test_saving_a_list_unchanged_keeps_every_version(db: Session) -> None:
    qa_service.edit_list(session=db, name="t_same", entries={"en": ["boss"]}, author=None)
    rule = _rule_naming(db, "t_same_rule", phrases=["call your {t_same}"])
    row = qa_service.edit_list(
        session=db, name="t_same", entries={"en": ["boss", "boss"], "zh": ["  "]}, author=None
    )
    assert (row.version, rule.version) == (1, 1)
    assert len(qa_service.rule_history(session=db, key="t_same_rule")) == 1


@pytest.mark.parametrize(
    ("name", "entries", "message"),
    [
        ("two words", {"en": ["boss"]}, "letters, digits or underscores"),
        ("", {"en": ["boss"]}, "letters, digits or underscores"),
        ("x" * 65, {"en": ["boss"]}, "letters, digits or underscores"),
        ("new", {"en": ["boss"]}, "reserved"),
        ("t_empty", {"en": ["  "], "zh": []}, "at least one entry"),
        ("t_braces", {"en": ["your {boss}"]}, "braces"),
        ("t_french", {"fr": ["patron"]}, "Unknown language fr"),
    ],
)
def test_edit_list_refuses_what_rules_could_not_use(
    db: Session, name: str, entries: dict[str, list[str]], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        qa_service.edit_list(session=db, name=name, entries=entries, author=None)
    assert qa_service.get_list(session=db, name=name) is None


def test_edit_list_refuses_to_leave_a_rule_without_entries_in_its_language(
    db: Session,
) -> None:
    qa_service.edit_list(
        session=db, name="t_bilingual", entries={"en": ["boss"], "zh": ["领导"]}, author=None
    )
    rule = _rule_naming(db, "t_zh_rule", language="zh", phrases=["告诉你{t_bilingual}"])
    with pytest.raises(ValueError, match=r"t_zh_rule would stop working.*no zh entries"):
        qa_service.edit_list(session=db, name="t_bilingual", entries={"en": ["boss"]}, author=None)
    row = qa_service.get_list(session=db, name="t_bilingual")
    assert row is not None and row.version == 1 and row.entries["zh"] == ["领导"]
    assert rule.version == 1


def test_list_lists_names_the_rules_using_each(db: Session) -> None:
    qa_service.edit_list(session=db, name="t_used", entries={"en": ["boss"]}, author=None)
    qa_service.edit_list(session=db, name="t_unused", entries={"zh": ["领导"]}, author=None)
    _rule_naming(db, "t_user_b", phrases=["call your {t_used}"])
    _rule_naming(db, "t_user_a", phrases=["tell your {t_used}"])
    usage = {
        u.phrase_list.name: [r.key for r in u.rules] for u in qa_service.list_lists(session=db)
    }
    assert usage["t_used"] == ["t_user_a", "t_user_b"]
    assert usage["t_unused"] == []
    assert [r.key for r in qa_service.rules_naming_list(session=db, name="t_used")] == [
        "t_user_a",
        "t_user_b",
    ]
