"""Required statements in the database, on SQLite and PostgreSQL: seeding, editing with
versions, tenants' overrides, what a call stores at its end, the scorecard and the list of
calls that missed one."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from case_store import service as case_service
from case_store.models import Call, User
from qa_review import service as qa_service
from qa_review.engine import (
    RequiredStatementTracker,
    RuleLibrary,
    StatementHeard,
    StatementResult,
    required_statement_specs,
)
from qa_review.models import QaPhraseList, QaRequiredStatement
from qa_review.schemas import MissingFilters
from tests.factories import make_case, make_user

STARTER_KEYS = ["identity_check", "mini_miranda", "recording_notice"]


def _keys(db: Session, language: str | None = "en", tenant: str = "") -> list[str]:
    specs = qa_service.statements_for(session=db, language=language, tenant=tenant)
    return [spec.key for spec in specs]


def _call(db: Session, *, creditor: str = "Test Bank", collector: User | None = None) -> Call:
    collector = collector or make_user(db)
    case = make_case(db, collector=collector)
    case.creditor = creditor
    return case_service.start_call(
        session=db, case_id=case.id, collector_id=collector.id, source="test", language="en"
    )


# --- seeding and editing ---------------------------------------------------------------------


def test_seeding_adds_the_shipped_defaults_once(db: Session) -> None:
    assert qa_service.seed_required_statements(session=db) == len(required_statement_specs())
    assert qa_service.seed_required_statements(session=db) == 0
    qa_service.seed_starter_rules(session=db)  # seeds statements too, and adds none again
    rows = qa_service.list_statements(session=db)
    assert len(rows) == len(required_statement_specs()) == 6
    assert {(r.key, r.language, r.tenant, r.version) for r in rows} == {
        (key, language, "", 1) for key in STARTER_KEYS for language in ("en", "zh")
    }
    assert all(r.description and r.phrases and r.enabled for r in rows)


def test_seeding_keeps_a_leads_edit(db: Session) -> None:
    qa_service.seed_required_statements(session=db)
    qa_service.save_statement(
        session=db, key="mini_miranda", language="en", phrases=["we collect debts"]
    )
    qa_service.seed_required_statements(session=db)
    row = qa_service.get_statement(session=db, key="mini_miranda", language="en")
    assert row is not None and (row.phrases, row.version) == (["we collect debts"], 2)


def test_a_save_bumps_the_version_only_when_something_changed(db: Session) -> None:
    row = qa_service.save_statement(
        session=db,
        key="fee_notice",
        language="en",
        tenant="Acme Bank",
        phrases=["a fee of # dollars", " ", "a fee of # dollars"],
        description="  Fees,\n  said up front. ",
    )
    assert (row.version, row.phrases, row.description) == (
        1,
        ["a fee of # dollars"],
        "Fees, said up front.",
    )
    same = qa_service.save_statement(
        session=db,
        key="fee_notice",
        language="en",
        tenant=" Acme  Bank ",
        phrases=["a fee of # dollars"],
        description="Fees, said up front.",
    )
    assert same.id == row.id and same.version == 1
    waived = qa_service.save_statement(
        session=db, key="fee_notice", language="en", tenant="Acme Bank", phrases=[], enabled=False
    )
    assert waived.id == row.id and (waived.version, waived.enabled, waived.phrases) == (
        2,
        False,
        [],
    )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"key": "Fee Notice"}, "slug"),
        ({"language": "fr"}, "unsupported language"),
        ({"phrases": []}, "at least one phrase unless disabled"),
        ({"phrases": ["*"]}, "only wildcards"),
        ({"phrases": ["{nope} fee"]}, r"unknown phrase list \{nope\}"),
    ],
)
def test_a_bad_save_is_refused_and_writes_nothing(
    db: Session, fields: dict[str, object], message: str
) -> None:
    values: dict[str, object] = {"key": "fee_notice", "language": "en", "phrases": ["a fee"]}
    with pytest.raises(ValueError, match=message):
        qa_service.save_statement(session=db, **{**values, **fields})  # type: ignore[arg-type]
    assert db.scalars(select(QaRequiredStatement)).all() == []


def test_a_phrase_may_name_a_phrase_list_of_the_library(db: Session) -> None:
    db.add(QaPhraseList(name="recorded", entries={"en": ["recorded", "taped"]}))
    db.flush()
    qa_service.save_statement(
        session=db, key="tape_notice", language="en", phrases=["this call is {recorded}"]
    )
    [spec] = qa_service.statements_for(session=db, language="en")
    lists = qa_service.phrase_lists(session=db)
    tracker = RequiredStatementTracker([spec], language="en", lists=lists)
    assert tracker.observe("Heads up: this call is taped.") == ["tape_notice"]


def test_only_a_tenants_statement_can_be_deleted(db: Session) -> None:
    qa_service.seed_required_statements(session=db)
    qa_service.save_statement(
        session=db, key="mini_miranda", language="en", tenant="Acme Bank", phrases=["acme collects"]
    )
    with pytest.raises(ValueError, match="disable it instead"):
        qa_service.delete_statement(session=db, key="mini_miranda", language="en", tenant="  ")
    assert qa_service.delete_statement(
        session=db, key="mini_miranda", language="en", tenant="Acme Bank"
    )
    assert not qa_service.delete_statement(
        session=db, key="mini_miranda", language="en", tenant="Acme Bank"
    )
    assert qa_service.get_statement(session=db, key="mini_miranda", language="en") is not None


# --- what a call requires ------------------------------------------------------------------


def test_a_tenants_rows_replace_waive_and_add_to_the_defaults(db: Session) -> None:
    qa_service.seed_required_statements(session=db)
    save = qa_service.save_statement
    save(session=db, key="recording_notice", language="en", tenant="Acme", phrases=["acme tapes"])
    save(session=db, key="mini_miranda", language="en", tenant="Acme", phrases=[], enabled=False)
    save(session=db, key="dispute_rights", language="en", tenant="Acme", phrases=["dispute"])
    save(session=db, key="identity_check", language="zh", tenant="Acme", phrases=["身份"])

    acme = qa_service.statements_for(session=db, language="en", tenant="Acme")
    assert [(s.key, s.tenant) for s in acme] == [
        ("identity_check", ""),
        ("recording_notice", "Acme"),
        ("dispute_rights", "Acme"),
    ]
    assert acme[1].phrases == ("acme tapes",)
    assert _keys(db, tenant="Globex") == STARTER_KEYS  # a tenant without rows: the defaults
    assert _keys(db, "zh", "Acme") == STARTER_KEYS
    zh_identity = qa_service.statements_for(session=db, language="zh", tenant="Acme")[0]
    assert zh_identity.tenant == "Acme"
    assert len(qa_service.statements_for(session=db, language=None, tenant="Acme")) == 3 + 3


def test_before_seeding_the_shipped_defaults_apply(db: Session) -> None:
    assert _keys(db) == STARTER_KEYS
    qa_service.save_statement(
        session=db, key="mini_miranda", language="en", tenant="Acme", phrases=[], enabled=False
    )
    assert _keys(db, tenant="Acme") == ["identity_check", "recording_notice"]


def test_a_broken_tenant_row_falls_back_to_the_default(db: Session) -> None:
    qa_service.seed_required_statements(session=db)
    db.add(
        QaRequiredStatement(
            key="recording_notice", language="en", tenant="Acme", phrases=["{gone} tape"]
        )
    )
    db.add(QaRequiredStatement(key="Bad Key", language="en", tenant="Acme", phrases=["x"]))
    db.flush()
    [notice] = [
        s
        for s in qa_service.statements_for(session=db, language="en", tenant="Acme")
        if s.key == "recording_notice"
    ]
    assert notice.tenant == "" and "this call may be recorded" in notice.phrases
    assert _keys(db, tenant="Acme") == STARTER_KEYS


def test_tenants_are_the_creditors_and_the_tenants_with_statements(db: Session) -> None:
    _call(db, creditor="Zeta Finance")
    qa_service.save_statement(
        session=db, key="x_notice", language="en", tenant="acme", phrases=["x"]
    )
    tenants = qa_service.list_tenants(session=db)
    assert "Zeta Finance" in tenants and "acme" in tenants and "" not in tenants
    assert tenants == sorted(tenants, key=str.casefold)


# --- the library's YAML --------------------------------------------------------------------


def test_an_import_adds_updates_and_waives_and_the_export_reads_back(db: Session) -> None:
    qa_service.seed_starter_rules(session=db)
    library = RuleLibrary.from_yaml(
        "required_statements:\n"
        "  en:\n"
        "    mini_miranda: [this is an attempt to collect a debt]\n"
        "  tenants:\n"
        "    Acme Bank:\n"
        "      en:\n"
        "        recording_notice: {enabled: false}\n"
        "        dispute_rights: {description: Acme's own., phrases: [dispute this debt]}\n"
    )
    result = qa_service.import_library(session=db, library=library, author=None)
    assert (result.statements_added, result.statements_updated, result.statements_unchanged) == (
        2,
        1,
        0,
    )
    again = qa_service.import_library(session=db, library=library, author=None)
    assert (again.statements_added, again.statements_updated, again.statements_unchanged) == (
        0,
        0,
        3,
    )
    miranda = qa_service.get_statement(session=db, key="mini_miranda", language="en")
    assert miranda is not None and miranda.version == 2
    assert miranda.phrases == ["this is an attempt to collect a debt"]
    assert _keys(db, tenant="Acme Bank") == ["identity_check", "mini_miranda", "dispute_rights"]

    exported = RuleLibrary.from_yaml(qa_service.load_library(session=db).to_yaml())
    assert {s.identity: s.enabled for s in exported.statements} == {
        (r.key, r.language, r.tenant): r.enabled for r in qa_service.list_statements(session=db)
    }
    waived = [s for s in exported.statements if s.tenant == "Acme Bank" and not s.enabled]
    assert [s.key for s in waived] == ["recording_notice"]


# --- at call end, on the scorecard and in the queue ----------------------------------------


def _results(segment_id: int | None) -> list[StatementResult]:
    return [
        StatementResult("identity_check", 1, StatementHeard("Am I speaking with", segment_id, 2.5)),
        StatementResult("mini_miranda", 3, None),
        StatementResult("recording_notice", 1, None),
    ]


def _segment(db: Session, call: Call) -> int:
    segment = case_service.add_segment(
        session=db,
        call_id=call.id,
        channel=0,
        speaker="agent",
        start=2.5,
        end=4.0,
        text="Am I speaking with John?",
        words=[],
    )
    return segment.id


def test_call_end_stores_every_statement_said_or_missing(db: Session) -> None:
    call = _call(db)
    segment_id = _segment(db, call)
    qa_service.record_call_statements(session=db, call_id=call.id, results=_results(segment_id))
    rows = qa_service.list_call_statements(session=db, call_id=call.id)
    assert [(r.key, r.said, r.evidence, r.segment_id, r.stream_start) for r in rows] == [
        ("identity_check", True, "Am I speaking with", segment_id, 2.5),
        ("mini_miranda", False, None, None, None),
        ("recording_notice", False, None, None, None),
    ]
    assert rows[1].statement_version == 3

    # Recording the call again replaces its rows rather than adding to them.
    later = [StatementResult("mini_miranda", 3, StatementHeard("attempt to collect", None, 9.0))]
    qa_service.record_call_statements(session=db, call_id=call.id, results=later)
    [row] = qa_service.list_call_statements(session=db, call_id=call.id)
    assert (row.key, row.said, row.stream_start) == ("mini_miranda", True, 9.0)


def test_the_scorecard_lists_statements_and_a_missing_one_is_not_a_pass(db: Session) -> None:
    call = _call(db)
    card = qa_service.call_scorecard(session=db, call_id=call.id)
    assert card is not None and card.statements == [] and card.verdict == "pass"
    qa_service.record_call_statements(session=db, call_id=call.id, results=_results(None))
    card = qa_service.call_scorecard(session=db, call_id=call.id)
    assert card is not None
    assert [s.key for s in card.statements] == STARTER_KEYS
    assert card.missing_statements == ["mini_miranda", "recording_notice"]
    assert card.verdict == "incomplete"
    said = [StatementResult(key, 1, StatementHeard("words", None, 1.0)) for key in STARTER_KEYS]
    qa_service.record_call_statements(session=db, call_id=call.id, results=said)
    card = qa_service.call_scorecard(session=db, call_id=call.id)
    assert card is not None and card.verdict == "pass"


def test_calls_missing_statements_are_listed_newest_first_and_filtered(db: Session) -> None:
    collector = make_user(db)
    old, new, clean = _call(db, collector=collector), _call(db), _call(db, collector=collector)
    old.started_at = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    new.started_at = datetime(2026, 3, 5, 9, 0, tzinfo=UTC)
    clean.started_at = datetime(2026, 3, 6, 9, 0, tzinfo=UTC)
    qa_service.record_call_statements(session=db, call_id=old.id, results=_results(None))
    qa_service.record_call_statements(
        session=db,
        call_id=new.id,
        results=[
            StatementResult("identity_check", 1, None),
            StatementResult("mini_miranda", 1, StatementHeard("x", None, 1.0)),
        ],
    )
    qa_service.record_call_statements(
        session=db,
        call_id=clean.id,
        results=[StatementResult("mini_miranda", 1, StatementHeard("x", None, 1.0))],
    )

    def ids(**filters: object) -> list[int]:
        page = qa_service.list_calls_missing_statements(
            session=db, filters=MissingFilters.model_validate(filters)
        )
        assert page.total == len(page.items)
        return [item.call.id for item in page.items]

    everything = qa_service.list_calls_missing_statements(session=db, filters=MissingFilters())
    mine = [item for item in everything.items if item.call.id in (old.id, new.id, clean.id)]
    assert [(i.call.id, i.missing) for i in mine] == [
        (new.id, ["identity_check"]),
        (old.id, ["mini_miranda", "recording_notice"]),
    ]
    assert ids(key="mini_miranda", collector_id=collector.id) == [old.id]
    assert ids(key="identity_check", date_from="2026-03-02") == [new.id]
    assert ids(date_to=date(2026, 3, 1).isoformat(), collector_id=collector.id) == [old.id]
    assert ids(key="", collector_id=str(collector.id), date_from="") == [old.id]  # blank: no filter


def test_the_missing_list_pages_and_clamps_the_page(db: Session) -> None:
    collector = make_user(db)
    for _ in range(3):
        call = _call(db, collector=collector)
        qa_service.record_call_statements(session=db, call_id=call.id, results=_results(None))
    filters = MissingFilters(collector_id=collector.id)
    page = qa_service.list_calls_missing_statements(
        session=db, filters=filters, page=9, page_size=2
    )
    assert (page.total, page.pages, page.page, len(page.items)) == (3, 2, 2, 1)
