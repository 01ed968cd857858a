"""The QA rule engine: agent misconduct phrases matched in one pass per language.

Rules are data (``RuleSpec``, stored in ``qa_rules``); the engine is pure and has no
database access, so it can be rebuilt whenever rules change and tested without one.
``PhraseIndex`` is the shared matcher (normalise, Aho-Corasick, whole words, negation);
intent detection in ``scripts_library.intents`` uses it too.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import ahocorasick
import yaml

from qa_review.models import Category, Severity
from qa_review.normalize import (
    LANGUAGES,
    Language,
    Normalized,
    is_negated,
    language_of,
    languages_for,
    normalize,
    normalize_phrase,
)

AGENT = "agent"
STARTER_RULES_PATH = Path(__file__).with_name("starter_rules.yaml")
SEVERITY_RANK = {Severity.LOW: 0, Severity.MEDIUM: 1, Severity.HIGH: 2, Severity.CRITICAL: 3}

T = TypeVar("T")


# --- shared phrase matching -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PhraseMatch(Generic[T]):
    """One phrase occurrence: ``start``/``end`` index the original text."""

    payload: T
    language: Language
    start: int
    end: int
    norm_start: int
    norm_end: int
    negated: bool
    sentence: int

    def same_sentence(self, other: PhraseMatch[T]) -> bool:
        return self.language == other.language and self.sentence == other.sentence


class PhraseIndex(Generic[T]):
    """One Aho-Corasick automaton per language over normalised phrases.

    Each phrase carries a payload (a rule, a cue, a statement key); the same phrase may
    carry several. Matches respect word boundaries in English and report whether a
    negation cue governs them; callers decide what a negated match means.
    """

    def __init__(self, entries: Iterable[tuple[Language, str, T]]) -> None:
        grouped: dict[Language, dict[str, list[T]]] = {}
        for language, phrase, payload in entries:
            key = normalize_phrase(phrase, language)
            if not key:
                raise ValueError(f"phrase {phrase!r} is empty once normalised")
            grouped.setdefault(language, {}).setdefault(key, []).append(payload)
        self._automata = {lang: _automaton(phrases) for lang, phrases in grouped.items()}

    def find(self, text: str, language: str | None) -> list[PhraseMatch[T]]:
        """All matches in ``text``; ``language`` None (or unknown) tries every language."""
        matches: list[PhraseMatch[T]] = []
        for lang in languages_for(language):
            automaton = self._automata.get(lang)
            if automaton is not None and text:
                matches.extend(_matches(automaton, normalize(text, lang)))
        return matches


def _automaton(phrases: dict[str, list[T]]) -> ahocorasick.Automaton:
    automaton = ahocorasick.Automaton()
    for key, payloads in phrases.items():
        automaton.add_word(key, (key, tuple(payloads)))
    automaton.make_automaton()
    return automaton


def _matches(automaton: ahocorasick.Automaton, norm: Normalized) -> list[PhraseMatch[T]]:
    found: list[PhraseMatch[T]] = []
    for last, (key, payloads) in automaton.iter(norm.text):
        start, end = last - len(key) + 1, last + 1
        if norm.language == "en" and not _whole_words(norm.text, start, end):
            continue
        negated = is_negated(norm, start)
        orig_start, orig_end = norm.original_span(start, end)
        sentence = norm.sentences[start]
        found.extend(
            PhraseMatch(payload, norm.language, orig_start, orig_end, start, end, negated, sentence)
            for payload in payloads
        )
    return found


def _whole_words(text: str, start: int, end: int) -> bool:
    return (start == 0 or text[start - 1] == " ") and (end == len(text) or text[end] == " ")


# --- misconduct rules -----------------------------------------------------------------


@dataclass(frozen=True)
class RuleSpec:
    """A rule as the engine sees it; validated here so a bad rule fails where it is made.

    ``exceptions`` are compliant phrasings ("where the law allows", "only a court can"):
    a hit in the same sentence as one of them is not misconduct.
    """

    key: str
    category: str
    language: str
    phrases: Sequence[str]
    severity: str = Severity.HIGH.value
    version: int = 1
    description: str = ""
    exceptions: Sequence[str] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "phrases", tuple(self.phrases))
        object.__setattr__(self, "exceptions", tuple(self.exceptions))
        if self.category not in set(Category):
            raise ValueError(f"rule {self.key}: unknown category {self.category!r}")
        if self.severity not in set(Severity):
            raise ValueError(f"rule {self.key}: unknown severity {self.severity!r}")
        if self.language not in LANGUAGES:
            raise ValueError(f"rule {self.key}: unsupported language {self.language!r}")
        if not self.phrases:
            raise ValueError(f"rule {self.key}: needs at least one phrase")


@dataclass(frozen=True, slots=True)
class Hit:
    """Evidence of possible misconduct; ``start``/``end`` index the original text."""

    category: str
    rule_key: str
    rule_version: int
    severity: str
    start: int
    end: int
    evidence: str


@dataclass(frozen=True, slots=True)
class _RulePhrase:
    rule: RuleSpec
    exception: bool


class RuleEngine:
    """Judges the agent's words against every enabled rule in one pass per language."""

    def __init__(self, rules: Iterable[RuleSpec]) -> None:
        self.rules: tuple[RuleSpec, ...] = tuple(rules)
        self._index = PhraseIndex(_rule_entries(self.rules))

    def scan(self, text: str, *, speaker: str, language: str | None) -> list[Hit]:
        """Hits in ``text``, in reading order; only agent speech can be misconduct."""
        if speaker.strip().casefold() != AGENT:
            return []
        matches = self._index.find(text, language)
        exceptions = [m for m in matches if m.payload.exception]
        hits = [
            _hit(match, text)
            for match in matches
            if not match.payload.exception
            and not match.negated
            and not _excepted(match, exceptions)
        ]
        return _strongest_per_span(hits)


