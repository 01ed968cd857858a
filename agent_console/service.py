"""The console's reads and the wiring that starts a live call inside the running app."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from agent_console.demo_data import DEMO_DIR
from agent_console.live_call import (
    AudioInlet,
    CallContext,
    LiveCall,
    LiveCallHub,
    segment_view,
    warning_view,
)
from agent_console.recording import RECORDINGS_DIR, WavRecorder, repair
from agent_console.settings import Settings
from case_store import service as case_service
from case_store.database import transaction
from case_store.models import Call, CallStatus, Case, CaseStatus, Role, User
from qa_review import service as qa_service
from transcription.client import RemoteTranscriber
from transcription.schemas import LANGUAGES, ParamError, ProtocolError, parse_stream_params
from transcription.service import StreamParams, Transcriber, TranscriptionService
from transcription.views import AccessError

CALLING_ROLES = (Role.COLLECTOR, Role.SUPERVISOR)
CLOSED_STATUSES = (CaseStatus.PAID, CaseStatus.CLOSED)
SIMULATED, STREAMED = "simulated", "stream"
"""``Call.source`` of a replayed demo recording and of audio a client streams in."""
AUDIO_CONNECT_TIMEOUT = 120.0
"""Seconds a streamed call waits for its audio connection before it ends interrupted."""


def demo_recording(language: str) -> tuple[Path, str]:
    """The bundled stereo call for a case's language and the language it is spoken in.

    Only an English recording ships so far; other cases fall back to it, transcribed as
    English rather than mis-transcribed as their own language.
    """
    path = DEMO_DIR / f"demo_call_{language}.wav"
    return (path, language) if path.exists() else (DEMO_DIR / "demo_call_en.wav", "en")


def recording_file(call: Call) -> Path | None:
    """The call's audio file, or None when none was kept or it is gone from disk.

    Simulated calls point at the bundled demo recording they replayed, so their audio is
    kept as long as the install is; streamed calls at the file written as their audio
    arrived. Blocking (it may repair a header): call it from a thread.
    """
    if not call.recording:
        return None
    path = Path(call.recording)
    if not path.is_file():
        return None
    if call.source == STREAMED and call.status != CallStatus.LIVE:
        repair(path)  # a call cut by a crash may have its last frame uncounted
    return path


def call_page_context(
    *, session: Session, case: Case, call: Call | None, user: User
) -> dict[str, Any]:
    """The call view: a past or live call, or (``call=None``) the case before a call."""
    segments = case_service.list_segments(session=session, call_id=call.id) if call else []
    flags = qa_service.list_flags_for_call(session=session, call_id=call.id) if call else []
    text_of = {s.id: s.text for s in segments}
    # Only the case page (no call yet) needs to know whether a call is live right now.
    latest = None if call else case_service.latest_call_for_case(session=session, case_id=case.id)
    return {
        "user": user,
        "case": case,
        "call": call,
        "dpd": case.days_past_due(),
        "bucket": case.bucket(),
        "can_call": user.role in CALLING_ROLES and case.status not in CLOSED_STATUSES,
        "live_call_id": latest.id if latest and latest.status == CallStatus.LIVE else None,
        "segments": [segment_view(s) for s in segments],
        "partials": {},
        "suggestions": [],
        "warnings": [warning_view(f, text_of.get(f.segment_id, f.evidence)) for f in flags],
        "checklist": {},
        "call_status": call.status.value if call else None,
        "call_error": None,
    }


def may_watch(factory: sessionmaker[Session], user_id: Any, call_id: int) -> bool:
    """Whether this signed-in user may watch the call (collectors: their own cases only)."""
    return _call_for(factory, user_id, call_id) is not None


def _call_for(
    factory: sessionmaker[Session], user_id: Any, call_id: int, *, calling: bool = False
) -> Call | None:
    """The call, if this signed-in user may see it (and, with ``calling``, make calls)."""
    if not user_id:
        return None
    with factory() as session:
        user = case_service.get_user(session=session, user_id=int(user_id))
        if user is None or not user.active or (calling and user.role not in CALLING_ROLES):
            return None
        return case_service.get_call_for_user(session=session, user=user, call_id=call_id)


def transcriber(app: FastAPI) -> Transcriber:
    """The in-process transcription service, or the remote one when configured."""
    settings: Settings = app.state.settings
    if settings.transcription_url:
        return RemoteTranscriber(settings.transcription_url, token=settings.transcription_token)
    service: TranscriptionService = app.state.transcription
    return service


async def start_simulated_call(app: FastAPI, *, case_id: int, user_id: int) -> int:
    """Record a new call and play the case's demo recording through the live pipeline."""
    settings: Settings = app.state.settings
    factory: sessionmaker[Session] = app.state.session_factory
    hub: LiveCallHub = app.state.live_calls
    context, recording = await asyncio.to_thread(
        _record_simulated_call,
        factory,
        case_id,
        user_id,
        redact_pii=settings.redact_transcripts,
        keep_original=settings.keep_original_transcript,
    )
    live = LiveCall(context, factory)
    source = transcriber(app)
    hub.start(live, lambda c: c.run_simulated(recording, source, settings.simulation_speed))
    return context.call_id


