"""Scoring of the QA scan benchmark on hand-made lines, and the labelled sets themselves."""

from __future__ import annotations

import itertools
import json
import re
import unicodedata
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from benchmarks import qa_scan
from benchmarks.qa_scan import CATEGORIES, Counts, Example, Outcome, meets
from qa_review.engine import Hit


def _example(
    categories: Sequence[str] = (),
    *,
    text: str = "some words",
    speaker: str = "agent",
    lang: str = "en",
) -> Example:
    return Example("x-1", lang, speaker, text, frozenset(categories))


def _outcome(gold: Sequence[str], predicted: Sequence[str], speaker: str = "agent") -> Outcome:
    return Outcome(_example(gold, speaker=speaker), frozenset(predicted))


def _hit(category: str) -> Hit:
    return Hit(category, f"{category}.rule", 1, "high", 0, 4, "word")


class FakeScan:
    """Flags ``category`` wherever ``word`` occurs; remembers every call."""

    def __init__(self, word: str = "ugly", category: str = "threat") -> None:
        self.word, self.category = word, category
        self.calls: list[tuple[str, str, str | None]] = []

    def __call__(self, text: str, *, speaker: str, language: str | None) -> list[Hit]:
        self.calls.append((text, speaker, language))
        return [_hit(self.category)] if self.word in text else []


