"""Finds and masks PII in call transcripts before they are stored, exported or reviewed.

A debtor reads out a card number, a phone number or an ID on the call, and the
transcript must not keep it. What counts as PII (``docs/qa-redaction.md``): payment card
numbers, CVVs, US Social Security numbers, Chinese national IDs, phone numbers and bank
account numbers. Amounts, dates, times and reference numbers are not PII and are left
alone, because QA and the collector need them ("you agreed to pay $250 on March 15").

How. The text is cut into **digit runs**: consecutive digits, written ("4111 1111"),
spoken in English ("four one one one", "oh", "double five", "eight hundred") or in
Chinese ("幺三八零零", "两"), with the separators people and ASR put between groups
(spaces, dashes, dots, commas, "uh"). Each run keeps the span of the original text it
came from, so the placeholder replaces exactly the words that were said. A run is then
classified by its length and checksum (Luhn for cards, ISO 7064 MOD 11-2 and a birth
date for Chinese IDs, SSN area rules, phone numbering plans) and by the nearest context
cue ("card number", "安全码", "routing number", "reference number"): a checksum or a
phone shape is strong evidence on its own, while a CVV, a bank account or a spoken local
phone number is only a few digits and is redacted only where a cue says what it is. A
run next to a currency, a unit or a date marker, or just after an amount, date or
reference cue, is never redacted.

Everything here is pure string work (no model, no database) and cheap enough to run on
every segment: a text with fewer than three digits or digit words costs three scans
with simple regular expressions and nothing else.
"""

from __future__ import annotations

import bisect
import calendar
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Final, NamedTuple

import ahocorasick

ENTITY_TYPES: Final[tuple[str, ...]] = (
    "card_number",
    "cvv",
    "ssn",
    "cn_national_id",
    "phone",
    "bank_account",
)
LANGUAGES: Final[tuple[str, ...]] = ("en", "zh")


@dataclass(frozen=True, slots=True)
class Entity:
    """One piece of PII: its type (one of ``ENTITY_TYPES``) and its span in the original
    text, so ``text[start:end]`` is exactly what was said."""

    type: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Redacted:
    """The masked text, and what was masked with spans into the *input* text (a reviewer
    with the right to see PII can map a placeholder back to the original words)."""

    text: str
    entities: tuple[Entity, ...]


def placeholder(entity_type: str) -> str:
    """``[CARD_NUMBER]`` for ``card_number``: says what was removed, never what it was."""
    return f"[{entity_type.upper()}]"


def redact(text: str, language: str | None = None) -> Redacted:
    """``text`` with every PII entity replaced by its placeholder (see ``find_pii``)."""
    entities = find_pii(text, language)
    if not entities:
        return Redacted(text, ())
    parts: list[str] = []
    last = 0
    for entity in entities:
        parts.append(text[last : entity.start])
        parts.append(placeholder(entity.type))
        last = entity.end
    parts.append(text[last:])
    return Redacted("".join(parts), tuple(entities))


def find_pii(text: str, language: str | None = None) -> list[Entity]:
    """PII entities in ``text``, in order and never overlapping.

    ``language`` ("en", "zh" or ``None`` for both) chooses which spoken digits are read:
    English number words in English calls, Chinese numerals in Chinese calls. Context cues
    of both languages are always understood, since calls mix them.
    """
    if language is not None and language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r}; expected 'en', 'zh' or None")
    folded = _fold(text)
    tokens = _tokens(folded, language)
    if sum(len(t.digits) for t in tokens) < _MIN_DIGITS:
        return []
    runs = [run for run in _runs(folded, tokens) if _digit_count(run) >= _MIN_DIGITS]
    if not runs:
        return []
    context = _Context(folded, tokens)
    entities: list[Entity] = []
    for run in runs:
        entities.extend(_entities_of(run, folded, context))
    return entities


# --- digit tokens -------------------------------------------------------------------------

_MIN_DIGITS: Final = 3  # the shortest PII is a three-digit CVV
_ASCII_LOWER: Final = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _fold(text: str) -> str:
    """Lower case with every character where it was, so offsets stay valid; matching
    folded text without ``re.IGNORECASE`` is several times faster."""
    folded = text.lower()
    return folded if len(folded) == len(text) else text.translate(_ASCII_LOWER)


