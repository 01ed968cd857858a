"""Text normalisation shared by QA rules and intent cues.

Phrases and transcripts go through the same folding so that "You'll go to JAIL!" matches
the phrase "you will go to jail" and "會被判刑" matches "会被判刑". Every normalised
character remembers the span of the original text it came from, because a QA reviewer
must see the words that were actually said, not our folded copy of them.

English: NFKC, casefold, curly quotes folded, contractions expanded ("won't" -> "will
not", "can't"/"cannot" -> "can not"), punctuation turned into single spaces. Phrases
match whole-word sequences, so variants ("arrest", "arrested") are listed explicitly.

Chinese: NFKC (full-width -> half-width), casefold, Traditional -> Simplified (OpenCC
t2s), punctuation and spaces dropped; phrases match on characters.

Negation (``is_negated``) is deliberately narrow: a cue must sit just before the phrase,
in the same clause, with nothing in between that starts a new clause ("if you do not pay
we will send the police" is a threat, "we will not call your employer" is not).
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import opencc

Language = Literal["en", "zh"]
LANGUAGES: tuple[Language, ...] = ("en", "zh")

_QUOTES = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201b": "'",
        "\u02bc": "'",
        "\u2032": "'",
        "`": "'",
        "\u00b4": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
    }
)
# Marks that end a clause / a sentence (after NFKC, so full-width forms are already folded).
_CLAUSE_MARKS = frozenset(
    ",.;:!?()[]{}\u2014\u2013\u3001\u3002\u300c\u300d\u300e\u300f\u3010\u3011"
)
_SENTENCE_MARKS = frozenset(".;!?\u3002")
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")

# Whole-token contractions and common apostrophe-less ASR spellings.
_CONTRACTIONS: dict[str, str] = {
    "won't": "will not",
    "can't": "can not",
    "cannot": "can not",
    "shan't": "shall not",
    "ain't": "is not",
    "i'm": "i am",
    "let's": "let us",
    "y'all": "you all",
    "gonna": "going to",
    "wanna": "want to",
    "gotta": "got to",
    "it's": "it is",
    "that's": "that is",
    "he's": "he is",
    "she's": "she is",
    "there's": "there is",
    "here's": "here is",
    "what's": "what is",
    "who's": "who is",
    "where's": "where is",
    "how's": "how is",
    "dont": "do not",
    "didnt": "did not",
    "doesnt": "does not",
    "isnt": "is not",
    "arent": "are not",
    "wasnt": "was not",
    "werent": "were not",
    "cant": "can not",
    "wont": "will not",
    "couldnt": "could not",
    "wouldnt": "would not",
    "shouldnt": "should not",
    "havent": "have not",
    "hasnt": "has not",
    "hadnt": "had not",
    "im": "i am",
    "ive": "i have",
    "youre": "you are",
    "youll": "you will",
    "theyre": "they are",
    "theyll": "they will",
    "thats": "that is",
    "whats": "what is",
}
# Suffix contractions; a bare "'s" is a possessive and is dropped ("sheriff's" -> "sheriff").
_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("n't", " not"),
    ("'ll", " will"),
    ("'re", " are"),
    ("'ve", " have"),
    ("'d", " would"),
    ("'m", " am"),
    ("'s", ""),
)


@dataclass(frozen=True, slots=True)
class Normalized:
    """Folded text plus, per folded character, the original span and clause it came from."""

    original: str
    language: Language
    text: str
    starts: tuple[int, ...]
    ends: tuple[int, ...]
    clauses: tuple[int, ...]
    sentences: tuple[int, ...]

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """Map a half-open span of ``text`` back to a half-open span of ``original``."""
        return self.starts[start], self.ends[end - 1]


def language_of(code: str | None) -> Language | None:
    """Map a language tag ("en-US", "zh-TW", "cmn") to ours; None when unknown, so callers
    try every language rather than silently judging nothing."""
    if not code:
        return None
    tag = code.strip().lower().replace("_", "-")
    if tag.startswith("en"):
        return "en"
    if tag.startswith(("zh", "cmn", "yue")):
        return "zh"
    return None


def languages_for(code: str | None) -> tuple[Language, ...]:
    """The languages to try for a tag: the one it names, or all when unknown."""
    language = language_of(code)
    return (language,) if language else LANGUAGES


def normalize(text: str, language: Language) -> Normalized:
    if language == "en":
        return _normalize_english(text)
    return _normalize_chinese(text)


def normalize_phrase(phrase: str, language: Language) -> str:
    """A rule or cue phrase folded exactly like transcripts are, so both sides agree."""
    return normalize(phrase, language).text


def _fold_chars(text: str) -> tuple[str, list[int]]:
    """NFKC + casefold + quote folding per character, keeping each output char's origin."""
    chars: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        for folded in unicodedata.normalize("NFKC", char).casefold().translate(_QUOTES):
            chars.append(folded)
            origin.append(index)
    return "".join(chars), origin


