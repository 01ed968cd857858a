"""Composition of benchmark calls from the shared recordings: no model, real audio."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmarks import callgen
from benchmarks.callgen import MULAW_8K, PCM_16K, CallOptions, frame_rms_dbfs
from transcription.audio import MULAW_TABLE
from transcription.streaming import SAMPLE_RATE


@pytest.fixture(scope="module", params=["en", "zh"])
def call(request: pytest.FixtureRequest, shared_audio: Path) -> callgen.Call:
    clips = callgen.load_clips(request.param, shared_audio)
    return callgen.compose(request.param, seed=7, clips=clips)


def _samples(seconds: float) -> int:
    return round(seconds * SAMPLE_RATE)


def test_turns_alternate_between_agent_and_debtor(call: callgen.Call) -> None:
    assert len(call.turns) >= 6
    assert [t.channel for t in call.turns] == [i % 2 for i in range(len(call.turns))]


def test_turns_never_overlap_and_keep_the_configured_gaps(call: callgen.Call) -> None:
    options = CallOptions()
    gaps = [b.start - a.end for a, b in zip(call.turns, call.turns[1:], strict=False)]
    assert all(options.gap[0] - 1e-3 <= g <= options.gap[1] + 1e-3 for g in gaps)
    assert options.lead_in[0] - 1e-3 <= call.turns[0].start <= options.lead_in[1] + 1e-3
    assert call.turns[-1].end <= options.seconds - options.tail
    assert call.seconds == options.seconds


def test_every_turn_carries_its_clips_reference(call: callgen.Call, shared_audio: Path) -> None:
    clips = {c.name: c for c in callgen.load_clips(call.language, shared_audio)}
    for turn in call.turns:
        assert turn.reference.strip()
        assert turn.reference == clips[turn.clip].reference
        assert "LEFT:" not in turn.reference and "|" not in turn.reference


def test_turn_ends_are_the_ends_of_the_trimmed_words(
    call: callgen.Call, shared_audio: Path
) -> None:
    clips = {c.name: c for c in callgen.load_clips(call.language, shared_audio)}
    for turn in call.turns:
        clip = clips[turn.clip]
        start, end = _samples(turn.start), _samples(turn.end)
        assert end - start == len(clip.audio)
        channel = call.audio[:, turn.channel]
        if not turn.telephone:
            np.testing.assert_allclose(channel[start:end], clip.audio, atol=0.005)  # noise floor
        words_end = frame_rms_dbfs(channel[end - _samples(0.06) : end])
        after = frame_rms_dbfs(channel[end : end + _samples(0.5)])
        assert after < -55 < words_end


def test_clips_are_trimmed_to_speech(shared_audio: Path) -> None:
    for clip in callgen.load_clips("en", shared_audio) + callgen.load_clips("zh", shared_audio):
        edge = _samples(callgen.TRIM_FRAME * callgen.TRIM_RUN)
        peak = max(
            frame_rms_dbfs(clip.audio[i : i + edge]) for i in range(0, len(clip.audio), edge)
        )
        assert frame_rms_dbfs(clip.audio[:edge]) > peak - callgen.TRIM_BELOW_PEAK_DB
        assert frame_rms_dbfs(clip.audio[-edge:]) > peak - callgen.TRIM_BELOW_PEAK_DB


def test_the_same_seed_composes_the_same_call(shared_audio: Path) -> None:
    clips = callgen.load_clips("en", shared_audio)
    first, again = (callgen.compose("en", seed=3, clips=clips) for _ in range(2))
    other = callgen.compose("en", seed=4, clips=clips)
    assert first.turns == again.turns and first.wire == again.wire
    np.testing.assert_array_equal(first.audio, again.audio)
    assert [t.clip for t in other.turns] != [t.clip for t in first.turns]


def test_mixed_wire_formats_are_drawn_per_call(shared_audio: Path) -> None:
    clips = callgen.load_clips("en", shared_audio)
    wires = {callgen.compose("en", seed=s, clips=clips).wire for s in range(8)}
    assert wires == {PCM_16K, MULAW_8K}
    forced = callgen.compose("en", seed=0, options=CallOptions(wire="mulaw"), clips=clips)
    assert forced.wire == MULAW_8K


@pytest.mark.parametrize("wire", [PCM_16K, MULAW_8K])
def test_the_service_decodes_the_wire_bytes_back_to_the_call(
    call: callgen.Call, wire: callgen.WireFormat
) -> None:
    sent = callgen.Call(call.seed, call.language, call.audio, call.turns, wire)
    frames = sent.frames(0.1)
    assert all(len(f) % (2 * wire.bytes_per_sample) == 0 for f in frames)
    assert b"".join(frames) == sent.wire_bytes()
    received = sent.received()
    for channel in (0, 1):
        assert len(received[channel]) == pytest.approx(len(call.audio), abs=16)
        length = min(len(received[channel]), len(call.audio))
        residual = received[channel][:length] - call.audio[:length, channel]
        assert frame_rms_dbfs(residual) < (-30 if wire == MULAW_8K else -80)


def test_mulaw_picks_the_nearest_code_of_the_services_table() -> None:
    pcm = np.arange(-32768, 32768, 7, dtype=np.int16)
    decoded = MULAW_TABLE[callgen.mulaw_encode(pcm)].astype(np.int32)
    levels = np.unique(MULAW_TABLE.astype(np.int32))
    nearest = levels[np.abs(pcm.astype(np.int32)[:, None] - levels[None, :]).argmin(axis=1)]
    np.testing.assert_array_equal(np.abs(decoded - pcm), np.abs(nearest - pcm))