@dataclass(frozen=True)
class StreamedCall:
    """A call waiting for its audio: where the console shows it, and the audio socket's token."""

    call_id: int
    token: str


async def start_streamed_call(app: FastAPI, *, case_id: int, user_id: int) -> StreamedCall:
    """Record a new call whose audio a client streams in (``WS /calls/{id}/audio``).

    The call is live at once, so consoles can open it, and waits
    :data:`AUDIO_CONNECT_TIMEOUT` seconds for its audio; the audio is transcribed and
    written to ``DATA_DIR/recordings/call-{id}.wav`` as it arrives.
    """
    settings: Settings = app.state.settings
    factory: sessionmaker[Session] = app.state.session_factory
    hub: LiveCallHub = app.state.live_calls
    context, path = await asyncio.to_thread(
        _record_streamed_call,
        factory,
        case_id,
        user_id,
        settings.data_dir / RECORDINGS_DIR,
        redact_pii=settings.redact_transcripts,
        keep_original=settings.keep_original_transcript,
    )
    live = LiveCall(context, factory)
    inlet = live.audio_inlet = AudioInlet(connect_timeout=AUDIO_CONNECT_TIMEOUT)
    source = transcriber(app)
    hub.start(live, lambda c: _run_streamed(c, inlet, WavRecorder(path), source))
    return StreamedCall(context.call_id, inlet.token)


async def _run_streamed(
    live: LiveCall, inlet: AudioInlet, recorder: WavRecorder, source: Transcriber
) -> None:
    async with recorder:  # closed however the call ends
        await live.run(recorder.tap(inlet.frames()), source)


class CallAudioError(ProtocolError):
    """The call cannot take an audio connection now (it ended, is simulated, or has one)."""


async def audio_inlet(
    app: FastAPI, *, call_id: int, user_id: Any, token: str
) -> tuple[LiveCall, AudioInlet]:
    """The live call a client may stream audio into, or the error that says why not.

    A client gets in with the call's token (a telephony bridge) or as a signed-in user
    who may make calls and see this call (its collector, or a supervisor). A call nobody
    may see and a call that does not exist are refused alike, so ids do not leak.
    """
    factory: sessionmaker[Session] = app.state.session_factory
    hub: LiveCallHub = app.state.live_calls
    live = hub.get(call_id)
    inlet = live.audio_inlet if live else None
    if inlet is not None and token and inlet.accepts(token):
        call = await asyncio.to_thread(_get_call, factory, call_id)
    else:
        call = await asyncio.to_thread(_call_for, factory, user_id, call_id, calling=True)
    if call is None:
        raise AccessError(
            "unauthorized",
            "sign in as the call's collector, or connect with the audio URL (and its token) "
            "the call was started with",
        )
    if call.source != STREAMED:
        raise CallAudioError(
            "not_a_streamed_call", f"call {call_id} is {call.source}; it takes no audio"
        )
    if live is None or inlet is None or call.status != CallStatus.LIVE:
        raise CallAudioError(
            "call_ended", f"call {call_id} has ended; start a new call to stream audio"
        )
    return live, inlet


