"""Placeholders: unknown ones are rejected, missing values are visible, money and dates read
naturally in each language."""

from datetime import date
from decimal import Decimal

import pytest

from case_store.models import Case, Debtor
from scripts_library.render import (
    PLACEHOLDERS,
    case_values,
    format_date,
    format_money,
    placeholders_in,
    render,
    validate,
)

TODAY = date(2026, 3, 5)


def a_case(
    *, balance: str = "1234.50", currency: str = "USD", due: date = date(2026, 1, 4)
) -> Case:
    return Case(
        account_ref="R-1",
        debtor=Debtor(name="John Miller"),
        creditor="Northwind Bank",
        balance=Decimal(balance),
        currency=currency,
        due_date=due,
    )


def test_placeholders_are_found() -> None:
    assert placeholders_in("Hi {debtor_name}, you owe {balance}.") == {"debtor_name", "balance"}


@pytest.mark.parametrize(
    "body", ["Dear {name}", "Hi {debtor_name}, {Balance}", "Hi { debtor_name }", "Hi {{x"]
)
def test_unknown_placeholders_and_stray_braces_are_rejected(body: str) -> None:
    with pytest.raises(ValueError):
        validate(body)
    with pytest.raises(ValueError):
        render(body, {})


def test_missing_value_renders_as_a_visible_gap_never_as_braces() -> None:
    text = render(
        "Hello {debtor_name}, this is {agent_name}.", {"debtor_name": None, "agent_name": ""}
    )
    assert text == "Hello [debtor_name?], this is [agent_name?]."
    assert "{" not in text


def test_every_placeholder_is_filled_from_a_case() -> None:
    values = case_values(a_case(), agent_name="Sam", language="en", today=TODAY)
    assert set(values) == set(PLACEHOLDERS)
    body = " ".join("{" + name + "}" for name in PLACEHOLDERS)
    assert "?]" not in render(body, values)


def test_english_values() -> None:
    values = case_values(a_case(), agent_name="Sam", language="en", today=TODAY)
    assert values["balance"] == "$1,234.50"
    assert values["min_installment"] == "$206.00"  # 1234.50 / 6 = 205.75, rounded up
    assert values["settlement_amount"] == "$864.15"  # 70 %
    assert values["due_date"] == "January 4, 2026"
    assert values["today"] == "March 5, 2026"
    assert values["days_past_due"] == "60"
    assert (values["debtor_name"], values["creditor"], values["currency"]) == (
        "John Miller",
        "Northwind Bank",
        "USD",
    )


def test_chinese_values() -> None:
    values = case_values(a_case(currency="CNY"), agent_name="小王", language="zh", today=TODAY)
    assert values["balance"] == "1,234.50元"
    assert values["min_installment"] == "206.00元"
    assert values["due_date"] == "2026年1月4日"
    assert values["today"] == "2026年3月5日"
    assert values["currency"] == "人民币"


@pytest.mark.parametrize(
    ("amount", "currency", "language", "expected"),
    [
        ("1234.5", "USD", "en", "$1,234.50"),
        ("1234.5", "CNY", "en", "¥1,234.50"),
        ("1234.5", "CNY", "zh", "1,234.50元"),
        ("1234.5", "USD", "zh", "1,234.50美元"),
        ("0.005", "EUR", "en", "€0.01"),
        ("-20", "USD", "en", "-$20.00"),
        ("99", "CHF", "en", "99.00 CHF"),
        ("99", "CHF", "zh", "99.00 CHF"),
    ],
)
def test_money_formatting(amount: str, currency: str, language: str, expected: str) -> None:
    assert format_money(Decimal(amount), currency, language) == expected


@pytest.mark.parametrize(
    ("language", "expected"), [("en", "March 5, 2026"), ("zh", "2026年3月5日")]
)
def test_date_formatting(language: str, expected: str) -> None:
    assert format_date(TODAY, language) == expected