_EN_UNITS: Final = {
    "zero": "0",
    "oh": "0",
    "o": "0",
    "nought": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    "niner": "9",
}
_EN_TEENS: Final = {
    "ten": "10",
    "eleven": "11",
    "twelve": "12",
    "thirteen": "13",
    "fourteen": "14",
    "fifteen": "15",
    "sixteen": "16",
    "seventeen": "17",
    "eighteen": "18",
    "nineteen": "19",
}
_EN_TENS: Final = {
    "twenty": "2",
    "thirty": "3",
    "forty": "4",
    "fourty": "4",
    "fifty": "5",
    "sixty": "6",
    "seventy": "7",
    "eighty": "8",
    "ninety": "9",
}
_ZH_DIGITS: Final = "零〇一二三四五六七八九幺两"
_ZH_TO_ASCII: Final = str.maketrans(_ZH_DIGITS, "0012345678912")
_FULLWIDTH_TO_ASCII: Final = str.maketrans("０１２３４５６７８９", "0123456789")
# "oh", "o", "一" and "两" are also everyday words ("oh I see", "一下", "两个"), so a run
# that is not PII as a whole is tried again without such a token at either end.
_WEAK: Final = frozenset({"oh", "o", "一", "两"})


def _alternation(words: Iterable[str]) -> str:
    """A regex alternation of ``words``, longest first so "nineteen" wins over "nine"."""
    return "|".join(sorted(map(re.escape, words), key=len, reverse=True))


_UNIT_1_9: Final = _alternation(w for w, d in _EN_UNITS.items() if d != "0")
_WRITTEN: Final = re.compile(r"[0-9０-９]+")
_EN_WORD: Final = re.compile(
    r"(?<![a-z'])(?:"
    rf"(?P<rep>double|triple)[\s-]+(?P<repd>{_alternation(_EN_UNITS)}|[0-9])"
    rf"|(?P<hund>{_UNIT_1_9})\s+hundred"
    rf"|(?P<tens>{_alternation(_EN_TENS)})(?:[\s-]+(?P<tensu>{_UNIT_1_9}))?"
    rf"|(?P<teen>{_alternation(_EN_TEENS)})"
    rf"|(?P<unit>{_alternation(_EN_UNITS)})"
    r")(?![a-z'])"
)
_ZH_DIGITS_RE: Final = re.compile(f"[{_ZH_DIGITS}]+")
# Written amounts and ordinals are numbers, never digit strings: "1,250.00", "3.5", "15th".
_QUANTITY: Final = re.compile(
    r"[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?(?![0-9]|[.,][0-9])"
    r"|[0-9]+\.[0-9]{1,2}(?![0-9]|\.[0-9])"
    r"|[0-9]+(?:st|nd|rd|th)(?![a-z])"
)
_QUANTITY_NEXT: Final = frozenset(",.snrt")  # what may follow the first digits of one
# The check character that may end an 18-character Chinese ID: "X" written or "叉" said.
_CHECK_X: Final = re.compile(r"[ \t]?(?:x(?![a-z'])|叉)")


class _Token(NamedTuple):
    """A written digit group, number word or numeral, and the gap before it in its run (a
    named tuple: tokens are made by the thousand and tuples are the cheapest to make)."""

    start: int
    end: int
    digits: str
    kind: str  # "d" written digits, "w" English word, "c" Chinese numerals, "x", "q" amount
    gap: str = ""
    weak: bool = False

    def after(self, gap: str) -> _Token:
        return self._replace(gap=gap)


def _tokens(folded: str, language: str | None) -> list[_Token]:
    """Every digit token of the text in order: one scan each for written digits, English
    words and Chinese numerals (three simple scans beat one clever one)."""
    tokens: list[_Token] = []
    quantity_end = -1
    for match in _WRITTEN.finditer(folded):
        start, end = match.span()
        if start < quantity_end:
            continue
        if folded[end : end + 1] in _QUANTITY_NEXT and (q := _QUANTITY.match(folded, start)):
            tokens.append(_Token(start, q.end(), "", "q"))
            quantity_end = q.end()
            continue
        if _is_glued_to_letters(folded, start, end):  # "inv2026", "cvv2", "5pm": codes
            tokens.append(_Token(start, end, "", "q"))
            continue
        tokens.append(_Token(start, end, match[0].translate(_FULLWIDTH_TO_ASCII), "d"))
    mixed = False
    if language != "zh":
        for match in _EN_WORD.finditer(folded):
            word = match[0]
            tokens.append(
                _Token(match.start(), match.end(), _english_digits(match), "w", "", word in _WEAK)
            )
            mixed = True
    if language != "en":
        for match in _ZH_DIGITS_RE.finditer(folded):
            tokens.extend(_chinese_tokens(match))
            mixed = True
    if mixed:
        tokens.sort(key=lambda t: t.start)
    return tokens


