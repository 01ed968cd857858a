"""Prints how completely and how fast transcripts are redacted of PII.

Method. Each line of ``benchmarks/data/qa_redact_eval.jsonl`` is one transcript segment
(English or Chinese, written or ASR-style with spoken digits) with its gold PII spans
(``entities``: type, start, end) and, for the hard negatives, the spans that must be left
alone (``keep``: amounts, dates, times, reference numbers, counts and other numbers that
are not PII). Every line goes through ``qa_review.redact.redact`` with its language, and
the predicted entities are judged per type two ways:

* **exact**: a prediction is a true positive if a gold entity has the same type and
  exactly the same span;
* **overlap**: a gold entity is found if a prediction of its type overlaps it, and a
  prediction is a false positive if it overlaps no gold entity of its type.

Two safety figures follow, which matter more than the ratios: **PII left in redacted
text**, the lines where some letter or digit of a gold entity is outside every predicted
span (whatever type was predicted), and **amounts/dates wrongly redacted**, the ``keep``
spans that a prediction overlaps. Then the throughput: ``redact`` over ``--segments``
segments (the eval texts cycled) one after another in this single thread.

Usage, from the repository root:

    .venv/bin/python -m benchmarks.qa_redaction [--data PATH] [--segments 100000]
        [--json OUT]
"""

from __future__ import annotations

import argparse
import itertools
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from benchmarks import tally
from benchmarks.printout import NAMES, _s
from benchmarks.tally import Counts, Throughput, machine
from qa_review.redact import ENTITY_TYPES, Redacted, redact

DATA_DIR = Path(__file__).with_name("data")
DEFAULT_DATA = DATA_DIR / "qa_redact_eval.jsonl"
LANGUAGES = ("en", "zh")
KEEP_KINDS = ("amount", "date", "time", "reference", "count", "other")

TARGET_RECALL = 1.0
TARGET_SEGMENTS_PER_SECOND = 20_000


class Redact(Protocol):
    """``qa_review.redact.redact``, or a fake of it in tests."""

    def __call__(self, text: str, language: str | None = None) -> Redacted: ...


@dataclass(frozen=True, slots=True)
class Span:
    """A labelled span: an entity type for PII, a kind ("amount", "date") for keeps."""

    label: str
    start: int
    end: int

    def overlaps(self, other: Span) -> bool:
        return self.start < other.end and other.start < self.end


@dataclass(frozen=True, slots=True)
class Example:
    """One labelled segment: its gold PII and the spans that must stay as they are."""

    id: str
    lang: str
    text: str
    entities: tuple[Span, ...]
    keep: tuple[Span, ...] = ()

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Example:
        example = cls(
            raw["id"],
            raw["lang"],
            raw["text"],
            tuple(Span(e["type"], e["start"], e["end"]) for e in raw["entities"]),
            tuple(Span(k["kind"], k["start"], k["end"]) for k in raw.get("keep", ())),
        )
        example.check()
        return example

    def check(self) -> None:
        """A label that does not fit its text fails loudly instead of scoring as a miss."""
        if self.lang not in LANGUAGES:
            raise ValueError(f"{self.id}: unknown language {self.lang!r}")
        for span, labels in [(e, ENTITY_TYPES) for e in self.entities] + [
            (k, KEEP_KINDS) for k in self.keep
        ]:
            if span.label not in labels:
                raise ValueError(f"{self.id}: unknown label {span.label!r}")
            said = self.text[span.start : span.end]
            if not 0 <= span.start < span.end <= len(self.text) or said != said.strip():
                raise ValueError(f"{self.id}: span {span} does not fit the text")
        spans = sorted((*self.entities, *self.keep), key=lambda s: s.start)
        if any(a.overlaps(b) for a, b in itertools.pairwise(spans)):
            raise ValueError(f"{self.id}: overlapping spans")


@dataclass(frozen=True, slots=True)
class Outcome:
    """A line, what was predicted for it, and the text that came back."""

    example: Example
    predicted: tuple[Span, ...]
    redacted: str

    @property
    def leaked(self) -> tuple[Span, ...]:
        """Gold entities with a letter or digit outside every predicted span."""
        return tuple(e for e in self.example.entities if _uncovered(e, self.predicted, self.text))

    @property
    def wrongly_redacted(self) -> tuple[Span, ...]:
        """Keep spans (amounts, dates, ...) that a prediction overlaps."""
        return tuple(k for k in self.example.keep if any(k.overlaps(p) for p in self.predicted))

    @property
    def spurious(self) -> tuple[Span, ...]:
        """Predictions that overlap no gold entity of their type."""
        return tuple(
            p
            for p in self.predicted
            if not any(p.overlaps(e) and p.label == e.label for e in self.example.entities)
        )

    @property
    def text(self) -> str:
        return self.example.text


