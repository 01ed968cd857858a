"""Normalisation: phrases and transcripts fold the same way, and offsets survive folding."""

import pytest

from qa_review.normalize import Language, is_negated, language_of, normalize, normalize_phrase


@pytest.mark.parametrize(
    ("raw", "folded"),
    [
        ("You’ll go to JAIL!!", "you will go to jail"),
        ("I'm with the sheriff's department.", "i am with the sheriff department"),
        ("We won't, we CAN'T, we cannot", "we will not we can not we can not"),
        ("you're gonna regret   this", "you are going to regret this"),
        ("dont worry, im here", "do not worry i am here"),
    ],
)
def test_english_folds_case_quotes_contractions_and_punctuation(raw: str, folded: str) -> None:
    assert normalize_phrase(raw, "en") == folded


def test_chinese_folds_full_width_traditional_and_drops_punctuation() -> None:
    assert (
        normalize_phrase("我們不會告訴你的同事，會被判刑。", "zh") == "我们不会告诉你的同事会被判刑"
    )
    assert normalize_phrase("ＡＢＣ １２３", "zh") == "abc123"


@pytest.mark.parametrize(
    ("language", "text"), [("en", "Well — you'll GO to jail, OK?"), ("zh", "你會被判刑！")]
)
def test_every_folded_character_maps_back_into_the_original(language: Language, text: str) -> None:
    norm = normalize(text, language)
    for index in range(len(norm.text)):
        start, end = norm.original_span(index, index + 1)
        assert 0 <= start <= end <= len(text)


def test_rewritten_words_map_to_the_whole_original_token() -> None:
    text = "Honestly, you’ll go to jail"
    norm = normalize(text, "en")
    start = norm.text.index("you will")
    orig_start, orig_end = norm.original_span(start, start + len("you will go"))
    assert text[orig_start:orig_end] == "you’ll go"


def test_number_separators_do_not_split_clauses() -> None:
    norm = normalize("You owe $1,234.50 today", "en")
    assert len(set(norm.clauses)) == 1


@pytest.mark.parametrize(
    ("text", "phrase", "negated"),
    [
        ("I'm not going to call your workplace", "call your workplace", True),
        ("Nobody is going to tell your employer", "tell your employer", True),
        ("No one will call your family", "call your family", True),
        ("If you don't pay we will send the police", "we will send the police", False),
        ("If you do not pay, they'll arrest you", "arrest you", False),
        ("I'm not kidding, go to jail", "go to jail", False),
        ("Don't make me send the police", "send the police", False),
    ],
)
def test_english_negation_governs_only_its_own_clause(
    text: str, phrase: str, negated: bool
) -> None:
    norm = normalize(text, "en")
    assert is_negated(norm, norm.text.index(normalize_phrase(phrase, "en"))) is negated


@pytest.mark.parametrize(
    ("text", "phrase", "negated"),
    [
        ("我们不会告诉你的同事", "告诉你的同事", True),
        ("我们绝不会主动告诉你的同事", "告诉你的同事", True),
        ("我们不会把这件事告诉你的同事", "告诉你的同事", True),
        ("你不还钱会被判刑", "会被判刑", False),
        ("你不还钱我们就告诉你的同事", "告诉你的同事", False),
        ("不过我们会告诉你的同事", "告诉你的同事", False),
        ("我们不得不告诉你的同事", "告诉你的同事", False),
        ("能不能分期", "分期", False),
        ("我没有失业", "失业", True),
    ],
)
def test_chinese_negation_needs_the_cue_just_before(text: str, phrase: str, negated: bool) -> None:
    norm = normalize(text, "zh")
    assert is_negated(norm, norm.text.index(phrase)) is negated


@pytest.mark.parametrize(
    ("tag", "language"),
    [
        ("en", "en"),
        ("en-US", "en"),
        ("zh", "zh"),
        ("zh-TW", "zh"),
        ("cmn", "zh"),
        ("fr", None),
        (None, None),
    ],
)
def test_language_tags_map_to_supported_languages(tag: str | None, language: str | None) -> None:
    assert language_of(tag) == language


@pytest.mark.parametrize(
    ("text", "phrase", "negated"),
    [
        ("There's no criminal charge here", "criminal charge", True),
        ("The account went to review; no lawsuit has been filed.", "lawsuit has been filed", True),
        ("No one is going to arrest you", "arrest you", True),
        ("nobodys going to jail over this", "going to jail", True),
        ("We'd never tell you to take out a payday loan", "take out a payday loan", True),
        ("We don't want you to borrow from your family", "borrow from your family", True),
        ("No matter what, we will call your boss", "call your boss", False),
        ("Why not ask your boss for an advance?", "ask your boss for", False),
        ("Not paying is a crime", "is a crime", False),
        ("Don't give me that crap", "crap", False),
    ],
)
def test_english_negation_cues_objects_and_profanity(text: str, phrase: str, negated: bool) -> None:
    norm = normalize(text, "en")
    assert is_negated(norm, norm.text.index(normalize_phrase(phrase, "en"))) is negated


@pytest.mark.parametrize(
    ("text", "phrase", "negated"),
    [
        ("放心，你不会被判刑", "判刑", True),
        ("这笔钱不会让您坐牢", "坐牢", True),
        ("我们不会要求你去借网贷还款", "借网贷", True),
        ("没有人会上门找你", "上门找你", True),
        ("不会有人抓你的", "抓你", True),
        ("您不用担心被抓", "被抓", True),
        ("所以我没法跟她谈您的情况", "跟她谈", True),
        ("欠款不会影响您子女上学", "子女上学", True),
        ("您不会因为这笔欠款被拘留", "拘留", True),
        ("你不还钱就让你坐牢", "坐牢", False),
        ("没人接，我们会天天打", "天天打", False),
    ],
)
def test_chinese_negation_cues_fillers_and_nobody(text: str, phrase: str, negated: bool) -> None:
    norm = normalize(text, "zh")
    assert is_negated(norm, norm.text.index(phrase)) is negated


@pytest.mark.parametrize(
    ("raw", "folded"),
    [
        ("theres nothing to it, youve got time", "there is nothing to it you have got time"),
        ("ﬁne — Ⅻ", "fine xii"),
    ],
)
def test_more_english_folds(raw: str, folded: str) -> None:
    assert normalize_phrase(raw, "en") == folded


@pytest.mark.parametrize(
    ("language", "text"), [("en", "ﬁne, Ⅻ won't"), ("zh", "你好，①２３「會」")]
)
def test_multi_character_folds_keep_offsets(language: Language, text: str) -> None:
    norm = normalize(text, language)
    assert len(norm.text) == len(norm.starts) == len(norm.ends) == len(norm.clauses)
    for start, end in zip(norm.starts, norm.ends, strict=True):
        assert 0 <= start <= end <= len(text)
    assert norm.original[norm.starts[0] : norm.ends[1]] in ("ﬁ", "你好")