def _get_call(factory: sessionmaker[Session], call_id: int) -> Call | None:
    with factory() as session:
        return case_service.get_call(session=session, call_id=call_id)


def audio_params(query: Mapping[str, str], language: str) -> StreamParams:
    """The stream's parameters, read as ``/v1/stream`` reads them, in the call's language.

    The call's language comes from its case and also picks QA rules and scripts, so a
    client may leave ``language`` out but not contradict it.
    """
    params = parse_stream_params(query)
    if params.language not in (None, language):
        raise ParamError(
            "unsupported_language",
            f"this call is in {language!r} (its case's language); send that or leave it out",
        )
    return params


def claim(inlet: AudioInlet, call_id: int) -> None:
    """Take the call's one audio connection, or refuse a second one."""
    if not inlet.connect():
        raise CallAudioError(
            "audio_already_connected",
            f"call {call_id} already has its audio connection; a call takes one, once",
        )


def audio_path(call_id: int, token: str) -> str:
    """The call's audio socket, with the token that lets a client without a session in."""
    return f"/calls/{call_id}/audio?token={token}"


def waiting_audio_path(app: FastAPI, call_id: int) -> str | None:
    """:func:`audio_path` while the call waits for its audio connection, else None."""
    hub: LiveCallHub = app.state.live_calls
    live = hub.get(call_id)
    inlet = live.audio_inlet if live else None
    if inlet is None or inlet.connected:
        return None
    return audio_path(call_id, inlet.token)


def _record_simulated_call(
    factory: sessionmaker[Session],
    case_id: int,
    user_id: int,
    *,
    redact_pii: bool = True,
    keep_original: bool = False,
) -> tuple[CallContext, Path]:
    with transaction(factory) as session:
        case = case_service.get_case_or_raise(session=session, case_id=case_id)
        recording, language = demo_recording(case.debtor.language)
        call = case_service.start_call(
            session=session,
            case_id=case.id,
            collector_id=user_id,
            source=SIMULATED,
            language=language,
            recording=str(recording),
        )
        context = _context(
            session, case, call, user_id, redact_pii=redact_pii, keep_original=keep_original
        )
    return context, recording


def _record_streamed_call(
    factory: sessionmaker[Session],
    case_id: int,
    user_id: int,
    folder: Path,
    *,
    redact_pii: bool = True,
    keep_original: bool = False,
) -> tuple[CallContext, Path]:
    """The call in the case's language when transcription knows it, else in English."""
    with transaction(factory) as session:
        case = case_service.get_case_or_raise(session=session, case_id=case_id)
        language = case.debtor.language if case.debtor.language in LANGUAGES else "en"
        call = case_service.start_call(
            session=session,
            case_id=case.id,
            collector_id=user_id,
            source=STREAMED,
            language=language,
        )
        path = folder.resolve() / f"call-{call.id}.wav"  # a relative data folder moves with cwd
        case_service.set_call_recording(session=session, call_id=call.id, recording=str(path))
        context = _context(
            session, case, call, user_id, redact_pii=redact_pii, keep_original=keep_original
        )
    return context, path


def _context(
    session: Session,
    case: Case,
    call: Call,
    user_id: int,
    *,
    redact_pii: bool,
    keep_original: bool,
) -> CallContext:
    user = case_service.get_user(session=session, user_id=user_id)
    return CallContext(
        call_id=call.id,
        case_id=case.id,
        language=call.language or "en",
        agent_name=user.display_name.split()[0] if user else "",
        hotwords=[case.debtor.name, case.creditor],
        redact_pii=redact_pii,
        keep_original=keep_original,
    )
