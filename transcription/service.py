"""Live transcription sessions over shared models, scheduled so finals are never late.

A Whisper model is large, so the service loads each model once, shares it between all
sessions and runs recognition on worker threads (one per core by default, each decode
single-threaded) fed by a :class:`Scheduler`: finals (and monologue commits) first, in
arrival order, then whole-file work, then partials, and a partial that waited too long
is dropped rather than decoded late. Voice activity runs on a thread of its own, so
end-of-turn detection never waits behind a decode. Results are pushed as soon as they
are ready (:meth:`LiveSession.poll`) or returned by the next frame; a session whose
audio outruns the workers waits, which keeps memory bounded when a client replays a
file faster than real time.

The console uses the same interface for a remote service (``client.RemoteTranscriber``),
so where inference runs is a deployment choice, not a code path.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
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
    VAD_FRAME,
    Backend,
    Event,
    FloatArray,
    Request,
    Segment,
    StreamPolicy,
    StreamSession,
    recognise,
)

logger = logging.getLogger(__name__)

__all__ = [
    "LiveSession",
    "ParamError",
    "ProtocolError",
    "Scheduler",
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
PARTIAL_MAX_AGE = 0.8
"""Seconds a partial may wait for the worker before it is dropped as out of date."""
MAX_PENDING_AUDIO = 20.0
"""Seconds of a session's audio awaiting recognition before its feed() waits."""
FINAL, OFFLINE, DRAFT = 0, 1, 2
"""Scheduler priorities: lower runs first."""


class SessionLimitError(ProtocolError):
    """Refused because ``max_sessions`` streams are already running."""


class TranscriptionSession(Protocol):
    """One stream, in-process (:class:`LiveSession`) or remote (``client.RemoteSession``)."""

    session_id: str

    async def feed(self, data: bytes) -> list[Message]: ...

    async def poll(self) -> list[Message]: ...

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
    def models(self) -> Mapping[str, str]: ...

    @property
    def device(self) -> str: ...

    @property
    def model_cache_dir(self) -> Path: ...

    @property
    def max_sessions(self) -> int: ...

    @property
    def inference_workers(self) -> int | None: ...

    @property
    def end_of_turn_silence(self) -> float: ...

    @property
    def simplified_chinese(self) -> bool: ...

    @property
    def live_window(self) -> float: ...


def load_backend(
    model: str,
    device: str,
    cache_dir: Path,
    workers: int = 1,
    simplified_chinese: bool = True,
    live_window: float | None = None,
) -> Backend:
    """Load a faster-whisper model (imported here so tests of the policy never pay for it)."""
    from transcription.backend import LIVE_WINDOW, FasterWhisperBackend

    window = LIVE_WINDOW if live_window is None else live_window
    return FasterWhisperBackend(model, device, cache_dir, workers, simplified_chinese, window)


@dataclass(order=True)
class _Job:
    priority: int
    seq: int
    created: float = field(compare=False)
    work: Callable[[], Any] = field(compare=False)
    future: asyncio.Future[Any] = field(compare=False)
    kind: str = field(compare=False)


