"""OpenAI-compatible ``POST /v1/audio/transcriptions`` over the local Whisper models.

Clients written for OpenAI's audio API (the official SDKs, or anything that sends the same
multipart form) point their base URL at Parley and get local transcription instead; the
endpoint is specified in ``docs/openai-api.md``.

The body is parsed here, not through FastAPI ``File``/``Form`` parameters: FastAPI would
buffer an upload of any size before the route could refuse it, whereas this reader stops
with 413 as soon as the body outgrows the limit. Decoding and inference both block, so they
run on the service's inference worker, never on the event loop. Every failure reaches the
client in OpenAI's error shape, which the SDKs turn into their typed exceptions.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Coroutine
from contextlib import aclosing, asynccontextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Literal, cast, get_args

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from transcription import offline
from transcription.schemas import AUTO_LANGUAGE, LANGUAGES, ProtocolError
from transcription.service import TranscriptionService
from transcription.streaming import FloatArray, Segment, Word
from transcription.views import AccessError, check_access

logger = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 25 * 1024 * 1024
"""OpenAI's limit (26,214,400 bytes); ``app.state.transcription_max_upload_bytes`` overrides it."""
FORM_OVERHEAD_BYTES = 64 * 1024
"""Room in the request body beyond the file: multipart headers and the other fields."""

ResponseFormat = Literal["json", "text", "srt", "vtt", "verbose_json"]
RESPONSE_FORMATS: tuple[str, ...] = get_args(ResponseFormat)
GRANULARITIES = ("segment", "word")

ERROR_STATUS: dict[str, int] = {
    "invalid_multipart": 400,
    "missing_file": 400,
    "empty_file": 400,
    "invalid_audio": 400,
    "invalid_value": 400,
    "unauthorized": 401,
    "forbidden_origin": 403,
    "file_too_large": 413,
    "internal_error": 500,
}
"""Every ``error.code`` this endpoint sends, with its HTTP status (documented, and tested so)."""


class ErrorDetail(BaseModel):
    message: str
    type: Literal["invalid_request_error", "server_error"]
    param: str | None
    code: str


class ErrorResponse(BaseModel):
    """OpenAI's error body: the SDKs read ``error.message`` into their exceptions."""

    error: ErrorDetail


class TranscriptionJson(BaseModel):
    """``response_format=json``."""

    text: str


class VerboseWord(BaseModel):
    word: str
    start: float
    end: float
    probability: float


class VerboseSegment(BaseModel):
    """OpenAI's segment less ``seek``, ``tokens``, ``temperature`` and ``compression_ratio``:
    the backend does not report them, and made-up values would mislead clients that read them."""

    id: int
    start: float
    end: float
    text: str
    avg_logprob: float
    no_speech_prob: float


class VerboseTranscription(BaseModel):
    """``response_format=verbose_json``; ``segments`` and ``words`` as granularities ask."""

    task: Literal["transcribe"] = "transcribe"
    language: str
    duration: float
    text: str
    segments: list[VerboseSegment] | None = None
    words: list[VerboseWord] | None = None


class ApiError(ProtocolError):
    """A failure the client receives as OpenAI's error body; ``code`` sets the status."""

    def __init__(self, code: str, message: str, param: str | None = None) -> None:
        super().__init__(code, message)
        self.param = param
        self.status = ERROR_STATUS[code]

    def response(self) -> JSONResponse:
        kind = "server_error" if self.status >= 500 else "invalid_request_error"
        body = ErrorResponse(
            error=ErrorDetail(message=self.message, type=kind, param=self.param, code=self.code)
        )
        # RFC 6750: a 401 names the scheme the client should use.
        headers = {"WWW-Authenticate": "Bearer"} if self.status == 401 else None
        return JSONResponse(body.model_dump(), status_code=self.status, headers=headers)