def _expand(token: str) -> str:
    if token in _CONTRACTIONS:
        return _CONTRACTIONS[token]
    for suffix, replacement in _SUFFIXES:
        if token.endswith(suffix) and len(token) > len(suffix):
            return _expand(token[: -len(suffix)]) + replacement
    return token.replace("'", "")


def _breaks(folded: str) -> tuple[list[int], list[int]]:
    """Clause and sentence number of every folded character.

    A comma or point between digits ("1,234.50") is part of a number, not a break.
    """
    clauses: list[int] = []
    sentences: list[int] = []
    clause = sentence = 0
    for index, char in enumerate(folded):
        if char in _CLAUSE_MARKS and not _inside_number(folded, index):
            clause += 1
            if char in _SENTENCE_MARKS:
                sentence += 1
        clauses.append(clause)
        sentences.append(sentence)
    return clauses, sentences


def _inside_number(folded: str, index: int) -> bool:
    return (
        folded[index] in ",."
        and 0 < index < len(folded) - 1
        and folded[index - 1].isdigit()
        and folded[index + 1].isdigit()
    )


class _Builder:
    """Accumulates normalised characters with their original spans and clause ids."""

    def __init__(self) -> None:
        self.chars: list[str] = []
        self.starts: list[int] = []
        self.ends: list[int] = []
        self.clauses: list[int] = []
        self.sentences: list[int] = []

    def add(self, char: str, start: int, end: int, where: tuple[int, int]) -> None:
        self.chars.append(char)
        self.starts.append(start)
        self.ends.append(end)
        self.clauses.append(where[0])
        self.sentences.append(where[1])

    def build(self, original: str, language: Language) -> Normalized:
        return Normalized(
            original=original,
            language=language,
            text="".join(self.chars),
            starts=tuple(self.starts),
            ends=tuple(self.ends),
            clauses=tuple(self.clauses),
            sentences=tuple(self.sentences),
        )


def _normalize_english(text: str) -> Normalized:
    folded, origin = _fold_chars(text)
    clauses, sentences = _breaks(folded)
    out = _Builder()
    for match in _WORD.finditer(folded):
        where = clauses[match.start()], sentences[match.start()]
        _add_english_token(out, match, origin, where)
    return out.build(text, "en")


def _add_english_token(
    out: _Builder, match: re.Match[str], origin: list[int], where: tuple[int, int]
) -> None:
    token = match.group()
    expanded = _expand(token)
    token_start, token_end = origin[match.start()], origin[match.end() - 1] + 1
    for word in expanded.split():
        if out.chars:
            out.add(" ", out.ends[-1], out.ends[-1], where)
        if expanded == token:  # untouched: map character by character
            for offset, char in enumerate(word):
                source = origin[match.start() + offset]
                out.add(char, source, source + 1, where)
        else:  # rewritten: every character points at the whole original token
            for char in word:
                out.add(char, token_start, token_end, where)


def replace_words(norm: Normalized, replacements: Mapping[int, tuple[int, str]]) -> Normalized:
    """``norm`` with folded words swapped (``start -> (end, new word)``); like an expanded
    contraction, every new character points at the whole original word."""
    out = _Builder()
    text, index = norm.text, 0
    while index < len(text):
        where = norm.clauses[index], norm.sentences[index]
        if index in replacements:
            end, word = replacements[index]
            for char in word:
                out.add(char, norm.starts[index], norm.ends[end - 1], where)
            index = end
        else:
            out.add(text[index], norm.starts[index], norm.ends[index], where)
            index += 1
    return out.build(norm.original, norm.language)


_thread_local = threading.local()


def _t2s() -> opencc.OpenCC:
    """One converter per thread: live calls analyse segments in worker threads, and the
    OpenCC binding does not promise that a shared converter is safe across them."""
    converter = getattr(_thread_local, "t2s", None)
    if converter is None:
        converter = _thread_local.t2s = opencc.OpenCC("t2s")
    return converter


def _simplify(folded: str) -> str:
    """Traditional -> Simplified without changing length, so offsets stay aligned."""
    converted = str(_t2s().convert(folded))
    if len(converted) == len(folded):
        return converted
    per_char = (str(_t2s().convert(char)) for char in folded)
    return "".join(new if len(new) == 1 else old for old, new in zip(folded, per_char, strict=True))


def _normalize_chinese(text: str) -> Normalized:
    folded, origin = _fold_chars(text)
    simplified = _simplify(folded)
    clauses, sentences = _breaks(simplified)
    out = _Builder()
    for index, (char, source) in enumerate(zip(simplified, origin, strict=True)):
        if unicodedata.category(char)[0] not in "PZC":
            out.add(char, source, source + 1, (clauses[index], sentences[index]))
    return out.build(text, "zh")


# --- negation -------------------------------------------------------------------------

_EN_WINDOW = 4
_EN_CUES = frozenset({"not", "never", "nobody", "neither"})
# "not kidding", "don't make me", "won't hesitate": "not" that does not negate what follows.
_EN_PSEUDO_AFTER_NOT = frozenset(
    {"kidding", "joking", "playing", "messing", "only", "just", "make", "force", "let", "hesitate"}
)
# A subject or a conjunction between cue and phrase starts another clause:
# "if you do not pay [we] will send the police".
_EN_SUBJECTS = frozenset({"i", "we", "you", "he", "she", "they", "someone", "somebody"})
_EN_BREAKERS = frozenset(
    ["if", "unless", "or", "otherwise", "but", "then", "so", "because", "until"]
)

