"""Prints how well and how fast the QA rule engine flags agent misconduct.

Method. Each labelled line of ``benchmarks/data/qa_scan_*.jsonl`` (one utterance, its
language, its speaker and the set of misconduct categories in it; how the sets were
written is in ``docs/qa-evaluation.md``) goes through the starter rules
(``RuleEngine.scan``). A line's prediction is the set of categories of its hits, and
each category is judged per line:

* a line predicted with category C is a **true positive** for C if C is in its gold
  set, otherwise a **false positive**;
* a line with C in its gold set that is not predicted with C is a **false negative**.

Per data file and language the command prints TP/FP/FN, precision and recall per
category, the micro-averaged totals, the flags raised on debtor speech (which should be
none: misconduct is judged on the agent's words only), and every wrong line with what
was predicted and what was expected. Then the throughput: the texts of all files,
cycled to ``--segments`` segments, scanned one after another in this single thread, each
as agent speech so that none is skipped by the speaker check.

Usage, from the repository root:

    .venv/bin/python -m benchmarks.qa_scan [--data PATH ...] [--segments 100000]
        [--json OUT]
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from benchmarks import tally
from benchmarks.printout import NAMES, _s
from benchmarks.tally import Counts, Throughput, machine
from qa_review.engine import AGENT, Hit, starter_library
from qa_review.models import Category

DATA_DIR = Path(__file__).with_name("data")
DEFAULT_DATA = (
    DATA_DIR / "qa_scan_dev.jsonl",
    DATA_DIR / "qa_scan_test.jsonl",
    DATA_DIR / "qa_scan_test2.jsonl",
)
CATEGORIES: tuple[str, ...] = tuple(c.value for c in Category)
LANGUAGES = ("en", "zh")
SPEAKERS = ("agent", "debtor")

TARGET_PRECISION = 0.90
TARGET_RECALL = 0.85
TARGET_SEGMENTS_PER_SECOND = 20_000


class Scan(Protocol):
    """``RuleEngine.scan``, or a fake of it in tests."""

    def __call__(self, text: str, *, speaker: str, language: str | None) -> Sequence[Hit]: ...


@dataclass(frozen=True, slots=True)
class Example:
    """One labelled utterance; ``categories`` is empty for a clean line."""

    id: str
    lang: str
    speaker: str
    text: str
    categories: frozenset[str]

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Example:
        example = cls(
            raw["id"], raw["lang"], raw["speaker"], raw["text"], frozenset(raw["categories"])
        )
        example.check()
        return example

    def check(self) -> None:
        """A typo in a label fails loudly instead of scoring as a miss."""
        if self.lang not in LANGUAGES:
            raise ValueError(f"{self.id}: unknown language {self.lang!r}")
        if self.speaker not in SPEAKERS:
            raise ValueError(f"{self.id}: unknown speaker {self.speaker!r}")
        if unknown := self.categories - set(CATEGORIES):
            raise ValueError(f"{self.id}: unknown categories {sorted(unknown)}")
        if not self.text.strip():
            raise ValueError(f"{self.id}: empty text")


@dataclass(frozen=True, slots=True)
class Outcome:
    """A line and the categories the engine predicted for it."""

    example: Example
    predicted: frozenset[str]

    @property
    def false_positives(self) -> frozenset[str]:
        return self.predicted - self.example.categories

    @property
    def false_negatives(self) -> frozenset[str]:
        return self.example.categories - self.predicted


@dataclass(slots=True)
class Section:
    """The figures of one data file in one language."""

    path: str
    language: str
    outcomes: list[Outcome]
    categories: dict[str, Counts] = field(init=False)

    def __post_init__(self) -> None:
        self.categories = count(self.outcomes)

    @property
    def micro(self) -> Counts:
        return micro(self.categories.values())

    @property
    def debtor_flags(self) -> int:
        return debtor_flags(self.outcomes)


# --- scoring ---------------------------------------------------------------------------


def load_examples(path: Path) -> list[Example]:
    """Every line of a JSONL data file; blank lines are skipped."""
    with path.open(encoding="utf-8") as handle:
        return [Example.from_json(json.loads(line)) for line in handle if line.strip()]


def predict(scan: Scan, example: Example) -> Outcome:
    hits = scan(example.text, speaker=example.speaker, language=example.lang)
    return Outcome(example, frozenset(hit.category for hit in hits))


def count(outcomes: Iterable[Outcome], categories: Sequence[str] = CATEGORIES) -> dict[str, Counts]:
    """TP/FP/FN per category, one judgement per line and category."""
    totals = dict.fromkeys(categories, Counts())
    for outcome in outcomes:
        for category in categories:
            totals[category] += judge(category, outcome)
    return totals


def judge(category: str, outcome: Outcome) -> Counts:
    """One line's verdict on one category: a TP, an FP, an FN, or nothing (a true negative)."""
    gold = category in outcome.example.categories
    predicted = category in outcome.predicted
    return Counts(
        tp=int(gold and predicted), fp=int(predicted and not gold), fn=int(gold and not predicted)
    )


def meets(counts: Counts) -> bool:
    """Precision ≥ 0.90 (or no prediction at all) and recall ≥ 0.85."""
    precision, recall = counts.precision, counts.recall
    return (precision is None or precision >= TARGET_PRECISION) and (
        recall is not None and recall >= TARGET_RECALL
    )


def micro(counts: Iterable[Counts]) -> Counts:
    """All categories pooled: the micro-averaged precision and recall."""
    return sum(counts, Counts())


def debtor_flags(outcomes: Iterable[Outcome]) -> int:
    """Lines of debtor speech that were flagged at all."""
    return sum(1 for o in outcomes if o.example.speaker != AGENT and o.predicted)