def _write(path: Path, rows: Sequence[Mapping[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return path


# --- scoring ----------------------------------------------------------------------------


def test_a_predicted_category_in_gold_is_a_true_positive() -> None:
    counts = qa_scan.count([_outcome(["threat"], ["threat"])])
    assert counts["threat"] == Counts(tp=1)
    assert all(c == Counts() for k, c in counts.items() if k != "threat")


def test_a_wrong_category_is_a_false_positive_for_it_and_a_miss_for_the_gold_one() -> None:
    counts = qa_scan.count([_outcome(["threat"], ["abuse"])])
    assert counts["abuse"] == Counts(fp=1)
    assert counts["threat"] == Counts(fn=1)


def test_a_clean_line_left_clean_counts_nothing() -> None:
    assert set(qa_scan.count([_outcome([], [])]).values()) == {Counts()}


def test_a_two_category_line_is_judged_per_category() -> None:
    counts = qa_scan.count([_outcome(["threat", "disclosure"], ["threat"])])
    assert counts["threat"] == Counts(tp=1)
    assert counts["disclosure"] == Counts(fn=1)


def test_every_category_is_reported_even_when_absent() -> None:
    assert list(qa_scan.count([])) == list(CATEGORIES)


def test_precision_and_recall_from_counts() -> None:
    counts = Counts(tp=3, fp=1, fn=2)
    assert counts.precision == 0.75
    assert counts.recall == 0.6


def test_precision_and_recall_are_none_without_evidence() -> None:
    assert Counts(fn=2).precision is None
    assert Counts(fp=2).recall is None
    assert Counts(fp=2).precision == 0.0


def test_micro_pools_every_category() -> None:
    outcomes = [_outcome(["threat"], ["threat"]), _outcome(["abuse"], ["harassment"])]
    assert qa_scan.micro(qa_scan.count(outcomes).values()) == Counts(tp=1, fp=1, fn=1)


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        (Counts(tp=9, fp=1, fn=1), True),  # P 0.90, R 0.90
        (Counts(tp=17, fp=0, fn=3), True),  # R 0.85 exactly
        (Counts(tp=8, fp=0, fn=2), False),  # R 0.80
        (Counts(tp=8, fp=2, fn=0), False),  # P 0.80
        (Counts(), False),  # no positive line: recall unknown
    ],
)
def test_a_category_meets_the_targets_only_with_both_precision_and_recall(
    counts: Counts, expected: bool
) -> None:
    assert meets(counts) is expected


def test_only_flagged_debtor_lines_count_as_debtor_flags() -> None:
    outcomes = [
        _outcome([], ["abuse"], speaker="debtor"),
        _outcome([], [], speaker="debtor"),
        _outcome([], ["abuse"], speaker="agent"),
    ]
    assert qa_scan.debtor_flags(outcomes) == 1


def test_wrong_lists_lines_with_false_positives_and_lines_with_misses() -> None:
    extra = _outcome([], ["abuse"])
    both = _outcome(["threat"], ["abuse"])
    right = _outcome(["threat"], ["threat"])
    false_positives, false_negatives = qa_scan.wrong([extra, both, right])
    assert false_positives == [extra, both]
    assert false_negatives == [both]


def test_predict_passes_speaker_and_language_and_keeps_each_category_once() -> None:
    calls: list[tuple[str, str | None]] = []

    def scan(text: str, *, speaker: str, language: str | None) -> list[Hit]:
        calls.append((speaker, language))
        return [_hit("threat"), _hit("threat"), _hit("abuse")]

    outcome = qa_scan.predict(scan, _example(speaker="debtor", lang="zh"))
    assert outcome.predicted == {"threat", "abuse"}
    assert calls == [("debtor", "zh")]


def test_sections_split_a_file_by_language(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "set.jsonl",
        [
            {"id": "a", "lang": "zh", "speaker": "agent", "text": "ugly 你", "categories": []},
            {"id": "b", "lang": "en", "speaker": "agent", "text": "ugly", "categories": ["threat"]},
            {"id": "c", "lang": "en", "speaker": "agent", "text": "fine", "categories": ["threat"]},
        ],
    )
    en, zh = qa_scan.sections(path, FakeScan())
    assert (en.language, zh.language) == ("en", "zh")
    assert en.categories["threat"] == Counts(tp=1, fn=1)
    assert zh.categories["threat"] == Counts(fp=1)


def test_a_label_outside_the_taxonomy_fails_loading(tmp_path: Path) -> None:
    row = {"id": "a", "lang": "en", "speaker": "agent", "text": "hi", "categories": ["rude"]}
    with pytest.raises(ValueError, match="unknown categories"):
        qa_scan.load_examples(_write(tmp_path / "bad.jsonl", [row]))


def test_throughput_scans_the_requested_segments_cycling_texts_as_agent_speech() -> None:
    scan = FakeScan()
    examples = [
        _example(text=t, speaker="debtor", lang=lang) for t, lang in [("a", "en"), ("b", "zh")]
    ]
    result = qa_scan.measure_throughput(scan, examples, 5)
    assert result.segments == 5
    timed = scan.calls[len(examples) :]  # after the warm-up pass
    assert [(t, lang) for t, _, lang in timed] == [("a", "en"), ("b", "zh")] * 2 + [("a", "en")]
    assert {speaker for _, speaker, _ in scan.calls} == {"agent"}


def test_the_json_report_carries_counts_and_wrong_lines(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "set.jsonl",
        [{"id": "b", "lang": "en", "speaker": "agent", "text": "fine", "categories": ["abuse"]}],
    )
    sections = qa_scan.sections(path, FakeScan())
    data = qa_scan.report_json(sections, qa_scan.Throughput(10, 0.5))
    assert data["throughput"]["per_second"] == 20.0
    (section,) = data["sections"]
    assert section["categories"]["abuse"] == {
        "tp": 0,
        "fp": 0,
        "fn": 1,
        "precision": None,
        "recall": 0.0,
    }
    assert [o["id"] for o in section["false_negatives"]] == ["b"]
    json.dumps(data)


# --- the labelled sets ------------------------------------------------------------------


@pytest.fixture(scope="module")
def labelled() -> dict[Path, list[Example]]:
    return {path: qa_scan.load_examples(path) for path in qa_scan.DEFAULT_DATA}


def _same_text(text: str) -> str:
    """Case, width, punctuation and spacing folded: near-identical lines compare equal."""
    return re.sub(r"[\W_]+", "", unicodedata.normalize("NFKC", text).casefold())


def test_each_set_has_at_least_200_lines_with_ids_naming_set_and_language(
    labelled: dict[Path, list[Example]],
) -> None:
    for path, examples in labelled.items():
        assert len(examples) >= 200
        split = path.stem.removeprefix("qa_scan_")
        assert all(e.id.startswith(f"{split}-{e.lang}-") for e in examples)


def test_ids_are_unique_across_the_sets(labelled: dict[Path, list[Example]]) -> None:
    ids = Counter(e.id for examples in labelled.values() for e in examples)
    assert [i for i, n in ids.items() if n > 1] == []


def test_no_text_appears_in_two_sets(labelled: dict[Path, list[Example]]) -> None:
    texts = {
        path.name: {_same_text(e.text) for e in examples} for path, examples in labelled.items()
    }
    for (a, mine), (b, theirs) in itertools.combinations(texts.items(), 2):
        assert mine & theirs == set(), f"{a} and {b} share lines"


def test_every_label_is_a_taxonomy_category(labelled: dict[Path, list[Example]]) -> None:
    used = {c for examples in labelled.values() for e in examples for c in e.categories}
    assert used == set(CATEGORIES)


@pytest.mark.parametrize("language", ["en", "zh"])
def test_every_category_has_12_positives_per_language_in_each_set(
    labelled: dict[Path, list[Example]], language: str
) -> None:
    for path, examples in labelled.items():
        positives = Counter(c for e in examples if e.lang == language for c in e.categories)
        assert {c: positives[c] for c in CATEGORIES if positives[c] < 12} == {}, path.name


@pytest.mark.parametrize("language", ["en", "zh"])
def test_at_least_40_percent_of_each_language_is_clean(
    labelled: dict[Path, list[Example]], language: str
) -> None:
    for path, examples in labelled.items():
        lines = [e for e in examples if e.lang == language]
        clean = [e for e in lines if not e.categories]
        assert len(clean) >= 0.4 * len(lines), path.name


def test_debtor_lines_are_present_and_never_labelled_misconduct(
    labelled: dict[Path, list[Example]],
) -> None:
    for examples in labelled.values():
        debtor = [e for e in examples if e.speaker == "debtor"]
        assert {e.lang for e in debtor} == {"en", "zh"}
        assert [e.id for e in debtor if e.categories] == []
