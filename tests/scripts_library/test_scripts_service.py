"""The script library in the database and the suggestions a live call gets from it."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from case_store.models import Case, Debtor
from qa_review.engine import RequiredStatementTracker, starter_library
from scripts_library import service as scripts_service
from scripts_library.intents import INTENTS, detect_intents
from scripts_library.models import Script, ScriptStatus

TODAY = date(2026, 3, 5)


def case_in_bucket(days_past_due: int, *, currency: str = "USD") -> Case:
    return Case(
        account_ref="R-1",
        debtor=Debtor(name="John Miller"),
        creditor="Northwind Bank",
        balance=Decimal("1200.00"),
        currency=currency,
        due_date=TODAY - timedelta(days=days_past_due),
    )


@pytest.fixture
def seeded(db: Session) -> Session:
    scripts_service.seed_starter_scripts(session=db)
    return db


def test_seed_is_idempotent(db: Session) -> None:
    expected = len(scripts_service.starter_scripts())
    assert expected >= 24
    assert scripts_service.seed_starter_scripts(session=db) == expected
    assert scripts_service.seed_starter_scripts(session=db) == 0
    assert len(db.scalars(select(Script)).all()) == expected


def test_starter_library_covers_every_intent_and_the_opening_in_both_languages() -> None:
    scripts = scripts_service.starter_scripts()
    for language in ("en", "zh"):
        covered = {i for s in scripts if s.language == language for i in s.intents}
        assert covered == {*INTENTS, scripts_service.OPENING}
    assert all(s.status == ScriptStatus.APPROVED for s in scripts)


def test_starter_scripts_are_clean_under_our_own_qa_rules() -> None:
    engine = starter_library().engine()
    for script in scripts_service.starter_scripts():
        assert engine.scan(script.body, speaker="agent", language=script.language) == [], script.key


def test_wrong_party_scripts_disclose_nothing_about_the_debt() -> None:
    revealing = ("{balance}", "{creditor}", "{days_past_due}", "debt", "欠", "逾期", "还款")
    for script in scripts_service.starter_scripts():
        if "wrong_party" in script.intents:
            assert not [word for word in revealing if word in script.body], script.key


def test_hardship_on_an_m2_case_suggests_a_hardship_plan_first(seeded: Session) -> None:
    utterance = "I lost my job last month and I can't afford the payments right now."
    suggestions = scripts_service.suggest(
        session=seeded,
        case=case_in_bucket(75),
        intents=detect_intents(utterance, "en"),
        language="en",
        agent_name="Sam",
        today=TODAY,
    )
    first = suggestions[0]
    assert (first.key, first.intent) == ("en_hardship_reduced_plan", "hardship")
    assert "lost my job" in first.reason and first.reason.startswith('Debtor said: "')
    assert "$200.00" in first.text  # min installment: 1200 / 6
    assert "{" not in first.text
    assert len(suggestions) <= 3


def test_scripts_for_another_bucket_are_not_suggested(seeded: Session) -> None:
    intents = detect_intents("Would you settle for less?", "en")
    early = scripts_service.suggest(
        session=seeded,
        case=case_in_bucket(10),
        intents=intents,
        language="en",
        agent_name="Sam",
        today=TODAY,
    )
    late = scripts_service.suggest(
        session=seeded,
        case=case_in_bucket(120),
        intents=intents,
        language="en",
        agent_name="Sam",
        today=TODAY,
    )
    assert [s.key for s in early] == ["en_settlement_early_bucket"]
    assert [s.key for s in late] == ["en_settlement_offer"]
    assert "$840.00" in late[0].text  # 70 % of 1200


def test_only_approved_scripts_are_suggested(seeded: Session) -> None:
    seeded.add(
        Script(
            key="en_hardship_zz_draft",
            title="Draft",
            body="Draft text for {debtor_name}",
            language="en",
            intents=["hardship"],
            buckets=[],
            status=ScriptStatus.DRAFT,
        )
    )
    retired = seeded.scalars(select(Script).where(Script.key == "en_hardship_reduced_plan")).one()
    retired.status = ScriptStatus.RETIRED
    seeded.flush()
    suggestions = scripts_service.suggest(
        session=seeded,
        case=case_in_bucket(75),
        intents=detect_intents("I got laid off.", "en"),
        language="en",
        agent_name="Sam",
        today=TODAY,
    )
    keys = {s.key for s in suggestions}
    assert "en_hardship_zz_draft" not in keys and "en_hardship_reduced_plan" not in keys
    assert all(
        s.status == ScriptStatus.APPROVED
        for s in scripts_service.approved_scripts(session=seeded, language="en")
    )


def test_chinese_suggestions_render_chinese_money(seeded: Session) -> None:
    suggestions = scripts_service.suggest(
        session=seeded,
        case=case_in_bucket(75, currency="CNY"),
        intents=detect_intents("我失业了，能不能分期？", "zh"),
        language="zh",
        agent_name="小王",
        today=TODAY,
    )
    assert suggestions[0].key == "zh_hardship_reduced_plan"
    assert "200.00元" in suggestions[0].text


def test_ties_break_by_script_key_and_no_intent_means_no_suggestion(seeded: Session) -> None:
    case = case_in_bucket(40)
    intents = detect_intents("Stop calling me, talk to my lawyer.", "en")
    suggestions = scripts_service.suggest(
        session=seeded, case=case, intents=intents, language="en", agent_name="Sam", today=TODAY
    )
    assert [s.score for s in suggestions] == [0.76, 0.76]  # 0.95 x generic-bucket 0.8 each
    assert [s.key for s in suggestions] == ["en_attorney_redirect", "en_cease_contact_acknowledge"]
    assert (
        scripts_service.suggest(
            session=seeded, case=case, intents=[], language="en", agent_name="Sam", today=TODAY
        )
        == []
    )


@pytest.mark.parametrize("language", ["en", "zh"])
def test_opening_scripts_identity_first_and_they_satisfy_the_checklist(
    seeded: Session, language: str
) -> None:
    openings = scripts_service.opening_scripts(
        session=seeded, case=case_in_bucket(20), language=language, agent_name="Sam", today=TODAY
    )
    assert len(openings) == 3
    assert "identity" in openings[0].key
    tracker = RequiredStatementTracker.for_language(language)
    for suggestion in openings:
        assert "{" not in suggestion.text and "?]" not in suggestion.text
        tracker.observe(suggestion.text, speaker="agent")
    assert tracker.missing() == []