def _rule_entries(rules: Iterable[RuleSpec]) -> Iterable[tuple[Language, str, _RulePhrase]]:
    for rule in rules:
        language = _language(rule.language)
        yield from ((language, p, _RulePhrase(rule, exception=False)) for p in rule.phrases)
        yield from ((language, p, _RulePhrase(rule, exception=True)) for p in rule.exceptions)


def _language(code: str) -> Language:
    language = language_of(code)
    if language is None:
        raise ValueError(f"unsupported language {code!r}")
    return language


def _excepted(match: PhraseMatch[_RulePhrase], exceptions: list[PhraseMatch[_RulePhrase]]) -> bool:
    return any(
        e.payload.rule.key == match.payload.rule.key and e.same_sentence(match) for e in exceptions
    )


def _hit(match: PhraseMatch[_RulePhrase], text: str) -> Hit:
    rule = match.payload.rule
    return Hit(
        category=rule.category,
        rule_key=rule.key,
        rule_version=rule.version,
        severity=rule.severity,
        start=match.start,
        end=match.end,
        evidence=text[match.start : match.end],
    )


def _strongest_per_span(hits: list[Hit]) -> list[Hit]:
    """One hit per category per stretch of text: "you will be arrested" and "be arrested"
    are one piece of evidence, not two. The most severe, then the longest, wins."""
    ranked = sorted(
        hits,
        key=lambda h: (-SEVERITY_RANK[Severity(h.severity)], h.start - h.end, h.start, h.rule_key),
    )
    kept: list[Hit] = []
    for hit in ranked:
        if not any(k.category == hit.category and _spans_overlap(k, hit) for k in kept):
            kept.append(hit)
    return sorted(kept, key=lambda h: (h.start, h.end, h.category, h.rule_key))


def _spans_overlap(a: Hit, b: Hit) -> bool:
    return a.start < b.end and b.start < a.end


# --- required statements --------------------------------------------------------------