class Scheduler:
    """Inference worker threads, each taking the most urgent job first.

    Priorities: finals and commits, then whole-file requests, then partials (first
    drafts of an utterance before refreshed ones); FIFO within a priority. With several
    workers, partials never occupy all of them, so a final starts at once. A partial
    older than ``partial_max_age`` when its turn comes is answered with no segments (the
    policy then simply shows no draft) and counted as dropped.
    """

    def __init__(
        self,
        metrics: ServiceMetrics,
        *,
        workers: int = 1,
        partial_max_age: float = PARTIAL_MAX_AGE,
    ) -> None:
        self._metrics = metrics
        self._partial_max_age = partial_max_age
        self._jobs: list[_Job] = []
        self._seq = itertools.count()
        self._wake = threading.Condition()
        self._closed = False
        self._drafting = 0
        self._max_drafting = max(1, workers - 1)
        self._threads = [
            threading.Thread(target=self._work, name=f"parley-asr-{n}", daemon=True)
            for n in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    @property
    def backlog(self) -> int:
        """Jobs waiting (not counting the one running)."""
        return len(self._jobs)

    def submit(self, priority: int, kind: str, work: Callable[[], T]) -> asyncio.Future[T]:
        """Queue ``work`` for the worker; the future resolves on the caller's event loop."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        job = _Job(priority, next(self._seq), time.monotonic(), work, future, kind)
        with self._wake:
            if self._closed:
                raise RuntimeError("the transcription service is shut down")
            heapq.heappush(self._jobs, job)
            self._metrics.queue_depth.set(len(self._jobs))
            self._wake.notify_all()
        return future

    def close(self) -> None:
        """Stop after the running job; queued jobs are cancelled."""
        with self._wake:
            self._closed = True
            jobs, self._jobs = self._jobs, []
            self._wake.notify_all()
        for job in jobs:
            with contextlib.suppress(RuntimeError):
                job.future.get_loop().call_soon_threadsafe(_cancel, job.future)
        for thread in self._threads:
            thread.join()

    def _next(self) -> _Job | None:
        """The most urgent job this worker may run; drafts may not occupy every worker."""
        with self._wake:
            while not self._closed and not self._runnable():
                self._wake.wait()
            if self._closed:
                return None
            job = heapq.heappop(self._jobs)
            if job.priority >= DRAFT:
                self._drafting += 1
            self._metrics.queue_depth.set(len(self._jobs))
            return job

    def _runnable(self) -> bool:
        """A final can always start; a draft only while another worker stays free for
        finals, so a turn's end never waits for a whole partial decode on every worker."""
        if not self._jobs:
            return False
        return self._jobs[0].priority < DRAFT or self._drafting < self._max_drafting

    def _work(self) -> None:
        while (job := self._next()) is not None:
            try:
                self._run(job)
            finally:
                if job.priority >= DRAFT:
                    with self._wake:
                        self._drafting -= 1
                        self._wake.notify_all()

    def _run(self, job: _Job) -> None:
        if job.future.cancelled():
            return  # the session is gone: nobody wants this decode
        if job.priority >= DRAFT and time.monotonic() - job.created > self._partial_max_age:
            self._metrics.partials_dropped.inc()
            _settle(job.future, [], None)
            return
        started = time.monotonic()
        try:
            result, error = job.work(), None
        except BaseException as exc:  # handed to the awaiting coroutine
            result, error = None, exc
        self._metrics.decode_seconds.labels(job.kind).observe(time.monotonic() - started)
        _settle(job.future, result, error)


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    """Resolve ``future`` from the worker thread, unless its waiter already gave up."""

    def apply() -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)

    with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting any more
        future.get_loop().call_soon_threadsafe(apply)


def _cancel(future: asyncio.Future[Any]) -> None:
    if not future.done():
        future.cancel()


