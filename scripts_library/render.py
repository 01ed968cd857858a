"""Script placeholders: what a trainer may write, and how a case fills them in.

A script body uses ``{name}`` placeholders from ``PLACEHOLDERS``. Bodies are validated
when saved, so "Dear {name}" is rejected before it can reach a call; a value that is
missing at render time shows as a visible gap ("[debtor_name?]"), never as raw braces.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

from case_store.models import Case

PLACEHOLDERS: Mapping[str, str] = {
    "debtor_name": "The debtor's name as on the account.",
    "creditor": "Who the debt is owed to.",
    "balance": "Outstanding balance, formatted as money.",
    "currency": "The balance's currency, by name.",
    "days_past_due": "Days since the due date.",
    "due_date": "The missed due date, written out.",
    "min_installment": "The balance spread over six months, rounded up to a whole unit.",
    "settlement_amount": "The standard one-time settlement offer (70 % of the balance).",
    "agent_name": "The collector's display name.",
    "today": "Today's date, written out.",
}
INSTALLMENT_MONTHS = 6
SETTLEMENT_RATE = Decimal("0.70")

_TOKEN = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_CENT = Decimal("0.01")
_SYMBOLS = {"USD": "$", "CNY": "¥", "EUR": "€", "GBP": "£", "HKD": "HK$"}
_ZH_UNITS = {"USD": "美元", "CNY": "元", "EUR": "欧元", "GBP": "英镑", "HKD": "港元"}
_ZH_CURRENCY_NAMES = {"USD": "美元", "CNY": "人民币", "EUR": "欧元", "GBP": "英镑", "HKD": "港元"}
_EN_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def placeholders_in(body: str) -> set[str]:
    """Every ``{name}`` in ``body``, known or not."""
    return set(_TOKEN.findall(body))


def validate(body: str) -> None:
    """Raise ValueError for unknown placeholders or stray braces ("{ name }", "{{")."""
    unknown = sorted(placeholders_in(body) - PLACEHOLDERS.keys())
    if unknown:
        raise ValueError(f"unknown placeholder(s): {', '.join(unknown)}")
    leftover = _TOKEN.sub("", body)
    if "{" in leftover or "}" in leftover:
        raise ValueError("stray brace: placeholders are written {name}")


def render(body: str, values: Mapping[str, str | None]) -> str:
    """Fill placeholders; a missing or empty value renders as "[name?]" so the agent sees
    the gap instead of reading out braces."""
    validate(body)

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        value = values.get(name)
        return value if value else f"[{name}?]"

    return _TOKEN.sub(fill, body)


def case_values(
    case: Case, *, agent_name: str, language: str, today: date | None = None
) -> dict[str, str]:
    """Placeholder values for one case, formatted for the script's language."""
    today = today or date.today()
    currency = case.currency.upper()
    zh = language.lower().startswith("zh")
    return {
        "debtor_name": case.debtor.name,
        "creditor": case.creditor,
        "balance": format_money(case.balance, currency, language),
        "currency": _ZH_CURRENCY_NAMES.get(currency, currency) if zh else currency,
        "days_past_due": str(case.days_past_due(today)),
        "due_date": format_date(case.due_date, language),
        "min_installment": format_money(min_installment(case.balance), currency, language),
        "settlement_amount": format_money(settlement_amount(case.balance), currency, language),
        "agent_name": agent_name,
        "today": format_date(today, language),
    }


def min_installment(balance: Decimal) -> Decimal:
    """The balance spread over ``INSTALLMENT_MONTHS``, rounded up to a whole unit so the
    plan never falls short of the balance."""
    return (balance / INSTALLMENT_MONTHS).to_integral_value(rounding=ROUND_CEILING)


def settlement_amount(balance: Decimal) -> Decimal:
    return (balance * SETTLEMENT_RATE).quantize(_CENT, rounding=ROUND_HALF_UP)


def format_money(amount: Decimal, currency: str, language: str) -> str:
    """ "$1,234.50" in English; "1,234.50元" / "1,234.50美元" in Chinese; unknown
    currencies fall back to the ISO code."""
    number = f"{amount.quantize(_CENT, rounding=ROUND_HALF_UP):,.2f}"
    currency = currency.upper()
    if language.lower().startswith("zh"):
        return f"{number}{_ZH_UNITS.get(currency, ' ' + currency)}"
    symbol = _SYMBOLS.get(currency)
    if symbol is None:
        return f"{number} {currency}"
    sign, digits = ("-", number[1:]) if number.startswith("-") else ("", number)
    return f"{sign}{symbol}{digits}"


def format_date(day: date, language: str) -> str:
    """ "March 5, 2026" in English, "2026年3月5日" in Chinese."""
    if language.lower().startswith("zh"):
        return f"{day.year}年{day.month}月{day.day}日"
    return f"{_EN_MONTHS[day.month - 1]} {day.day}, {day.year}"
