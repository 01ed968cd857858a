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

import itertools
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
_CLAUSE_MARK = re.compile("[" + re.escape("".join(sorted(_CLAUSE_MARKS))) + "]")
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
    "theres": "there is",
    "nobodys": "nobody is",
    "youve": "you have",
    "weve": "we have",
    "theyve": "they have",
    "youd": "you would",
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
    if text.isascii():  # most English segments: NFKC is the identity, casefold is lower()
        lowered = text.lower()
        if "`" in lowered:  # the only ASCII quote to fold; translate() costs per character
            lowered = lowered.translate(_QUOTES)
        return lowered, list(range(len(text)))
    chars: list[str] = []
    origin: list[int] = []
    cache = _FOLDED
    for index, char in enumerate(text):
        folded = cache.get(char)
        if folded is None:
            folded = unicodedata.normalize("NFKC", char).casefold().translate(_QUOTES)
            if len(cache) < _FOLDED_MAX:
                cache[char] = folded
        if len(folded) == 1:
            chars.append(folded)
            origin.append(index)
        else:
            chars.extend(folded)
            origin.extend([index] * len(folded))
    return "".join(chars), origin


# Per-character folds and "is this kept in Chinese" answers, computed once per character.
_FOLDED: dict[str, str] = {}
_FOLDED_MAX = 100_000
_ZH_KEPT: dict[str, bool] = {}


def _expand(token: str) -> str:
    if "'" not in token:  # every suffix contraction has an apostrophe
        return _CONTRACTIONS.get(token, token)
    if token in _CONTRACTIONS:
        return _CONTRACTIONS[token]
    for suffix, replacement in _SUFFIXES:
        if token.endswith(suffix) and len(token) > len(suffix):
            return _expand(token[: -len(suffix)]) + replacement
    return token.replace("'", "")


def _break_points(folded: str) -> list[tuple[int, bool]]:
    """Offsets of the marks that end a clause, each with whether it also ends a sentence.

    A comma or point between digits ("1,234.50") is part of a number, not a break. Texts
    have a break or two, so callers turn these into clause ids per word or per run, not
    per character.
    """
    return [
        (mark.start(), mark.group() in _SENTENCE_MARKS)
        for mark in _CLAUSE_MARK.finditer(folded)
        if not _inside_number(folded, mark.start())
    ]


Steps = list[tuple[int, int, int]]
"""Where the clause and sentence numbers change: (offset, clause, sentence) from there on."""