class LiveSession:
    """One stream: decoder, policy, and the recognition requests still in flight.

    Events are returned by the call that finds them ready: usually the next
    :meth:`feed`, at the latest :meth:`finish`.
    """

    def __init__(
        self, service: TranscriptionService, stream: StreamSession, params: StreamParams
    ) -> None:
        self.session_id = uuid.uuid4().hex
        self.params = params
        self._service = service
        self._stream = stream
        self._decoder = AudioDecoder(params)
        self._lock = asyncio.Lock()
        self._pending: list[tuple[Request, asyncio.Future[list[Segment]]]] = []
        self._collected: list[Message] = []
        self._submitted = asyncio.Event()
        self._finished = False

    async def feed(self, data: bytes) -> list[Message]:
        """Decode a frame (raises ``AudioFormatError``), update the policy, collect results."""
        async with self._lock:
            if self._finished:
                raise RuntimeError("feed() after finish()")
            channels = self._decoder.feed(data)
            if channels and len(channels[0]):
                self._service.metrics.audio_seconds.inc(len(channels[0]) / SAMPLE_RATE)
            drafts = not self._service.overloaded()
            requests = await self._service.detect(
                partial(self._stream.push, channels, partials=drafts)
            )
            self._collected += [self._service.emit(e) for e in self._stream.take_events()]
            self._submit(requests)
            await self._keep_up()
            return self._collect()

    def set_context(self, hotwords: Sequence[str] = (), prompt: str | None = None) -> None:
        """Hotwords and prompt for every inference from now on (replaces earlier ones)."""
        self._stream.set_context(hotwords, prompt)

    async def finish(self) -> list[Message]:
        """Finalise pending speech; the last message is always ``{"type": "end"}``."""
        async with self._lock:
            if self._finished:
                return [{"type": "end"}]
            self._finished = True
            self._submitted.set()
            tail = self._decoder.flush()
            requests = await self._service.detect(partial(self._close, tail))
            self._collected += [self._service.emit(e) for e in self._stream.take_events()]
            self._submit(requests)
            messages: list[Message] = []
            while self._pending:
                await asyncio.wait([f for _, f in self._pending])
                messages += self._collect()
            return [*messages, {"type": "end"}]

    async def poll(self) -> list[Message]:
        """Wait until a result is ready and return its events; ``[]`` once finished.

        Lets a transport push events the moment they exist instead of on the next frame
        (``views`` runs it beside the receive loop).
        """
        while not self._finished:
            async with self._lock:
                messages = self._collect()
            if messages:
                return messages
            self._submitted.clear()
            futures: list[asyncio.Future[Any]] = [f for _, f in self._pending if not f.done()]
            submitted = asyncio.ensure_future(self._submitted.wait())
            try:  # wake for any answer, including one to a request made after this wait began
                await asyncio.wait([*futures, submitted], return_when=asyncio.FIRST_COMPLETED)
            finally:
                submitted.cancel()
        return []

    def cancel(self) -> None:
        """The client left: results still in flight are not wanted."""
        for _, future in self._pending:
            future.cancel()
        self._pending = []

    def _close(self, tail: list[FloatArray]) -> list[Request]:
        return self._stream.push(tail, partials=False) + self._stream.close()

    def _submit(self, requests: list[Request]) -> None:
        for request in requests:
            self._pending.append((request, self._service.recognise(self._stream.backend, request)))
        if requests:
            self._submitted.set()

    async def _keep_up(self) -> None:
        """Wait while this session has more audio queued than it may (fast replays)."""
        while sum(r.seconds for r, _ in self._pending if not r.partial) > MAX_PENDING_AUDIO:
            oldest = next(f for r, f in self._pending if not r.partial)
            await asyncio.wait([oldest])
            self._collected.extend(self._collect())

    def _collect(self) -> list[Message]:
        """Resolve finished requests in submission order; keep the rest in flight."""
        messages, self._collected = self._collected, []
        waiting: list[tuple[Request, asyncio.Future[list[Segment]]]] = []
        blocked: set[int] = set()  # channels with an earlier final still being decoded
        for request, future in self._pending:
            if not future.done() or request.channel in blocked:
                # a channel's events keep their order: nothing overtakes an earlier final
                waiting.append((request, future))
                if not request.partial:
                    blocked.add(request.channel)
                continue
            events, more = self._stream.resolve(request, self._segments(request, future))
            events += self._stream.take_events()
            messages += [self._service.emit(e) for e in events]
            waiting += [(r, self._service.recognise(self._stream.backend, r)) for r in more]
        self._pending = waiting
        return messages

    def _segments(self, request: Request, future: asyncio.Future[list[Segment]]) -> list[Segment]:
        """The answer, or none when the decode failed or was cancelled.

        The policy still hears about the request (a commit must release its channel),
        and one failed decode costs one utterance, not the call.
        """
        if future.cancelled():
            return []
        if (error := future.exception()) is not None:
            logger.error("recognition of a %s failed", request.kind, exc_info=error)
            return []
        return future.result()


