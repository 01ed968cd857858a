"""The QA rule engine: agent misconduct phrases matched in one pass per language.

Rules are data (``RuleSpec``, stored in ``qa_rules``); the engine is pure and has no
database access, so it can be rebuilt whenever rules change and tested without one.
``qa_review.phrases.PhraseIndex`` is the matcher (normalise, Aho-Corasick, patterns,
whole words, negation); intent detection in ``scripts_library.intents`` uses it too.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from qa_review.models import Category, Severity
from qa_review.normalize import LANGUAGES, Language, language_of
from qa_review.phrases import Lists, PhraseIndex, PhraseMatch

AGENT = "agent"
SPEAKERS = (AGENT, "debtor")
STARTER_RULES_PATH = Path(__file__).with_name("starter_rules.yaml")
SEVERITY_RANK = {Severity.LOW: 0, Severity.MEDIUM: 1, Severity.HIGH: 2, Severity.CRITICAL: 3}


# --- misconduct rules -----------------------------------------------------------------


@dataclass(frozen=True)
class Proximity:
    """Other words that must (``near``) or must not (``not_near``) occur close to a hit:
    within ``within`` words in English, characters in Chinese, in either direction."""

    phrases: Sequence[str]
    within: int = 8

    def __post_init__(self) -> None:
        object.__setattr__(self, "phrases", tuple(self.phrases))
        if not self.phrases:
            raise ValueError("a proximity condition needs at least one phrase")
        if self.within < 0:
            raise ValueError("within must be zero or more")

    def to_yaml(self) -> dict[str, Any]:
        return {"phrases": list(self.phrases), "within": self.within}


@dataclass(frozen=True)
class RuleSpec:
    """A rule as the engine sees it; validated here so a bad rule fails where it is made.

    ``phrases`` may use ``{list}``, ``*`` and ``#`` (see ``qa_review.phrases``).
    ``exceptions`` are compliant phrasings ("where the law allows", "only a court can"):
    a hit in the same sentence as one of them is not misconduct. ``near`` requires one
    of its phrases close to the hit ("tell" near "{family}"); ``not_near`` cancels a hit
    with one of its phrases close by ("sue" not near "may"). ``speakers`` are whose words
    the rule judges: misconduct is the agent's.
    """

    key: str
    category: str
    language: str
    phrases: Sequence[str]
    severity: str = Severity.HIGH.value
    version: int = 1
    description: str = ""
    exceptions: Sequence[str] = field(default=())
    near: Proximity | None = None
    not_near: Proximity | None = None
    speakers: Sequence[str] = (AGENT,)

    def __post_init__(self) -> None:
        object.__setattr__(self, "phrases", tuple(self.phrases))
        object.__setattr__(self, "exceptions", tuple(self.exceptions))
        object.__setattr__(self, "speakers", tuple(s.strip().casefold() for s in self.speakers))
        if not self.key.strip():
            raise ValueError("a rule needs a key")
        if self.category not in set(Category):
            raise ValueError(f"rule {self.key}: unknown category {self.category!r}")
        if self.severity not in set(Severity):
            raise ValueError(f"rule {self.key}: unknown severity {self.severity!r}")
        if self.language not in LANGUAGES:
            raise ValueError(f"rule {self.key}: unsupported language {self.language!r}")
        if not self.phrases:
            raise ValueError(f"rule {self.key}: needs at least one phrase")
        if not set(self.speakers) <= set(SPEAKERS) or not self.speakers:
            raise ValueError(f"rule {self.key}: speakers must be among {', '.join(SPEAKERS)}")

    def to_yaml(self) -> dict[str, Any]:
        """The rule as the library's YAML writes it (defaults left out)."""
        data: dict[str, Any] = {
            "key": self.key,
            "category": self.category,
            "language": self.language,
            "severity": self.severity,
        }
        if self.description:
            data["description"] = self.description
        data["phrases"] = list(self.phrases)
        if self.exceptions:
            data["exceptions"] = list(self.exceptions)
        if self.near:
            data["near"] = self.near.to_yaml()
        if self.not_near:
            data["not_near"] = self.not_near.to_yaml()
        if self.speakers != (AGENT,):
            data["speakers"] = list(self.speakers)
        return data


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


Role = Literal["trigger", "exception", "near", "not_near"]


@dataclass(frozen=True, slots=True)
class _RulePhrase:
    rule: RuleSpec
    role: Role


class RuleEngine:
    """Judges the agent's words against every enabled rule in one pass per language.

    ``lists`` are the library's phrase lists, which rule phrases name as ``{list}``.
    """

    def __init__(self, rules: Iterable[RuleSpec], lists: Lists | None = None) -> None:
        self.rules: tuple[RuleSpec, ...] = tuple(rules)
        self.lists: Lists = dict(lists or {})
        self._speakers = frozenset(s for rule in self.rules for s in rule.speakers)
        self._index = PhraseIndex(_rule_entries(self.rules), self.lists)

    def scan(self, text: str, *, speaker: str, language: str | None) -> list[Hit]:
        """Hits in ``text``, in reading order; a rule judges only its speakers' words."""
        speaker = speaker.strip().casefold()
        if speaker not in self._speakers:
            return []
        found = self._index.find_with_text(text, language)
        context = [m for _, m in found if m.payload.role != "trigger"]
        hits = [
            _hit(match, text)
            for norm, match in found
            if match.payload.role == "trigger"
            and speaker in match.payload.rule.speakers
            and not match.negated
            and _allowed(match, norm.text, context)
        ]
        return _strongest_per_span(hits)


