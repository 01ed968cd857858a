"""Live-call orchestration: the one place where transcription, QA, scripts and cases meet.

A ``LiveCall`` feeds call audio to a transcription stream and, for every event it gets
back, persists final segments at once (so a dropped socket or a restart loses nothing),
checks agent speech against the QA rules, detects the debtor's intents, refreshes script
suggestions, and publishes ``ConsoleUpdate``s to every console watching the call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
import wave
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from sqlalchemy.orm import Session, sessionmaker

from case_store import service as case_service
from case_store.database import transaction
from case_store.models import CallStatus, TranscriptSegment
from qa_review import service as qa_service
from qa_review.engine import Hit, RequiredStatementTracker, RuleEngine
from qa_review.models import QaFlag
from qa_review.redact import Redacted, redact
from scripts_library import service as scripts_service
from scripts_library.intents import IntentScore, detect_intents
from transcription.service import ProtocolError, StreamParams, Transcriber, TranscriptionSession

log = logging.getLogger(__name__)

CHUNK_SECONDS = 0.1
UpdateKind = Literal[
    "segment", "partial", "suggestions", "warning", "checklist", "status", "resync"
]
SUBSCRIBER_BACKLOG = 1000


@dataclass(frozen=True)
class ConsoleUpdate:
    kind: UpdateKind
    data: dict[str, Any]


@dataclass
class CallContext:
    """What the orchestration needs to know about the call, read once at its start."""

    call_id: int
    case_id: int
    language: str
    agent_name: str
    hotwords: list[str]
    redact_pii: bool = True
    keep_original: bool = False


@dataclass
class LiveCallState:
    """Everything a console needs to draw the call from scratch when it (re)connects."""

    status: str = "connecting"
    segments: list[dict[str, Any]] = field(default_factory=list)
    partials: dict[int, dict[str, Any]] = field(default_factory=dict)
    suggestions: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    checklist: dict[str, bool] = field(default_factory=dict)
    error: str | None = None


async def paced_chunks(path: Path, speed: float) -> AsyncIterator[tuple[bytes, StreamParams]]:
    """Yield a WAV file's PCM in 100 ms chunks at real-time pace (scaled by ``speed``)."""
    with wave.open(str(path), "rb") as wav:
        rate, channels = wav.getframerate(), wav.getnchannels()
        if wav.getsampwidth() != 2:
            raise ValueError(f"{path.name}: only 16-bit PCM WAV files can be simulated")
        params = StreamParams(
            sample_rate=rate, channels=channels, encoding="pcm_s16le", language=None
        )
        frames_per_chunk = int(rate * CHUNK_SECONDS)
        loop = asyncio.get_running_loop()
        started = loop.time()
        sent = 0.0
        while data := wav.readframes(frames_per_chunk):
            yield data, params
            sent += len(data) / (2 * channels * rate)
            delay = started + sent / speed - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)


AudioFrames = AsyncIterator[tuple[bytes, StreamParams]]
"""A call's audio source: frames in the wire format their parameters announce."""


class AudioInterrupted(Exception):
    """The audio source broke off before the call's end (a dropped connection, or none came).

    What did arrive is still transcribed to the end and kept; the call ends interrupted.
    """


class AudioInlet:
    """An audio source fed from outside: the frames a client streams into a live call
    (``WS /calls/{id}/audio``, see ``docs/console-calls.md``).

    A call takes one connection, ever: two would interleave two streams into one transcript
    and one recording. The queue is short, so a client sending faster than transcription
    reads is held on its socket instead of filling memory. ``token`` lets a telephony
    bridge that has no console session connect to this call, and to no other.
    """

    def __init__(self, *, connect_timeout: float, backlog: int = 50) -> None:
        self.token = secrets.token_urlsafe(24)
        self.connected = False
        self._connect_timeout = connect_timeout
        self._attached = asyncio.Event()
        self._queue: asyncio.Queue[tuple[bytes, StreamParams] | None] = asyncio.Queue(backlog)
        self._ended = False
        self._interruption: AudioInterrupted | None = None

    def accepts(self, token: str) -> bool:
        return secrets.compare_digest(token.encode(), self.token.encode())

    def connect(self) -> bool:
        """Claim the call's audio for one connection; False when one already has."""
        if self.connected:
            return False
        self.connected = True
        self._attached.set()
        return True

    async def put(self, data: bytes, params: StreamParams) -> None:
        await self._queue.put((data, params))

    def end(self, interruption: AudioInterrupted | None = None) -> None:
        """No more audio: after ``stop`` (``None``), or why it broke off; the first call
        counts. Never waits, so a connection's task can call it while being cancelled."""
        if self._ended:
            return
        self._ended, self._interruption = True, interruption
        with contextlib.suppress(asyncio.QueueFull):  # full: the reader checks once it drains
            self._queue.put_nowait(None)  # wakes a reader waiting on an empty queue

    async def frames(self) -> AudioFrames:
        try:
            await asyncio.wait_for(self._attached.wait(), self._connect_timeout)
        except TimeoutError:
            raise AudioInterrupted(
                f"no audio connection came within {self._connect_timeout:g} s"
            ) from None
        while not (self._ended and self._queue.empty()):
            if (item := await self._queue.get()) is not None:
                yield item
        if self._interruption is not None:
            raise self._interruption


