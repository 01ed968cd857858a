"""The streaming policy against a fake backend: fixed chunks in, exact events out."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from tx_fakes import VOCAB, FakeBackend, chunks, noise, say, silence

from transcription.streaming import (
    Event,
    Final,
    Partial,
    StreamPolicy,
    StreamSession,
    Word,
    recognise,
)


def run(
    session: StreamSession, audio: np.ndarray, *, channel_count: int = 1
) -> list[tuple[float, Event]]:
    """Feed mono audio (copied to every channel) in 0.1 s chunks; events with feed time."""
    events: list[tuple[float, Event]] = []
    fed = 0.0
    for chunk in chunks(audio):
        fed += len(chunk) / 16_000
        events += [(fed, e) for e in session.feed([chunk] * channel_count)]
    return events


def finals(events: list[tuple[float, Event]]) -> list[Final]:
    return [e for _, e in events if isinstance(e, Final)]


def partials(events: list[tuple[float, Event]]) -> list[Partial]:
    return [e for _, e in events if isinstance(e, Partial)]


def test_partials_arrive_while_speaking_and_grow() -> None:
    session = StreamSession(FakeBackend())
    events = run(session, np.concatenate([silence(1.0), say(*VOCAB[:6])]))
    drafts = partials(events)
    assert len(drafts) >= 2
    assert not finals(events)
    assert drafts[0].text.split() == list(VOCAB[: len(drafts[0].text.split())])
    assert len(drafts[-1].text.split()) > len(drafts[0].text.split())
    assert all(d.start == pytest.approx(1.0, abs=0.05) for d in drafts)


def test_partials_are_spaced_by_at_least_partial_every() -> None:
    session = StreamSession(FakeBackend(), policy=StreamPolicy(partial_every=0.7))
    events = run(session, say(*VOCAB, *VOCAB)[: 16_000 * 6])
    times = [t for t, e in events if isinstance(e, Partial)]
    assert len(times) >= 3
    assert all(b - a >= 0.7 - 1e-9 for a, b in itertools.pairwise(times))


def test_trailing_silence_produces_one_final_before_stop() -> None:
    backend = FakeBackend()
    session = StreamSession(backend)
    events = run(session, np.concatenate([silence(2.0), say("alpha", "bravo"), silence(1.0)]))
    (final,) = finals(events)
    assert final.text == "alpha bravo"
    assert [w.word for w in final.words] == ["alpha", "bravo"]
    assert backend.calls[-1].partial is False
    assert session.flush() == []


def test_final_times_are_stream_time_from_first_sample() -> None:
    session = StreamSession(FakeBackend())
    audio = np.concatenate(
        [silence(20.0), say("alpha"), silence(3.0), say("bravo", "charlie"), silence(1.0)]
    )
    first, second = finals(run(session, audio))
    assert (first.start, first.end) == pytest.approx((20.0, 20.4), abs=1e-3)
    assert first.words == (Word("alpha", pytest.approx(20.0), pytest.approx(20.4), 0.9),)
    assert (second.start, second.end) == pytest.approx((23.5, 24.4), abs=1e-3)
    assert [w.start for w in second.words] == pytest.approx([23.5, 24.0], abs=1e-3)


def test_final_is_requested_once_min_silence_has_passed() -> None:
    """End-of-turn detection costs min_silence plus at most one VAD frame and one chunk."""
    session = StreamSession(FakeBackend(), policy=StreamPolicy(min_silence=0.5))
    speech = say("alpha", "bravo")
    events = run(session, np.concatenate([speech, silence(2.0)]))
    ((emitted_at, _),) = [(t, e) for t, e in events if isinstance(e, Final)]
    speech_end = len(speech) / 16_000 - 0.1
    assert speech_end + 0.5 <= emitted_at <= speech_end + 0.5 + 0.032 + 0.1 + 1e-9


def test_long_monologue_is_force_committed_in_order() -> None:
    policy = StreamPolicy(max_utterance=5.0, commit_holdback=1.0)
    session = StreamSession(FakeBackend(), policy=policy)
    words = [VOCAB[i % len(VOCAB)] for i in range(40)]  # 20 s without a pause
    peak = 0.0
    events: list[Event] = []
    for chunk in chunks(say(*words)):
        events += session.feed([chunk])
        peak = max(peak, session.channels[0].buffered_seconds)
    before_stop = [e for e in events if isinstance(e, Final)]
    everything = before_stop + [e for e in session.flush() if isinstance(e, Final)]
    assert len(before_stop) >= 3
    assert " ".join(f.text for f in everything).split() == words
    assert all(f.end - f.start <= policy.max_utterance for f in everything)
    assert all(a.end <= b.start for a, b in itertools.pairwise(everything))
    assert peak <= policy.max_utterance + policy.pad + 0.1 + 1e-9


def test_noise_without_words_does_not_grow_the_buffer() -> None:
    session = StreamSession(FakeBackend(), policy=StreamPolicy(max_utterance=5.0))
    peak = 0.0
    for chunk in chunks(noise(40.0)):
        assert session.feed([chunk]) == []
        peak = max(peak, session.channels[0].buffered_seconds)
    assert peak <= 6.0


def test_silence_emits_nothing_calls_no_inference_and_stays_small() -> None:
    backend = FakeBackend()
    session = StreamSession(backend)
    peak = 0.0
    for chunk in chunks(silence(120.0)):
        assert session.feed([chunk]) == []
        peak = max(peak, session.channels[0].buffered_seconds)
    assert session.flush() == []
    assert backend.calls == []
    assert peak <= 1.0
    assert session.channels[0].received_seconds == pytest.approx(120.0)


def test_flush_finalises_speech_that_never_went_quiet() -> None:
    session = StreamSession(FakeBackend())
    events = run(session, np.concatenate([silence(0.5), say("delta", "echo")]))
    assert not finals(events)
    (final,) = session.flush()
    assert isinstance(final, Final)
    assert final.text == "delta echo"
    assert final.start == pytest.approx(0.5, abs=1e-3)


def test_two_channels_are_transcribed_independently() -> None:
    session = StreamSession(FakeBackend(), channels=2)
    left = np.concatenate([silence(1.0), say("alpha"), silence(5.0)])
    right = np.concatenate([silence(4.0), say("golf", "hotel"), silence(1.5)])
    events: list[Event] = []
    for a, b in zip(chunks(left), chunks(right), strict=True):
        events += session.feed([a, b])
    got = [
        (e.channel, e.speaker, e.text, round(e.start, 2)) for e in events if isinstance(e, Final)
    ]
    assert got == [(0, "agent", "alpha", 1.0), (1, "debtor", "golf hotel", 4.0)]


def test_mono_speaker_is_unlabelled() -> None:
    session = StreamSession(FakeBackend(), channels=1)
    run(session, say("alpha"))
    (final,) = session.flush()
    assert isinstance(final, Final)
    assert (final.channel, final.speaker) == (0, "speaker")


def test_context_reaches_the_backend() -> None:
    backend = FakeBackend()
    session = StreamSession(backend, language="en")
    session.set_context(hotwords=["Parley", "instalment"], prompt="Debt collection call.")
    run(session, say("alpha", "bravo"))
    session.flush()
    call = backend.calls[-1]
    assert (call.language, call.prompt, call.hotwords) == (
        "en",
        "Debt collection call.",
        "Parley instalment",
    )


def test_partials_can_be_disabled() -> None:
    backend = FakeBackend()
    session = StreamSession(backend, policy=StreamPolicy(partials=False))
    events = run(session, np.concatenate([say(*VOCAB), silence(1.0)]))
    assert not partials(events)
    assert len(finals(events)) == 1
    assert not any(c.partial for c in backend.calls)


def test_messages_match_the_protocol() -> None:
    partial = Partial(1, "debtor", "hello", 1.23456)
    final = Final(0, "agent", "hi there", 1.0, 2.5, (Word("hi", 1.0, 1.5, 0.98765),))
    assert partial.to_message() == {
        "type": "partial",
        "channel": 1,
        "speaker": "debtor",
        "text": "hello",
        "start": 1.235,
    }
    assert final.to_message() == {
        "type": "final",
        "channel": 0,
        "speaker": "agent",
        "text": "hi there",
        "start": 1.0,
        "end": 2.5,
        "words": [{"word": "hi", "start": 1.0, "end": 1.5, "probability": 0.988}],
    }


def test_feed_rejects_wrong_channel_count() -> None:
    session = StreamSession(FakeBackend(), channels=2)
    with pytest.raises(ValueError, match="expected 2 channels"):
        session.feed([silence(0.1)])


def test_a_caller_shedding_load_can_skip_partials_but_never_finals() -> None:
    session = StreamSession(FakeBackend())
    events: list[Event] = []
    for chunk in chunks(np.concatenate([say(*VOCAB), silence(1.0)])):
        events += session.feed([chunk], partials=False)
    assert [type(e) for e in events] == [Final]


def test_a_partial_answered_after_its_utterance_ended_is_not_shown() -> None:
    """The scheduler may answer a draft late; it must not overwrite the final."""
    backend = FakeBackend()
    session = StreamSession(backend, policy=StreamPolicy(partial_every=0.3))
    requests = []
    for chunk in chunks(np.concatenate([say("alpha", "bravo"), silence(1.0)])):
        requests += session.push([chunk])
    draft = next(r for r in requests if r.kind == "partial")
    final = next(r for r in requests if r.kind == "final")
    events, _ = session.resolve(final, recognise(backend, final))
    assert [e.text for e in events] == ["alpha bravo"]
    assert session.resolve(draft, recognise(backend, draft)) == ([], [])


def test_only_one_partial_per_channel_is_in_flight() -> None:
    session = StreamSession(FakeBackend(), policy=StreamPolicy(partial_every=0.2))
    requests = []
    for chunk in chunks(say(*VOCAB)):
        requests += session.push([chunk])
    assert [r.kind for r in requests] == ["partial"]


def test_an_utterance_ending_while_its_commit_is_pending_follows_the_commit() -> None:
    """The final after a slow commit starts at the commit's cut: no word twice or lost."""
    backend = FakeBackend()
    policy = StreamPolicy(max_utterance=2.0, commit_holdback=0.5, partials=False)
    session = StreamSession(backend, policy=policy)
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot"]
    requests = []
    for chunk in chunks(np.concatenate([say(*words), silence(1.0)])):
        requests += session.push([chunk])
    assert [r.kind for r in requests] == ["commit"]  # the final waits for the cut
    events, more = session.resolve(requests[0], recognise(backend, requests[0]))
    assert [r.kind for r in more] == ["final"]
    tail, _ = session.resolve(more[0], recognise(backend, more[0]))
    texts = [e.text for e in events + tail]
    assert " ".join(texts).split() == words
    assert len(texts) == 2