def wrong(outcomes: Iterable[Outcome]) -> tuple[list[Outcome], list[Outcome]]:
    """Lines with a false positive, and lines with a false negative (a line may be both)."""
    listed = list(outcomes)
    return [o for o in listed if o.false_positives], [o for o in listed if o.false_negatives]


def sections(path: Path, scan: Scan) -> list[Section]:
    """One section per language present in the file, in ``LANGUAGES`` order."""
    outcomes = [predict(scan, e) for e in load_examples(path)]
    return [
        Section(_shown(path), language, [o for o in outcomes if o.example.lang == language])
        for language in LANGUAGES
        if any(o.example.lang == language for o in outcomes)
    ]


def _shown(path: Path) -> str:
    """The path relative to the working directory where it lies below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def measure_throughput(scan: Scan, examples: Sequence[Example], segments: int) -> Throughput:
    """Scans ``segments`` texts, cycling ``examples``, all as agent speech, in this thread."""
    texts = [(e.text, e.lang) for e in examples]
    return tally.measure_throughput(
        lambda text, language: scan(text, speaker=AGENT, language=language), texts, segments
    )


# --- printing ---------------------------------------------------------------------------


def print_section(section: Section) -> None:
    lines = len(section.outcomes)
    flagged = sum(bool(o.example.categories) for o in section.outcomes)
    debtor = sum(o.example.speaker != AGENT for o in section.outcomes)
    print(
        f"\n{section.path} — {NAMES[section.language]}: {lines} lines, {flagged} with "
        f"misconduct, {lines - flagged} clean ({debtor} debtor)"
    )
    print(f"{'category':<14} {'TP':>4} {'FP':>4} {'FN':>4} {'precision':>9} {'recall':>6}")
    for name, counts in [*section.categories.items(), ("micro", section.micro)]:
        print(
            f"{name:<14} {counts.tp:>4} {counts.fp:>4} {counts.fn:>4} "
            f"{_s(counts.precision, 2, 9)} {_s(counts.recall, 2, 6)}"
            f"{'' if name == 'micro' or meets(counts) else '  below target'}"
        )
    print(f"flags on debtor speech: {section.debtor_flags}")
    false_positives, false_negatives = wrong(section.outcomes)
    _print_wrong("false positives", false_positives)
    _print_wrong("false negatives", false_negatives)


def _print_wrong(title: str, outcomes: list[Outcome]) -> None:
    print(f"{title}: {len(outcomes)}")
    for o in outcomes:
        e = o.example
        print(
            f"  {e.id} ({e.speaker}) predicted {_names(o.predicted)} gold "
            f"{_names(e.categories)}: {e.text!r}"
        )


def _names(categories: frozenset[str]) -> str:
    return "[" + ", ".join(sorted(categories)) + "]"


def print_throughput(result: Throughput) -> None:
    print("\n" + result.line("texts of all files cycled, each as agent speech"))


def print_targets(all_sections: Sequence[Section], result: Throughput) -> None:
    checks = [
        (
            f"{Path(s.path).name} {s.language}: every category P ≥ {TARGET_PRECISION:.2f}, "
            f"R ≥ {TARGET_RECALL:.2f}",
            all(meets(c) for c in s.categories.values()),
        )
        for s in all_sections
    ]
    checks.append(("no flag on debtor speech", not sum(s.debtor_flags for s in all_sections)))
    checks.append(
        (
            f"≥ {TARGET_SEGMENTS_PER_SECOND:,} segments/s",
            result.per_second >= TARGET_SEGMENTS_PER_SECOND,
        )
    )
    print("targets: " + "; ".join(f"{label}: {'met' if ok else 'NOT met'}" for label, ok in checks))


def report_json(all_sections: Sequence[Section], result: Throughput) -> dict[str, Any]:
    return {
        "machine": machine(),
        "sections": [_section_json(s) for s in all_sections],
        "throughput": {**asdict(result), "per_second": result.per_second},
    }


def _section_json(section: Section) -> dict[str, Any]:
    false_positives, false_negatives = wrong(section.outcomes)
    return {
        "path": section.path,
        "language": section.language,
        "lines": len(section.outcomes),
        "categories": {k: Counts.to_json(c) for k, c in section.categories.items()},
        "micro": Counts.to_json(section.micro),
        "debtor_flags": section.debtor_flags,
        "false_positives": [_outcome_json(o) for o in false_positives],
        "false_negatives": [_outcome_json(o) for o in false_negatives],
    }


def _outcome_json(outcome: Outcome) -> dict[str, Any]:
    e = outcome.example
    return {
        "id": e.id,
        "speaker": e.speaker,
        "text": e.text,
        "predicted": sorted(outcome.predicted),
        "gold": sorted(e.categories),
    }


# --- command line ----------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    paths = [Path(p) for p in args.data] if args.data else list(DEFAULT_DATA)
    engine = starter_library().engine()
    print("QA misconduct scan — starter rules, judged per line and category")
    print(f"machine: {machine()}; {len(engine.rules)} rules")
    all_sections = [s for path in paths for s in sections(path, engine.scan)]
    for section in all_sections:
        print_section(section)
    examples = [e for path in paths for e in load_examples(path)]
    result = measure_throughput(engine.scan, examples, args.segments)
    print_throughput(result)
    print_targets(all_sections, result)
    if args.json:
        Path(args.json).write_text(
            json.dumps(report_json(all_sections, result), indent=2, ensure_ascii=False),
            encoding="utf-8",
        )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--data", nargs="+", metavar="PATH", help="labelled JSONL files (default: dev and test)"
    )
    parser.add_argument("--segments", type=int, default=100_000, help="segments to time")
    parser.add_argument("--json", help="also write every figure and wrong line to this file")
    return parser


if __name__ == "__main__":
    main()