class LiveCall:
    def __init__(self, context: CallContext, session_factory: sessionmaker[Session]) -> None:
        self.context = context
        self.state = LiveCallState()
        self._factory = session_factory
        self._subscribers: set[asyncio.Queue[ConsoleUpdate]] = set()
        self._engine: RuleEngine | None = None
        self._tracker: RequiredStatementTracker | None = None
        self.task: asyncio.Task[None] | None = None
        self.audio_inlet: AudioInlet | None = None
        """Set for a call whose audio a client streams in."""
        self.failure: Exception | None = None
        """Why the call stopped early, for the client streaming its audio."""

    # --- subscribers (event-loop side only: asyncio queues are not thread-safe) ----

    @contextlib.contextmanager
    def subscribe(self) -> Iterator[asyncio.Queue[ConsoleUpdate]]:
        queue: asyncio.Queue[ConsoleUpdate] = asyncio.Queue(maxsize=SUBSCRIBER_BACKLOG)
        self._subscribers.add(queue)
        try:
            yield queue
        finally:
            self._subscribers.discard(queue)

    def _publish(self, kind: UpdateKind, data: dict[str, Any]) -> None:
        for queue in self._subscribers:
            if queue.full():
                # A stalled console must not stall the call: forget its backlog and have
                # it redraw everything from the current state when it catches up.
                while not queue.empty():
                    queue.get_nowait()
                queue.put_nowait(ConsoleUpdate("resync", {}))
            else:
                queue.put_nowait(ConsoleUpdate(kind, data))

    def _set_status(self, status: str, error: str | None = None) -> None:
        self.state.status, self.state.error = status, error
        self._publish("status", {"status": status, "error": error})

    # --- the pipeline --------------------------------------------------------------
    # Database work runs in worker threads and returns plain data; state changes and
    # publishing happen back on the event loop.

    async def run_simulated(self, recording: Path, transcriber: Transcriber, speed: float) -> None:
        """Stream a stereo recording (agent left, debtor right) through transcription."""
        await self.run(paced_chunks(recording, speed), transcriber)

    async def run(self, audio: AudioFrames, transcriber: Transcriber) -> None:
        """Transcribe the call's audio from any source, a recording replayed or a client's
        stream, to the end of the call. The transcription session opens with the first
        frame (its parameters are only known then); a source with no audio at all ends
        the call with an empty transcript."""
        final_status = CallStatus.COMPLETED
        try:
            await self._prepare()
            first = await anext(audio, None)
            if first is not None:
                params = replace(first[1], language=self.context.language)
                async with transcriber.session(params) as stream:
                    stream.set_context(self.context.hotwords)
                    self._set_status("live")
                    await self._stream_audio(stream, first[0], audio)
        except asyncio.CancelledError:
            final_status = CallStatus.INTERRUPTED
            raise
        except Exception as exc:  # the console must hear about it; segments so far are kept
            if isinstance(exc, AudioInterrupted | ProtocolError):  # the client's doing: no trace
                log.warning("live call %s stopped: %s", self.context.call_id, exc)
            else:
                log.exception("live call %s failed", self.context.call_id)
            self.failure = exc
            final_status = CallStatus.INTERRUPTED
            self._set_status("error", f"The call stopped: {exc}")
        finally:
            await asyncio.to_thread(self._end, final_status)
            if self.state.status != "error":
                self._set_status("ended")

    async def _prepare(self) -> None:
        openings = await asyncio.to_thread(self._load_rules_and_openings)
        assert self._tracker is not None
        self.state.checklist = self._tracker.status()
        self.state.suggestions = [_suggestion_dict(s) for s in openings]
        self._publish("suggestions", {"suggestions": self.state.suggestions})
        self._publish("checklist", {"checklist": self.state.checklist})

    def _load_rules_and_openings(self) -> list[scripts_service.Suggestion]:
        """Rules, the required statements of the case's creditor (the tenant) in the call's
        language, and the opening scripts, read in one transaction at call start."""
        with transaction(self._factory) as session:
            self._engine = qa_service.load_engine(session=session)
            case = case_service.get_case_or_raise(session=session, case_id=self.context.case_id)
            statements = qa_service.statements_for(
                session=session,
                language=self.context.language,
                tenant=case.creditor,
                lists=self._engine.lists,
            )
            self._tracker = RequiredStatementTracker(
                statements, language=self.context.language, lists=self._engine.lists
            )
            return scripts_service.opening_scripts(
                session=session,
                case=case,
                language=self.context.language,
                agent_name=self.context.agent_name,
            )

    def _end(self, status: CallStatus) -> None:
        """End the call and, in the same transaction, store each required statement as said
        or missing (ended and interrupted calls alike: what was heard so far counts)."""
        with transaction(self._factory) as session:
            case_service.end_call(session=session, call_id=self.context.call_id, status=status)
            if self._tracker is not None:
                qa_service.record_call_statements(
                    session=session, call_id=self.context.call_id, results=self._tracker.results()
                )

    async def _stream_audio(
        self,
        stream: TranscriptionSession,
        first: bytes,
        chunks: AsyncIterator[tuple[bytes, StreamParams]],
    ) -> None:
        """Send the audio; handle events as soon as the service has them, in order.

        Events come back both from each frame's ``feed`` and, between frames, from
        ``poll``; both hand them to one queue without awaiting in between, so one handler
        sees them in the order the service produced them.
        """
        inbox: asyncio.Queue[list[dict[str, Any]] | None] = asyncio.Queue()

        async def pushed() -> None:
            while messages := await stream.poll():
                inbox.put_nowait(messages)

        async def send() -> None:
            try:
                try:
                    inbox.put_nowait(await stream.feed(first))
                    async for data, _ in chunks:
                        inbox.put_nowait(await stream.feed(data))
                except (AudioInterrupted, ProtocolError):
                    # The audio broke off or a frame was bad: what did arrive is still
                    # transcribed to the end (a remote service may refuse; it is gone then).
                    with contextlib.suppress(ProtocolError):
                        inbox.put_nowait(await stream.finish())
                    raise
                inbox.put_nowait(await stream.finish())
            finally:
                inbox.put_nowait(None)

        tasks = [asyncio.create_task(pushed()), asyncio.create_task(send())]
        try:
            while (messages := await inbox.get()) is not None:
                await self._handle_all(messages)
            await tasks[1]  # re-raise a failure of the sender
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _handle_all(self, messages: list[dict[str, Any]]) -> None:
        for message in messages:
            await self._handle(message)

    async def _handle(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "partial":
            self.state.partials[int(message["channel"])] = message
            self._publish("partial", message)
        elif kind == "final" and str(message.get("text", "")).strip():
            await self._on_final(message)
        elif kind == "error":
            raise RuntimeError(str(message.get("message", "transcription error")))

    async def _on_final(self, message: dict[str, Any]) -> None:
        """Persist first, then analyse: the segment survives even if analysis fails."""
        row = await asyncio.to_thread(self._save_segment, message)
        self.state.partials.pop(row["channel"], None)
        self.state.segments.append(row)
        self._publish("segment", row)
        try:
            if row["speaker"] == "agent":
                await self._check_agent(row)
            else:
                await self._suggest_for_debtor(row)
        except Exception:  # a faulty rule or script must not end the call; the segment is saved
            log.exception("analysis of segment %s failed", row["id"])

    def _save_segment(self, message: dict[str, Any]) -> dict[str, Any]:
        """Redacted before it is stored or shown: the console, the QA flags and the review
        queue all read the stored text, so PII never reaches them."""
        text = str(message["text"]).strip()
        words = list(message.get("words", []))
        original = None
        if self.context.redact_pii:
            try:
                redacted = redact(text, self.context.language)
            except Exception:  # the segment must still be saved, and without its PII
                log.exception("redaction failed; storing the segment with its digits masked")
                redacted = Redacted(_DIGIT.sub("#", text), ())
                words = []
            if redacted.text != text:
                original = text if self.context.keep_original else None
                words = redact_words(words, text, redacted) if redacted.entities else words
                text = redacted.text
        with transaction(self._factory) as session:
            segment = case_service.add_segment(
                session=session,
                call_id=self.context.call_id,
                channel=int(message["channel"]),
                speaker=str(message["speaker"]),
                start=float(message["start"]),
                end=float(message["end"]),
                text=text,
                words=words,
                original_text=original,
            )
            return segment_view(segment)

    async def _check_agent(self, row: dict[str, Any]) -> None:
        assert self._engine is not None and self._tracker is not None
        hits = self._engine.scan(row["text"], speaker="agent", language=self.context.language)
        if hits:
            for warning in await asyncio.to_thread(self._save_flags, hits, row):
                self.state.warnings.append(warning)
                self._publish("warning", warning)
        if self._tracker.observe(row["text"], segment_id=row["id"], start=row["start"]):
            self.state.checklist = self._tracker.status()
            self._publish("checklist", {"checklist": self.state.checklist})

    def _save_flags(self, hits: list[Hit], row: dict[str, Any]) -> list[dict[str, Any]]:
        with transaction(self._factory) as session:
            return [
                warning_view(
                    qa_service.record_flag(
                        session=session,
                        call_id=self.context.call_id,
                        segment_id=row["id"],
                        hit=hit,
                        stream_start=row["start"],
                        stream_end=row["end"],
                    ),
                    row["text"],
                )
                for hit in hits
            ]

    async def _suggest_for_debtor(self, row: dict[str, Any]) -> None:
        intents = detect_intents(row["text"], self.context.language)
        if not intents:
            return
        suggestions = await asyncio.to_thread(self._suggestions_for, intents)
        if suggestions:
            self.state.suggestions = [_suggestion_dict(s) for s in suggestions]
            self._publish("suggestions", {"suggestions": self.state.suggestions})

    def _suggestions_for(self, intents: list[IntentScore]) -> list[scripts_service.Suggestion]:
        with transaction(self._factory) as session:
            case = case_service.get_case_or_raise(session=session, case_id=self.context.case_id)
            return scripts_service.suggest(
                session=session,
                case=case,
                intents=intents,
                language=self.context.language,
                agent_name=self.context.agent_name,
            )


_DIGIT = re.compile(r"\d")


def redact_words(
    words: list[dict[str, Any]], text: str, redacted: Redacted
) -> list[dict[str, Any]]:
    """Word timings that survive redaction: a word overlapping PII becomes the entity's
    placeholder (the first such word) or goes. Words that do not spell ``text`` cannot be
    lined up with the entities, so they are all dropped: timings are not worth a leak."""
    joined = "".join(str(w.get("word", "")) for w in words)
    if joined.strip() != text:
        return []
    position = -(len(joined) - len(joined.lstrip()))
    kept: list[dict[str, Any]] = []
    placed: set[int] = set()
    for word in words:
        spelled = str(word.get("word", ""))
        start, end = position, position + len(spelled)
        position = end
        entity = next(
            (i for i, e in enumerate(redacted.entities) if e.start < end and start < e.end), None
        )
        if entity is None:
            kept.append(word)
        elif entity not in placed:
            placed.add(entity)
            space = " " if spelled.startswith(" ") else ""
            kept.append({**word, "word": f"{space}[{redacted.entities[entity].type.upper()}]"})
    return kept


def segment_view(segment: TranscriptSegment) -> dict[str, Any]:
    """What the console draws of a segment, live or from the database alike."""
    return {
        "id": segment.id,
        "channel": segment.channel,
        "speaker": segment.speaker,
        "start": segment.start,
        "end": segment.end,
        "text": segment.text,
    }


def warning_view(flag: QaFlag, segment_text: str) -> dict[str, Any]:
    """What the warning banner shows of a flag, live or from the database alike."""
    return {
        "category": flag.category,
        "severity": flag.severity,
        "rule": flag.rule_key,
        "evidence": flag.evidence,
        "text": segment_text,
        "start": flag.stream_start,
    }


def _suggestion_dict(suggestion: scripts_service.Suggestion) -> dict[str, Any]:
    return {
        "key": suggestion.key,
        "title": suggestion.title,
        "text": suggestion.text,
        "reason": suggestion.reason,
        "intent": suggestion.intent,
    }


class LiveCallHub:
    """The calls now live in this process, so consoles can find and watch them."""

    def __init__(self) -> None:
        self._calls: dict[int, LiveCall] = {}

    def get(self, call_id: int) -> LiveCall | None:
        return self._calls.get(call_id)

    def start(
        self, call: LiveCall, runner: Callable[[LiveCall], Coroutine[Any, Any, None]]
    ) -> None:
        call_id = call.context.call_id
        self._calls[call_id] = call
        call.task = asyncio.create_task(runner(call), name=f"live-call-{call_id}")
        call.task.add_done_callback(lambda _: self._calls.pop(call_id, None))

    async def shutdown(self) -> None:
        tasks = [c.task for c in self._calls.values() if c.task and not c.task.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