def _is_glued_to_letters(folded: str, start: int, end: int) -> bool:
    """Digits written against a Latin letter belong to a code ("INV2026", "CVV2", "5pm"),
    except an ID's check letter ("…1002X")."""
    before = folded[start - 1] if start else ""
    after = folded[end : end + 1]
    if "a" <= before <= "z":
        return True
    return "a" <= after <= "z" and not (after == "x" and not _is_letter(folded, end + 1))


def _chinese_tokens(match: re.Match[str]) -> list[_Token]:
    """One token for adjacent numerals, with a weak "一" or "两" at either end split off so
    it can be dropped ("一下", "两个" next to a number)."""
    start, end = match.span()
    chars = match[0]
    digits = chars.translate(_ZH_TO_ASCII)
    head = 1 if chars[0] in _WEAK and len(chars) > 1 else 0
    tail = 1 if chars[-1] in _WEAK and len(chars) > 1 + head else 0
    tokens = []
    if head:
        tokens.append(_Token(start, start + 1, digits[0], "c", "", True))
    tokens.append(
        _Token(start + head, end - tail, digits[head : len(digits) - tail], "c", "", False)
    )
    if tail:
        tokens.append(_Token(end - 1, end, digits[-1], "c", "", True))
    if len(chars) == 1:
        tokens[0] = tokens[0]._replace(weak=chars in _WEAK)
    return tokens


def _english_digits(match: re.Match[str]) -> str:
    """What an English number phrase reads as when digits are dictated: "double five" is
    55, "eight hundred" 800, "forty one" 41, "oh" 0."""
    if rep := match["rep"]:
        said = match["repd"]
        return _EN_UNITS.get(said, said) * (2 if rep == "double" else 3)
    if hund := match["hund"]:
        return _EN_UNITS[hund] + "00"
    if tens := match["tens"]:
        unit = match["tensu"]
        return _EN_TENS[tens] + (_EN_UNITS[unit] if unit else "0")
    if teen := match["teen"]:
        return _EN_TEENS[teen]
    return _EN_UNITS[match[0]]


# --- digit runs ---------------------------------------------------------------------------

# What may stand between two digit groups of one number: spaces, dashes, dots, commas,
# slashes (dates, told apart later), brackets, hesitations and a spoken "dash".
_GAP: Final = re.compile(
    r"(?:[ \t\u00a0\-\u2010-\u2015\uff0d.,/()\uff08\uff09\u3001\uff0c\u00b7]"
    r"|(?<![a-z])(?:uh|um|uhm|er|erm|ah|hmm|dash|hyphen)(?![a-z])|[嗯呃啊杠])*"
)
_MAX_GAP: Final = 8
# A gap that ends a spoken phrase rather than a digit group: a comma, a full stop, a
# hesitation. A run that is not PII as a whole is split there and its parts tried.
_STRONG_GAP: Final = re.compile(r"[,\u3001\uff0c]|\.\s|[嗯呃啊]|uh|um|er|ah|hmm")

_Run = tuple[_Token, ...]


def _runs(folded: str, tokens: list[_Token]) -> Iterator[_Run]:
    """Digit runs in order: tokens joined only by separators. An amount ends a run and is
    dropped; a run of 17 digits takes a following check character ("X", "叉")."""
    run: list[_Token] = []
    for token in tokens:
        if run:
            gap = folded[run[-1].end : token.start]
            if token.kind != "q" and len(gap) <= _MAX_GAP and _GAP.fullmatch(gap):
                run.append(token.after(gap))
                continue
            yield _closed(run, folded)
            run = []
        if token.kind != "q":
            run.append(token)
    if run:
        yield _closed(run, folded)


def _closed(run: list[_Token], folded: str) -> _Run:
    if _digit_count(run) == 17 and (x := _CHECK_X.match(folded, run[-1].end)):
        gap = folded[run[-1].end : x.end() - 1]
        run.append(_Token(x.end() - 1, x.end(), "X", "x", gap))
    return tuple(run)


def _digit_count(tokens: Iterable[_Token]) -> int:
    return sum(len(t.digits) for t in tokens)


# --- candidates: a run, or a part of it, that may be one entity ---------------------------


class _Candidate(NamedTuple):
    """A run, or the part of one, that is classified as one entity or none."""

    tokens: _Run
    digits: str
    groups: tuple[int, ...]  # digits per written group, e.g. (3, 2, 4) for "123-45-6789"
    written: bool  # every token is written digits, so ``groups`` shows the formatting

    @classmethod
    def of(cls, tokens: _Run) -> _Candidate:
        groups: list[int] = []
        for token in tokens:
            if groups and not token.gap:
                groups[-1] += len(token.digits)
            else:
                groups.append(len(token.digits))
        return cls(
            tokens,
            "".join(t.digits for t in tokens),
            tuple(groups),
            all(t.kind in "dx" for t in tokens),
        )

    @property
    def start(self) -> int:
        return self.tokens[0].start

    @property
    def end(self) -> int:
        return self.tokens[-1].end

    @property
    def gaps(self) -> str:
        return "".join(t.gap for t in self.tokens[1:])


