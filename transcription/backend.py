"""faster-whisper behind the small ``Backend`` protocol; the only module that imports it.

Keeping CTranslate2, PyAV and the Silero VAD here means the streaming policy and its
tests never load a model, and swapping the recogniser touches one file. The backend also
cleans Whisper's output: it drops the stock phrases Whisper invents on silence or noise
("Thanks for watching", "字幕由…提供") and converts Chinese to Simplified, which the QA
rules and scripts are written in.
"""

from __future__ import annotations

import itertools
import logging
import re
from collections.abc import Iterable
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import ctranslate2
import numpy as np
import opencc
from faster_whisper import WhisperModel, decode_audio
from faster_whisper.vad import get_vad_model

from transcription import model_store
from transcription.offline import LongTranscript
from transcription.streaming import (
    SAMPLE_RATE,
    VAD_CONTEXT,
    VAD_FRAME,
    FloatArray,
    Segment,
    Word,
)

logger = logging.getLogger(__name__)

CHINESE = ("zh", "yue")
ZH_PROMPT = "以下是普通话的句子。"
"""Without a prompt Whisper often writes Chinese unpunctuated or in Traditional script."""

PROMPT_TOKENS = 96
HOTWORD_TOKENS = 64
MAX_NEW_TOKENS = 224
"""Budgets inside Whisper's 448-token context: hints, plus output for ~15 s of speech."""

WHISPER_WINDOW = 30.0
LIVE_WINDOW = 10.0
"""Seconds of audio the encoder sees for a live utterance, padded with silence.

Whisper pads every input to 30 s, and its encoder's cost grows faster than the input
(one core, int8: tiny.en 0.43 s for 30 s against 0.055 s for 10 s; base 0.82 s against
0.12 s). Our utterances are at most ``max_utterance`` (10 s) plus a little, so most of
a 30 s window is silence paid for at full price. At 10 s, tiny.en's WER on the benchmark
clips was unchanged (4.0 %) at a third of the time; below ~8 s Whisper starts saying the
sentence twice, having never been trained on short windows. whisper.cpp exposes the same
trade as ``audio_ctx``."""
WINDOW_MARGIN = 1.0
"""Silence kept after the longest utterance, so a long one is never cut at the window."""
FRAMES_PER_SECOND = 100

_window_frames: ContextVar[int | None] = ContextVar("whisper_window_frames", default=None)


_NEVER_SPOKEN = re.compile(
    r"thanks? (you )?(so much )?for watching|subscribe to (my|our|the) channel|amara\.org"
    r"|字幕(由|by|提供|制作|製作|志愿者|志願者)|明镜与点点|明鏡與點點|点赞.{0,8}订阅|點贊.{0,8}訂閱"
    r"|(谢谢|謝謝|感谢|感謝)(大家|您)?的?(观看|觀看|收看)"
    r"|普通[话話]的句子",  # ZH_PROMPT read back: Whisper echoes its prompt on unclear audio
    re.IGNORECASE,
)
"""Phrases a debt-collection call does not contain but Whisper emits on non-speech."""

_SUSPECT = frozenset(
    {"thank you", "thanks", "thank you very much", "you", "bye", "okay", "谢谢", "謝謝", "嗯"}
)
"""Real words that are also Whisper's favourite noise; dropped only when confidence is low."""


def pick_device(device: str) -> tuple[str, str]:
    """Resolve ``auto`` and choose the compute type: float16 on CUDA, int8 on CPU."""
    if device == "auto":
        device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    return device, "float16" if device == "cuda" else "int8"


def decode_audio_file(path: Path | str) -> FloatArray:
    """Any file FFmpeg/PyAV reads (wav, flac, mp3...) as 16 kHz mono float32."""
    audio: FloatArray = decode_audio(str(path), sampling_rate=SAMPLE_RATE)
    return audio


def window_frames(samples: int, window: float) -> int | None:
    """Mel frames to encode for an utterance of ``samples``; ``None`` keeps Whisper's 30 s."""
    seconds = max(window, samples / SAMPLE_RATE + WINDOW_MARGIN)
    if seconds >= WHISPER_WINDOW:
        return None
    return int(seconds * FRAMES_PER_SECOND)


