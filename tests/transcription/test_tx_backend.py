"""Backend output cleaning, device choice and the live encoder window."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ctranslate2
import faster_whisper
import pytest

from transcription.backend import (
    FasterWhisperBackend,
    decode_audio_file,
    is_hallucination,
    pick_device,
    window_frames,
)
from transcription.model_store import ModelPool
from transcription.streaming import SAMPLE_RATE, Backend, Segment


def seg(text: str, no_speech: float = 0.05, logprob: float = -0.2) -> Segment:
    return Segment(0.0, 1.0, text, (), no_speech, logprob)


@pytest.mark.parametrize(
    "text",
    [
        " Thanks for watching!",
        "字幕由Amara.org社区提供",
        "请不吝点赞 订阅 转发 打赏支持明镜与点点栏目",
        "谢谢观看",
        "以下是普通话的句子。",  # the Chinese prompt, read back
    ],
)
def test_stock_phrases_whisper_invents_are_dropped(text: str) -> None:
    assert is_hallucination(seg(text))


@pytest.mark.parametrize(
    "text", [" I can pay on Friday.", "我下个月还款", "我想取消订阅", " Thank you."]
)
def test_real_speech_is_kept(text: str) -> None:
    assert not is_hallucination(seg(text))


def test_short_courtesies_are_dropped_only_when_the_model_doubts_speech() -> None:
    assert is_hallucination(seg(" Thank you.", no_speech=0.4))
    assert is_hallucination(seg("谢谢", logprob=-0.9))
    assert is_hallucination(seg(" Anything at all", no_speech=0.85))


def test_cpu_gets_int8_and_cuda_float16() -> None:
    assert pick_device("cpu") == ("cpu", "int8")
    assert pick_device("cuda") == ("cuda", "float16")


@pytest.mark.parametrize(
    ("gpus", "choice"), [(0, ("cpu", "int8")), (1, ("cuda", "float16")), (4, ("cuda", "float16"))]
)
def test_auto_uses_a_gpu_when_ctranslate2_sees_one(
    monkeypatch: pytest.MonkeyPatch, gpus: int, choice: tuple[str, str]
) -> None:
    monkeypatch.setattr(ctranslate2, "get_cuda_device_count", lambda: gpus)
    assert pick_device("auto") == choice


def test_a_short_utterance_is_encoded_in_the_live_window_a_long_one_in_its_own_length() -> None:
    assert window_frames(3 * SAMPLE_RATE, 10.0) == 1000
    assert window_frames(12 * SAMPLE_RATE, 10.0) == 1300  # never cut: 1 s of silence after it
    assert window_frames(3 * SAMPLE_RATE, 30.0) is None  # Whisper's own 30 s
    assert window_frames(29 * SAMPLE_RATE, 10.0) is None


@pytest.mark.model
def test_live_utterances_use_the_short_window_and_whole_files_whisper_s_own(
    tx_pool: ModelPool[Backend], shared_audio: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tiny = tx_pool("en")
    assert isinstance(tiny, FasterWhisperBackend)
    encoded: list[int] = []
    original = faster_whisper.WhisperModel.encode

    def spy(model: faster_whisper.WhisperModel, features: Any) -> ctranslate2.StorageView:
        encoded.append(features.shape[-1])
        return original(model, features)

    monkeypatch.setattr(faster_whisper.WhisperModel, "encode", spy)
    audio = decode_audio_file(shared_audio / "deepspeech_new-home-in-the-stars-16k.wav")

    live = tiny.transcribe(audio, language="en")
    assert encoded == [1000]
    assert "new home in the stars" in " ".join(s.text for s in live).lower()
    assert live[0].words[-1].end == pytest.approx(3.4, abs=0.4)  # word times still line up

    encoded.clear()
    whole = tiny.transcribe_long(audio, language="en")
    assert encoded == [3000]
    assert "new home in the stars" in whole.text.lower()