def _entities_of(run: _Run, folded: str, context: _Context) -> list[Entity]:
    """The entity a run is, or failing that, the entities of its phrase-sized parts
    ("卡号 6222 …，345" read as one run is a card number, then something else)."""
    found = _first_entity(run, folded, context)
    if found is not None:
        return [found]
    pieces = _split_at_strong_gaps(run)
    if len(pieces) == 1:
        return []
    entities: list[Entity] = []
    for piece in pieces:
        if _digit_count(piece) >= _MIN_DIGITS:
            entity = _first_entity(piece, folded, context)
            if entity is not None:
                entities.append(entity)
    return entities


def _first_entity(run: _Run, folded: str, context: _Context) -> Entity | None:
    for variant in _variants(run):
        candidate = _Candidate.of(variant)
        kind = _classify(candidate, folded, context)
        if kind is not None:
            start, end = _span(kind, candidate, folded)
            return Entity(kind, start, end)
    return None


def _variants(run: _Run) -> Iterator[_Run]:
    """The run itself, then without a trailing check letter, then without weak words at
    its ends ("oh", "一"), which are as often interjections as digits."""
    bases = [run]
    if run[-1].kind == "x":
        bases.append(run[:-1])
    for base in bases:
        yield base
        head = 1 if base[0].weak else 0
        tail = 1 if len(base) > 1 and base[-1].weak else 0
        for first, last in sorted({(head, 0), (0, tail), (head, tail)} - {(0, 0)}):
            trimmed = base[first : len(base) - last]
            if _digit_count(trimmed) >= _MIN_DIGITS:
                yield (trimmed[0].after(""), *trimmed[1:])


def _split_at_strong_gaps(run: _Run) -> list[_Run]:
    pieces: list[list[_Token]] = [[]]
    for token in run:
        if pieces[-1] and _STRONG_GAP.search(token.gap):
            pieces.append([])
            token = token.after("")
        pieces[-1].append(token)
    return [tuple(p) for p in pieces]


def _span(kind: str, candidate: _Candidate, folded: str) -> tuple[int, int]:
    """The candidate's span; a phone number also takes its "+" and opening bracket."""
    start, end = candidate.start, candidate.end
    if kind == "phone":
        if start and folded[start - 1] in "(（" and re.search(r"[)）]", candidate.gaps):
            start -= 1
        if plus := _PLUS_BEFORE.search(folded, max(0, start - 8), start):
            start = plus.start()
    return start, end


# --- classification -----------------------------------------------------------------------


def _classify(candidate: _Candidate, folded: str, context: _Context) -> str | None:
    """The entity type of a candidate, or ``None`` when it is not PII.

    Checksummed and well-shaped numbers stand on their own (a Luhn-valid number with a card
    prefix, an ID with its check digit, a mobile number); short or unchecked ones need a
    cue (a CVV, a bank account, a spoken local number). A cue that says "amount", "date"
    or "reference" overrules everything, and so do a currency or a unit beside the number.
    """
    digits = candidate.digits
    size = len(digits)
    if _is_amount_date_or_time(candidate, folded):
        return None
    where = context.category(candidate.start, candidate.end)
    if where in _VETO:
        return None
    if digits.endswith("X"):
        return "cn_national_id" if _is_cn_id(digits) else None
    if where == "card" and 13 <= size <= 19 and digits[0] != "0" and _luhn(digits):
        return "card_number"
    if where == "cvv" and size in (3, 4) and context.claim_cvv_cue(candidate.start, candidate.end):
        return "cvv"
    if size == 18 and _is_cn_id(digits):
        return "cn_national_id"
    if size == 15 and where == "id" and _is_old_cn_id(digits):
        return "cn_national_id"
    if where == "account" and 8 <= size <= 20:
        return "bank_account"
    if where == "ssn" and size == 9 and _is_ssn(digits):
        return "ssn"
    if where == "phone" and 7 <= size <= 15:
        return "phone"
    plus = _PLUS_BEFORE.search(folded, max(0, candidate.start - 9), candidate.start)
    if _is_phone(digits, plus is not None):
        return "phone"
    if 13 <= size <= 19 and _luhn(digits) and _is_card_prefix(digits):
        return "card_number"
    if where is None and candidate.written and candidate.groups == (3, 2, 4) and _is_ssn(digits):
        return "ssn"
    return None


