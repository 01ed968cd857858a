"""The streaming protocol's vocabulary: parameters, client messages and error codes.

Every way a client can get the protocol wrong is a :class:`ProtocolError` with a stable
``code`` (documented in ``docs/streaming-protocol.md``); the WebSocket view turns it into
an ``error`` event and a close code, and the remote client raises the same class, so
callers handle one exception whether transcription is in-process or remote.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

Encoding = Literal["pcm_s16le", "mulaw"]
Language = Literal["en", "zh"]

SAMPLE_RATES = (8000, 16000, 44100, 48000)
CHANNELS = (1, 2)
ENCODINGS: tuple[str, ...] = get_args(Encoding)
LANGUAGES: tuple[str, ...] = get_args(Language)
AUTO_LANGUAGE = ("", "auto")


class ProtocolError(Exception):
    """A client-visible failure with a stable machine-readable ``code``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class ParamError(ProtocolError):
    """Unsupported stream parameters in the connection URL."""


class MessageError(ProtocolError):
    """A text frame that is not a protocol message."""


@dataclass(frozen=True, slots=True)
class StreamParams:
    """What the client promises to send; validated before a session starts."""

    sample_rate: int = 16000
    channels: int = 1
    encoding: Encoding = "pcm_s16le"
    language: str | None = None  # a Language; ``str`` so callers need no cast

    def __post_init__(self) -> None:
        if self.sample_rate not in SAMPLE_RATES:
            raise ParamError(
                "unsupported_sample_rate",
                f"sample_rate must be one of {', '.join(map(str, SAMPLE_RATES))}",
            )
        if self.channels not in CHANNELS:
            raise ParamError("unsupported_channels", "channels must be 1 or 2")
        if self.encoding not in ENCODINGS:
            raise ParamError("unsupported_encoding", f"encoding must be one of {_or(ENCODINGS)}")
        if self.language is not None and self.language not in LANGUAGES:
            raise ParamError(
                "unsupported_language", f"language must be {_or(LANGUAGES)} or absent for automatic"
            )

    def to_query(self) -> dict[str, str]:
        """The URL query that :func:`parse_stream_params` reads back into these params."""
        query = {
            "sample_rate": str(self.sample_rate),
            "channels": str(self.channels),
            "encoding": self.encoding,
        }
        if self.language:
            query["language"] = self.language
        return query


def parse_stream_params(query: Mapping[str, str]) -> StreamParams:
    """Read ``sample_rate``, ``channels``, ``encoding`` and ``language`` from a URL query."""
    language = query.get("language", "")
    return StreamParams(
        sample_rate=_integer(query, "sample_rate", 16000, "unsupported_sample_rate"),
        channels=_integer(query, "channels", 1, "unsupported_channels"),
        encoding=query.get("encoding", "pcm_s16le"),  # type: ignore[arg-type]  # checked in StreamParams
        language=None if language in AUTO_LANGUAGE else language,
    )


class StopMessage(BaseModel):
    """``{"type": "stop"}``: no more audio; finish pending finals then send ``end``."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["stop"]


class ContextMessage(BaseModel):
    """``{"type": "context", ...}``: hints for recognition from now on."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["context"]
    hotwords: list[Annotated[str, Field(max_length=100)]] = Field(default=[], max_length=200)
    prompt: Annotated[str, Field(max_length=2000)] | None = None


ClientMessage = Annotated[StopMessage | ContextMessage, Field(discriminator="type")]
_client_message: TypeAdapter[StopMessage | ContextMessage] = TypeAdapter(ClientMessage)


def parse_client_message(text: str) -> StopMessage | ContextMessage:
    """Validate a text frame; anything else is an ``invalid_message`` error."""
    try:
        return _client_message.validate_python(json.loads(text))
    except (ValueError, ValidationError) as exc:
        raise MessageError(
            "invalid_message",
            'text frames must be {"type":"stop"} or {"type":"context",...}; audio goes in binary frames',
        ) from exc


@dataclass(frozen=True, slots=True)
class CallMetadata:
    """A JSON object sent before any audio, as FreeSWITCH ``mod_audio_fork`` does.

    Its fields are the dialplan's business (call UUID, caller, campaign...); Parley
    logs them and uses ``hotwords`` and ``prompt`` when present.
    """

    fields: dict[str, object]
    hotwords: tuple[str, ...] = ()
    prompt: str | None = None

    def summary(self) -> str:
        return ", ".join(f"{k}={str(v)[:60]}" for k, v in list(self.fields.items())[:10])


def parse_call_metadata(text: str) -> CallMetadata | None:
    """A metadata object, or ``None`` when ``text`` is a protocol message or not an object."""
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict) or "type" in data:
        return None  # protocol messages (and attempts at them) are not metadata
    hotwords = data.get("hotwords", ())
    if isinstance(hotwords, str):
        hotwords = [w.strip() for w in hotwords.split(",")]
    if not isinstance(hotwords, list | tuple):
        hotwords = ()
    words = tuple(str(w)[:100] for w in hotwords if str(w).strip())[:200]
    prompt = data.get("prompt")
    return CallMetadata(data, words, str(prompt)[:2000] if prompt else None)


def _integer(query: Mapping[str, str], name: str, default: int, code: str) -> int:
    value = query.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise ParamError(code, f"{name} must be an integer, got {value!r}") from None


def _or(values: tuple[str, ...]) -> str:
    return ", ".join(values[:-1]) + " or " + values[-1]
