"""WhisperLive's segment messages as the scorer's events (no server, no model)."""

from __future__ import annotations

from benchmarks.whisperlive import ChannelState, segment_events


def _segment(start: str, end: str, text: str, completed: bool) -> dict[str, object]:
    return {"start": start, "end": end, "text": text, "completed": completed}


def test_a_completed_segment_is_one_final_at_its_first_arrival() -> None:
    state = ChannelState(1, "uid")
    first = [_segment("0.270", "3.270", " We must", True), _segment("5.0", "6.0", " How", False)]
    again = [first[0], _segment("5.0", "6.7", " How old", False)]

    events = segment_events(first, state, 9.0) + segment_events(again, state, 9.5)

    assert [(e.type, e.text, e.arrival) for e in events] == [
        ("final", " We must", 9.0),
        ("partial", " How", 9.0),
        ("partial", " How old", 9.5),
    ]
    assert (events[0].channel, events[0].start, events[0].end) == (1, 0.27, 3.27)


def test_an_unchanged_partial_is_not_repeated_and_word_times_win() -> None:
    state = ChannelState(0, "uid")
    words = [{"word": " Hi", "start": "0.600", "end": "0.900"}]
    segment = {**_segment("0.200", "1.000", " Hi", False), "words": words}

    events = segment_events([segment], state, 1.5) + segment_events([segment], state, 2.0)

    assert [(e.start, e.end, e.arrival) for e in events] == [(0.6, 0.9, 1.5)]