_PLUS_BEFORE: Final = re.compile(r"(?:[+\uff0b]|(?<![a-z])plus\s)\s?[(（]?$")
_CURRENCY_BEFORE: Final = re.compile(
    r"(?:[$¥￥€£]|(?<![a-z])(?:usd|rmb|hkd|us\$|hk\$)|人民币|美元|港币)\s?$"
)
_UNIT_AFTER: Final = re.compile(
    r"\s?(?:(?:dollars?|bucks|cents?|usd|rmb|yuan|kuai|euros?|pounds?|percent|per cent"
    r"|hundred|thousand|million|billion|grand|k|o'?clock|a\.?m\.?|p\.?m\.?"
    r"|(?:a |an |per |each |every |/)?(?:days?|weeks?|months?|years?|yrs?)"
    r"|hours?|hrs?|minutes?|mins?|seconds?|times)"
    r"(?![a-z])"
    r"|[%$¥￥元块圆角毛万千百亿刀年月日号点分秒岁天周次个期])"
)
_DATE_SEPARATORS: Final = frozenset("-. \u2010\u2011\u2012\u2013\u2014\uff0d")


def _is_amount_date_or_time(candidate: _Candidate, folded: str) -> bool:
    """Digits that belong to an amount ("$1250", "1250 dollars", "3000块"), a date
    ("2026-03-15", "03/15/2026", "二零二六年") or a time ("10:30")."""
    start, end = candidate.start, candidate.end
    if _CURRENCY_BEFORE.search(folded, max(0, start - 6), start):
        return True
    if _UNIT_AFTER.match(folded, end):
        return True
    if "/" in candidate.gaps:
        return True  # dates and fractions: "03/15/2026", "08/27"
    if folded[start - 1 : start] == ":" or folded[end : end + 1] == ":":
        return True  # a clock time, "10:30"
    return candidate.written and _is_written_date(candidate)


def _is_written_date(candidate: _Candidate) -> bool:
    """Three written groups that read as a calendar date: 2026-03-15, 03.15.2026."""
    groups = candidate.groups
    if len(groups) != 3 or not set(candidate.gaps) <= _DATE_SEPARATORS:
        return False
    first = candidate.digits[: groups[0]]
    second = candidate.digits[groups[0] : groups[0] + groups[1]]
    third = candidate.digits[groups[0] + groups[1] :]
    if groups[0] == 4 and groups[1] <= 2 and groups[2] <= 2:
        return _is_date(int(first), int(second), int(third))
    if groups[2] == 4 and groups[0] <= 2 and groups[1] <= 2:
        year = int(third)
        return _is_date(year, int(first), int(second)) or _is_date(year, int(second), int(first))
    return False


def _is_date(year: int, month: int, day: int) -> bool:
    return (
        1900 <= year <= 2099
        and 1 <= month <= 12
        and 1 <= day <= calendar.monthrange(year, month)[1]
    )


# --- checksums and numbering plans --------------------------------------------------------


def _luhn(digits: str) -> bool:
    """The Luhn mod-10 check every payment card number carries in its last digit."""
    if not digits.isdigit():
        return False
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _is_card_prefix(digits: str) -> bool:
    """A card number of a real scheme, by its leading digits and its length (Visa,
    Mastercard, Amex, UnionPay, Discover, JCB, Diners, Maestro)."""
    size = len(digits)
    two = int(digits[:2])
    if digits[0] == "4":
        return size in (13, 16, 19)
    if two in (34, 37):
        return size == 15
    if 51 <= two <= 55 or 2221 <= int(digits[:4]) <= 2720:
        return size == 16
    if two in (30, 36, 38, 39):
        return 14 <= size <= 19
    return two in (35, 50, 56, 57, 58, 60, 62, 63, 64, 65, 67) and 16 <= size <= 19


_CN_ID_WEIGHTS: Final = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CN_ID_CHECK: Final = "10X98765432"
# First two digits: the province-level region (GB/T 2260), plus 83 (Taiwan residents)
# and 91 (foreigners' permanent residence IDs use a separate scheme, kept for safety).
_CN_REGIONS: Final = frozenset(
    [
        *range(11, 16),
        *range(21, 24),
        *range(31, 38),
        *range(41, 47),
        *range(50, 55),
        *range(61, 66),
        *(71, 81, 82, 83, 91),
    ]
)


def _is_cn_id(digits: str) -> bool:
    """An 18-character resident ID: region, birth date, and the ISO 7064 MOD 11-2 check
    character (0-9 or X) over the first 17 digits."""
    if len(digits) != 18 or not digits[:17].isdigit():
        return False
    if int(digits[:2]) not in _CN_REGIONS:
        return False
    if not _is_date(int(digits[6:10]), int(digits[10:12]), int(digits[12:14])):
        return False
    total = sum(int(d) * w for d, w in zip(digits[:17], _CN_ID_WEIGHTS, strict=True))
    return _CN_ID_CHECK[total % 11] == digits[17]


