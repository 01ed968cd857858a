"""Backend output cleaning and device choice (no model needed)."""

from __future__ import annotations

import ctranslate2
import pytest

from transcription.backend import is_hallucination, pick_device
from transcription.streaming import Segment


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
