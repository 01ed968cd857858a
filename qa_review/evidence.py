"""Where a flag's phrase sits in its segment, so a page can mark it and escape the rest."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Highlight:
    """A segment's text in three parts; only ``marked`` is the flagged phrase."""

    before: str
    marked: str
    after: str


def highlight(text: str, start: int, end: int, evidence: str = "") -> Highlight:
    """Split ``text`` around the flagged characters ``[start, end)``.

    The offsets are trusted when they point at the evidence (ignoring case). If they do
    not (a segment edited after the flag), the evidence is searched for instead, and with
    neither the text is returned unmarked rather than marking the wrong words.
    """
    in_range = 0 <= start < end <= len(text)
    if in_range and (not evidence or text[start:end].casefold() == evidence.casefold()):
        return Highlight(text[:start], text[start:end], text[end:])
    at = text.casefold().find(evidence.casefold()) if evidence else -1
    if at >= 0 and len(text.casefold()) == len(text):
        return Highlight(text[:at], text[at : at + len(evidence)], text[at + len(evidence) :])
    return Highlight(text, "", "")
