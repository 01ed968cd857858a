"""Live transcription sessions over one shared model, with inference off the event loop.

A Whisper model is large and CTranslate2 already uses every core for one request, so the
service loads each model once, shares it between all sessions and runs every VAD and
inference call on a single worker thread: the event loop stays responsive and two
requests never fight over the two cores. A session waiting for that worker also stops
reading its socket, which is the back-pressure a slow machine needs.

The console uses the same interface for a remote service (``client.RemoteTranscriber``),
so where inference runs is a deployment choice, not a code path.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np

from transcription import model_store
from transcription.audio import AudioDecoder
from transcription.metrics import ServiceMetrics
from transcription.schemas import (
    ParamError,
    ProtocolError,
    StreamParams,
    parse_stream_params,
)
from transcription.streaming import (
    SAMPLE_RATE,
    Backend,
    Event,
    FloatArray,
    StreamPolicy,
    StreamSession,
)

__all__ = [
    "LiveSession",
    "ModelPool",
    "ParamError",
    "ProtocolError",
    "ServiceSettings",
    "SessionLimitError",
    "StreamParams",
    "Transcriber",
    "TranscriptionService",
    "TranscriptionSession",
    "load_backend",
    "parse_stream_params",
]

T = TypeVar("T")
Message = dict[str, Any]
BackendProvider = Callable[[str | None], Backend]
"""Language (``None`` = automatic) to the backend that should transcribe it."""
OVERLOAD_BACKLOG = 2
"""Calls waiting for the worker (the running one included) at which partials are skipped."""
Runner = Callable[[Callable[[], list[Event]]], Awaitable[list[Event]]]
"""Runs policy steps on the service's inference worker."""


class SessionLimitError(ProtocolError):
    """Refused because ``max_sessions`` streams are already running."""


class TranscriptionSession(Protocol):
    """One stream, in-process (:class:`LiveSession`) or remote (``client.RemoteSession``)."""

    session_id: str

    async def feed(self, data: bytes) -> list[Message]: ...

    def set_context(self, hotwords: Sequence[str] = (), prompt: str | None = None) -> None: ...

    async def finish(self) -> list[Message]: ...


class Transcriber(Protocol):
    """Opens sessions; :class:`TranscriptionService` or ``client.RemoteTranscriber``."""

    def session(
        self, params: StreamParams
    ) -> AbstractAsyncContextManager[TranscriptionSession]: ...


class ServiceSettings(Protocol):
    """The part of ``agent_console.settings.Settings`` the service reads."""

    @property
    def model(self) -> str: ...

    @property
    def device(self) -> str: ...

    @property
    def model_cache_dir(self) -> Path: ...

    @property
    def max_sessions(self) -> int: ...


def load_backend(model: str, device: str, cache_dir: Path) -> Backend:
    """Load a faster-whisper model (imported here so tests of the policy never pay for it)."""
    from transcription.backend import FasterWhisperBackend

    return FasterWhisperBackend(model, device, cache_dir)


class ModelPool:
    """Picks a model per language and loads each one lazily, once.

    An English-only model (``tiny.en``) serves ``en``; Chinese and automatic detection need
    a multilingual one, so they get the bundled ``base``. Any other model serves everything.
    """

    def __init__(self, model: str, load: Callable[[str], Backend]) -> None:
        self.model = model
        self._load = load
        self._loaded: dict[str, Backend] = {}
        self._lock = threading.Lock()

    def model_for(self, language: str | None) -> str:
        if language == "en" or not self.model.endswith(".en"):
            return self.model
        return model_store.BASE

    def __call__(self, language: str | None) -> Backend:
        name = self.model_for(language)
        with self._lock:
            if name not in self._loaded:
                self._loaded[name] = self._load(name)
            return self._loaded[name]


