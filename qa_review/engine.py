"""The QA rule engine: agent misconduct phrases matched in one pass per language.

Rules are data (``RuleSpec``, stored in ``qa_rules``); the engine is pure and has no
database access, so it can be rebuilt whenever rules change and tested without one.
``qa_review.phrases.PhraseIndex`` is the matcher (normalise, Aho-Corasick, patterns,
whole words, negation); intent detection in ``scripts_library.intents`` uses it too.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from qa_review.models import Category, Severity
from qa_review.normalize import (
    LANGUAGES,
    Language,
    Normalized,
    is_negated,
    language_of,
    normalize_phrase,
)
from qa_review.phrases import Lists, PhraseIndex, PhraseMatch, Span, span_distance

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
        hits: list[Hit] = []
        for norm, spans in self._index.spans(text, language):
            hits += _judge(norm, spans, speaker)
        return _strongest_per_span(hits)


def _judge(norm: Normalized, spans: list[Span[_RulePhrase]], speaker: str) -> Iterator[Hit]:
    """The hits among the phrase spans found in one language: triggers of rules that judge
    ``speaker``, not negated, and let stand by their rule's exceptions and conditions.

    Works on the folded spans rather than ``PhraseMatch`` objects: most spans are context
    words or triggers that are dropped, and this runs on every segment of every call.
    """
    negated: dict[int, bool] = {}  # per span start, checked only for a trigger that counts
    for start, end, payloads in spans:
        for phrase in payloads:
            if phrase.role != "trigger" or speaker not in phrase.rule.speakers:
                continue
            if start not in negated:
                negated[start] = is_negated(norm, start)
            if not negated[start] and _allowed(phrase.rule, start, end, norm, spans):
                yield _hit(phrase.rule, norm, start, end)


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
    rule: RuleSpec, start: int, end: int, norm: Normalized, spans: list[Span[_RulePhrase]]
) -> bool:
    """Whether the rule's exceptions and proximity conditions let its trigger at
    ``start:end`` of ``norm.text`` stand."""
    if not rule.exceptions and rule.near is None and rule.not_near is None:
        return True  # no context phrases of this rule can be among the spans
    context: list[tuple[Role, int, int]] = [
        (phrase.role, other_start, other_end)
        for other_start, other_end, payloads in spans
        for phrase in payloads
        if phrase.rule is rule and phrase.role != "trigger"
    ]
    sentence = norm.sentences[start]
    if any(
        role == "exception" and norm.sentences[other_start] == sentence
        for role, other_start, _ in context
    ):
        return False
    if rule.near is not None and not _close(context, "near", rule.near.within, start, end, norm):
        return False
    return rule.not_near is None or not _close(
        context, "not_near", rule.not_near.within, start, end, norm
    )


def _close(
    context: Sequence[tuple[Role, int, int]],
    role: Role,
    within: int,
    start: int,
    end: int,
    norm: Normalized,
) -> bool:
    return any(
        kind == role
        and span_distance(norm.text, norm.language, other_start, other_end, start, end) <= within
        for kind, other_start, other_end in context
    )


def _hit(rule: RuleSpec, norm: Normalized, start: int, end: int) -> Hit:
    orig_start, orig_end = norm.original_span(start, end)
    return Hit(
        category=rule.category,
        rule_key=rule.key,
        rule_version=rule.version,
        severity=rule.severity,
        start=orig_start,
        end=orig_end,
        evidence=norm.original[orig_start:orig_end],
    )


def _strongest_per_span(hits: list[Hit]) -> list[Hit]:
    """One hit per category per stretch of text: "you will be arrested" and "be arrested"
    are one piece of evidence, not two. The most severe, then the longest, wins."""
    if len(hits) < 2:  # most segments: nothing to rank
        return hits
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

STATEMENT_KEY = re.compile(r"[a-z][a-z0-9_-]{0,63}")
"""A statement key is a slug: it names the statement in the YAML, the database and URLs."""
MAX_TENANT_CHARS = 128
# Negation words inside a matched statement ("this call * recorded" over "this call is not
# being recorded"): ``is_negated`` only looks before a match, a wildcard can swallow one.
_EN_INNER_NEGATIONS = frozenset({"not", "never", "no", "nobody", "neither", "nor", "without"})
_ZH_INNER_NEGATIONS = frozenset("不没未无别勿")
_ZH_NOT_NEGATIONS = ("是不是", "有没有", "会不会", "能不能", "要不要", "对不对", "好不好")


@dataclass(frozen=True)
class RequiredStatementSpec:
    """A statement every call must contain (mini-Miranda, recording notice, identity check),
    with several phrasings since agents paraphrase.

    ``phrases`` use the rule syntax (``*``, ``#``, ``{list}``). ``tenant`` is the creditor
    whose calls it applies to; "" is the default for every tenant. A tenant's statement
    replaces the default with the same key and language; ``enabled=False`` waives it.
    """

    key: str
    language: str
    phrases: Sequence[str]
    tenant: str = ""
    description: str = ""
    enabled: bool = True
    version: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", self.key.strip())
        object.__setattr__(self, "tenant", " ".join(self.tenant.split()))
        object.__setattr__(self, "description", " ".join(self.description.split()))
        phrases = (str(p).strip() for p in self.phrases)
        object.__setattr__(self, "phrases", tuple(dict.fromkeys(p for p in phrases if p)))
        if not STATEMENT_KEY.fullmatch(self.key):
            raise ValueError(
                f"statement {self.key!r}: a key is a slug, 1-64 lowercase letters, digits, "
                "'_' or '-', starting with a letter"
            )
        if self.language not in LANGUAGES:
            raise ValueError(f"statement {self.key}: unsupported language {self.language!r}")
        if len(self.tenant) > MAX_TENANT_CHARS:
            raise ValueError(f"statement {self.key}: a tenant name is at most 128 characters")
        if self.enabled and not self.phrases:
            raise ValueError(f"statement {self.key}: needs at least one phrase unless disabled")

    @property
    def identity(self) -> tuple[str, str, str]:
        """What makes a statement unique in a library and in ``qa_required_statements``."""
        return self.key, self.language, self.tenant

    def to_yaml(self) -> list[str] | dict[str, Any]:
        """Its value under ``required_statements``: the phrase list alone when that is all
        there is to say (the starter form), else a mapping."""
        if self.enabled and not self.description:
            return list(self.phrases)
        data: dict[str, Any] = {}
        if self.description:
            data["description"] = self.description
        if not self.enabled:
            data["enabled"] = False
        if self.phrases:
            data["phrases"] = list(self.phrases)
        return data


def resolve_statements(
    statements: Iterable[RequiredStatementSpec], *, language: str | None, tenant: str = ""
) -> list[RequiredStatementSpec]:
    """What a tenant's calls in ``language`` (None: every language) must contain.

    A tenant's statement replaces the default with the same key and language, a disabled
    one waives it, and keys of the tenant's own come after the defaults' keys; each part is
    in key order, so the console and the scorecard list them the same way on every call.
    """
    tenant = " ".join(tenant.split())
    wanted = language_of(language)
    chosen: dict[tuple[str, str], RequiredStatementSpec] = {}
    for layer in ("", tenant) if tenant else ("",):
        for spec in statements:
            if spec.tenant == layer and (wanted is None or spec.language == wanted):
                chosen[spec.key, spec.language] = spec
    defaults = {s.key for s in statements if s.tenant == ""}
    kept = [s for s in chosen.values() if s.enabled]
    return sorted(kept, key=lambda s: (s.key not in defaults, s.key, s.language))


def statements_from_yaml(section: Any) -> list[RequiredStatementSpec]:
    """The ``required_statements`` section of a library's YAML (see docs/qa-rules.md).

    ``{en: {key: [phrases]}, zh: {...}}`` is the default layer; ``tenants: {name: {en:
    {key: ...}}}`` holds tenant overrides. A value is a phrase list, or a mapping with
    ``phrases``, ``description`` and ``enabled``. Errors name the place at fault.
    """
    if section is None:
        return []
    if not isinstance(section, dict):
        raise ValueError("required_statements: expected languages (en, zh) and 'tenants'")
    specs = [
        spec
        for language, by_key in section.items()
        if language != "tenants"
        for spec in _statements_in(f"required_statements.{language}", language, by_key, "")
    ]
    tenants = section.get("tenants") or {}
    if not isinstance(tenants, dict):
        raise ValueError("required_statements.tenants: expected {tenant: {language: {...}}}")
    for tenant, by_language in tenants.items():
        where = f"required_statements.tenants.{tenant}"
        if not str(tenant).strip():
            raise ValueError(f"{where}: a tenant needs a name (defaults go under en and zh)")
        if not isinstance(by_language, dict):
            raise ValueError(f"{where}: expected {{language: {{key: phrases}}}}")
        for language, by_key in by_language.items():
            specs += _statements_in(f"{where}.{language}", language, by_key, str(tenant))
    return specs


def _statements_in(
    where: str, language: Any, by_key: Any, tenant: str
) -> list[RequiredStatementSpec]:
    if language not in LANGUAGES:
        raise ValueError(f"{where}: unsupported language {language!r} (en or zh)")
    if not isinstance(by_key, dict):
        raise ValueError(f"{where}: expected {{statement key: phrases}}")
    return [
        _statement(f"{where}.{key}", str(key), language, value, tenant)
        for key, value in by_key.items()
    ]


def _statement(
    where: str, key: str, language: str, value: Any, tenant: str
) -> RequiredStatementSpec:
    if isinstance(value, list):
        value = {"phrases": value}
    if not isinstance(value, dict):
        raise ValueError(
            f"{where}: expected a list of phrases or {{phrases, description, enabled}}"
        )
    unknown = sorted(set(value) - {"phrases", "description", "enabled"})
    if unknown:
        raise ValueError(f"{where}: unknown field {', '.join(map(str, unknown))}")
    phrases = value.get("phrases") or []
    if not isinstance(phrases, list):
        raise ValueError(f"{where}: phrases must be a list")
    enabled = value.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ValueError(f"{where}: enabled must be true or false")
    try:
        return RequiredStatementSpec(
            key=key,
            language=language,
            phrases=[str(p) for p in phrases],
            tenant=tenant,
            description=str(value.get("description") or ""),
            enabled=enabled,
        )
    except ValueError as error:
        raise ValueError(f"{where}: {error}") from None


def statements_to_yaml(statements: Iterable[RequiredStatementSpec]) -> dict[str, Any]:
    """The ``required_statements`` section that ``statements_from_yaml`` reads back; the
    given order is kept within each tenant and language."""
    section: dict[str, Any] = {}
    tenants: dict[str, dict[str, dict[str, Any]]] = {}
    for spec in statements:
        layer = tenants.setdefault(spec.tenant, {}) if spec.tenant else section
        layer.setdefault(spec.language, {})[spec.key] = spec.to_yaml()
    if tenants:
        section["tenants"] = tenants
    return section


@dataclass(frozen=True, slots=True)
class _StatementPhrase:
    spec: RequiredStatementSpec
    negations: frozenset[str]  # negation words the phrase itself holds


@dataclass(frozen=True, slots=True)
class StatementHeard:
    """Where a statement was first heard: the agent's words, their segment and its start
    in the stream (None when the caller did not say which segment it fed)."""

    words: str
    segment_id: int | None = None
    stream_start: float | None = None


@dataclass(frozen=True, slots=True)
class StatementResult:
    """One required statement at call end: said (and where) or missing."""

    key: str
    version: int
    heard: StatementHeard | None

    @property
    def said(self) -> bool:
        return self.heard is not None


def statement_index(
    statements: Iterable[RequiredStatementSpec], lists: Lists | None = None
) -> PhraseIndex[_StatementPhrase]:
    """The statements' phrases in one matcher; a phrase that cannot compile (a wildcard
    alone, an unknown ``{list}``) raises ``ValueError`` naming it."""
    specs = tuple(statements)
    entries = [
        (language, phrase, _StatementPhrase(spec, _negations(phrase, language)))
        for spec in specs
        for language in (_language(spec.language),)
        for phrase in spec.phrases
    ]
    try:
        return PhraseIndex(entries, lists)
    except ValueError:
        for spec in specs:  # only now pay for naming the statement at fault
            try:
                PhraseIndex(((_language(spec.language), p, spec.key) for p in spec.phrases), lists)
            except ValueError as error:
                raise ValueError(f"statement {spec.key} ({spec.language}): {error}") from None
        raise


def _negations(text: str, language: Language) -> frozenset[str]:
    """Negation words in ``text`` (already folded, or a phrase to fold)."""
    folded = normalize_phrase(re.sub(r"\{\w+\}|[*#]", " ", text), language)
    if language == "en":
        return frozenset(set(folded.split()) & _EN_INNER_NEGATIONS)
    for question in _ZH_NOT_NEGATIONS:  # "您是不是张伟本人" asks, it does not deny
        folded = folded.replace(question, "")
    return frozenset(set(folded) & _ZH_INNER_NEGATIONS)


class RequiredStatementTracker:
    """Ticks off required statements from the agent's final segments during one call.

    ``statements`` are the ones this call requires (``resolve_statements``); ``language``
    narrows them to the call's language, None keeps all of them (a statement counts as
    said in whichever language it was said). ``lists`` are the library's phrase lists for
    ``{list}`` in phrases. A match does not count when negated, before it ("this is not an
    attempt to collect a debt") or inside a wildcard ("this call is not being recorded").
    """

    def __init__(
        self,
        statements: Iterable[RequiredStatementSpec],
        *,
        language: str | None = None,
        lists: Lists | None = None,
    ) -> None:
        # The given order is kept: it is the order the console lists them in.
        wanted = language_of(language)
        chosen = [s for s in statements if s.enabled and (wanted is None or s.language == wanted)]
        self.required: tuple[str, ...] = tuple(dict.fromkeys(s.key for s in chosen))
        self._versions = {
            key: next(s.version for s in chosen if s.key == key) for key in self.required
        }
        self._language = wanted
        self._index = statement_index(chosen, lists)
        self._heard: dict[str, StatementHeard] = {}

    @classmethod
    def for_language(cls, language: str | None) -> RequiredStatementTracker:
        """A fresh tracker over the shipped default statements, for one call (no database)."""
        return cls(
            resolve_statements(required_statement_specs(), language=language), language=language
        )

    def observe(
        self,
        text: str,
        *,
        speaker: str = AGENT,
        segment_id: int | None = None,
        start: float | None = None,
    ) -> list[str]:
        """Feed one final segment (with its id and stream start, to be able to say where a
        statement was heard); returns the statements it satisfied for the first time
        (empty, hence falsy, when nothing changed)."""
        if speaker.strip().casefold() != AGENT:
            return []
        best: dict[str, PhraseMatch[_StatementPhrase]] = {}
        for norm, match in self._index.find_with_text(text, self._language):
            key = match.payload.spec.key
            if key in self._heard or match.negated:
                continue
            inside = _negations(norm.text[match.norm_start : match.norm_end], match.language)
            if inside - match.payload.negations:
                continue
            # The earliest, then the longest, phrasing is the evidence a reviewer reads.
            if key not in best or (match.start, -match.end) < (best[key].start, -best[key].end):
                best[key] = match
        for key, match in best.items():
            self._heard[key] = StatementHeard(text[match.start : match.end], segment_id, start)
            self._versions[key] = match.payload.spec.version
        return [key for key in self.required if key in best]

    @property
    def satisfied(self) -> dict[str, str]:
        """Statement key -> the words that satisfied it."""
        return {key: heard.words for key, heard in self._heard.items()}

    @property
    def heard(self) -> dict[str, StatementHeard]:
        """Statement key -> where it was first heard."""
        return dict(self._heard)

    def status(self) -> dict[str, bool]:
        """The call's checklist: statement key -> said yet, in the required order."""
        return {key: key in self._heard for key in self.required}

    def missing(self) -> list[str]:
        """Required statements not heard yet, in the required order (ask at call end)."""
        return [key for key in self.required if key not in self._heard]

    def results(self) -> list[StatementResult]:
        """Every required statement, said or missing, in the required order: what is
        stored with the call when it ends."""
        return [
            StatementResult(key, self._versions[key], self._heard.get(key)) for key in self.required
        ]


@functools.lru_cache(maxsize=4)
def _compiled_engine(
    rules: tuple[RuleSpec, ...],
    lists: tuple[tuple[str, tuple[tuple[str, tuple[str, ...]], ...]], ...],
) -> RuleEngine:
    """Engines by library content: every call start reads the library afresh from the
    database, and while nobody has edited it (the usual case) the compiled automata of the
    last call are reused instead of rebuilt (about a second for the starter library). A
    rule's version and phrases are part of the key, so an edit compiles a new engine."""
    return RuleEngine(rules, {name: dict(by_lang) for name, by_lang in lists})


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
    """Rules plus the phrase lists they name, and the required statements: what a QA lead
    edits, imports and exports."""

    rules: tuple[RuleSpec, ...]
    lists: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)
    statements: tuple[RequiredStatementSpec, ...] = ()

    def __post_init__(self) -> None:
        keys = [rule.key for rule in self.rules]
        duplicates = sorted({k for k in keys if keys.count(k) > 1})
        if duplicates:
            raise ValueError(f"duplicate rule keys: {', '.join(duplicates)}")
        identities = [s.identity for s in self.statements]
        twice = sorted({i for i in identities if identities.count(i) > 1})
        if twice:
            named = ", ".join(f"{k} ({lang}{', ' + t if t else ''})" for k, lang, t in twice)
            raise ValueError(f"duplicate required statements: {named}")
        self.engine()  # an unknown {list} or a phrase of wildcards only fails here
        statement_index(self.statements, self.lists)  # and in a statement's phrases here

    def engine(self) -> RuleEngine:
        """The library's engine, built once: validation already built it, and compiling
        thousands of phrases is the dear part of starting a call."""
        return self._engine

    @functools.cached_property
    def _engine(self) -> RuleEngine:
        lists = tuple(
            sorted(
                (name, tuple(sorted((lang, tuple(v)) for lang, v in entries.items())))
                for name, entries in self.lists.items()
            )
        )
        return _compiled_engine(self.rules, lists)

    def to_yaml(self) -> str:
        document: dict[str, Any] = {
            "lists": {name: dict(by_lang) for name, by_lang in sorted(self.lists.items())},
            "rules": [rule.to_yaml() for rule in self.rules],
        }
        if self.statements:
            document["required_statements"] = statements_to_yaml(self.statements)
        return str(yaml.safe_dump(document, allow_unicode=True, sort_keys=False, width=100))

    @classmethod
    def from_yaml(cls, text: str) -> RuleLibrary:
        """Parse and validate a library; errors name the rule and field at fault. A file of
        required statements alone may leave ``rules`` out."""
        document = yaml.safe_load(text)
        if not isinstance(document, dict):
            raise ValueError("expected a mapping with a 'rules' list")
        rules = document.get("rules", [] if "required_statements" in document else None)
        if not isinstance(rules, list):
            raise ValueError("expected a mapping with a 'rules' list")
        return cls.from_document(document)

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> RuleLibrary:
        lists = {
            str(name): _list_from_yaml(str(name), entries)
            for name, entries in (document.get("lists") or {}).items()
        }
        rules = []
        for number, entry in enumerate(document.get("rules") or (), start=1):
            if not isinstance(entry, dict):
                raise ValueError(f"rule {number}: expected a mapping")
            rules.append(spec_from_yaml(entry))
        statements = statements_from_yaml(document.get("required_statements"))
        return cls(tuple(rules), lists, tuple(statements))


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
    """The shipped required statements (mini-Miranda, recording notice, identity check)
    per language, read without building the rule engine: a batch run asks per call."""
    return _starter_statements(path)


@functools.cache
def _starter_statements(path: Path) -> list[RequiredStatementSpec]:
    return statements_from_yaml(_starter_document(path).get("required_statements"))


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
