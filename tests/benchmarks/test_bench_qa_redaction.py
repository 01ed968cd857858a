"""The redaction benchmark's scoring: exact and overlap matching, leaks, wrongly redacted
amounts (fake outcomes and a fake redactor; no timing)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.qa_redaction import (
    DEFAULT_DATA,
    Counts,
    Example,
    Outcome,
    Span,
    load_examples,
    measure_throughput,
    predict,
    score_exact,
    score_overlap,
    score_types,
)
from qa_review.redact import Entity, Redacted

TEXT = "call me at (415) 555-0134 by 10:30"
PHONE = Span("phone", 11, 25)  # "(415) 555-0134"
TIME = Span("time", 29, 34)  # "10:30"


def outcome(*predicted: Span, text: str = TEXT) -> Outcome:
    example = Example("en-001", "en", text, (PHONE,), (TIME,))
    return Outcome(example, predicted, "")


def test_exact_scoring_needs_the_same_span_and_overlap_scoring_does_not() -> None:
    without_bracket = outcome(Span("phone", 12, 25))

    assert score_exact([without_bracket], "phone") == Counts(tp=0, fp=1, fn=1)
    assert score_overlap([without_bracket], "phone") == Counts(tp=1, fp=0, fn=0)


def test_a_prediction_of_the_wrong_type_misses_but_leaks_nothing() -> None:
    as_account = outcome(Span("bank_account", 11, 25))

    assert score_overlap([as_account], "phone") == Counts(tp=0, fp=0, fn=1)
    assert score_overlap([as_account], "bank_account") == Counts(tp=0, fp=1, fn=0)
    assert as_account.leaked == ()
    assert as_account.spurious == (Span("bank_account", 11, 25),)


def test_digits_outside_every_prediction_are_pii_left_but_a_bracket_is_not() -> None:
    assert outcome(Span("phone", 12, 25)).leaked == ()
    assert outcome(Span("phone", 11, 20)).leaked == (PHONE,)
    assert outcome().leaked == (PHONE,)


def test_a_prediction_touching_a_keep_span_counts_as_wrongly_redacted() -> None:
    assert outcome(PHONE).wrongly_redacted == ()
    assert outcome(PHONE, Span("phone", 29, 31)).wrongly_redacted == (TIME,)


def test_types_are_scored_separately_with_their_gold_and_predicted_counts() -> None:
    scores = score_types([outcome(PHONE, Span("cvv", 29, 34))])

    assert (scores["phone"].gold, scores["phone"].predicted) == (1, 1)
    assert scores["phone"].exact == Counts(tp=1)
    assert scores["cvv"].overlap == Counts(fp=1)
    assert scores["ssn"].overlap.recall is None


def test_predict_turns_the_redactor_entities_into_spans() -> None:
    def fake(text: str, language: str | None = None) -> Redacted:
        assert language == "en"
        return Redacted("call me at [PHONE] by 10:30", (Entity("phone", 11, 25),))

    result = predict(fake, Example("en-001", "en", TEXT, (PHONE,)))

    assert result.predicted == (PHONE,)
    assert result.redacted == "call me at [PHONE] by 10:30"


@pytest.mark.parametrize(
    ("entities", "keep", "message"),
    [
        ([{"type": "phone", "start": 10, "end": 25}], [], "does not fit"),  # starts on a space
        ([{"type": "email", "start": 11, "end": 25}], [], "unknown label"),
        (
            [{"type": "phone", "start": 11, "end": 25}],
            [{"kind": "time", "start": 20, "end": 34}],
            "overlapping",
        ),
    ],
)
def test_a_label_that_does_not_fit_its_text_is_refused(
    entities: list[dict[str, object]], keep: list[dict[str, object]], message: str
) -> None:
    raw = {"id": "x", "lang": "en", "text": TEXT, "entities": entities, "keep": keep}
    with pytest.raises(ValueError, match=message):
        Example.from_json(raw)


def test_throughput_redacts_the_requested_number_of_segments_cycling_the_texts(
    tmp_path: Path,
) -> None:
    lines = [
        {"id": "en-001", "lang": "en", "text": TEXT, "entities": []},
        {"id": "zh-001", "lang": "zh", "text": "电话13912345678", "entities": []},
    ]
    data = tmp_path / "eval.jsonl"
    data.write_text("\n".join(json.dumps(line) for line in lines) + "\n\n", encoding="utf-8")
    examples = load_examples(data)
    seen: list[tuple[str, str | None]] = []

    def fake(text: str, language: str | None = None) -> Redacted:
        seen.append((text, language))
        return Redacted(text, ())

    result = measure_throughput(fake, examples, segments=5)

    assert result.segments == 5
    assert seen[2:] == [(TEXT, "en"), ("电话13912345678", "zh")] * 2 + [(TEXT, "en")]


def test_the_shipped_evaluation_set_is_labelled_consistently() -> None:
    examples = load_examples(DEFAULT_DATA)

    assert len(examples) >= 120
    assert {e.lang for e in examples} == {"en", "zh"}
    assert len({e.id for e in examples}) == len(examples)
    assert sum(bool(e.keep) for e in examples) >= 40  # hard negatives