def _is_old_cn_id(digits: str) -> bool:
    """The 15-digit ID issued before 1999: region and a 19yy birth date, no check digit."""
    return (
        digits.isdigit()
        and int(digits[:2]) in _CN_REGIONS
        and _is_date(1900 + int(digits[6:8]), int(digits[8:10]), int(digits[10:12]))
    )


def _is_ssn(digits: str) -> bool:
    """An SSN the SSA could have issued: area not 000, 666 or 900-999, group not 00,
    serial not 0000."""
    return (
        digits.isdigit()
        and digits[:3] not in ("000", "666")
        and digits[0] != "9"
        and digits[3:5] != "00"
        and digits[5:] != "0000"
    )


def _is_phone(digits: str, plus: bool) -> bool:
    """A number shaped like a phone number without any words saying so: US/NANP (+1),
    a Chinese mobile (+86) or landline with its area code, or anything after a "+"."""
    size = len(digits)
    if not digits.isdigit():
        return False
    if plus:
        return 8 <= size <= 15
    if size == 10:
        return _is_nanp(digits)
    if size == 11:
        return (
            (digits[0] == "1" and _is_nanp(digits[1:]))
            or _is_cn_mobile(digits)
            or _is_cn_landline(digits)
        )
    if size == 12:
        return _is_cn_landline(digits)
    if size == 13:
        return digits.startswith("86") and _is_cn_mobile(digits[2:])
    if size == 15:
        return digits.startswith("0086") and _is_cn_mobile(digits[4:])
    return False


def _is_nanp(digits: str) -> bool:
    """NXX-NXX-XXXX: area code and exchange start with 2-9, and no N11 area code."""
    return digits[0] in "23456789" and digits[3] in "23456789" and digits[1:3] != "11"


def _is_cn_mobile(digits: str) -> bool:
    return len(digits) == 11 and digits[0] == "1" and digits[1] in "3456789"


def _is_cn_landline(digits: str) -> bool:
    """0 + area code + subscriber: 010/02x and 8 digits, or 0xxx and 7-8 digits."""
    if digits[0] != "0" or digits[1] == "0":
        return False
    return len(digits) == 11 if digits[1] in "12" else len(digits) in (11, 12)


# --- context cues -------------------------------------------------------------------------

