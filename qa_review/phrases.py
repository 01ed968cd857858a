"""Phrase matching shared by QA rules, required statements and intent cues.

A phrase is written the way a QA lead thinks of it and folded exactly as transcripts are
(``normalize``). Besides plain words it may hold:

- ``{name}``: any entry of the phrase list ``name`` ("tell your {family}");
- ``*``: a gap of one to three words (English) or one to six characters (Chinese)
  ("we will * your wages");
- ``#``: a number, in digits or words ("call you # times a day", "每天打#个电话").

Plain phrases, lists included, go into one Aho-Corasick automaton per language
(pyahocorasick: every phrase found in one pass over the text, however many there are).
Phrases with ``*`` or ``#`` become regular expressions, each tried only when its longest
plain part occurs in the text, so a library of patterns costs little more than its
anchors. English matches respect word boundaries and tolerate one-letter ASR slips in
long rule words ("arested", "garnishment" for "garnishement"); see ``_Speller``.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import ahocorasick

from qa_review.normalize import (
    Language,
    Normalized,
    is_negated,
    languages_for,
    normalize,
    normalize_phrase,
    replace_words,
)

T = TypeVar("T")

MAX_EXPANSIONS = 5000
"""A phrase whose lists multiply out beyond this is matched as a pattern instead."""

_TOKEN = re.compile(r"\{(\w+)\}|(\*)|(#)")
_EN_NUMBER_WORDS = frozenset(
    {"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"}
    | {"eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen"}
    | {"eighteen", "nineteen", "twenty", "thirty", "forty", "fifty", "sixty", "seventy"}
    | {"eighty", "ninety", "hundred", "thousand", "million", "dozen"}
)
_EN_NUMBER_WORD = "(?:\\d+|" + "|".join(sorted(_EN_NUMBER_WORDS, key=len, reverse=True)) + ")"
_EN_NUMBER = rf"{_EN_NUMBER_WORD}(?: (?:{_EN_NUMBER_WORD}|and))*"
_ZH_NUMBER = r"[0-9零〇一二两三四五六七八九十百千万亿几]+"
_GAP = {"en": r"\S+(?: \S+){0,2}", "zh": r".{1,6}?"}
_NUMBER = {"en": _EN_NUMBER, "zh": _ZH_NUMBER}
_JOIN = {"en": " ", "zh": ""}


Span = tuple[int, int, tuple[T, ...]]
"""Where a phrase occurs in the folded text (start, end) and the payloads it carries."""


@dataclass(frozen=True, slots=True)
class PhraseMatch(Generic[T]):
    """One phrase occurrence: ``start``/``end`` index the original text, ``norm_*`` the
    folded text (for distances between matches)."""

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

    def distance(self, other: PhraseMatch[T], text: str) -> int:
        """Words (English) or characters (Chinese) between two matches; 0 if they touch."""
        return span_distance(
            text, self.language, self.norm_start, self.norm_end, other.norm_start, other.norm_end
        )


def span_distance(
    text: str, language: Language, start: int, end: int, other_start: int, other_end: int
) -> int:
    """Words (English) or characters (Chinese) between two spans of the folded ``text``;
    0 if they touch. For callers that judge spans without building ``PhraseMatch``es."""
    if start < other_end and other_start < end:
        return 0
    gap = text[end:other_start] if start <= other_start else text[other_end:start]
    if language == "en":
        return max(0, gap.count(" ") - 1)
    return len(gap)


@dataclass(frozen=True, slots=True)
class _Pattern(Generic[T]):
    anchor: str
    regex: re.Pattern[str]
    payloads: tuple[T, ...]


class PhraseIndex(Generic[T]):
    """Every phrase of a library, per language, matched in one pass.

    Each phrase carries a payload (a rule, a cue, a statement key); the same phrase may
    carry several. Matches report whether a negation cue governs them; callers decide
    what a negated match means. ``lists`` maps a list name to its entries, per language
    or for both (``{"family": {"en": [...], "zh": [...]}}`` or ``{"family": [...]}``).
    """

    def __init__(
        self,
        entries: Iterable[tuple[Language, str, T]],
        lists: Lists | None = None,
    ) -> None:
        plain: dict[Language, dict[str, list[T]]] = {}
        patterns: dict[tuple[Language, str, str], list[T]] = {}
        vocabulary: dict[Language, set[str]] = {}
        for language, phrase, payload in entries:
            compiled = _compile(phrase, language, lists or {})
            if isinstance(compiled, list):
                for key in compiled:
                    plain.setdefault(language, {}).setdefault(key, []).append(payload)
                    vocabulary.setdefault(language, set()).update(key.split())
            else:
                source, anchor = compiled
                patterns.setdefault((language, source, anchor), []).append(payload)
                vocabulary.setdefault(language, set()).update(anchor.split())
        self._automata = {lang: _automaton(keys) for lang, keys in plain.items()}
        self._patterns: dict[Language, list[_Pattern[T]]] = {}
        for (language, source, anchor), payloads in patterns.items():
            self._patterns.setdefault(language, []).append(
                _Pattern(anchor, re.compile(source), tuple(payloads))
            )
        self._speller = _Speller(vocabulary.get("en", set()))

    def find(self, text: str, language: str | None) -> list[PhraseMatch[T]]:
        """All matches in ``text``; ``language`` None (or unknown) tries every language."""
        return [match for _, match in self.find_with_text(text, language)]

    def find_with_text(
        self, text: str, language: str | None
    ) -> list[tuple[Normalized, PhraseMatch[T]]]:
        """Matches with the folded text they were found in (for distances between them)."""
        return [
            (norm, match)
            for norm, spans in self.spans(text, language)
            for match in self.matches(norm, spans)
        ]

    def spans(self, text: str, language: str | None) -> list[tuple[Normalized, list[Span[T]]]]:
        """Where phrases occur, per language tried, before any match is built.

        A caller that needs only some payloads (a QA rule's trigger, not its context
        words) can look at these first and skip building matches for a text with none.
        """
        found: list[tuple[Normalized, list[Span[T]]]] = []
        if not text:
            return found
        for lang in languages_for(language):
            automaton = self._automata.get(lang)
            patterns = self._patterns.get(lang, ())
            if automaton is None and not patterns:
                continue
            norm = normalize(text, lang)
            if lang == "en":
                norm = self._speller.correct(norm)
            spans: list[Span[T]] = []
            if automaton is not None:
                spans.extend(_plain_spans(automaton, norm))
            spans.extend(_pattern_spans(patterns, norm.text))
            if spans:
                found.append((norm, spans))
        return found

    @staticmethod
    def matches(
        norm: Normalized, spans: Iterable[Span[T]], negatable: Callable[[T], bool] | None = None
    ) -> Iterator[PhraseMatch[T]]:
        """The matches of ``spans``. Only a span with a payload that ``negatable`` accepts
        (any, when None) pays for the negation check; the others read as not negated."""
        for start, end, payloads in spans:
            check = negatable is None or any(negatable(p) for p in payloads)
            negated = check and is_negated(norm, start)
            orig_start, orig_end = norm.original_span(start, end)
            sentence = norm.sentences[start]
            for payload in payloads:
                yield PhraseMatch(
                    payload, norm.language, orig_start, orig_end, start, end, negated, sentence
                )


# --- compiling phrases ------------------------------------------------------------------


Lists = Mapping[str, Mapping[str, Sequence[str]] | Sequence[str]]


def _compile(phrase: str, language: Language, lists: Lists) -> list[str] | tuple[str, str]:
    """Plain keys for the automaton, or a pattern: its regular expression and anchor."""
    parts = _parts(phrase, language, lists)
    if not any(kind in ("gap", "number") for kind, _ in parts):
        choices = [values for _, values in parts]
        count = 1
        for values in choices:
            count *= len(values)
        if count <= MAX_EXPANSIONS:
            keys = [
                _JOIN[language].join(v for v in combo if v) for combo in itertools.product(*choices)
            ]
            return list(dict.fromkeys(k for k in keys if k))
    texts = [values[0] for kind, values in parts if kind == "text"]
    return _regex(parts, language), max(texts, key=len, default="")


def _parts(phrase: str, language: Language, lists: Lists) -> list[tuple[str, list[str]]]:
    """The phrase as (kind, alternatives) pieces, each alternative already folded."""
    parts: list[tuple[str, list[str]]] = []
    position = 0
    for token in _TOKEN.finditer(phrase):
        literal = normalize_phrase(phrase[position : token.start()], language)
        if literal:
            parts.append(("text", [literal]))
        if token.group(1):
            parts.append(("list", _list_entries(token.group(1), language, lists)))
        else:
            parts.append(("gap" if token.group(2) else "number", []))
        position = token.end()
    tail = normalize_phrase(phrase[position:], language)
    if tail:
        parts.append(("text", [tail]))
    if not any(kind == "text" or kind == "list" for kind, _ in parts):
        raise ValueError(f"phrase {phrase!r} has no words, only wildcards")
    return parts


def _list_entries(name: str, language: Language, lists: Lists) -> list[str]:
    if name not in lists:
        raise ValueError(f"unknown phrase list {{{name}}}")
    entries = lists[name]
    values = entries.get(language, ()) if isinstance(entries, Mapping) else entries
    folded = [normalize_phrase(v, language) for v in values]
    kept = list(dict.fromkeys(v for v in folded if v))
    if not kept:
        raise ValueError(f"phrase list {{{name}}} has no {language} entries")
    return kept


def _regex(parts: list[tuple[str, list[str]]], language: Language) -> str:
    pieces = []
    for kind, values in parts:
        if kind == "gap":
            pieces.append(_GAP[language])
        elif kind == "number":
            pieces.append(_NUMBER[language])
        else:
            pieces.append(
                "(?:" + "|".join(re.escape(v) for v in sorted(values, key=len)[::-1]) + ")"
            )
    body = _JOIN[language].join(pieces)
    return rf"(?<!\S){body}(?!\S)" if language == "en" else body


def _automaton(phrases: dict[str, list[T]]) -> ahocorasick.Automaton:
    automaton = ahocorasick.Automaton()
    for key, payloads in phrases.items():
        automaton.add_word(key, (key, tuple(payloads)))
    automaton.make_automaton()
    return automaton


# --- matching ---------------------------------------------------------------------------


def _plain_spans(automaton: ahocorasick.Automaton, norm: Normalized) -> Iterator[Span[T]]:
    for last, (key, payloads) in automaton.iter(norm.text):
        start, end = last - len(key) + 1, last + 1
        if norm.language == "en" and not _whole_words(norm.text, start, end):
            continue
        yield start, end, payloads


def _pattern_spans(patterns: Iterable[_Pattern[T]], text: str) -> Iterator[Span[T]]:
    for pattern in patterns:
        if pattern.anchor not in text:
            continue
        for match in pattern.regex.finditer(text):
            yield match.start(), match.end(), pattern.payloads


def _whole_words(text: str, start: int, end: int) -> bool:
    return (start == 0 or text[start - 1] == " ") and (end == len(text) or text[end] == " ")


# --- ASR slips --------------------------------------------------------------------------


class _Speller:
    """Reads a long word one edit away from a rule word as that rule word.

    Whisper writes real words, but on telephone audio it drops or doubles a letter and
    swaps neighbours ("arested", "garnishement", "prosecuted" stays). Only words of seven
    letters or more are corrected, only towards the rule vocabulary, the first letter
    must agree, and a letter more or less at the end is a word form, not a slip. At six
    letters real words drifted into rule words ("policy" -> "police", "regard").
    Candidates come from shared single deletions (the SymSpell idea), verified by an
    exact restricted Damerau distance.
    """

    MIN_LENGTH = 7
    _CANDIDATE = re.compile(rf"[a-z]{{{MIN_LENGTH - 1},}}")

    def __init__(self, vocabulary: Iterable[str]) -> None:
        self._words = frozenset(w for w in vocabulary if len(w) >= self.MIN_LENGTH)
        self._deletes: dict[str, set[str]] = {}
        for word in self._words:
            for variant in _deletions(word) | {word}:
                self._deletes.setdefault(variant, set()).add(word)

    def correct(self, norm: Normalized) -> Normalized:
        if not self._words:
            return norm
        replacements: dict[int, tuple[int, str]] = {}
        for token in self._CANDIDATE.finditer(norm.text):
            word = token.group()
            if word in self._words:
                continue
            fix = self._lookup(word)
            if fix is not None:
                replacements[token.start()] = (token.end(), fix)
        return replace_words(norm, replacements) if replacements else norm

    def _lookup(self, word: str) -> str | None:
        candidates: set[str] = set()
        for variant in _deletions(word) | {word}:
            candidates |= self._deletes.get(variant, set())
        fits = sorted(
            c
            for c in candidates
            if c[0] == word[0] and _within_one_edit(word, c) and not _inflection(word, c)
        )
        return fits[0] if len(fits) == 1 else None


def _inflection(word: str, rule_word: str) -> bool:
    """A letter more or less at the end is another word form ("deadbeats", "sue" / "sues"),
    which a rule lists on purpose or not at all, not a slip."""
    return word[:-1] == rule_word or rule_word[:-1] == word


def _deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


def _within_one_edit(a: str, b: str) -> bool:
    if a == b:
        return True
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diffs = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diffs) == 1:
            return True
        i, j = diffs[0], diffs[-1]
        return len(diffs) == 2 and j == i + 1 and a[i] == b[j] and a[j] == b[i]
    short, long = sorted((a, b), key=len)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))