class LiveSession:
    """One stream's decoder and policy; events come back as protocol messages."""

    def __init__(
        self,
        run: Runner,
        stream: StreamSession,
        params: StreamParams,
        overloaded: Callable[[], bool] = lambda: False,
    ) -> None:
        self.session_id = uuid.uuid4().hex
        self.params = params
        self._run = run
        self._overloaded = overloaded
        self._stream = stream
        self._decoder = AudioDecoder(params)
        self._lock = asyncio.Lock()
        self._finished = False

    async def feed(self, data: bytes) -> list[Message]:
        """Decode a frame (raises ``AudioFormatError``) and run the policy on the worker."""
        async with self._lock:
            if self._finished:
                raise RuntimeError("feed() after finish()")
            channels = self._decoder.feed(data)
            drafts = not self._overloaded()
            events = await self._run(partial(self._stream.feed, channels, partials=drafts))
        return [e.to_message() for e in events]

    def set_context(self, hotwords: Sequence[str] = (), prompt: str | None = None) -> None:
        """Hotwords and prompt for every inference from now on (replaces earlier ones)."""
        self._stream.set_context(hotwords, prompt)

    async def finish(self) -> list[Message]:
        """Finalise pending speech; the last message is always ``{"type": "end"}``."""
        async with self._lock:
            if not self._finished:
                self._finished = True
                tail = self._decoder.flush()
                events = await self._run(partial(self._drain, tail))
                return [e.to_message() for e in events] + [{"type": "end"}]
        return [{"type": "end"}]

    def _drain(self, tail: list[FloatArray]) -> list[Event]:
        return self._stream.feed(tail) + self._stream.flush()


class TranscriptionService:
    """Shared models, a session limit and one inference worker for the whole process."""

    def __init__(
        self,
        backend_for: BackendProvider,
        *,
        max_sessions: int = 16,
        default_language: str | None = None,
        policy: StreamPolicy | None = None,
    ) -> None:
        self.max_sessions = max_sessions
        self.default_language = default_language
        self._backend_for = backend_for
        self._policy = policy or StreamPolicy()
        self.metrics = ServiceMetrics()
        self.ready = False
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="parley-asr")
        self._active = 0
        self._backlog = 0

    @classmethod
    def from_settings(cls, settings: ServiceSettings) -> TranscriptionService:
        """The production wiring: bundled or local faster-whisper models, loaded on demand."""
        pool = ModelPool(
            settings.model,
            partial(load_backend, device=settings.device, cache_dir=settings.model_cache_dir),
        )
        return cls(pool, max_sessions=settings.max_sessions)

    @classmethod
    def with_backend(cls, backend: Backend, **options: Any) -> TranscriptionService:
        """One backend for every language (tests, or a single custom model)."""
        return cls(lambda _language: backend, **options)

    def backend(self, language: str | None) -> Backend:
        """The (lazily loaded) backend for ``language``, for offline use from a plain thread.

        Blocks while a model loads: never call it on the event loop.
        """
        return self._backend_for(language)

    @property
    def active_sessions(self) -> int:
        return self._active

    async def warm_up(self, language: str | None = "en") -> None:
        """Load the model (and the VAD) before the first caller waits for it."""
        backend = await self._run(partial(self._backend_for, language))
        await self._run(partial(backend.speech_spans, np.zeros(SAMPLE_RATE, dtype=np.float32)))
        self.ready = True

    @asynccontextmanager
    async def session(self, params: StreamParams) -> AsyncIterator[LiveSession]:
        """A live stream; raises :class:`SessionLimitError` beyond ``max_sessions``."""
        if self._active >= self.max_sessions:
            raise SessionLimitError(
                "too_many_sessions",
                f"all {self.max_sessions} transcription streams are busy; try again later",
            )
        self._active += 1
        try:
            language = params.language or self.default_language
            backend = await self._run(partial(self._backend_for, language))
            stream = StreamSession(
                backend, channels=params.channels, language=language, policy=self._policy
            )
            yield LiveSession(self._run, stream, params, self.overloaded)
        finally:
            self._active -= 1

    async def run_offline(self, call: Callable[[], T]) -> T:
        """Run whole-file work (``call`` may use :meth:`backend`) on the inference worker.

        Offline requests share the cores with live calls, so they go through the same
        worker instead of a thread of their own.
        """
        return await self._run(call)

    def overloaded(self) -> bool:
        """More work queued than the worker is doing: partials wait, finals keep flowing."""
        return self._backlog >= OVERLOAD_BACKLOG

    def close(self) -> None:
        """Stop the worker (lifespan shutdown); queued work is cancelled."""
        self._executor.shutdown(wait=True, cancel_futures=True)

    async def _run(self, call: Callable[[], T]) -> T:
        self._backlog += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, call)
        finally:
            self._backlog -= 1
