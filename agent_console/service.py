"""The console's reads and the wiring that starts a live call inside the running app."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from agent_console.demo_data import DEMO_DIR
from agent_console.live_call import CallContext, LiveCall, LiveCallHub, segment_view, warning_view
from agent_console.settings import Settings
from case_store import service as case_service
from case_store.database import transaction
from case_store.models import Call, CallStatus, Case, CaseStatus, Role, User
from qa_review import service as qa_service
from transcription.client import RemoteTranscriber
from transcription.service import Transcriber, TranscriptionService

CALLING_ROLES = (Role.COLLECTOR, Role.SUPERVISOR)
CLOSED_STATUSES = (CaseStatus.PAID, CaseStatus.CLOSED)


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
    kept as long as the install is.
    """
    if not call.recording:
        return None
    path = Path(call.recording)
    return path if path.is_file() else None


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
    if not user_id:
        return False
    with factory() as session:
        user = case_service.get_user(session=session, user_id=int(user_id))
        if user is None or not user.active:
            return False
        return (
            case_service.get_call_for_user(session=session, user=user, call_id=call_id) is not None
        )


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
        user = case_service.get_user(session=session, user_id=user_id)
        recording, language = demo_recording(case.debtor.language)
        call = case_service.start_call(
            session=session,
            case_id=case.id,
            collector_id=user_id,
            source="simulated",
            language=language,
            recording=str(recording),
        )
        context = CallContext(
            call_id=call.id,
            case_id=case.id,
            language=language,
            agent_name=user.display_name.split()[0] if user else "",
            hotwords=[case.debtor.name, case.creditor],
            redact_pii=redact_pii,
            keep_original=keep_original,
        )
    return context, recording
