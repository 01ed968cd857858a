"""Debtor intents: each of the twelve in both languages, negation, several at once."""

import pytest

from scripts_library.intents import INTENTS, detect_intents, load_cues

EXAMPLES = [
    ("hardship", "I lost my job last month and I can't afford this.", "我上个月失业了，手头紧。"),
    ("dispute", "This is not my debt, I never borrowed anything.", "这笔钱不是我借的，金额不对。"),
    ("already_paid", "I already paid this last week.", "我上周已经还了。"),
    (
        "wrong_party",
        "Wrong number, there's no one here by that name.",
        "你打错了，我不认识这个人。",
    ),
    ("callback", "I'm driving, can you call me back tomorrow?", "我在开会，晚点再打吧。"),
    ("refusal", "I'm not going to pay, forget it.", "我就是不还，你爱怎么样怎么样。"),
    ("promise_to_pay", "I will pay it on Friday when I get paid.", "我发了工资就还。"),
    ("payment_plan", "Can we set up a payment plan?", "能不能分期还？"),
    ("settlement", "Would you settle for less if I pay a lump sum?", "能不能打个折，一次性结清？"),
    ("cease_contact", "Stop calling me!", "别再打了，不要再联系我。"),
    ("attorney", "Talk to my lawyer.", "我已经委托了律师，你跟我律师谈。"),
    ("complaint", "I want to file a complaint with your supervisor.", "你们态度太差了，我要投诉。"),
]


def test_examples_cover_all_twelve_intents() -> None:
    assert sorted(intent for intent, _, _ in EXAMPLES) == sorted(INTENTS)


@pytest.mark.parametrize(("intent", "english", "chinese"), EXAMPLES)
def test_top_intent_in_english_and_chinese(intent: str, english: str, chinese: str) -> None:
    assert detect_intents(english, "en")[0].intent == intent
    assert detect_intents(chinese, "zh")[0].intent == intent
    assert detect_intents(chinese, None)[0].intent == intent


def test_score_is_a_probability_and_cue_is_the_original_span() -> None:
    text = "Honestly, I got LAID OFF in May."
    (score,) = detect_intents(text, "en")
    assert 0 < score.score <= 1
    assert score.cue == "LAID OFF" == text[score.start : score.end]
    assert score.context == text.rstrip(".")


def test_traditional_characters_are_understood() -> None:
    (score,) = detect_intents("我被裁員了", "zh")
    assert (score.intent, score.cue) == ("hardship", "被裁員")


@pytest.mark.parametrize(
    "text",
    [
        "I did not lose my job.",
        "I haven't lost my job, I just forgot.",
        "我没有失业。",
        "我并不是没钱。",
    ],
)
def test_negated_cues_do_not_count(text: str) -> None:
    assert "hardship" not in {s.intent for s in detect_intents(text, None)}


def test_refusal_is_not_read_as_a_promise() -> None:
    intents = [s.intent for s in detect_intents("I'm not going to pay.", "en")]
    assert intents == ["refusal"]
    intents = [s.intent for s in detect_intents("我不会还的。", "zh")]
    assert intents == ["refusal"]


def test_several_intents_in_one_utterance_best_first() -> None:
    scores = detect_intents("I lost my job, but could we do smaller payments each month?", "en")
    assert [s.intent for s in scores] == ["hardship", "payment_plan"]
    assert scores[0].score >= scores[1].score


def test_more_cues_raise_the_score() -> None:
    (one,) = detect_intents("Money is tight.", "en")
    (two,) = detect_intents("Money is tight since I got laid off.", "en")
    assert two.score > one.score


@pytest.mark.parametrize(
    "text",
    [
        "Hi, how are you? Lovely weather today.",
        "Yes, speaking.",
        "你好，今天天气不错。",
        "嗯，是我。",
        "",
    ],
)
def test_small_talk_has_no_intent(text: str) -> None:
    assert detect_intents(text, None) == []


def test_every_intent_has_several_cues_in_each_language() -> None:
    cues = load_cues()
    for intent in INTENTS:
        for language in ("en", "zh"):
            assert len([c for c in cues if c.intent == intent and c.language == language]) >= 5
