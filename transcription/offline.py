"""Whole-file transcription for ``parley transcribe FILE``: text, JSON, SRT or WebVTT.

The backend transcribes the recording in one pass (faster-whisper's VAD filter skips
silence, its 30 s windows give sentence-sized segments); this module only renders. It
accepts any object with ``transcribe_long``, so formats are tested without a model. It
also does not import the backend at module level, so the HTTP routes that render through
it (``openai_api``) load faster-whisper only when a request needs it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol, get_args, runtime_checkable

from transcription.streaming import FloatArray, Segment, Word

if TYPE_CHECKING:
    from transcription.service import TranscriptionService

Format = Literal["text", "json", "srt", "vtt"]
FORMATS: tuple[str, ...] = get_args(Format)


@dataclass(frozen=True, slots=True)
class LongTranscript:
    """A whole recording's segments plus what Whisper learnt about it on the way.

    ``language`` is the one given or, when transcription was automatic, the one Whisper
    detected; ``duration`` is the length of the audio in seconds, silence included.
    Callers that report on a file (OpenAI's ``verbose_json``) need both, and only the
    backend knows them.
    """

    segments: tuple[Segment, ...]
    language: str
    duration: float

    @property
    def text(self) -> str:
        """All segments as one string (Whisper's leading spaces separate English words)."""
        return "".join(s.text for s in self.segments).strip()


@runtime_checkable
class FileBackend(Protocol):
    def transcribe_long(
        self, audio: FloatArray, *, language: str | None, prompt: str | None = None
    ) -> LongTranscript:
        """Segments of 16 kHz mono audio, times from the start of the recording.

        ``prompt`` is Whisper's initial prompt: spellings and style for the first window.
        """
        ...


def transcribe_file(
    path: Path | str,
    *,
    language: str | None = None,
    fmt: Format = "text",
    backend: FileBackend | None = None,
    service: TranscriptionService | None = None,
) -> str:
    """Decode any audio file FFmpeg reads (wav, flac, mp3...) and render its transcript.

    Pass a ``backend``, or a ``service`` whose model for ``language`` is used (the CLI's
    way: the same model choice as live calls).
    """
    from transcription.backend import decode_audio_file

    if backend is None:
        if service is None:
            raise TypeError("transcribe_file() needs a backend or a service")
        backend = file_backend(service, language)
    transcript = backend.transcribe_long(decode_audio_file(path), language=language)
    return render(transcript.segments, fmt)


def file_backend(service: TranscriptionService, language: str | None) -> FileBackend:
    """The service's model for ``language``, checked to handle whole files.

    Loads the model on first use: call it on the inference worker, not the event loop.
    """
    backend = service.backend(language)
    if not isinstance(backend, FileBackend):
        raise TypeError(f"{type(backend).__name__} cannot transcribe whole files")
    return backend


def render(segments: Sequence[Segment], fmt: Format) -> str:
    """One line per segment (text), JSON with word times, or numbered/timed cues."""
    if fmt == "json":
        data = {"segments": [_segment_json(s) for s in segments]}
        return json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    if fmt == "srt":
        return "\n".join(
            f"{i}\n{timestamp(s.start, ',')} --> {timestamp(s.end, ',')}\n{s.text.strip()}\n"
            for i, s in enumerate(segments, 1)
        )
    if fmt == "vtt":
        cues = [
            f"{timestamp(s.start)} --> {timestamp(s.end)}\n{s.text.strip()}\n" for s in segments
        ]
        return "\n".join(["WEBVTT\n", *cues])
    return "".join(f"{s.text.strip()}\n" for s in segments)


def timestamp(seconds: float, decimal: str = ".") -> str:
    """``HH:MM:SS.mmm`` (WebVTT) or ``HH:MM:SS,mmm`` (SRT)."""
    millis = max(0, round(seconds * 1000))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{decimal}{millis:03d}"


def _segment_json(segment: Segment) -> dict[str, object]:
    return {
        "start": round(segment.start, 3),
        "end": round(segment.end, 3),
        "text": segment.text.strip(),
        "words": [_word_json(w) for w in segment.words],
    }


def _word_json(word: Word) -> dict[str, object]:
    return {
        "word": word.word.strip(),
        "start": round(word.start, 3),
        "end": round(word.end, 3),
        "probability": round(word.probability, 3),
    }