def _uncovered(entity: Span, predicted: Sequence[Span], text: str) -> bool:
    return any(
        text[index].isalnum() and not any(p.start <= index < p.end for p in predicted)
        for index in range(entity.start, entity.end)
    )


@dataclass(frozen=True, slots=True)
class TypeScore:
    """One entity type's figures in one section."""

    gold: int
    predicted: int
    exact: Counts
    overlap: Counts


# --- scoring ---------------------------------------------------------------------------


def load_examples(path: Path) -> list[Example]:
    """Every line of a JSONL data file; blank lines are skipped."""
    with path.open(encoding="utf-8") as handle:
        return [Example.from_json(json.loads(line)) for line in handle if line.strip()]


def predict(redactor: Redact, example: Example) -> Outcome:
    result = redactor(example.text, example.lang)
    spans = tuple(Span(e.type, e.start, e.end) for e in result.entities)
    return Outcome(example, spans, result.text)


def score_exact(outcomes: Iterable[Outcome], entity_type: str) -> Counts:
    """Same type and same span, or it does not count."""
    tp = fp = fn = 0
    for outcome in outcomes:
        gold = {e for e in outcome.example.entities if e.label == entity_type}
        predicted = {p for p in outcome.predicted if p.label == entity_type}
        tp += len(gold & predicted)
        fp += len(predicted - gold)
        fn += len(gold - predicted)
    return Counts(tp, fp, fn)


def score_overlap(outcomes: Iterable[Outcome], entity_type: str) -> Counts:
    """A gold entity is found (TP) or missed (FN) by any overlapping prediction of its type;
    a prediction of the type that overlaps no gold entity of it is an FP."""
    tp = fp = fn = 0
    for outcome in outcomes:
        gold = [e for e in outcome.example.entities if e.label == entity_type]
        predicted = [p for p in outcome.predicted if p.label == entity_type]
        found = sum(any(e.overlaps(p) for p in predicted) for e in gold)
        tp += found
        fn += len(gold) - found
        fp += sum(not any(p.overlaps(e) for e in gold) for p in predicted)
    return Counts(tp, fp, fn)


def score_types(outcomes: Sequence[Outcome]) -> dict[str, TypeScore]:
    return {
        entity_type: TypeScore(
            gold=sum(e.label == entity_type for o in outcomes for e in o.example.entities),
            predicted=sum(p.label == entity_type for o in outcomes for p in o.predicted),
            exact=score_exact(outcomes, entity_type),
            overlap=score_overlap(outcomes, entity_type),
        )
        for entity_type in ENTITY_TYPES
    }


def lines_with_pii_left(outcomes: Iterable[Outcome]) -> list[Outcome]:
    return [o for o in outcomes if o.leaked]


def wrongly_redacted(outcomes: Iterable[Outcome]) -> list[tuple[Outcome, Span]]:
    return [(o, k) for o in outcomes for k in o.wrongly_redacted]


def measure_throughput(redactor: Redact, examples: Sequence[Example], segments: int) -> Throughput:
    """Redacts ``segments`` texts, cycling ``examples``, one after another in this thread."""
    return tally.measure_throughput(redactor, [(e.text, e.lang) for e in examples], segments)


# --- printing ---------------------------------------------------------------------------


def print_section(title: str, outcomes: Sequence[Outcome]) -> None:
    entities = sum(len(o.example.entities) for o in outcomes)
    keeps = sum(len(o.example.keep) for o in outcomes)
    print(f"\n{title}: {len(outcomes)} lines, {entities} PII entities, {keeps} keep spans")
    print(
        f"{'type':<15} {'gold':>4} {'pred':>4} | exact: {'TP':>3} {'FP':>3} {'FN':>3} "
        f"{'P':>5} {'R':>5} | overlap: {'TP':>3} {'FP':>3} {'FN':>3} {'P':>5} {'R':>5}"
    )
    scores = score_types(outcomes)
    for name, score in scores.items():
        print(
            f"{name:<15} {score.gold:>4} {score.predicted:>4} |{_counts(score.exact, 7)} |{_counts(score.overlap, 9)}"
        )
    total_exact = sum((s.exact for s in scores.values()), Counts())
    total_overlap = sum((s.overlap for s in scores.values()), Counts())
    gold = sum(s.gold for s in scores.values())
    predicted = sum(s.predicted for s in scores.values())
    print(
        f"{'all':<15} {gold:>4} {predicted:>4} |{_counts(total_exact, 7)} |{_counts(total_overlap, 9)}"
    )


