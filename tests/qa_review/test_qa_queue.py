"""The QA review queue's service: filters, order, decisions, scorecards, rule precision
and a spreadsheet-safe export. Runs on SQLite and PostgreSQL (the ``db`` fixture)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from case_store import service as case_service
from case_store.models import Call, Role, User
from qa_review import service as qa_service
from qa_review.engine import Hit
from qa_review.evidence import highlight
from qa_review.export import neutralize, to_csv
from qa_review.models import Category, FlagStatus, QaFlag, ReviewReason, Severity
from qa_review.schemas import Decision, QueueFilters, QueueSort
from tests.factories import make_case, make_user

DAY = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
ALL = QueueFilters(status=None)


def _call(db: Session, collector: User | None = None) -> Call:
    collector = collector or make_user(db)
    case = make_case(db, collector=collector)
    return case_service.start_call(
        session=db, case_id=case.id, collector_id=collector.id, source="test", language="en"
    )


def _flag(
    db: Session,
    call: Call,
    *,
    evidence: str = "deadbeat",
    text: str | None = None,
    category: str = "abuse",
    severity: str = "high",
    rule_key: str = "en_abuse_insult",
    version: int = 1,
    at: float = 5.0,
    created_at: datetime = DAY,
) -> QaFlag:
    text = text if text is not None else f"Well, {evidence}, pay up."
    start = text.index(evidence)
    segment = case_service.add_segment(
        session=db,
        call_id=call.id,
        channel=0,
        speaker="agent",
        start=at,
        end=at + 2,
        text=text,
        words=[],
    )
    hit = Hit(
        category=category,
        rule_key=rule_key,
        rule_version=version,
        severity=severity,
        start=start,
        end=start + len(evidence),
        evidence=evidence,
    )
    flag = qa_service.record_flag(
        session=db,
        call_id=call.id,
        segment_id=segment.id,
        hit=hit,
        stream_start=at,
        stream_end=at + 2,
    )
    flag.created_at = created_at
    db.flush()
    return flag


def _ids(db: Session, filters: QueueFilters, sort: QueueSort = QueueSort.SEVERITY) -> list[int]:
    page = qa_service.list_queue(session=db, filters=filters, sort=sort)
    return [item.flag.id for item in page.items]


def _reviewer(db: Session) -> User:
    return make_user(db, role=Role.QA_REVIEWER)


# --- the queue ------------------------------------------------------------------------


def test_queue_lists_open_flags_most_severe_first_then_newest(db: Session) -> None:
    call = _call(db)
    low = _flag(db, call, severity="low", created_at=DAY + timedelta(hours=3))
    old_high = _flag(db, call, severity="high", created_at=DAY)
    new_high = _flag(db, call, severity="high", created_at=DAY + timedelta(hours=1))
    critical = _flag(db, call, severity="critical", created_at=DAY - timedelta(days=1))
    reviewed = _flag(db, call, severity="critical")
    qa_service.review_flag(
        session=db, flag_id=reviewed.id, reviewer=_reviewer(db), decision=Decision.CONFIRM
    )

    assert _ids(db, QueueFilters()) == [critical.id, new_high.id, old_high.id, low.id]


def test_queue_item_carries_call_case_collector_and_segment(db: Session) -> None:
    collector = make_user(db, display_name="Cara Collector")
    call = _call(db, collector)
    flag = _flag(db, call, evidence="lowlife")
    (item,) = qa_service.list_queue(session=db, filters=QueueFilters()).items
    assert item.flag.id == flag.id and item.call.id == call.id
    assert item.collector.display_name == "Cara Collector"
    assert item.case.id == call.case_id
    assert "lowlife" in item.segment.text and item.reviewer is None


def test_queue_filters_by_category_severity_collector_and_status(db: Session) -> None:
    alice, bob = make_user(db), make_user(db)
    alices, bobs = _call(db, alice), _call(db, bob)
    abuse = _flag(db, alices, category="abuse", severity="high")
    threat = _flag(db, alices, category="threat", severity="critical")
    bobs_flag = _flag(db, bobs, category="abuse", severity="low")
    qa_service.review_flag(
        session=db,
        flag_id=bobs_flag.id,
        reviewer=_reviewer(db),
        decision=Decision.DISMISS,
        reason=ReviewReason.WRONG_CONTEXT,
    )

    assert _ids(db, QueueFilters(category=Category.ABUSE)) == [abuse.id]
    assert _ids(db, QueueFilters(category=Category.ABUSE, status=None)) == [abuse.id, bobs_flag.id]
    assert _ids(db, QueueFilters(severity=Severity.CRITICAL)) == [threat.id]
    assert _ids(db, QueueFilters(collector_id=alice.id)) == [threat.id, abuse.id]
    assert _ids(db, QueueFilters(collector_id=bob.id)) == []
    assert _ids(db, QueueFilters(status=FlagStatus.DISMISSED)) == [bobs_flag.id]


def test_date_range_takes_whole_utc_days_at_both_ends(db: Session) -> None:
    call = _call(db)
    day = date(2026, 3, 10)
    before = _flag(db, call, created_at=datetime(2026, 3, 9, 23, 59, 59, tzinfo=UTC))
    first = _flag(db, call, created_at=datetime(2026, 3, 10, 0, 0, tzinfo=UTC))
    last = _flag(db, call, created_at=datetime(2026, 3, 11, 23, 59, 59, tzinfo=UTC))
    after = _flag(db, call, created_at=datetime(2026, 3, 12, 0, 0, tzinfo=UTC))

    window = QueueFilters(date_from=day, date_to=day + timedelta(days=1))
    assert set(_ids(db, window)) == {first.id, last.id}
    assert set(_ids(db, QueueFilters(date_to=day - timedelta(days=1)))) == {before.id}
    assert set(_ids(db, QueueFilters(date_from=date(2026, 3, 12)))) == {after.id}


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        (QueueSort.NEWEST, ["b_high", "a_low", "c_crit"]),
        (QueueSort.OLDEST, ["c_crit", "a_low", "b_high"]),
        (QueueSort.CATEGORY, ["a_low", "c_crit", "b_high"]),
        (QueueSort.COLLECTOR, ["c_crit", "b_high", "a_low"]),
        (QueueSort.SEVERITY, ["c_crit", "b_high", "a_low"]),
    ],
)
def test_each_sort_order(db: Session, sort: QueueSort, expected: list[str]) -> None:
    anna = make_user(db, display_name="Anna")
    zoe = make_user(db, display_name="Zoe")
    flags = {
        "a_low": _flag(
            db,
            _call(db, zoe),
            category="abuse",
            severity="low",
            created_at=DAY + timedelta(hours=1),
        ),
        "b_high": _flag(
            db,
            _call(db, anna),
            category="threat",
            severity="high",
            created_at=DAY + timedelta(hours=2),
        ),
        "c_crit": _flag(
            db, _call(db, anna), category="disclosure", severity="critical", created_at=DAY
        ),
    }
    names = {flag.id: name for name, flag in flags.items()}
    assert [names[i] for i in _ids(db, QueueFilters(), sort)] == expected


def test_queue_pages_through_every_flag_and_clamps_past_the_end(db: Session) -> None:
    call = _call(db)
    flags = [_flag(db, call, created_at=DAY + timedelta(minutes=n)) for n in range(5)]
    newest_first = [flag.id for flag in reversed(flags)]
    pages = [
        qa_service.list_queue(
            session=db, filters=QueueFilters(), sort=QueueSort.NEWEST, page=n, page_size=2
        )
        for n in (1, 2, 3)
    ]
    assert [p.total for p in pages] == [5, 5, 5] and pages[0].pages == 3
    assert [item.flag.id for p in pages for item in p.items] == newest_first
    beyond = qa_service.list_queue(
        session=db, filters=QueueFilters(), sort=QueueSort.NEWEST, page=9, page_size=2
    )
    assert beyond.page == 3 and [i.flag.id for i in beyond.items] == newest_first[4:]


def test_next_flag_is_the_one_below_even_after_it_leaves_the_open_queue(db: Session) -> None:
    call = _call(db)
    first, second, third = (
        _flag(db, call, created_at=DAY + timedelta(minutes=n)) for n in (3, 2, 1)
    )
    qa_service.review_flag(
        session=db, flag_id=second.id, reviewer=_reviewer(db), decision=Decision.CONFIRM
    )

    def after(flag: QaFlag) -> int | None:
        return qa_service.next_flag_id(
            session=db, filters=QueueFilters(), sort=QueueSort.NEWEST, after_flag_id=flag.id
        )

    assert after(second) == third.id
    assert after(first) == third.id  # the reviewed one is no longer in the open queue
    assert after(third) is None


def test_flag_context_is_the_flagged_segment_and_its_neighbours(db: Session) -> None:
    call = _call(db)
    for n in range(8):
        case_service.add_segment(
            session=db,
            call_id=call.id,
            channel=n % 2,
            speaker="agent" if n % 2 == 0 else "debtor",
            start=float(n),
            end=n + 0.5,
            text=f"line {n}",
            words=[],
        )
    flag = _flag(db, call, at=4.2)
    texts = [s.text for s in qa_service.flag_context(session=db, flag=flag, radius=2)]
    assert texts[:2] == ["line 3", "line 4"] and texts[3:] == ["line 5", "line 6"]
    assert flag.evidence in texts[2]


# --- decisions ------------------------------------------------------------------------


def test_review_keeps_decision_reason_comment_reviewer_and_time(db: Session) -> None:
    flag = _flag(db, _call(db))
    reviewer = _reviewer(db)
    qa_service.review_flag(
        session=db,
        flag_id=flag.id,
        reviewer=reviewer,
        decision=Decision.DISMISS,
        reason=ReviewReason.NEGATED_OR_COMPLIANT,
        comment="  Agent said he would NOT call the employer.  ",
    )
    assert flag.status == FlagStatus.DISMISSED
    assert flag.review_reason == ReviewReason.NEGATED_OR_COMPLIANT
    assert flag.review_comment == "Agent said he would NOT call the employer."
    assert flag.reviewer_id == reviewer.id and flag.reviewed_at is not None
    item = qa_service.get_queue_item(session=db, flag_id=flag.id)
    assert item is not None and item.reviewer is not None and item.reviewer.id == reviewer.id


def test_a_second_review_replaces_the_first(db: Session) -> None:
    flag = _flag(db, _call(db))
    first, lead = _reviewer(db), make_user(db, role=Role.SUPERVISOR)
    qa_service.review_flag(
        session=db,
        flag_id=flag.id,
        reviewer=first,
        decision=Decision.DISMISS,
        reason=ReviewReason.OTHER,
        comment="Unclear",
    )
    qa_service.review_flag(session=db, flag_id=flag.id, reviewer=lead, decision=Decision.CONFIRM)
    assert (flag.status, flag.review_reason) == (FlagStatus.CONFIRMED, ReviewReason.CONFIRMED)
    assert flag.reviewer_id == lead.id and flag.review_comment is None


@pytest.mark.parametrize(
    ("decision", "reason", "comment"),
    [
        (Decision.DISMISS, None, ""),
        (Decision.DISMISS, ReviewReason.CONFIRMED, ""),
        (Decision.DISMISS, ReviewReason.OTHER, "   "),
        (Decision.CONFIRM, ReviewReason.WRONG_CONTEXT, ""),
        (Decision.CONFIRM, None, "x" * (qa_service.MAX_COMMENT_CHARS + 1)),
    ],
)
def test_a_decision_that_does_not_add_up_is_refused(
    db: Session, decision: Decision, reason: ReviewReason | None, comment: str
) -> None:
    flag = _flag(db, _call(db))
    with pytest.raises(qa_service.InvalidReview):
        qa_service.review_flag(
            session=db,
            flag_id=flag.id,
            reviewer=_reviewer(db),
            decision=decision,
            reason=reason,
            comment=comment,
        )
    assert flag.status == FlagStatus.OPEN and flag.reviewer_id is None


def test_collectors_cannot_review_and_unknown_flags_are_not_found(db: Session) -> None:
    flag = _flag(db, _call(db))
    with pytest.raises(PermissionError):
        qa_service.review_flag(
            session=db, flag_id=flag.id, reviewer=make_user(db), decision=Decision.CONFIRM
        )
    with pytest.raises(case_service.NotFound):
        qa_service.review_flag(
            session=db, flag_id=flag.id + 999, reviewer=_reviewer(db), decision=Decision.CONFIRM
        )


def test_every_decision_stays_in_the_history_newest_first_with_its_reviewer(
    db: Session,
) -> None:
    flag = _flag(db, _call(db))
    other = _flag(db, _call(db))
    quinn = make_user(db, role=Role.QA_REVIEWER, display_name="Quinn Q")
    sara = make_user(db, role=Role.SUPERVISOR, display_name="Sara S")
    assert qa_service.flag_reviews(session=db, flag_id=flag.id) == []
    qa_service.review_flag(
        session=db, flag_id=flag.id, reviewer=quinn, decision=Decision.CONFIRM, comment=" Clear. "
    )
    qa_service.review_flag(
        session=db,
        flag_id=flag.id,
        reviewer=sara,
        decision=Decision.DISMISS,
        reason=ReviewReason.WRONG_CONTEXT,
        comment="A quote from the script.",
    )
    qa_service.review_flag(session=db, flag_id=other.id, reviewer=quinn, decision=Decision.CONFIRM)

    latest, first = qa_service.flag_reviews(session=db, flag_id=flag.id)
    assert latest.reviewer is not None and latest.reviewer.display_name == "Sara S"
    assert (latest.review.status, latest.review.reason) == (
        FlagStatus.DISMISSED,
        ReviewReason.WRONG_CONTEXT,
    )
    assert latest.review.comment == "A quote from the script."
    assert first.review.at <= latest.review.at
    assert first.reviewer is not None and first.reviewer.display_name == "Quinn Q"
    assert (first.review.status, first.review.reason) == (
        FlagStatus.CONFIRMED,
        ReviewReason.CONFIRMED,
    )
    assert first.review.comment == "Clear."
    assert (flag.status, flag.reviewer_id) == (FlagStatus.DISMISSED, sara.id)


def test_a_refused_decision_adds_nothing_to_the_history(db: Session) -> None:
    flag = _flag(db, _call(db))
    with pytest.raises(qa_service.InvalidReview):
        qa_service.review_flag(
            session=db, flag_id=flag.id, reviewer=_reviewer(db), decision=Decision.DISMISS
        )
    assert qa_service.flag_reviews(session=db, flag_id=flag.id) == []


def test_rule_precision_counts_only_the_latest_decision_of_a_re_reviewed_flag(
    db: Session,
) -> None:
    call = _call(db)
    reviewer = _reviewer(db)
    overruled = _flag(db, call, rule_key="t_rereviewed")
    kept = _flag(db, call, rule_key="t_rereviewed")
    for flag in (overruled, kept):
        qa_service.review_flag(
            session=db, flag_id=flag.id, reviewer=reviewer, decision=Decision.CONFIRM
        )
    qa_service.review_flag(
        session=db,
        flag_id=overruled.id,
        reviewer=reviewer,
        decision=Decision.DISMISS,
        reason=ReviewReason.DEBTOR_SPEECH,
    )
    (row,) = [r for r in qa_service.rule_precision(session=db) if r.rule_key == "t_rereviewed"]
    assert (row.confirmed, row.dismissed, row.open) == (1, 1, 0)
    assert row.dismiss_reasons == {ReviewReason.DEBTOR_SPEECH.value: 1}
    assert len(qa_service.flag_reviews(session=db, flag_id=overruled.id)) == 2


# --- scorecard and precision -------------------------------------------------------------


def test_call_scorecard_counts_by_category_severity_and_status(db: Session) -> None:
    call = _call(db)
    reviewer = _reviewer(db)
    threat = _flag(db, call, category="threat", severity="critical")
    abuse = _flag(db, call, category="abuse", severity="high")
    _flag(db, call, category="abuse", severity="high")
    _flag(db, _call(db), category="harassment")  # another call's flag is not counted

    card = qa_service.call_scorecard(session=db, call_id=call.id)
    assert card is not None and card.verdict == "pending"
    assert (card.totals.open, card.totals.total) == (3, 3)
    assert list(card.by_severity) == ["critical", "high"]

    qa_service.review_flag(
        session=db,
        flag_id=abuse.id,
        reviewer=reviewer,
        decision=Decision.DISMISS,
        reason=ReviewReason.DEBTOR_SPEECH,
    )
    qa_service.review_flag(
        session=db, flag_id=threat.id, reviewer=reviewer, decision=Decision.CONFIRM
    )
    card = qa_service.call_scorecard(session=db, call_id=call.id)
    assert card is not None and card.verdict == "fail"
    assert card.by_category["abuse"].open == 1 and card.by_category["abuse"].dismissed == 1
    assert card.by_category["threat"].confirmed == 1
    assert "harassment" not in card.by_category
    assert qa_service.call_scorecard(session=db, call_id=call.id + 999) is None


def test_a_call_whose_flags_are_all_dismissed_passes(db: Session) -> None:
    call = _call(db)
    flag = _flag(db, call)
    qa_service.review_flag(
        session=db,
        flag_id=flag.id,
        reviewer=_reviewer(db),
        decision=Decision.DISMISS,
        reason=ReviewReason.TRANSCRIPTION_ERROR,
    )
    card = qa_service.call_scorecard(session=db, call_id=call.id)
    assert card is not None and card.verdict == "pass"


def test_rule_precision_is_per_version_noisiest_first_and_none_when_undecided(
    db: Session,
) -> None:
    call = _call(db)
    reviewer = _reviewer(db)

    def decide(flag: QaFlag, decision: Decision, reason: ReviewReason | None = None) -> None:
        qa_service.review_flag(
            session=db, flag_id=flag.id, reviewer=reviewer, decision=decision, reason=reason
        )

    # noisy v1: 1 of 4 confirmed; v2 of the same rule: 2 of 2 confirmed
    noisy = [_flag(db, call, rule_key="noisy", version=1) for _ in range(4)]
    decide(noisy[0], Decision.CONFIRM)
    for flag, reason in zip(
        noisy[1:],
        [ReviewReason.NEGATED_OR_COMPLIANT] * 2 + [ReviewReason.WRONG_CONTEXT],
        strict=True,
    ):
        decide(flag, Decision.DISMISS, reason)
    for flag in [_flag(db, call, rule_key="noisy", version=2) for _ in range(2)]:
        decide(flag, Decision.CONFIRM)
    # fair: 1 of 2; fresh: nobody decided yet
    fair = [_flag(db, call, rule_key="fair", category="threat") for _ in range(2)]
    decide(fair[0], Decision.CONFIRM)
    decide(fair[1], Decision.DISMISS, ReviewReason.DEBTOR_SPEECH)
    _flag(db, call, rule_key="fresh")

    rows = qa_service.rule_precision(session=db)
    assert [(r.rule_key, r.rule_version) for r in rows] == [
        ("noisy", 1),
        ("fair", 1),
        ("noisy", 2),
        ("fresh", 1),
    ]
    noisy_v1, fair_row, noisy_v2, fresh = rows
    assert (noisy_v1.confirmed, noisy_v1.dismissed, noisy_v1.open) == (1, 3, 0)
    assert noisy_v1.precision == pytest.approx(0.25)
    assert noisy_v1.top_dismiss_reason == ReviewReason.NEGATED_OR_COMPLIANT
    assert fair_row.precision == pytest.approx(0.5) and fair_row.category == "threat"
    assert noisy_v2.precision == pytest.approx(1.0)
    assert fresh.precision is None and fresh.open == 1 and fresh.top_dismiss_reason is None


# --- export ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cell", ["=1+1", "+1", "-2", "@SUM(A1:A2)", "\t=1", "\r=1", '=HYPERLINK("http://x")']
)
def test_cells_that_a_spreadsheet_would_run_get_a_leading_quote(cell: str) -> None:
    assert neutralize(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["", "plain", "a=b", "1+1", " =1", "'quoted", "会被判刑"])
def test_other_cells_are_left_alone(cell: str) -> None:
    assert neutralize(cell) == cell


def test_csv_reads_back_with_every_cell_neutralized() -> None:
    rows = [["a", "b"], ['=cmd|" /C calc"!A0', 'say "hi", then\nleave'], ["-1", "中文"]]
    text = to_csv(rows)
    assert text.startswith("\ufeff")
    parsed = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    assert parsed == [
        ["a", "b"],
        ['\'=cmd|" /C calc"!A0', 'say "hi", then\nleave'],
        ["'-1", "中文"],
    ]


def test_export_has_every_matching_flag_and_neutralizes_transcript_text(db: Session) -> None:
    call = _call(db)
    reviewer = make_user(db, role=Role.QA_REVIEWER, display_name="Quinn")
    formula = _flag(db, call, evidence="=HYPERLINK", text="=HYPERLINK(evil) you idiot")
    plain = _flag(db, call, category="threat", evidence="watch your back")
    qa_service.review_flag(
        session=db,
        flag_id=plain.id,
        reviewer=reviewer,
        decision=Decision.DISMISS,
        reason=ReviewReason.OTHER,
        comment="@not a formula",
    )

    rows = qa_service.export_rows(session=db, filters=ALL)
    header, *body = rows
    assert header[0] == "flag_id" and len(body) == 2
    by_id = {row[0]: dict(zip(header, row, strict=True)) for row in body}
    assert by_id[str(plain.id)]["review_comment"] == "@not a formula"
    assert by_id[str(plain.id)]["reviewer"] == "Quinn"
    assert by_id[str(plain.id)]["reviewed_at"].endswith("+00:00")
    assert by_id[str(formula.id)]["segment_text"] == "=HYPERLINK(evil) you idiot"

    parsed = list(csv.reader(io.StringIO(to_csv(rows).removeprefix("\ufeff"))))
    cells = [cell for row in parsed for cell in row]
    assert "'=HYPERLINK(evil) you idiot" in cells and "'@not a formula" in cells
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in cells)
    only_threats = qa_service.export_rows(
        session=db, filters=QueueFilters(status=None, category=Category.THREAT)
    )
    assert [row[0] for row in only_threats[1:]] == [str(plain.id)]


# --- value objects and highlighting ------------------------------------------------------


def test_blank_filter_fields_mean_no_filter_and_a_missing_status_means_open() -> None:
    blank = {"category": "", "severity": "", "collector_id": "", "date_from": "", "date_to": ""}
    assert QueueFilters.model_validate(blank) == QueueFilters()
    assert QueueFilters().status == FlagStatus.OPEN
    assert QueueFilters.model_validate({"status": "all"}).status is None
    assert QueueFilters.model_validate({"status": ""}).status == FlagStatus.OPEN


def test_filters_survive_a_round_trip_through_the_query_string() -> None:
    filters = QueueFilters(
        category=Category.DISCLOSURE,
        severity=Severity.HIGH,
        collector_id=7,
        date_from=date(2026, 1, 2),
        date_to=date(2026, 1, 31),
        status=None,
    )
    assert QueueFilters.model_validate(filters.to_query()) == filters
    assert QueueFilters.model_validate(QueueFilters().to_query()) == QueueFilters()


def test_highlight_marks_exactly_the_flagged_characters() -> None:
    text = "If you don't pay today, you will be arrested."
    parts = highlight(text, 24, 44, "you will be arrested")
    assert (parts.before, parts.marked, parts.after) == (
        "If you don't pay today, ",
        "you will be arrested",
        ".",
    )


def test_highlight_finds_the_evidence_when_the_offsets_are_stale() -> None:
    text = "Okay. You will be arrested."
    assert highlight(text, 30, 50, "you will be arrested").marked == "You will be arrested"
    assert highlight(text, 0, 4, "you will be arrested").before == "Okay. "


def test_highlight_marks_nothing_rather_than_the_wrong_words() -> None:
    parts = highlight("Nothing to see.", 0, 7, "deadbeat")
    assert (parts.before, parts.marked, parts.after) == ("Nothing to see.", "", "")