@dataclass(frozen=True)
class RequiredStatementSpec:
    """A statement every call must contain (mini-Miranda, recording notice, identity check),
    with several phrasings since agents paraphrase."""

    key: str
    language: str
    phrases: Sequence[str]

    def __post_init__(self) -> None:
        object.__setattr__(self, "phrases", tuple(self.phrases))
        if self.language not in LANGUAGES:
            raise ValueError(f"statement {self.key}: unsupported language {self.language!r}")
        if not self.phrases:
            raise ValueError(f"statement {self.key}: needs at least one phrase")


class RequiredStatementTracker:
    """Ticks off required statements from the agent's final segments during one call.

    ``language`` narrows the statements to the call's language; None keeps all of them
    (a statement counts as said in whichever language it was said).
    """

    def __init__(
        self, statements: Iterable[RequiredStatementSpec], *, language: str | None = None
    ) -> None:
        # Declared (YAML) order is kept: it is the order the console lists them in.
        wanted = language_of(language)
        chosen = [s for s in statements if wanted is None or s.language == wanted]
        self.required: tuple[str, ...] = tuple(dict.fromkeys(s.key for s in chosen))
        self._language = wanted
        self._index = PhraseIndex(
            (_language(s.language), phrase, s.key) for s in chosen for phrase in s.phrases
        )
        self._said: dict[str, str] = {}

    @classmethod
    def for_language(cls, language: str | None) -> RequiredStatementTracker:
        """A fresh tracker over the shipped statements, for one call."""
        return cls(required_statement_specs(), language=language)

    def observe(self, text: str, *, speaker: str = AGENT) -> list[str]:
        """Feed one final segment; returns the statements it satisfied for the first time
        (empty, hence falsy, when nothing changed)."""
        if speaker.strip().casefold() != AGENT:
            return []
        newly: list[str] = []
        for match in self._index.find(text, self._language):
            if not match.negated and match.payload not in self._said:
                self._said[match.payload] = text[match.start : match.end]
                newly.append(match.payload)
        return newly

    @property
    def satisfied(self) -> dict[str, str]:
        """Statement key -> the words that satisfied it."""
        return dict(self._said)

    def status(self) -> dict[str, bool]:
        """The call's checklist: statement key -> said yet, in declaration order."""
        return {key: key in self._said for key in self.required}

    def missing(self) -> list[str]:
        """Required statements not heard yet, in declaration order (ask at call end)."""
        return [key for key in self.required if key not in self._said]


# --- the shipped starter library (a file, not the database) ------------------------------


@functools.cache
def _starter_document(path: Path) -> Mapping[str, Any]:
    with path.open(encoding="utf-8") as handle:
        document = yaml.safe_load(handle)
    if not isinstance(document, dict):
        raise ValueError(f"{path}: expected a mapping at the top level")
    return document


def starter_rule_specs(path: Path = STARTER_RULES_PATH) -> list[RuleSpec]:
    """The starter rules, validated: a typo in the YAML fails loudly, not silently."""
    return [_spec_from_yaml(entry) for entry in _starter_document(path)["rules"]]


def required_statement_specs(path: Path = STARTER_RULES_PATH) -> list[RequiredStatementSpec]:
    """Required statements (mini-Miranda, recording notice, identity check) per language."""
    statements: Mapping[str, Mapping[str, list[str]]] = _starter_document(path)[
        "required_statements"
    ]
    return [
        RequiredStatementSpec(key=key, language=language, phrases=phrases)
        for language, by_key in statements.items()
        for key, phrases in by_key.items()
    ]


def _spec_from_yaml(entry: Mapping[str, Any]) -> RuleSpec:
    return RuleSpec(
        key=entry["key"],
        category=entry["category"],
        language=entry["language"],
        phrases=entry["phrases"],
        severity=entry.get("severity", Severity.HIGH.value),
        description=" ".join(str(entry.get("description", "")).split()),
        exceptions=entry.get("exceptions", ()),
    )