def _step_ids(steps: Steps, length: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Clause and sentence number per character from the few places where they change."""
    if not steps:
        zeros = (0,) * length
        return zeros, zeros
    clauses: list[int] = []
    sentences: list[int] = []
    position = clause = sentence = 0
    for at, next_clause, next_sentence in steps:
        clauses += [clause] * (at - position)
        sentences += [sentence] * (at - position)
        position, clause, sentence = at, next_clause, next_sentence
    clauses += [clause] * (length - position)
    sentences += [sentence] * (length - position)
    return tuple(clauses), tuple(sentences)


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
    """Words joined by single spaces; each character keeps its original span. One tight
    loop over words: this runs on every segment of every live call, so clause numbers are
    tracked per word (a text has a break or two) and contractions are looked at only in
    tokens that can be one."""
    folded, origin = _fold_chars(text)
    breaks = _break_points(folded)
    identity = len(origin) == len(text)  # no character folded into several
    words: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    steps: Steps = []
    clause = sentence = taken = 0
    # the next break's offset; past the text when there is none left
    next_break, ends_sentence = breaks[0] if breaks else (len(folded), False)
    contractions = _CONTRACTIONS
    for match in _WORD.finditer(folded):
        first, stop = match.span()
        if first > next_break:  # a new clause starts with this word (and the space before it)
            while first > next_break:
                clause += 1
                sentence += ends_sentence
                taken += 1
                next_break, ends_sentence = (
                    breaks[taken] if taken < len(breaks) else (len(folded), False)
                )
            steps.append((len(starts), clause, sentence))
        token = match.group()
        if "'" in token or token in contractions:
            # rewritten ("won't" -> "will not"): every character points at the whole token
            token_start, token_end = origin[first], origin[stop - 1] + 1
            for word in _expand(token).split():
                if words:  # a space between words, belonging to the word that follows
                    last = ends[-1]
                    starts.append(last)
                    ends.append(last)
                words.append(word)
                starts += [token_start] * len(word)
                ends += [token_end] * len(word)
            continue
        if words:
            last = ends[-1]
            starts.append(last)
            ends.append(last)
        words.append(token)
        if identity:
            starts += range(first, stop)
            ends += range(first + 1, stop + 1)
        else:
            sources = origin[first:stop]
            starts += sources
            ends += [source + 1 for source in sources]
    clauses, sentences = _step_ids(steps, len(starts))
    return Normalized(
        original=text,
        language="en",
        text=" ".join(words),
        starts=tuple(starts),
        ends=tuple(ends),
        clauses=clauses,
        sentences=sentences,
    )


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
    """Characters without punctuation, spaces and controls, each with its original span.

    Only the few characters outside the ranges known to be kept are looked up, and clause
    numbers change only at dropped punctuation, so a text needs no per-character loop.
    """
    folded, origin = _fold_chars(text)
    simplified = _simplify(folded)
    dropped = [
        mark.start()
        for mark in _ZH_MAYBE_DROPPED.finditer(simplified)
        if not _zh_kept(mark.group())
    ]
    if not dropped:  # every clause mark is punctuation: nothing dropped, no break either
        zeros = (0,) * len(simplified)
        return Normalized(
            original=text,
            language="zh",
            text=simplified,
            starts=tuple(origin),
            ends=tuple([source + 1 for source in origin]),
            clauses=zeros,
            sentences=zeros,
        )
    breaks = dict(_break_points(simplified))  # offset -> whether it ends a sentence
    pieces: list[str] = []
    kept_origin: list[int] = []
    steps: Steps = []
    clause = sentence = previous = 0
    for count, index in enumerate(dropped):  # ``count`` characters dropped before this one
        pieces.append(simplified[previous:index])
        kept_origin += origin[previous:index]
        previous = index + 1
        if index in breaks:
            clause += 1
            sentence += breaks[index]
            steps.append((index - count, clause, sentence))
    pieces.append(simplified[previous:])
    kept_origin += origin[previous:]
    clauses, sentences = _step_ids(steps, len(kept_origin))
    return Normalized(
        original=text,
        language="zh",
        text="".join(pieces),
        starts=tuple(kept_origin),
        ends=tuple([source + 1 for source in kept_origin]),
        clauses=clauses,
        sentences=sentences,
    )


def _zh_kept(char: str) -> bool:
    """Whether Chinese normalisation keeps ``char``: not punctuation, space or control."""
    keep = _ZH_KEPT.get(char)
    if keep is None:
        keep = unicodedata.category(char)[0] not in "PZC"
        if len(_ZH_KEPT) < _FOLDED_MAX:
            _ZH_KEPT[char] = keep
    return keep


def _maybe_dropped() -> re.Pattern[str]:
    """Every character except those of ASCII and the main CJK block that Unicode says are
    kept: the check per character then runs only on the few this pattern finds."""
    kept = [
        code
        for code in itertools.chain(range(0x80), range(0x4E00, 0xA000))
        if unicodedata.category(chr(code))[0] not in "PZC"
    ]
    ranges: list[str] = []
    for _, run in itertools.groupby(enumerate(kept), key=lambda pair: pair[1] - pair[0]):
        codes = [code for _, code in run]
        ranges.append(re.escape(chr(codes[0])) + "-" + re.escape(chr(codes[-1])))
    return re.compile("[^" + "".join(ranges) + "]")


_ZH_MAYBE_DROPPED = _maybe_dropped()


# --- negation -------------------------------------------------------------------------

_EN_WINDOW = 5
_EN_CUES = frozenset({"not", "never", "nobody", "neither", "no"})
# "not kidding", "don't make me", "won't hesitate": "not" that does not negate what follows.
_EN_PSEUDO_AFTER_NOT = frozenset(
    [
        "kidding",
        "joking",
        "playing",
        "messing",
        "only",
        "just",
        "make",
        "force",
        "let",
        "hesitate",
        "paying",
    ]
)
# "no" negates the noun after it ("there is no criminal charge", "no lawsuit has been filed"),
# but not in "no matter what", "no doubt", "no choice but to", "no more excuses".
_EN_PSEUDO_AFTER_NO = frozenset(
    [
        "matter",
        "doubt",
        "choice",
        "option",
        "options",
        "alternative",
        "other",
        "more",
        "longer",
        "excuse",
        "excuses",
        "problem",
        "worries",
        "joke",
        "wonder",
        "question",
        "sooner",
        "later",
        "exceptions",
        "mercy",
        "patience",
        "time",
        "sense",
    ]
)
# "you" after a verb of asking or telling is its object, not a new subject: in "we would
# never tell you to take out a payday loan" the "never" still governs what follows.
_EN_DIRECTIVES = frozenset(
    [
        "tell",
        "told",
        "ask",
        "asked",
        "want",
        "wanted",
        "need",
        "needed",
        "expect",
        "expected",
        "force",
        "forced",
        "make",
        "made",
        "pressure",
        "pressured",
        "push",
        "pushed",
        "advise",
        "advised",
        "encourage",
        "encouraged",
        "urge",
        "urged",
        "require",
        "required",
        "recommend",
        "recommended",
        "get",
        "got",
        "have",
        "had",
    ]
)
# Profanity and slurs stay what they are under a negation: "don't give me that crap".
_EN_NOT_NEGATABLE = frozenset(
    [
        "fuck",
        "fucking",
        "fucked",
        "fuckin",
        "fucker",
        "motherfucker",
        "shit",
        "shitty",
        "bullshit",
        "crap",
        "crappy",
        "damn",
        "damned",
        "dammit",
        "goddamn",
        "bastard",
        "bastards",
        "asshole",
        "assholes",
        "bitch",
        "dumbass",
        "jackass",
        "scumbag",
        "scumbags",
        "scum",
        "deadbeat",
        "lowlife",
        "freeloader",
        "piss",
        "cunt",
        "twat",
        "dickhead",
        "shithead",
        "dipshit",
    ]
)
_EN_CUE_SEARCH = re.compile(r"\b(?:not|never|nobody|neither|no)\b")
# A subject or a conjunction between cue and phrase starts another clause:
# "if you do not pay [we] will send the police".
_EN_SUBJECTS = frozenset({"i", "we", "you", "he", "she", "they", "someone", "somebody"})
_EN_BREAKERS = frozenset(
    ["if", "unless", "or", "otherwise", "but", "then", "so", "because", "until"]
)

# Longer cues first: the first one that ends where the phrase could start is taken.
_ZH_CUES = (
    "没有人会",
    "不会有人",
    "谁也不会",
    "谁都不会",
    "不用担心",
    "不必担心",
    "别担心",
    "没有人",
    "没人会",
    "没人",
    "绝不",
    "并不",
    "不会",
    "不能",
    "不用",
    "不必",
    "不需要",
    "没有",
    "没法",
    "无法",
    "从未",
    "严禁",
    "禁止",
    "不准",
    "不许",
    "不",
    "没",
)
_ZH_CUE_SEARCH = re.compile("|".join(_ZH_CUES))
_ZH_CUES_BY_LAST: dict[str, tuple[str, ...]] = {}
for _cue in _ZH_CUES:
    _ZH_CUES_BY_LAST[_cue[-1]] = (*_ZH_CUES_BY_LAST.get(_cue[-1], ()), _cue)
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
# Every pseudo word starting at a position, overlapping ones included (a lookahead).
_ZH_PSEUDO_AT = re.compile("(?=(" + "|".join(sorted(_ZH_PSEUDO, key=len, reverse=True)) + "))")
_ZH_PSEUDO_MAX = max(len(word) for word in _ZH_PSEUDO)
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
            # the passive and "let / ask / force you": "不会被判刑", "不会让您坐牢",
            # "不会要求你去借网贷"
            "被",
            "让你",
            "让您",
            "叫你",
            "要求你",
            "要求您",
            "逼你",
            "逼您",
            "强迫你",
            "强迫您",
            "劝你",
            "劝您",
            "建议你",
            "建议您",
            "因此",
            "为此",
            "因为这个",
            "因为欠款",
            "因为欠钱",
            "因为这笔钱",
            "因为这笔欠款",
            "因为这个欠款",
            "因为欠债",
            "因为逾期",
            "影响您的",
            "影响你的",
            "影响到您",
            "影响到你",
            "影响您",
            "影响你",
            "上门",
            "马上",
            "直接",
        ],
        key=len,
    )[::-1]
)
# A run of fillers, longest alternative first at each step (as the list is sorted).
_ZH_FILLER_RUN = re.compile("(?:" + "|".join(re.escape(f) for f in _ZH_FILLERS) + ")*")
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
    text = norm.text
    # Cheap pre-check: no cue in the few words before the phrase, nothing to decide.
    if _EN_CUE_SEARCH.search(text, max(0, start - 100), start) is None:
        return False
    space = text.find(" ", start)
    first_word = text[start:] if space < 0 else text[start:space]
    if first_word in _EN_SUBJECTS:  # the phrase brings its own subject: a clause of its own
        return False
    if first_word in _EN_NOT_NEGATABLE:
        return False
    clause = norm.clauses[start]
    window = _words_before(text, start)
    for index in range(len(window) - 1, -1, -1):
        word, position = window[index]
        if norm.clauses[position] != clause:
            return False
        following = window[index + 1][0] if index + 1 < len(window) else first_word
        if _is_english_cue(window, index) and not _pseudo_cue(word, following):
            return True
        if word in _EN_SUBJECTS and index > 0 and window[index - 1][0] in _EN_DIRECTIVES:
            continue  # "tell you to ...": an object, the clause goes on
        if word in _EN_SUBJECTS or word in _EN_BREAKERS:
            return False
    return False


def _words_before(text: str, start: int) -> list[tuple[str, int]]:
    """The last ``_EN_WINDOW`` words before ``start`` with their offsets, in text order
    (the folded text has single spaces between words)."""
    words: list[tuple[str, int]] = []
    end = start - 1 if start > 0 and text[start - 1] == " " else start
    while end > 0 and len(words) < _EN_WINDOW:
        space = text.rfind(" ", 0, end)
        words.append((text[space + 1 : end], space + 1))
        end = space
    words.reverse()
    return words


def _pseudo_cue(cue: str, following: str) -> bool:
    if cue == "no":
        return following in _EN_PSEUDO_AFTER_NO
    return following in _EN_PSEUDO_AFTER_NOT


def _is_english_cue(window: list[tuple[str, int]], index: int) -> bool:
    word = window[index][0]
    if word in _EN_CUES:
        # "why not ask your boss for an advance" suggests it, it does not negate it
        return not (word == "not" and index > 0 and window[index - 1][0] == "why")
    return word == "one" and index > 0 and window[index - 1][0] == "no"


def _chinese_negated(norm: Normalized, start: int) -> bool:
    text = norm.text
    # Cheap pre-check: no cue close enough before the phrase, nothing to decide.
    if _ZH_CUE_SEARCH.search(text, max(0, start - _ZH_BA_MAX_GAP - 4), start) is None:
        return False
    clause = norm.clauses[start]
    for cue_end in range(start, max(0, start - _ZH_BA_MAX_GAP) - 1, -1):
        if cue_end < start and norm.clauses[cue_end] != clause:
            return False
        cue = _zh_cue_ending_at(text, cue_end)
        if cue is None or norm.clauses[cue_end - 1] != clause:
            continue
        if _zh_gap_allows(text[cue_end:start]) and not _zh_pseudo_covers(
            text, cue_end - len(cue), cue_end
        ):
            return True
    return False


def _zh_cue_ending_at(text: str, end: int) -> str | None:
    if end <= 0:
        return None
    candidates = _ZH_CUES_BY_LAST.get(text[end - 1], ())
    return next((cue for cue in candidates if text.endswith(cue, 0, end)), None)


def _zh_pseudo_covers(text: str, cue_start: int, cue_end: int) -> bool:
    """Whether a pseudo-negation word starts at or just before the cue and spans it."""
    position = max(0, cue_start - _ZH_PSEUDO_MAX + 1)
    while position <= cue_start:
        match = _ZH_PSEUDO_AT.search(text, position)
        if match is None or match.start() > cue_start:
            return False
        if match.start() + len(match.group(1)) >= cue_end:
            return True
        position = match.start() + 1
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
    run = _ZH_FILLER_RUN.match(gap)  # a starred group always matches, if only emptily
    return gap[run.end() :] if run else gap