class TranscriptionService:
    """Shared models, a session limit, a VAD thread and scheduled inference workers."""

    def __init__(
        self,
        backend_for: BackendProvider,
        *,
        max_sessions: int = 16,
        default_language: str | None = None,
        policy: StreamPolicy | None = None,
        partial_max_age: float = PARTIAL_MAX_AGE,
        workers: int = 1,
    ) -> None:
        self.max_sessions = max_sessions
        self.default_language = default_language
        self.metrics = ServiceMetrics()
        self.ready = False
        self._backend_for = backend_for
        self.policy = policy or StreamPolicy()
        self._scheduler = Scheduler(self.metrics, workers=workers, partial_max_age=partial_max_age)
        self._vad = ThreadPoolExecutor(max_workers=1, thread_name_prefix="parley-vad")
        self._active = 0

    @classmethod
    def from_settings(cls, settings: ServiceSettings) -> TranscriptionService:
        """The production wiring: bundled or local faster-whisper models, loaded on demand.

        One inference worker per core by default: two single-threaded decodes at once
        get ~50 % more done on a 2-core box than one decode on both cores.
        """
        workers = settings.inference_workers or model_store.usable_cores()
        load = partial(
            load_backend,
            device=settings.device,
            cache_dir=settings.model_cache_dir,
            workers=workers,
            simplified_chinese=settings.simplified_chinese,
            live_window=settings.live_window,
        )
        pool = model_store.ModelPool(settings.models, load)
        policy = StreamPolicy(min_silence=settings.end_of_turn_silence)
        return cls(pool, max_sessions=settings.max_sessions, workers=workers, policy=policy)

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
        """Load the model and the VAD before the first caller waits for them."""
        backend = await self._scheduler.submit(FINAL, "load", partial(self._backend_for, language))
        detector = backend.voice_detector()
        await self.detect(partial(detector, np.zeros(VAD_FRAME * 16, dtype=np.float32)))
        self.ready = True

    @asynccontextmanager
    async def session(self, params: StreamParams) -> AsyncIterator[LiveSession]:
        """A live stream; raises :class:`SessionLimitError` beyond ``max_sessions``."""
        if self._active >= self.max_sessions:
            self.metrics.sessions_refused.inc()
            raise SessionLimitError(
                "too_many_sessions",
                f"all {self.max_sessions} transcription streams are busy; try again later",
            )
        self._active += 1
        self.metrics.sessions_active.set(self._active)
        self.metrics.sessions_started.inc()
        live: LiveSession | None = None
        try:
            language = params.language or self.default_language
            backend = await self._scheduler.submit(
                FINAL, "load", partial(self._backend_for, language)
            )
            stream = StreamSession(
                backend, channels=params.channels, language=language, policy=self.policy
            )
            live = LiveSession(self, stream, params)
            yield live
        finally:
            if live is not None:
                live.cancel()
            self._active -= 1
            self.metrics.sessions_active.set(self._active)

    async def detect(self, call: Callable[[], T]) -> T:
        """Run voice activity (cheap, frequent) on its own thread, never behind a decode."""
        return await asyncio.get_running_loop().run_in_executor(self._vad, call)

    def recognise(self, backend: Backend, request: Request) -> asyncio.Future[list[Segment]]:
        """Schedule one policy request: finals and commits first, partials if there is time."""
        priority = DRAFT + min(request.draft, 3) if request.partial else FINAL
        return self._scheduler.submit(priority, request.kind, partial(recognise, backend, request))

    async def run_offline(self, call: Callable[[], T]) -> T:
        """Run whole-file work (``call`` may use :meth:`backend`) on the inference worker.

        Offline requests share the cores with live calls, so they queue on the same
        worker: after live finals, before live partials.
        """
        return await self._scheduler.submit(OFFLINE, "offline", call)

    def emit(self, event: Event) -> Message:
        """An event as a protocol message, counted."""
        message = event.to_message()
        self.metrics.events.labels(message["type"]).inc()
        return message

    def overloaded(self) -> bool:
        """More than one job per two active channels is waiting: stop asking for drafts."""
        return self._scheduler.backlog > max(2, self._active)

    def close(self) -> None:
        """Stop the workers (lifespan shutdown); queued work is cancelled."""
        self._scheduler.close()
        self._vad.shutdown(wait=True, cancel_futures=True)
