"""What a QA lead can write in a rule: lists, wildcards, numbers, proximity, speakers."""

from __future__ import annotations

import pytest

from qa_review.engine import Proximity, RuleEngine, RuleLibrary, RuleSpec, starter_library

FAMILY = {"family": {"en": ["mother", "wife", "boss"], "zh": ["妈妈", "老板", "同事"]}}


def evidence(engine: RuleEngine, text: str, language: str, speaker: str = "agent") -> list[str]:
    return [hit.evidence for hit in engine.scan(text, speaker=speaker, language=language)]


def test_a_phrase_list_stands_for_any_of_its_entries_in_both_languages() -> None:
    engine = RuleEngine(
        [
            RuleSpec("en", "disclosure", "en", ["tell your {family}"]),
            RuleSpec("zh", "disclosure", "zh", ["告诉你{family}"]),
        ],
        FAMILY,
    )
    assert evidence(engine, "I'll tell your wife about it.", "en") == ["tell your wife"]
    assert evidence(engine, "Then I'll tell your Boss!", "en") == ["tell your Boss"]
    assert evidence(engine, "Tell your neighbour.", "en") == []
    assert evidence(engine, "我们会告诉你老板。", "zh") == ["告诉你老板"]


def test_a_wildcard_spans_one_to_three_words_or_up_to_six_characters() -> None:
    engine = RuleEngine(
        [
            RuleSpec("en", "false_legal", "en", ["we will * your wages"]),
            RuleSpec("zh", "false_legal", "zh", ["把你*抓起来"]),
        ]
    )
    assert evidence(engine, "We will garnish your wages.", "en") == ["We will garnish your wages"]
    assert evidence(engine, "we will take all of your wages", "en") == [
        "we will take all of your wages"
    ]
    assert evidence(engine, "We will your wages", "en") == []  # the gap is at least one word
    assert evidence(engine, "we will one two three four your wages", "en") == []
    assert evidence(engine, "警察会把你马上抓起来", "zh") == ["把你马上抓起来"]


def test_a_number_placeholder_takes_digits_or_words() -> None:
    engine = RuleEngine(
        [
            RuleSpec("en", "harassment", "en", ["call you # times a day"]),
            RuleSpec("zh", "harassment", "zh", ["每天打#个电话"]),
        ]
    )
    assert evidence(engine, "We'll call you 20 times a day.", "en") == ["call you 20 times a day"]
    assert evidence(engine, "we will call you twenty five times a day", "en") == [
        "call you twenty five times a day"
    ]
    assert evidence(engine, "we will call you many times a day", "en") == []
    assert evidence(engine, "我们每天打五十个电话给你", "zh") == ["每天打五十个电话"]


def test_near_requires_the_other_words_close_by() -> None:
    engine = RuleEngine(
        [RuleSpec("k", "disclosure", "en", ["let them know"], near=Proximity(["{family}"], 3))],
        FAMILY,
    )
    assert evidence(engine, "I will let them know, your mother and all.", "en") == ["let them know"]
    assert evidence(engine, "Let them know, then. I will.", "en") == []
    far = "let them know that after a long and very tiring week your mother"
    assert evidence(engine, far, "en") == []


def test_not_near_cancels_a_hit_with_the_other_words_close_by() -> None:
    engine = RuleEngine(
        [
            RuleSpec(
                "sue",
                "false_legal",
                "zh",
                ["起诉你"],
                not_near=Proximity(["依法", "有权"], within=4),
            )
        ]
    )
    assert evidence(engine, "明天就起诉你", "zh") == ["起诉你"]
    assert evidence(engine, "债权人有权依法起诉你", "zh") == []


def test_speakers_choose_whose_words_a_rule_judges() -> None:
    agent_only = RuleEngine([RuleSpec("a", "abuse", "en", ["idiot"])])
    assert evidence(agent_only, "You idiot.", "en", speaker="debtor") == []
    assert evidence(agent_only, "You idiot.", "en", speaker="Agent") == ["idiot"]
    with pytest.raises(ValueError, match="speakers"):
        RuleSpec("a", "abuse", "en", ["idiot"], speakers=["caller"])


@pytest.mark.parametrize(
    ("said", "flagged"),
    [
        ("you will be arested today", "arested"),  # a letter dropped
        ("we will garinsh your wages", "garinsh"),  # neighbours swapped
    ],
)
def test_one_letter_asr_slips_in_long_rule_words_still_match(said: str, flagged: str) -> None:
    engine = RuleEngine(
        [
            RuleSpec("jail", "false_legal", "en", ["you will be arrested"]),
            RuleSpec("wages", "false_legal", "en", ["garnish your wages"]),
        ]
    )
    hits = evidence(engine, said, "en")
    assert len(hits) == 1 and flagged in hits[0]  # the evidence is what was said


def test_short_words_and_word_forms_are_not_corrected() -> None:
    engine = RuleEngine([RuleSpec("a", "abuse", "en", ["deadbeat", "liar"])])
    assert evidence(engine, "the deadbeats report", "en") == []
    assert evidence(engine, "a lair", "en") == []
    assert evidence(engine, "deadbeatt", "en") == []  # a letter more at the end: a word form


def test_a_library_round_trips_through_yaml() -> None:
    library = RuleLibrary(
        (
            RuleSpec(
                "tell",
                "disclosure",
                "en",
                ["tell your {family}"],
                severity="critical",
                exceptions=["if you ask me to"],
                near=Proximity(["debt"], 10),
            ),
        ),
        {"family": {"en": ("mother", "wife"), "zh": ("妈妈",)}},
    )
    again = RuleLibrary.from_yaml(library.to_yaml())
    assert again == library


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rules: [{key: a, category: abuse, language: en, phrases: ['{nope}']}]", "nope"),
        ("rules: [{key: a, category: abuse, language: en, phrases: ['* #']}]", "wildcards"),
        ("rules: [{key: a, category: abuse, language: en}]", "missing phrases"),
        (
            "rules: [{key: a, category: abuse, language: en, phrases: [x]},"
            " {key: a, category: threat, language: en, phrases: [y]}]",
            "duplicate",
        ),
        ("just text", "rules"),
    ],
)
def test_a_broken_library_is_refused_with_the_reason(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RuleLibrary.from_yaml(text)


def test_the_starter_library_loads_with_its_lists() -> None:
    library = starter_library()
    assert library.rules
    assert RuleLibrary.from_yaml(library.to_yaml()) == library
