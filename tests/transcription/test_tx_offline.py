"""Whole-file transcription and its output formats."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tx_fakes import FakeBackend

from transcription.backend import ZH_PROMPT, FasterWhisperBackend, decode_audio_file
from transcription.model_store import ModelPool
from transcription.offline import (
    LongTranscript,
    render,
    timestamp,
    transcribe_file,
)
from transcription.service import TranscriptionService
from transcription.streaming import Backend, Segment, Word

SEGMENTS = [
    Segment(
        0.5, 2.25, " Hello there.", (Word(" Hello", 0.5, 1.0, 0.9), Word(" there.", 1.1, 2.25, 0.8))
    ),
    Segment(3661.0, 3662.5, " 你好", (Word("你好", 3661.0, 3662.5, 0.7),)),
]


def transcript(*segments: Segment) -> LongTranscript:
    return LongTranscript(segments, "en", 3662.5)


def test_timestamps_for_srt_and_vtt() -> None:
    assert timestamp(3661.0456) == "01:01:01.046"
    assert timestamp(0.0, ",") == "00:00:00,000"


def test_srt_numbers_cues_with_comma_millis() -> None:
    assert render(SEGMENTS, "srt") == (
        "1\n00:00:00,500 --> 00:00:02,250\nHello there.\n\n2\n01:01:01,000 --> 01:01:02,500\n你好\n"
    )


def test_vtt_has_a_header_and_dot_millis() -> None:
    assert render(SEGMENTS, "vtt") == (
        "WEBVTT\n\n00:00:00.500 --> 00:00:02.250\nHello there.\n\n"
        "01:01:01.000 --> 01:01:02.500\n你好\n"
    )


def test_text_and_json() -> None:
    assert render(SEGMENTS, "text") == "Hello there.\n你好\n"
    data = json.loads(render(SEGMENTS, "json"))
    assert data["segments"][0]["words"][1] == {
        "word": "there.",
        "start": 1.1,
        "end": 2.25,
        "probability": 0.8,
    }


def test_a_transcript_reads_as_one_text() -> None:
    assert transcript(*SEGMENTS).text == "Hello there. 你好"


def test_a_file_is_decoded_and_rendered(shared_audio: Path) -> None:
    class Recorder:
        seconds = 0.0

        def transcribe_long(
            self, audio: np.ndarray, *, language: str | None, prompt: str | None = None
        ) -> LongTranscript:
            self.seconds = len(audio) / 16_000
            return transcript(SEGMENTS[0])

    backend = Recorder()
    out = transcribe_file(shared_audio / "deepspeech_LDC93S1_8k.wav", fmt="text", backend=backend)
    assert out == "Hello there.\n"
    assert backend.seconds == pytest.approx(2.925, abs=0.01)  # resampled to 16 kHz


@pytest.mark.model
def test_a_flac_file_becomes_subtitles(tx_pool: ModelPool[Backend], shared_audio: Path) -> None:
    tiny = tx_pool("en")
    assert isinstance(tiny, FasterWhisperBackend)
    srt = transcribe_file(shared_audio / "fw_jfk.flac", language="en", fmt="srt", backend=tiny)
    assert srt.startswith("1\n00:00:0")
    assert "ask not what your country can do for you" in srt.lower()


@pytest.mark.model
def test_a_long_transcript_reports_language_and_duration(
    tx_pool: ModelPool[Backend], shared_audio: Path
) -> None:
    tiny = tx_pool("en")
    assert isinstance(tiny, FasterWhisperBackend)
    result = tiny.transcribe_long(decode_audio_file(shared_audio / "fw_jfk.flac"), language="en")
    assert result.language == "en"
    assert result.duration == pytest.approx(11.0, abs=0.01)
    assert "ask not what your country" in result.text.lower()


@pytest.mark.model
def test_the_prompt_reaches_whisper_and_chinese_gets_its_hint_by_default(
    tx_pool: ModelPool[Backend], shared_audio: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tiny = tx_pool("en")
    assert isinstance(tiny, FasterWhisperBackend)
    real = tiny._whisper.transcribe
    prompts: list[str | None] = []

    def spy(audio: np.ndarray, **options: Any) -> Any:
        prompts.append(options["initial_prompt"])
        return real(audio, **options)

    monkeypatch.setattr(tiny._whisper, "transcribe", spy)
    audio = decode_audio_file(shared_audio / "fsdd_7_jackson_0.wav")
    tiny.transcribe_long(audio, language="en", prompt="Seven, eight, nine.")
    tiny.transcribe_long(audio, language="en")
    tiny.transcribe_long(audio, language="zh")
    assert prompts == ["Seven, eight, nine.", None, ZH_PROMPT]


def test_a_service_lends_its_model_for_the_language(shared_audio: Path) -> None:
    class Whole(FakeBackend):
        """A live backend (the fake keeps up with that protocol) that also takes files."""

        def transcribe_long(
            self, audio: np.ndarray, *, language: str | None, prompt: str | None = None
        ) -> LongTranscript:
            return transcript(*SEGMENTS[1:])

    asked: list[str | None] = []

    def backend_for(language: str | None) -> Whole:
        asked.append(language)
        return Whole()

    service = TranscriptionService(backend_for)
    try:
        out = transcribe_file(shared_audio / "fsdd_3_nicolas_0.wav", language="zh", service=service)
    finally:
        service.close()
    assert out == "你好\n" and asked == ["zh"]
