"""Required statements are ticked off from the agent's words; what is missing is listed.
Paraphrases and patterns, tenants' overrides over the defaults, and the library's YAML."""

import pytest
import yaml

from qa_review.engine import (
    RequiredStatementSpec,
    RequiredStatementTracker,
    RuleLibrary,
    StatementHeard,
    required_statement_specs,
    resolve_statements,
    statement_index,
)

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


# --- paraphrases and patterns --------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "text", "key"),
    [
        ("en", "This call is monitored and recorded.", "recording_notice"),
        ("en", "Calls are recorded for training purposes.", "recording_notice"),
        ("en", "Just so you know, we record all calls.", "recording_notice"),
        ("en", "This is a communication from a debt collector.", "mini_miranda"),
        ("en", "Any information we obtain will be used for that purpose.", "mini_miranda"),
        ("en", "Is this John Miller speaking?", "identity_check"),
        ("zh", "本通话将全程录音。", "recording_notice"),
        ("zh", "为了保障双方权益本次通话会录音。", "recording_notice"),
        ("zh", "本次通话将会被录音。", "recording_notice"),
        ("zh", "请问您是某某本人吗？", "identity_check"),
        ("zh", "您是不是张伟本人？", "identity_check"),
        ("zh", "我是某某公司的催收专员。", "mini_miranda"),
        ("zh", "本次来电的目的是催收您的逾期欠款。", "mini_miranda"),
    ],
)
def test_common_paraphrases_count(language: str, text: str, key: str) -> None:
    tracker = RequiredStatementTracker.for_language(language)
    assert tracker.observe(text) == [key]


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("en", "This call is not being recorded."),
        ("en", "Calls are never recorded here."),
        ("en", "We are not a debt collector."),
        ("zh", "本次通话不会录音。"),
        ("zh", "我们这次通话没有录音。"),
    ],
)
def test_a_negation_inside_a_wildcard_does_not_count(language: str, text: str) -> None:
    assert RequiredStatementTracker.for_language(language).observe(text) == []


def test_statement_phrases_take_wildcards_numbers_and_lists() -> None:
    spec = RequiredStatementSpec(
        key="fee_notice",
        language="en",
        phrases=["a fee of # dollars", "we {may} charge * fee"],
    )
    lists = {"may": {"en": ["may", "might"]}}
    tracker = RequiredStatementTracker([spec], language="en", lists=lists)
    assert tracker.observe("Note that we might charge a late fee.") == ["fee_notice"]
    assert tracker.satisfied == {"fee_notice": "we might charge a late fee"}
    other = RequiredStatementTracker([spec], language="en", lists=lists)
    assert other.observe("There is a fee of twenty five dollars.") == ["fee_notice"]


def test_a_phrase_that_cannot_compile_names_its_statement() -> None:
    with pytest.raises(ValueError, match=r"statement fee_notice \(en\).*\{nope\}"):
        RequiredStatementTracker([RequiredStatementSpec("fee_notice", "en", ["{nope} fee"])])
    with pytest.raises(ValueError, match="only wildcards"):
        statement_index([RequiredStatementSpec("x", "en", ["* *"])])


def test_the_tracker_remembers_where_each_statement_was_heard() -> None:
    tracker = RequiredStatementTracker.for_language("en")
    tracker.observe("Hello, this call is monitored and recorded.", segment_id=7, start=1.5)
    tracker.observe("Am I speaking with John?", segment_id=9, start=4.0)
    assert tracker.heard["recording_notice"] == StatementHeard(
        "this call is monitored and recorded", 7, 1.5
    )
    results = {r.key: r for r in tracker.results()}
    assert [r.key for r in tracker.results()] == list(tracker.required)
    assert results["identity_check"].said and results["identity_check"].heard == StatementHeard(
        "Am I speaking with", 9, 4.0
    )
    assert not results["mini_miranda"].said and results["mini_miranda"].heard is None
    assert {r.version for r in results.values()} == {1}


def test_a_disabled_statement_is_not_required() -> None:
    specs = [
        RequiredStatementSpec("recording_notice", "en", ["this call may be recorded"]),
        RequiredStatementSpec("mini_miranda", "en", [], enabled=False),
    ]
    assert RequiredStatementTracker(specs, language="en").required == ("recording_notice",)


# --- tenants ---------------------------------------------------------------------------------


def _spec(key: str, language: str = "en", tenant: str = "", **kw: object) -> RequiredStatementSpec:
    phrases = kw.pop("phrases", [f"{key} phrase"])
    return RequiredStatementSpec(key, language, phrases, tenant=tenant, **kw)  # type: ignore[arg-type]