class _WindowedWhisper(WhisperModel):  # type: ignore[misc]  # faster-whisper ships no types
    """faster-whisper with the encoder input cut to the window its caller asked for.

    faster-whisper always pads features to 3000 frames before :meth:`encode`; trimming
    them there (CTranslate2 accepts any length up to 3000) leaves its decoding, word
    alignment and fallbacks untouched. The window travels in a context variable because
    one model serves several threads at once and the request is otherwise not in reach.
    """

    def encode(self, features: Any) -> ctranslate2.StorageView:
        frames = _window_frames.get()
        if frames is not None and features.shape[-1] > frames:
            features = features[..., :frames]
        return super().encode(features)


class FasterWhisperBackend:
    """One loaded Whisper model, shared by every session; up to ``workers`` calls at once."""

    def __init__(
        self,
        model: str = model_store.TINY_EN,
        device: str = "auto",
        cache_dir: Path | None = None,
        workers: int = 1,
        simplified_chinese: bool = True,
        live_window: float = LIVE_WINDOW,
    ) -> None:
        """``workers`` concurrent calls share the cores: each gets ``cores // workers``
        threads. On a 2-core box two single-threaded calls decode ~50 % more per second
        than one call on two threads (CTranslate2's ``num_workers``); see the service.
        ``simplified_chinese=False`` keeps Chinese in whatever script Whisper wrote.
        ``live_window`` is the encoder window for live utterances (see ``LIVE_WINDOW``);
        ``transcribe_long`` always uses Whisper's 30 s."""
        self.model = model
        self.device, self.compute_type = pick_device(device)
        path = model_store.resolve_model(model, cache_dir or Path("data/models"))
        logger.info("loading Whisper %s on %s (%s)", model, self.device, self.compute_type)
        self.live_window = live_window
        self._whisper = _WindowedWhisper(
            path,
            device=self.device,
            compute_type=self.compute_type,
            cpu_threads=max(1, model_store.usable_cores() // workers),
            num_workers=workers,
            local_files_only=True,
        )
        self._to_simplified = opencc.OpenCC("t2s") if simplified_chinese else None

    @property
    def multilingual(self) -> bool:
        return bool(self._whisper.model.is_multilingual)

    def transcribe(
        self,
        audio: FloatArray,
        *,
        language: str | None,
        prompt: str | None = None,
        hotwords: str | None = None,
        partial: bool = False,
    ) -> list[Segment]:
        """Recognise one utterance (at most a few seconds over ``max_utterance``).

        The utterance is decoded as a single window without timestamp tokens, and only
        that window's segment is taken: with word timestamps faster-whisper would seek to
        the last word's end and decode the remaining fraction of a second as a second
        30 s window, doubling the cost of every final and inventing text on the tail
        ("Thanks.", "这些东西, 这些东西, ..."). Partials use greedy search and skip word
        alignment; the token cap bounds any remaining repetition loop.
        """
        if prompt is None and language == "zh":
            prompt = ZH_PROMPT
        window = _window_frames.set(window_frames(len(audio), self.live_window))
        try:
            return self._decode_utterance(audio, language, prompt, hotwords, partial)
        finally:
            _window_frames.reset(window)

    def _decode_utterance(
        self,
        audio: FloatArray,
        language: str | None,
        prompt: str | None,
        hotwords: str | None,
        partial: bool,
    ) -> list[Segment]:
        segments, info = self._whisper.transcribe(
            audio,
            language=language if self.multilingual else "en",
            beam_size=1 if partial else 5,
            temperature=0.0 if partial else [0.0, 0.2, 0.4, 0.6],
            word_timestamps=not partial,
            without_timestamps=True,
            condition_on_previous_text=False,
            initial_prompt=self._clip(prompt, PROMPT_TOKENS, keep_end=True),
            hotwords=self._clip(hotwords, HOTWORD_TOKENS, keep_end=False),
            max_new_tokens=min(MAX_NEW_TOKENS, 24 + int(12 * len(audio) / SAMPLE_RATE)),
            vad_filter=False,
        )
        first_window = itertools.islice(segments, 1)  # lazy: later windows are never decoded
        return self._clean(first_window, chinese=(language or info.language) in CHINESE)

    def transcribe_long(
        self, audio: FloatArray, *, language: str | None, prompt: str | None = None
    ) -> LongTranscript:
        """A whole recording (``offline``): VAD-filtered, Whisper's own 30 s windows and
        timestamps, so segments are sentence-sized subtitle cues.

        ``prompt`` replaces the Chinese punctuation hint, as in :meth:`transcribe`;
        faster-whisper keeps its last 223 tokens. The language Whisper settled on and the
        audio's duration come back with the segments, for callers that report them.
        """
        if prompt is None and language == "zh":
            prompt = ZH_PROMPT
        segments, info = self._whisper.transcribe(
            audio,
            language=language if self.multilingual else "en",
            word_timestamps=True,
            condition_on_previous_text=False,
            initial_prompt=prompt or None,
            vad_filter=True,
        )
        chinese = info.language in CHINESE
        return LongTranscript(
            tuple(self._clean(segments, chinese=chinese)), info.language, float(info.duration)
        )

    def voice_detector(self) -> SileroDetector:
        """A fresh Silero VAD state for one channel."""
        return SileroDetector()

    def _clip(self, text: str | None, limit: int, *, keep_end: bool) -> str | None:
        """Keep hints within a token budget so prompt + output fit Whisper's 448 tokens."""
        if not text:
            return None
        ids = self._whisper.hf_tokenizer.encode(text, add_special_tokens=False).ids
        if len(ids) <= limit:
            return text
        kept = ids[-limit:] if keep_end else ids[:limit]
        return str(self._whisper.hf_tokenizer.decode(kept)).strip("\ufffd")

    def _clean(self, raw: Iterable[Any], *, chinese: bool) -> list[Segment]:
        """Plain segments, Simplified if Chinese, without empty text or hallucinations."""
        kept = []
        for segment in (self._segment(r, chinese) for r in raw):
            if is_hallucination(segment):
                logger.debug("dropped likely hallucination %r", segment)
            elif segment.text.strip():
                kept.append(segment)
        return kept

    def _segment(self, raw: Any, chinese: bool) -> Segment:
        convert = self._to_simplified.convert if chinese and self._to_simplified else _same
        words = tuple(
            Word(convert(w.word), float(w.start), float(w.end), float(w.probability))
            for w in raw.words or ()
        )
        return Segment(
            float(raw.start),
            float(raw.end),
            convert(raw.text),
            words,
            float(raw.no_speech_prob),
            float(raw.avg_logprob),
        )


def is_hallucination(segment: Segment) -> bool:
    """Whisper's inventions on non-speech: stock phrases, or confident 'no speech'."""
    text = segment.text.strip()
    if _NEVER_SPOKEN.search(text):
        return True
    if segment.no_speech_prob >= 0.8 or (
        segment.no_speech_prob > 0.5 and segment.avg_logprob < -0.7
    ):
        return True
    normalised = re.sub(r"[\s.,!?。，！？、…]+", " ", text).strip().lower()
    unsure = segment.no_speech_prob > 0.2 or segment.avg_logprob < -0.7
    return normalised in _SUSPECT and unsure


class SileroDetector:
    """Silero VAD (bundled with faster-whisper) over one channel, scored incrementally.

    faster-whisper's ``get_speech_timestamps`` re-scores a whole array on every call; a
    live channel instead scores only its new frames, carrying the model's recurrent
    state and each frame's 64-sample left context, which gives exactly the probabilities
    of scoring the whole stream at once (checked in the tests).
    """

    def __init__(self) -> None:
        self._context = np.zeros(VAD_CONTEXT, dtype=np.float32)
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)

    def __call__(self, frames: FloatArray) -> FloatArray:
        """Speech probability of each 512-sample frame of ``frames``."""
        if not len(frames):
            return np.zeros(0, dtype=np.float32)
        rows = frames.reshape(-1, VAD_FRAME)
        previous = np.concatenate([self._context[None, :], rows[:-1, -VAD_CONTEXT:]])
        batch = np.concatenate([previous, rows], axis=1)
        session = get_vad_model().session
        probs, self._h, self._c = session.run(None, {"input": batch, "h": self._h, "c": self._c})
        self._context = rows[-1, -VAD_CONTEXT:].copy()
        return np.asarray(probs, dtype=np.float32).reshape(-1)


def _same(text: str) -> str:
    return text