class _OpenAIRoute(APIRoute):
    """Turns every failure of this router, dependencies included, into OpenAI's error body.

    FastAPI has no router-scoped exception handlers, and the app's handlers answer
    ``{"detail": ...}``, which OpenAI clients cannot read.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except ApiError as exc:
                return exc.response()
            except Exception:
                logger.exception("OpenAI-compatible transcription failed")
                return ApiError("internal_error", "internal server error").response()

        return handle


router = APIRouter(route_class=_OpenAIRoute)


@dataclass(frozen=True, slots=True)
class TranscriptionRequest:
    """The validated form; ``model`` and ``temperature`` are accepted and not used."""

    upload: UploadFile
    language: str | None
    prompt: str | None
    response_format: ResponseFormat
    granularities: frozenset[str]


def require_access(request: Request) -> None:
    """The streaming service's access rules (foreign origin, bearer token) for this route.

    OpenAI clients send their ``api_key`` as ``Authorization: Bearer``, so a Parley with a
    transcription token works with ``api_key=TOKEN``.
    """
    try:
        check_access(request)
    except AccessError as exc:
        raise ApiError(exc.code, exc.message) from None


_FORM_SCHEMA = {
    "type": "object",
    "required": ["file"],
    "properties": {
        "file": {"type": "string", "format": "binary"},
        "model": {"type": "string", "description": "accepted; the configured model runs"},
        "language": {"type": "string", "enum": list(LANGUAGES)},
        "prompt": {"type": "string"},
        "response_format": {"type": "string", "enum": list(RESPONSE_FORMATS), "default": "json"},
        "temperature": {"type": "number", "minimum": 0, "maximum": 1},
        "timestamp_granularities[]": {
            "type": "array",
            "items": {"type": "string", "enum": list(GRANULARITIES)},
        },
    },
}


@router.post(
    "/v1/audio/transcriptions",
    dependencies=[Depends(require_access)],
    responses={status: {"model": ErrorResponse} for status in (400, 401, 403, 413)},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"multipart/form-data": {"schema": _FORM_SCHEMA}},
        }
    },
)
async def create_transcription(request: Request) -> Response:
    """Transcribe an uploaded audio file, as OpenAI's ``audio.transcriptions.create``."""
    service: TranscriptionService = request.app.state.transcription
    limit: int = getattr(request.app.state, "transcription_max_upload_bytes", MAX_UPLOAD_BYTES)
    async with _multipart_form(request, limit) as form:
        job = parse_form(form, max_bytes=limit)
        transcript = await service.run_offline(partial(_transcribe, service, job))
    return _response(transcript, job)


@asynccontextmanager
async def _multipart_form(request: Request, limit: int) -> AsyncIterator[FormData]:
    """The parsed body, refused with 413 once it outgrows ``limit``.

    Starlette spools the file to a temporary file past 1 MB; it is closed on the way out.
    """
    if not request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        raise ApiError("invalid_multipart", "send multipart/form-data with the audio as 'file'")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + FORM_OVERHEAD_BYTES:
        raise _too_large(limit)
    async with (
        aclosing(request.stream()) as chunks,
        aclosing(_capped(chunks, limit)) as body,
    ):
        parser = MultiPartParser(request.headers, body, max_files=1, max_fields=32)
        try:
            form = await parser.parse()
        except MultiPartException as exc:
            raise ApiError("invalid_multipart", exc.message) from None
    try:
        yield form
    finally:
        await form.close()


async def _capped(chunks: AsyncIterator[bytes], limit: int) -> AsyncGenerator[bytes, None]:
    """Pass the body through until it exceeds ``limit`` plus the form's overhead.

    Clients may omit ``Content-Length`` (chunked uploads), so the bytes are counted as
    they arrive rather than trusted from a header.
    """
    received = 0
    async for chunk in chunks:
        received += len(chunk)
        if received > limit + FORM_OVERHEAD_BYTES:
            raise _too_large(limit)
        yield chunk


def parse_form(form: FormData, *, max_bytes: int) -> TranscriptionRequest:
    """Validate the fields OpenAI defines; unknown fields are ignored, as OpenAI does."""
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise ApiError("missing_file", "send the audio as a file field named 'file'", "file")
    if not upload.size:
        raise ApiError("empty_file", "the uploaded file is empty", "file")
    if upload.size > max_bytes:
        raise _too_large(max_bytes)
    response_format = _text_field(form, "response_format") or "json"
    if response_format not in RESPONSE_FORMATS:
        raise _invalid("response_format", RESPONSE_FORMATS)
    language = _text_field(form, "language") or ""
    if language not in (*LANGUAGES, *AUTO_LANGUAGE):
        raise _invalid("language", LANGUAGES, "or absent for automatic detection")
    _check_temperature(_text_field(form, "temperature"))
    return TranscriptionRequest(
        upload=upload,
        language=None if language in AUTO_LANGUAGE else language,
        prompt=_text_field(form, "prompt") or None,
        response_format=cast(ResponseFormat, response_format),
        granularities=_granularities(form),
    )


