"""docs/streaming-protocol.md stays true: its error table matches what the server does."""

from __future__ import annotations

import re
from pathlib import Path

from transcription.audio import AudioFormatError, FrameTooLargeError
from transcription.schemas import MessageError, ParamError, StreamParams
from transcription.service import SessionLimitError
from transcription.views import CLOSE_CODES, INTERNAL_ERROR, AccessError

DOC = Path(__file__).resolve().parents[2] / "docs" / "streaming-protocol.md"


def documented_errors() -> dict[str, int]:
    rows = re.findall(r"^\| `([a-z_]+)`\s*\|[^|]*\|\s*(\d{4})", DOC.read_text(), re.MULTILINE)
    return {code: int(close) for code, close in rows}


def test_every_error_code_is_documented_with_its_close_code() -> None:
    expected = {
        "unsupported_sample_rate": CLOSE_CODES[ParamError],
        "unsupported_channels": CLOSE_CODES[ParamError],
        "unsupported_encoding": CLOSE_CODES[ParamError],
        "unsupported_language": CLOSE_CODES[ParamError],
        "too_many_sessions": CLOSE_CODES[SessionLimitError],
        "invalid_frame": CLOSE_CODES[AudioFormatError],
        "not_raw_audio": CLOSE_CODES[AudioFormatError],
        "frame_too_large": CLOSE_CODES[FrameTooLargeError],
        "invalid_message": CLOSE_CODES[MessageError],
        "internal_error": INTERNAL_ERROR,
        "forbidden_origin": CLOSE_CODES[AccessError],
        "unauthorized": CLOSE_CODES[AccessError],
    }
    assert documented_errors() == expected


def test_documented_parameters_are_the_supported_ones() -> None:
    text = DOC.read_text()
    for name in StreamParams.__dataclass_fields__:
        assert f"| `{name}`" in text