def test_a_tenant_replaces_waives_and_adds_statements_in_a_stable_order() -> None:
    specs = [
        _spec("recording_notice"),
        _spec("mini_miranda"),
        _spec("identity_check"),
        _spec("identity_check", "zh"),
        _spec("recording_notice", tenant="Acme Bank", phrases=["acme records calls"]),
        _spec("mini_miranda", tenant="Acme Bank", enabled=False),
        _spec("dispute_rights", tenant="Acme Bank"),
        _spec("mini_miranda", tenant="Other Bank", enabled=False),
    ]
    acme = resolve_statements(specs, language="en", tenant="Acme Bank")
    assert [(s.key, s.tenant) for s in acme] == [
        ("identity_check", ""),
        ("recording_notice", "Acme Bank"),
        ("dispute_rights", "Acme Bank"),  # the tenant's own keys come after the defaults'
    ]
    assert [s.key for s in resolve_statements(specs, language="en")] == [
        "identity_check",
        "mini_miranda",
        "recording_notice",
    ]
    both = resolve_statements(specs, language=None, tenant="  Acme   Bank ")
    assert [(s.key, s.language) for s in both][:2] == [
        ("identity_check", "en"),
        ("identity_check", "zh"),
    ]
    tracker = RequiredStatementTracker(acme, language="en")
    assert tracker.observe("Acme records calls, and this call may be recorded.") == [
        "recording_notice"
    ]
    assert tracker.satisfied == {"recording_notice": "Acme records calls"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"key": "Mini Miranda"}, "slug"),
        ({"key": "1st"}, "slug"),
        ({"language": "fr"}, "unsupported language"),
        ({"phrases": []}, "at least one phrase"),
        ({"phrases": ["  "]}, "at least one phrase"),
        ({"tenant": "x" * 129}, "128"),
    ],
)
def test_a_bad_statement_is_refused_with_the_reason(
    kwargs: dict[str, object], message: str
) -> None:
    fields: dict[str, object] = {"key": "fee_notice", "language": "en", "phrases": ["fee"]}
    with pytest.raises(ValueError, match=message):
        RequiredStatementSpec(**{**fields, **kwargs})  # type: ignore[arg-type]


def test_a_disabled_statement_needs_no_phrase() -> None:
    assert (
        RequiredStatementSpec("mini_miranda", "en", [], tenant="Acme", enabled=False).phrases == ()
    )


# --- YAML ------------------------------------------------------------------------------------


TENANT_YAML = """
rules: []
required_statements:
  en:
    recording_notice: [this call may be recorded]
    mini_miranda:
      description: FDCPA 807(11).
      phrases: [attempt to collect a debt]
  tenants:
    Acme Bank:
      en:
        recording_notice: {enabled: false}
        dispute_rights:
          description: Acme's own.
          phrases: [you may dispute this debt]
      zh:
        recording_notice: [本次通话会录音]
"""


def test_the_default_form_and_tenant_overrides_are_read_and_written_back() -> None:
    library = RuleLibrary.from_yaml(TENANT_YAML)
    assert [(s.key, s.language, s.tenant, s.enabled) for s in library.statements] == [
        ("recording_notice", "en", "", True),
        ("mini_miranda", "en", "", True),
        ("recording_notice", "en", "Acme Bank", False),
        ("dispute_rights", "en", "Acme Bank", True),
        ("recording_notice", "zh", "Acme Bank", True),
    ]
    assert library.statements[1].description == "FDCPA 807(11)."
    text = library.to_yaml()
    assert "recording_notice:\n    - this call may be recorded" in text  # the short form
    assert RuleLibrary.from_yaml(text) == library
    assert yaml.safe_load(text)["required_statements"]["tenants"]["Acme Bank"]["en"][
        "recording_notice"
    ] == {"enabled": False}


def test_a_file_of_statements_alone_is_a_library() -> None:
    library = RuleLibrary.from_yaml("required_statements: {en: {x_notice: [hello there]}}")
    assert library.rules == () and [s.key for s in library.statements] == ["x_notice"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("required_statements: {fr: {x: [a]}}", r"required_statements\.fr: unsupported language"),
        ("required_statements: {en: {x: [a]}, tenants: {'': {en: {x: [b]}}}}", "needs a name"),
        (
            "required_statements: {en: {x: {phrase: [a]}}}",
            r"required_statements\.en\.x: unknown field phrase",
        ),
        ("required_statements: {en: {x: {enabled: maybe, phrases: [a]}}}", "true or false"),
        (
            "required_statements: {en: {x: []}}",
            r"required_statements\.en\.x: .*at least one phrase",
        ),
        ("required_statements: {en: {'Bad Key': [a]}}", "slug"),
        ("required_statements: {en: {x: ['{nolist} a']}}", r"statement x \(en\).*\{nolist\}"),
        ("required_statements: [a, b]", "expected languages"),
    ],
)
def test_a_broken_statements_section_is_refused_with_the_place(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RuleLibrary.from_yaml(text)


def test_the_same_statement_twice_is_refused() -> None:
    twice = (
        RequiredStatementSpec("x_notice", "en", ["a"], tenant="Acme"),
        RequiredStatementSpec("x_notice", "en", ["b"], tenant="Acme"),
    )
    with pytest.raises(ValueError, match=r"duplicate required statements: x_notice \(en, Acme\)"):
        RuleLibrary((), {}, twice)