def _counts(counts: Counts, indent: int) -> str:
    return (
        f"{'':>{indent}}{counts.tp:>3} {counts.fp:>3} {counts.fn:>3} "
        f"{_s(counts.precision, 2, 5)} {_s(counts.recall, 2, 5)}"
    )


def print_safety(outcomes: Sequence[Outcome]) -> None:
    leaked = lines_with_pii_left(outcomes)
    wrong = wrongly_redacted(outcomes)
    print(f"\nPII left in redacted text: {len(leaked)} lines")
    for o in leaked:
        said = ", ".join(f"{e.label} {o.text[e.start : e.end]!r}" for e in o.leaked)
        print(f"  {o.example.id}: {said} in {o.redacted!r}")
    print(f"amounts/dates wrongly redacted: {len(wrong)}")
    for o, keep in wrong:
        print(f"  {o.example.id}: {keep.label} {o.text[keep.start : keep.end]!r} in {o.redacted!r}")
    spurious = [o for o in outcomes if o.spurious]
    print(f"lines with a prediction of the wrong type or where there is no PII: {len(spurious)}")
    for o in spurious:
        said = ", ".join(f"{p.label} {o.text[p.start : p.end]!r}" for p in o.spurious)
        print(f"  {o.example.id}: {said} in {o.text!r}")


def print_throughput(result: Throughput) -> None:
    print("\n" + result.line("eval texts cycled; nearly all carry numbers"))


def print_targets(outcomes: Sequence[Outcome], result: Throughput) -> None:
    overlap = sum((s.overlap for s in score_types(outcomes).values()), Counts())
    checks = [
        (f"overlap recall ≥ {TARGET_RECALL:.2f}", (overlap.recall or 0.0) >= TARGET_RECALL),
        ("no PII left", not lines_with_pii_left(outcomes)),
        ("no amount/date/reference redacted", not wrongly_redacted(outcomes)),
        (
            f"≥ {TARGET_SEGMENTS_PER_SECOND:,} segments/s",
            result.per_second >= TARGET_SEGMENTS_PER_SECOND,
        ),
    ]
    print("targets: " + "; ".join(f"{label}: {'met' if ok else 'NOT met'}" for label, ok in checks))


def report_json(outcomes: Sequence[Outcome], result: Throughput) -> dict[str, Any]:
    return {
        "machine": machine(),
        "types": {
            name: {
                "gold": s.gold,
                "predicted": s.predicted,
                "exact": Counts.to_json(s.exact),
                "overlap": Counts.to_json(s.overlap),
            }
            for name, s in score_types(outcomes).items()
        },
        "pii_left": [o.example.id for o in lines_with_pii_left(outcomes)],
        "wrongly_redacted": [
            {"id": o.example.id, **asdict(k)} for o, k in wrongly_redacted(outcomes)
        ],
        "throughput": {**asdict(result), "per_second": result.per_second},
    }


# --- command line ----------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    examples = load_examples(Path(args.data))
    print("QA redaction — PII in transcript segments, judged per entity type")
    print(f"machine: {machine()}; data {args.data}")
    outcomes = [predict(redact, e) for e in examples]
    for language in LANGUAGES:
        section = [o for o in outcomes if o.example.lang == language]
        if section:
            print_section(NAMES[language], section)
    print_section("All", outcomes)
    print_safety(outcomes)
    result = measure_throughput(redact, examples, args.segments)
    print_throughput(result)
    print_targets(outcomes, result)
    if args.json:
        Path(args.json).write_text(
            json.dumps(report_json(outcomes, result), indent=2, ensure_ascii=False),
            encoding="utf-8",
        )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="labelled JSONL file")
    parser.add_argument("--segments", type=int, default=100_000, help="segments to time")
    parser.add_argument("--json", help="also write every figure and wrong line to this file")
    return parser


if __name__ == "__main__":
    main()