# Per category, cue phrases in English (matched as whole words, lower case) and Chinese.
# "{a|b|}" spells alternatives (the empty one drops the part); a trailing "*" lets the
# word go on ("expir*" is "expires", "expiry", "expiration"). Where cues overlap, the
# longest wins ("card verification code" is a CVV cue, not a card cue), then the earlier
# category. The nearest cue before a number decides, within its reach.
_CUES: Final[dict[str, tuple[str, ...]]] = {
    "partial": (
        "last {four|4|two|2|five|5|six|6}{ digits|}",
        "first {six|6}{ digits|}",
        "{end|ends|ending} {in|with}",
        "尾号",
        "{后|末|最后}{四|两|4|2}位",
        "前六位",
    ),
    "cvv": (
        "{cvv|cvc}{ 2|2|}",
        "cid",
        "csc",
        "card verification{ value| code| number|}",
        "verification {code|number|value}",
        "security {code|number}",
        "{three|3|four|4}{ |-}digit{s|}{ security|} {code|number}",
        "{three|3} digits on the back",
        "{on|at} the back{ of {the|your|my|this} card|}",
        "back of {the|your|my|this} card",
        "{cvv|cvc}码",
        "安全{码|代码}",
        "{卡|卡片|卡的}{背面|背后|验证码}",
        "背面",
        "校验码",
        "验证码",
    ),
    "date": (
        "expir*",
        "exp{.|iry|} date",
        "{valid|good} {thru|through|until}",
        "date of birth",
        "dob",
        "born{ on| in|}",
        "birthday",
        "date",
        "dated",
        "有效期",
        "到期",
        "过期",
        "出生",
        "生日",
        "日期",
    ),
    "ssn": (
        "social security{ number| no| no.| #|}",
        "social{ number|}",
        "ssn",
        "ss{ |}{number|no|#}",
        "社会安全号{码|}",
        "社安号",
    ),
    "id": (
        "{national |resident |chinese |citizen |}{id|identity|identification}"
        "{ card|} {number|no|no.|#}",
        "{national |resident |chinese |}{id|identity} card",
        "national id",
        "身份证{件|}{号码|号|}",
        "证件号{码|}",
        "公民身份号码",
    ),
    "reference": (
        "{reference|ref}{ number| no| no.| #| code|}",
        "case{ number| no| no.| #| id|}",
        "file {number|no|no.|#}",
        "invoice{ number| no| no.| #|}",
        "order {number|no|no.|#|id}",
        "ticket{ number| no| no.| #|}",
        "confirmation{ number| no| no.| code| #|}",
        "claim {number|no|no.|id|#}",
        "policy{ number| no| no.| #|}",
        "transaction{ id| number| no| no.| #|}",
        "tracking{ number| no| no.| #|}",
        "receipt{ number| no| no.| #|}",
        "{member|membership|customer|client|employee|agent|badge|loan|contract|serial|model"
        "|batch|payment|authorization|authorisation|approval|dispute|complaint|debt}"
        " {id|number|no|no.|#|code|reference}",
        "zip{ code|}",
        "{postal|post} code",
        "postcode",
        "extension",
        "ext{.|}",
        "案件{编号|号|}",
        "案号",
        "编号",
        "订单{号|}",
        "单号",
        "工单",
        "流水号",
        "合同{编号|号}",
        "{参考|回执|凭证|发票|批次|借据|交易|客户|会员|受理|申请|序列}号",
        "客户编号",
        "发票",
        "邮编",
        "邮政编码",
        "工号",
        "快递",
        "分机",
        "确认码",
    ),
    "phone": (
        "{cell|mobile|home|work|office|contact|callback|call back|best|daytime|telephone"
        "|phone} {phone |}number",
        "phone",
        "cell{ phone|phone|}",
        "mobile",
        "telephone",
        "tel",
        "landline",
        "fax",
        "whatsapp",
        "{call|reach|text} {me|us|him|her|them} {at|on}",
        "text {me|us}",
        "{my|your|his|her|their} number",
        "number to {call|reach}",
        "dial",
        "电话{号码|}",
        "手机{号码|号|}",
        "联系{方式|电话}",
        "座机",
        "固话",
        "打给我",
        "打我",
        "拨打",
        "来电",
        "致电",
        "微信{号|}",
    ),
    "account": (
        "{bank |checking |savings |deposit |}account {number|no|no.|#}",
        "acct{.| number| no| no.| #|}",
        "bank account",
        "checking{ account|}",
        "savings{ account|}",
        "routing{ number| no| no.| #|}",
        "aba{ number|}",
        "sort code",
        "iban",
        "银行{账|帐}{号|户}",
        "{账|帐}{号|户}",
        "户号",
        "开户行",
        "存折",
        "收款{账|帐}",
        "对公{账|帐}",
    ),
    "card": (
        "{credit|debit|bank|visa|mastercard|master card|amex|discover|atm|payment|prepaid}"
        " card{ number| no| no.| #|}",
        "card{ number| no| no.| #|}",
        "visa",
        "master{ |}card",
        "amex",
        "american express",
        "discover",
        "union{ |}pay",
        "jcb",
        "diners{ club|}",
        "{信用|银行|储蓄|借记|}卡{号|}",
        "银联",
        "这张卡",
        "卡片",
    ),
    "money": (
        "balance",
        "amount",
        "total",
        "owe{s|d|}",
        "outstanding",
        "principal",
        "interest",
        "fee{s|}",
        "payoff",
        "pay{ing|}",
        "paid",
        "payment{s|} of",
        "余额",
        "金额",
        "欠{款|了|}",
        "本金",
        "利息",
        "{总|一}共",
        "合计",
        "还款",
        "付了",
        "罚息",
        "滞纳金",
    ),
}
_VETO: Final = frozenset({"partial", "date", "reference", "money"})
# How far a cue reaches, in characters from its end to the number, by (English cue, veto
# cue). Chinese packs a word into one or two characters, so its reach is shorter; a cue
# that vetoes reaches less far than one that identifies, so "case number 20260315, call
# me back at 4155550134" still finds the phone number. A cue after the number counts
# only close by ("123 is the cvv"). The rest of the rules: ``_Context._nearest``.
_REACH: Final = {(True, False): 64, (True, True): 32, (False, False): 24, (False, True): 12}
_REACH_AFTER: Final = {True: 20, False: 8}
_MAX_REACH: Final = max(_REACH.values())


def _expand(template: str) -> list[str]:
    """``"card{ number|}"`` -> ``["card number", "card"]``; braces may nest."""
    phrases = [""]
    at = 0
    while at < len(template):
        if template[at] != "{":
            phrases = [p + template[at] for p in phrases]
            at += 1
            continue
        close = _closing_brace(template, at)
        options = [o for part in _top_level_parts(template[at + 1 : close]) for o in _expand(part)]
        phrases = [p + o for p in phrases for o in options]
        at = close + 1
    return phrases


