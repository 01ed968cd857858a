"""Invariants the fast normalisation paths rely on (see ``qa_review.normalize``)."""

import unicodedata

from qa_review.normalize import _CLAUSE_MARKS, normalize


def test_every_clause_mark_is_punctuation_so_chinese_drops_it() -> None:
    # A Chinese text that drops nothing has no break, so its clause ids are all zero.
    assert all(unicodedata.category(mark)[0] == "P" for mark in _CLAUSE_MARKS)


def test_clause_and_sentence_ids_change_at_breaks_only() -> None:
    english = normalize("No, I won't. Pay 1,234.50 now", "en")
    assert english.text == "no i will not pay 1 234 50 now"
    assert english.clauses == (0,) * 2 + (1,) * 11 + (2,) * 17
    assert english.sentences == (0,) * 13 + (1,) * 17
    chinese = normalize("你好，不會。還錢 1,000", "zh")
    assert chinese.text == "你好不会还钱1000"
    assert chinese.clauses == (0, 0, 1, 1, 2, 2, 2, 2, 2, 2)
    assert chinese.sentences == (0, 0, 0, 0, 1, 1, 1, 1, 1, 1)
