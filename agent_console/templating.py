"""One Jinja2 environment; htmx requests get a named block of the page, not a copy of it."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import jinja2_fragments
from jinja2_fragments.fastapi import Jinja2Blocks

from case_store.crypto import mask
from scripts_library.render import format_money

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"

templates = Jinja2Blocks(directory=str(TEMPLATES_DIR))


def money(value: Decimal | float | int, currency: str = "USD") -> str:
    """Amounts in the console read exactly as they do in rendered scripts."""
    return format_money(Decimal(value), currency, "en")


def timestamp(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes:02d}:{secs:02d}"


def render_fragment(name: str, block: str, **context: Any) -> str:
    """A single block as HTML, for fragments pushed over the live-call WebSocket."""
    return str(jinja2_fragments.render_block(templates.env, name, block, **context))


# Labels the console shows for QA category ids and required statements (shared/PRODUCT.md).
CATEGORY_LABELS = {
    "threat": "Threat",
    "abuse": "Abusive language",
    "false_legal": "False legal threat",
    "impersonation": "Impersonating an official",
    "disclosure": "Disclosure to third parties",
    "harassment": "Harassment",
}
CHECKLIST_LABELS = {
    "identity_check": "Identity verified",
    "recording_notice": "Recording notice",
    "mini_miranda": "Mini-Miranda",
}

templates.env.globals["CATEGORY_LABELS"] = CATEGORY_LABELS
templates.env.globals["CHECKLIST_LABELS"] = CHECKLIST_LABELS
templates.env.filters["money"] = money
templates.env.filters["mask"] = mask
templates.env.filters["timestamp"] = timestamp
