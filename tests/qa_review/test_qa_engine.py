"""The rule engine on the starter rules: what an agent must not say, and what is fine."""

import pytest

from qa_review.engine import RuleEngine, RuleSpec, starter_library, starter_rule_specs
from qa_review.models import Category


@pytest.fixture(scope="module")
def engine() -> RuleEngine:
    return starter_library().engine()


def categories(engine: RuleEngine, text: str, language: str | None = None) -> set[str]:
    return {hit.category for hit in engine.scan(text, speaker="agent", language=language)}


@pytest.mark.parametrize(
    ("category", "english", "chinese"),
    [
        ("threat", "Pay up or things could get ugly for you.", "你再不还钱，别怪我们不客气。"),
        ("abuse", "Listen, you scumbag, pay what you owe.", "你这个无赖，真是人渣。"),
        ("false_legal", "If you don't pay today, you'll go to jail.", "你不还钱会被判刑的。"),
        ("impersonation", "I'm with the sheriff's department.", "我是检察院的，请你配合。"),
        ("disclosure", "We will tell your employer about this.", "我们会告诉你的同事你欠钱。"),
        (
            "harassment",
            "We will call you every hour until you pay.",
            "你可以以贷还贷，不然我们天天打电话。",
        ),
    ],
)
def test_each_category_fires_in_english_and_chinese(
    engine: RuleEngine, category: str, english: str, chinese: str
) -> None:
    assert category in categories(engine, english, "en")
    assert category in categories(engine, chinese, "zh")


def test_starter_rules_cover_every_category_twice_per_language() -> None:
    specs = starter_rule_specs()
    for language in ("en", "zh"):
        for category in Category:
            rules = [s for s in specs if s.language == language and s.category == category]
            assert len(rules) >= 2, (language, category)
            assert all(len(rule.phrases) >= 3 for rule in rules)


@pytest.mark.parametrize(
    "text",
    [
        "I'm not going to call your workplace.",
        "You can't be arrested for this debt.",
        "Nobody is going to tell your employer.",
        "We will never call your family about this.",
        "The creditor may sue you where the law allows.",
        "我们不会告诉你的同事。",
        "我們絕不會把這件事告訴你的同事。",
        "放心，你不会被判刑。",
    ],
)
def test_negated_or_compliant_statements_do_not_fire(engine: RuleEngine, text: str) -> None:
    assert engine.scan(text, speaker="agent", language=None) == []


def test_condition_before_a_threat_is_not_a_negation(engine: RuleEngine) -> None:
    assert "false_legal" in categories(engine, "If you do not pay we will send the police.")
    assert "disclosure" in categories(engine, "你不还钱我们就告诉你的同事。")


@pytest.mark.parametrize("speaker", ["debtor", "unknown", ""])
def test_debtor_speech_never_yields_misconduct(engine: RuleEngine, speaker: str) -> None:
    assert (
        engine.scan("You scumbag, I'll go to jail before I pay!", speaker=speaker, language="en")
        == []
    )
    assert engine.scan("你们这群人渣，无赖！", speaker=speaker, language="zh") == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Honestly?  You’ll GO to jail, pal.", "You’ll GO to jail"),
        ("I'm with the sheriff's department.", "I'm with the sheriff's"),
        ("Okay... THINGS COULD GET UGLY!", "THINGS COULD GET UGLY"),
        ("聽著，你會被判刑！", "會被判刑"),
        ("你这个ｗｕ無賴", "無賴"),
    ],
)
def test_offsets_point_at_the_original_text(engine: RuleEngine, text: str, expected: str) -> None:
    hits = engine.scan(text, speaker="agent", language=None)
    assert hits, text
    hit = hits[0]
    assert text[hit.start : hit.end] == expected == hit.evidence


def test_whole_words_only(engine: RuleEngine) -> None:
    assert categories(engine, "Our deadbeats report is due", "en") == set()
    assert "abuse" in categories(engine, "You deadbeat.", "en")


def test_overlapping_phrases_of_one_category_are_one_hit(engine: RuleEngine) -> None:
    hits = engine.scan("You will be arrested.", speaker="agent", language="en")
    assert [(h.category, h.evidence) for h in hits] == [("false_legal", "You will be arrested")]


def test_hit_carries_rule_identity_and_severity(engine: RuleEngine) -> None:
    (hit,) = engine.scan("我是检察院的", speaker="agent", language="zh")
    assert (hit.rule_key, hit.rule_version, hit.severity) == (
        "zh_impersonation_police_court",
        1,
        "critical",
    )


def test_language_restricts_which_rules_run(engine: RuleEngine) -> None:
    assert engine.scan("你这个无赖", speaker="agent", language="en") == []
    assert engine.scan("you scumbag", speaker="agent", language="zh") == []


def test_exceptions_cancel_hits_of_their_rule_in_the_same_sentence() -> None:
    rule = RuleSpec(
        key="t",
        category="false_legal",
        language="en",
        phrases=["garnish your wages"],
        exceptions=["only a court can"],
    )
    engine = RuleEngine([rule])
    assert engine.scan("Only a court can garnish your wages.", speaker="agent", language="en") == []
    hits = engine.scan(
        "Only a court can. We will garnish your wages.", speaker="agent", language="en"
    )
    assert [h.evidence for h in hits] == ["garnish your wages"]


@pytest.mark.parametrize(
    "bad",
    [
        {"category": "rudeness"},
        {"severity": "extreme"},
        {"language": "fr"},
        {"phrases": []},
    ],
)
def test_invalid_rules_are_rejected(bad: dict[str, object]) -> None:
    fields: dict[str, object] = {
        "key": "k",
        "category": "abuse",
        "language": "en",
        "phrases": ["x"],
    }
    with pytest.raises(ValueError):
        RuleSpec(**(fields | bad))  # type: ignore[arg-type]
