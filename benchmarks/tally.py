"""Counting shared by the QA benchmarks: precision/recall tallies, throughput, machine."""

from __future__ import annotations

import itertools
import os
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Counts:
    """True positives, false positives and false negatives, summed with ``+``."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float | None:
        """``None`` when nothing was predicted: no evidence either way."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        """``None`` when the gold data has nothing to find."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "precision": self.precision, "recall": self.recall}


@dataclass(frozen=True, slots=True)
class Throughput:
    segments: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.segments / self.seconds if self.seconds else 0.0

    def line(self, what: str) -> str:
        """The printed figure; ``what`` says which texts were run."""
        return (
            f"throughput: {self.segments:,} segments in {self.seconds:.2f} s on one thread "
            f"= {self.per_second:,.0f} segments/s ({what})"
        )


def measure_throughput(
    run: Callable[[str, str | None], object], texts: Sequence[tuple[str, str | None]], segments: int
) -> Throughput:
    """Runs ``segments`` (text, language) pairs, cycling ``texts``, one after another in
    this thread, after one warm-up pass (lazy converters, caches)."""
    batch = list(itertools.islice(itertools.cycle(texts), segments))
    for text, language in batch[: len(texts)]:
        run(text, language)
    started = time.perf_counter()
    for text, language in batch:
        run(text, language)
    return Throughput(len(batch), time.perf_counter() - started)


def machine() -> str:
    return (
        f"{platform.machine()}, {platform.platform()}, {os.cpu_count()} CPU cores; "
        f"Python {platform.python_version()}"
    )