def _closing_brace(template: str, opening: int) -> int:
    depth = 0
    for index in range(opening, len(template)):
        depth += {"{": 1, "}": -1}.get(template[index], 0)
        if depth == 0:
            return index
    raise ValueError(f"unbalanced braces in cue {template!r}")


def _top_level_parts(body: str) -> list[str]:
    """``"a|b{c|d}|"`` -> ``["a", "b{c|d}", ""]``."""
    parts, depth, start = [], 0, 0
    for index, char in enumerate(body):
        depth += {"{": 1, "}": -1}.get(char, 0)
        if char == "|" and depth == 0:
            parts.append(body[start:index])
            start = index + 1
    parts.append(body[start:])
    return parts


def _cue_automaton() -> ahocorasick.Automaton:
    """Every cue phrase in one automaton: one pass over the text finds them all, leftmost
    and longest first."""
    automaton = ahocorasick.Automaton()
    for category, templates in _CUES.items():
        for template in templates:
            for phrase in _expand(template):
                prefix = phrase.endswith("*")
                key = phrase.rstrip("*")
                if key not in automaton:
                    automaton.add_word(key, (category, len(key), key.isascii(), prefix))
    automaton.make_automaton()
    return automaton


_CUE_AUTOMATON: Final = _cue_automaton()


class _Context:
    """The context cues of one text, found once, looked up per number."""

    __slots__ = ("_claimed", "_cues", "_ends", "_numbers", "_starts")

    def __init__(self, folded: str, tokens: list[_Token]) -> None:
        cues: list[tuple[int, int, str, bool]] = []
        for last, (category, length, english, prefix) in _CUE_AUTOMATON.iter_long(folded):
            start, end = last + 1 - length, last + 1
            if english and (
                _is_letter(folded, start - 1) or (not prefix and _is_letter(folded, end))
            ):
                continue  # "tel" in "hotel", "card" in "cardinal"
            cues.append((start, end, category, english))
        self._cues = cues
        self._starts = [c[0] for c in cues]
        self._ends = [c[1] for c in cues]
        self._claimed: set[int] = set()
        self._numbers = [t.start for t in tokens]

    def category(self, start: int, end: int) -> str | None:
        """The category of the cue nearest to the number (``start``-``end``), or ``None``."""
        index = self._nearest(start, end)
        return None if index is None else self._cues[index][2]

    def claim_cvv_cue(self, start: int, end: int) -> bool:
        """One CVV per cue: in "cvv 123, and I can do 250 on Friday" the 250 is money.
        True the first time it is asked for the cue nearest to the number."""
        index = self._nearest(start, end)
        if index is None:
            return True
        if index in self._claimed:
            return False
        self._claimed.add(index)
        return True

    def _nearest(self, start: int, end: int) -> int | None:
        """The cue that speaks about the number at ``start``-``end``, if any.

        Usually the nearest cue before it that reaches it. A cue that vetoes names one
        number only: in "born on 1985-03-12 and it's 078-05-1120" the date cue is spent on
        the date. A cue right after the number wins when it is nearer and names it ("卡号
        6222…，345是安全码": the 345 is a CVV), but not when another number follows that
        cue ("手机号 139…，银行账号 6228…": the account cue is the next number's), and a
        vetoing cue after the number counts only when there is none before it.
        """
        before = None
        index = bisect.bisect_right(self._ends, start) - 1
        while index >= 0:
            _, cue_end, category, english = self._cues[index]
            distance = start - cue_end
            if distance > _MAX_REACH:
                break
            veto = category in _VETO
            if distance <= _REACH[english, veto] and not (
                veto and self._number_between(cue_end, start)
            ):
                before = index
                break
            index -= 1
        after = bisect.bisect_left(self._starts, end)
        if after < len(self._cues):
            cue_start, cue_end, category, english = self._cues[after]
            gap = cue_start - end
            veto = category in _VETO
            if (
                gap <= _REACH_AFTER[english]
                and not self._number_between(cue_end, cue_end + _REACH[english, veto] + 1)
                and (before is None or (not veto and gap < start - self._cues[before][1]))
            ):
                return after
        return before

    def _number_between(self, start: int, end: int) -> bool:
        index = bisect.bisect_left(self._numbers, start)
        return index < len(self._numbers) and self._numbers[index] < end


def _is_letter(folded: str, index: int) -> bool:
    return 0 <= index < len(folded) and "a" <= folded[index] <= "z"