def _text_field(form: FormData, name: str) -> str | None:
    value = form.get(name)
    if isinstance(value, UploadFile):
        raise ApiError("invalid_value", f"{name} must be a text field, not a file", name)
    return value


def _check_temperature(value: str | None) -> None:
    try:
        valid = value is None or 0.0 <= float(value) <= 1.0
    except ValueError:
        valid = False
    if not valid:
        raise ApiError("invalid_value", "temperature must be a number from 0 to 1", "temperature")


def _granularities(form: FormData) -> frozenset[str]:
    """``timestamp_granularities[]`` as the SDKs send it (the bare name is accepted too)."""
    chosen: set[str] = set()
    for value in [
        *form.getlist("timestamp_granularities[]"),
        *form.getlist("timestamp_granularities"),
    ]:
        if not isinstance(value, str) or value not in GRANULARITIES:
            raise _invalid("timestamp_granularities[]", GRANULARITIES)
        chosen.add(value)
    return frozenset(chosen)


def _invalid(param: str, allowed: tuple[str, ...], tail: str = "") -> ApiError:
    options = ", ".join(allowed)
    return ApiError("invalid_value", f"{param} must be one of {options} {tail}".strip(), param)


def _too_large(limit: int) -> ApiError:
    return ApiError("file_too_large", f"the file must be at most {limit} bytes", "file")


def _transcribe(service: TranscriptionService, job: TranscriptionRequest) -> offline.LongTranscript:
    """Decode, then recognise; runs on the inference worker (the model may load here)."""
    audio = _decode(job.upload)
    backend = offline.file_backend(service, job.language)
    return backend.transcribe_long(audio, language=job.language, prompt=job.prompt)


def _decode(upload: UploadFile) -> FloatArray:
    """The upload as 16 kHz mono; anything FFmpeg cannot read is the client's error."""
    from transcription.backend import decode_audio_file  # loads PyAV only when needed

    with tempfile.TemporaryDirectory(prefix="parley-upload-") as folder:
        path = Path(folder) / "audio"
        upload.file.seek(0)
        with path.open("wb") as copy:
            shutil.copyfileobj(upload.file, copy)
        try:
            audio = decode_audio_file(path)
        except Exception as exc:  # PyAV's errors share no base class below Exception
            logger.info("cannot decode upload %r: %s", upload.filename, exc)
            raise ApiError(
                "invalid_audio", "the file is not audio FFmpeg can decode", "file"
            ) from exc
    if not len(audio):
        raise ApiError("invalid_audio", "the file contains no audio samples", "file")
    return audio


def _response(transcript: offline.LongTranscript, job: TranscriptionRequest) -> Response:
    """The body ``response_format`` asks for; subtitles come from ``offline.render``."""
    fmt = job.response_format
    if fmt == "json":
        return JSONResponse(TranscriptionJson(text=transcript.text).model_dump())
    if fmt == "verbose_json":
        verbose = _verbose(transcript, job.granularities)
        return JSONResponse(verbose.model_dump(exclude_none=True))
    if fmt == "text":
        return Response(transcript.text + "\n", media_type="text/plain")
    media_type = "text/vtt" if fmt == "vtt" else "text/plain"
    return Response(offline.render(transcript.segments, fmt), media_type=media_type)


def _verbose(
    transcript: offline.LongTranscript, granularities: frozenset[str]
) -> VerboseTranscription:
    """Segments unless only words were asked for, words when asked for (as OpenAI does)."""
    segments = transcript.segments
    with_segments = not granularities or "segment" in granularities
    return VerboseTranscription(
        language=transcript.language,
        duration=round(transcript.duration, 3),
        text=transcript.text,
        segments=[_segment(i, s) for i, s in enumerate(segments)] if with_segments else None,
        words=[_word(w) for s in segments for w in s.words] if "word" in granularities else None,
    )


def _segment(index: int, segment: Segment) -> VerboseSegment:
    return VerboseSegment(
        id=index,
        start=round(segment.start, 3),
        end=round(segment.end, 3),
        text=segment.text,
        avg_logprob=round(segment.avg_logprob, 4),
        no_speech_prob=round(segment.no_speech_prob, 4),
    )


def _word(word: Word) -> VerboseWord:
    return VerboseWord(
        word=word.word.strip(),
        start=round(word.start, 3),
        end=round(word.end, 3),
        probability=round(word.probability, 3),
    )