def _rule_entries(rules: Iterable[RuleSpec]) -> Iterable[tuple[Language, str, _RulePhrase]]:
    for rule in rules:
        language = _language(rule.language)
        yield from ((language, p, _RulePhrase(rule, "trigger")) for p in rule.phrases)
        yield from ((language, p, _RulePhrase(rule, "exception")) for p in rule.exceptions)
        conditions: tuple[tuple[Role, Proximity | None], ...] = (
            ("near", rule.near),
            ("not_near", rule.not_near),
        )
        for role, condition in conditions:
            if condition is not None:
                yield from ((language, p, _RulePhrase(rule, role)) for p in condition.phrases)


def _language(code: str) -> Language:
    language = language_of(code)
    if language is None:
        raise ValueError(f"unsupported language {code!r}")
    return language


def _allowed(
    match: PhraseMatch[_RulePhrase], text: str, context: list[PhraseMatch[_RulePhrase]]
) -> bool:
    """Whether the rule's exceptions and proximity conditions let this trigger stand."""
    rule = match.payload.rule
    mine = [m for m in context if m.payload.rule is rule and m.language == match.language]
    if any(m.payload.role == "exception" and m.same_sentence(match) for m in mine):
        return False
    if rule.near is not None and not _close(match, mine, "near", rule.near.within, text):
        return False
    return rule.not_near is None or not _close(match, mine, "not_near", rule.not_near.within, text)


def _close(
    match: PhraseMatch[_RulePhrase],
    others: list[PhraseMatch[_RulePhrase]],
    role: Role,
    within: int,
    text: str,
) -> bool:
    return any(o.payload.role == role and o.distance(match, text) <= within for o in others)


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


@dataclass(frozen=True)
class RuleLibrary:
    """Rules plus the phrase lists they name: what a QA lead edits, imports and exports."""

    rules: tuple[RuleSpec, ...]
    lists: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        keys = [rule.key for rule in self.rules]
        duplicates = sorted({k for k in keys if keys.count(k) > 1})
        if duplicates:
            raise ValueError(f"duplicate rule keys: {', '.join(duplicates)}")
        self.engine()  # an unknown {list} or a phrase of wildcards only fails here

    def engine(self) -> RuleEngine:
        """The library's engine, built once: validation already built it, and compiling
        thousands of phrases is the dear part of starting a call."""
        return self._engine

    @functools.cached_property
    def _engine(self) -> RuleEngine:
        return RuleEngine(self.rules, self.lists)

    def to_yaml(self) -> str:
        document = {
            "lists": {name: dict(by_lang) for name, by_lang in sorted(self.lists.items())},
            "rules": [rule.to_yaml() for rule in self.rules],
        }
        return str(yaml.safe_dump(document, allow_unicode=True, sort_keys=False, width=100))

    @classmethod
    def from_yaml(cls, text: str) -> RuleLibrary:
        """Parse and validate a library; errors name the rule and field at fault."""
        document = yaml.safe_load(text)
        if not isinstance(document, dict) or not isinstance(document.get("rules"), list):
            raise ValueError("expected a mapping with a 'rules' list")
        return cls.from_document(document)

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> RuleLibrary:
        lists = {
            str(name): _list_from_yaml(str(name), entries)
            for name, entries in (document.get("lists") or {}).items()
        }
        rules = []
        for number, entry in enumerate(document["rules"], start=1):
            if not isinstance(entry, dict):
                raise ValueError(f"rule {number}: expected a mapping")
            rules.append(spec_from_yaml(entry))
        return cls(tuple(rules), lists)


def _list_from_yaml(name: str, entries: Any) -> dict[str, tuple[str, ...]]:
    if isinstance(entries, list):
        return {language: tuple(map(str, entries)) for language in LANGUAGES}
    if isinstance(entries, dict) and set(entries) <= set(LANGUAGES):
        return {str(lang): tuple(map(str, values)) for lang, values in entries.items()}
    raise ValueError(f"list {name}: expected a list of phrases or one per language (en, zh)")


def starter_library(path: Path = STARTER_RULES_PATH) -> RuleLibrary:
    """The shipped library, validated: a typo in the YAML fails loudly, not silently."""
    return RuleLibrary.from_document(_starter_document(path))


def starter_rule_specs(path: Path = STARTER_RULES_PATH) -> list[RuleSpec]:
    return list(starter_library(path).rules)


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


def spec_from_yaml(entry: Mapping[str, Any]) -> RuleSpec:
    """One rule from its YAML (or JSON) form; missing required fields are named."""
    missing = [f for f in ("key", "category", "language", "phrases") if f not in entry]
    if missing:
        raise ValueError(f"rule {entry.get('key', '?')}: missing {', '.join(missing)}")
    return RuleSpec(
        key=str(entry["key"]),
        category=entry["category"],
        language=entry["language"],
        phrases=[str(p) for p in entry["phrases"]],
        severity=entry.get("severity", Severity.HIGH.value),
        version=int(entry.get("version", 1)),
        description=" ".join(str(entry.get("description", "")).split()),
        exceptions=[str(p) for p in entry.get("exceptions") or ()],
        near=_proximity(entry.get("near")),
        not_near=_proximity(entry.get("not_near")),
        speakers=entry.get("speakers") or (AGENT,),
    )


def _proximity(value: Any) -> Proximity | None:
    if value is None:
        return None
    if not isinstance(value, dict) or "phrases" not in value:
        raise ValueError("near/not_near: expected {phrases: [...], within: N}")
    return Proximity([str(p) for p in value["phrases"]], int(value.get("within", 8)))