_ZH_CUES = ("绝不", "并不", "不会", "不能", "没有", "从未", "不", "没")
# Words that contain a cue but do not negate: "不过" (but), "不停" (non-stop), "不得不" (must),
# and A-not-A questions ("能不能分期" asks for installments).
_ZH_PSEUDO = tuple(
    [
        "能不能",
        "是不是",
        "会不会",
        "要不要",
        "可不可以",
        "有没有",
        "行不行",
        "好不好",
        "对不对",
        "肯不肯",
        "愿不愿意",
        "不过",
        "不管",
        "不然",
        "要不",
        "不仅",
        "不但",
        "不得不",
        "不好意思",
        "不如",
        "不只",
        "不光",
        "不停",
        "不断",
        "不少",
        "不久",
        "没关系",
        "没事",
        "没错",
        "没准",
    ]
)
# What may stand between a Chinese cue and the phrase it governs: "不会[主动]告诉你的同事".
_ZH_FILLERS = tuple(
    sorted(
        [
            "会",
            "要",
            "去",
            "再",
            "能",
            "可能",
            "可以",
            "是",
            "都",
            "也",
            "真的",
            "一定",
            "主动",
            "随便",
            "轻易",
            "擅自",
            "随意",
            "私自",
        ],
        key=len,
    )[::-1]
)
# The 把/将 construction moves the object before the verb: "不会把这件事告诉你的同事".
_ZH_BA = ("把", "将")
_ZH_BA_MAX_GAP = 10
# Conditionals, contrasts and a new subject end a negation's reach: "你不还钱我们就告诉…".
_ZH_BREAKERS = tuple(
    ["就", "否则", "的话", "那么", "但是", "可是", "如果", "要是", "我们", "他们", "你们"]
)


def is_negated(norm: Normalized, start: int) -> bool:
    """Whether a negation cue governs the phrase that starts at ``start`` in ``norm.text``."""
    if norm.language == "en":
        return _english_negated(norm, start)
    return _chinese_negated(norm, start)


def _english_negated(norm: Normalized, start: int) -> bool:
    rest = norm.text[start:].split(" ", 1)
    first_word = rest[0]
    if first_word in _EN_SUBJECTS:  # the phrase brings its own subject: a clause of its own
        return False
    clause = norm.clauses[start]
    before = [(m.group(), m.start()) for m in re.finditer(r"\S+", norm.text[:start])]
    window = before[-_EN_WINDOW:]
    for index in range(len(window) - 1, -1, -1):
        word, position = window[index]
        if norm.clauses[position] != clause:
            return False
        following = window[index + 1][0] if index + 1 < len(window) else first_word
        if _is_english_cue(window, index) and following not in _EN_PSEUDO_AFTER_NOT:
            return True
        if word in _EN_SUBJECTS or word in _EN_BREAKERS:
            return False
    return False


def _is_english_cue(window: list[tuple[str, int]], index: int) -> bool:
    word = window[index][0]
    if word in _EN_CUES:
        return True
    return word == "one" and index > 0 and window[index - 1][0] == "no"


def _chinese_negated(norm: Normalized, start: int) -> bool:
    text = norm.text
    clause = norm.clauses[start]
    for cue_end in range(start, max(0, start - _ZH_BA_MAX_GAP) - 1, -1):
        if cue_end < start and norm.clauses[cue_end] != clause:
            return False
        cue = _zh_cue_ending_at(text, cue_end)
        if cue is None or norm.clauses[cue_end - 1] != clause:
            continue
        if _zh_pseudo_covers(text, cue_end - len(cue), cue_end):
            continue
        if _zh_gap_allows(text[cue_end:start]):
            return True
    return False


def _zh_cue_ending_at(text: str, end: int) -> str | None:
    return next((cue for cue in _ZH_CUES if text.endswith(cue, 0, end)), None)


def _zh_pseudo_covers(text: str, cue_start: int, cue_end: int) -> bool:
    for word in _ZH_PSEUDO:
        for offset in range(len(word)):
            begin = cue_start - offset
            if begin >= 0 and begin + len(word) >= cue_end and text.startswith(word, begin):
                return True
    return False


def _zh_gap_allows(gap: str) -> bool:
    rest = _strip_fillers(gap)
    if not rest:
        return True
    if rest.startswith(_ZH_BA) and len(gap) <= _ZH_BA_MAX_GAP:
        return not any(breaker in rest for breaker in _ZH_BREAKERS)
    return False


def _strip_fillers(gap: str) -> str:
    """Drop leading filler words; what remains is the part that is not filler."""
    index = 0
    while index < len(gap):
        filler = next((f for f in _ZH_FILLERS if gap.startswith(f, index)), None)
        if filler is None:
            break
        index += len(filler)
    return gap[index:]
