"""Required statements are ticked off from the agent's words; what is missing is listed."""

from qa_review.engine import RequiredStatementTracker, required_statement_specs

REQUIRED = ["mini_miranda", "recording_notice", "identity_check"]


def test_every_language_defines_the_three_statements() -> None:
    for language in ("en", "zh"):
        keys = [s.key for s in required_statement_specs() if s.language == language]
        assert sorted(keys) == sorted(REQUIRED)


def test_a_full_english_opening_leaves_nothing_missing() -> None:
    tracker = RequiredStatementTracker.for_language("en")
    assert tracker.observe("Hi, am I speaking with John Miller?", speaker="agent") == [
        "identity_check"
    ]
    newly = tracker.observe(
        "This call may be recorded. This is an attempt to collect a debt and any information "
        "obtained will be used for that purpose.",
        speaker="agent",
    )
    assert sorted(newly) == ["mini_miranda", "recording_notice"]
    assert tracker.missing() == []


def test_paraphrases_count() -> None:
    tracker = RequiredStatementTracker.for_language("en")
    tracker.observe("Just so you know, this call is being recorded.", speaker="agent")
    tracker.observe("I'm a debt collector working for Test Bank.", speaker="agent")
    assert tracker.missing() == ["identity_check"]


def test_missing_statements_are_listed_at_call_end_in_order() -> None:
    tracker = RequiredStatementTracker.for_language("zh")
    tracker.observe("您好，请问是张伟先生本人吗？", speaker="agent")
    assert tracker.status() == {key: key == "identity_check" for key in tracker.required}
    assert set(tracker.missing()) == {"mini_miranda", "recording_notice"}


def test_chinese_recording_notice_in_traditional_characters() -> None:
    tracker = RequiredStatementTracker.for_language("zh")
    assert tracker.observe("本次通話可能會被錄音。", speaker="agent") == ["recording_notice"]


def test_debtor_words_and_repeats_do_not_tick_anything() -> None:
    tracker = RequiredStatementTracker.for_language("en")
    assert (
        tracker.observe("Is this call being recorded? This call may be recorded?", speaker="debtor")
        == []
    )
    assert tracker.observe("This call may be recorded.", speaker="agent") == ["recording_notice"]
    assert tracker.observe("Again, this call may be recorded.", speaker="agent") == []
    assert tracker.satisfied == {"recording_notice": "This call may be recorded"}


def test_negated_statement_does_not_count() -> None:
    tracker = RequiredStatementTracker.for_language("en")
    assert (
        tracker.observe("Relax, this is not an attempt to collect a debt.", speaker="agent") == []
    )
