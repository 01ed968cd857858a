"""The orchestration with a scripted transcriber: what each event does to the call."""

from __future__ import annotations

import asyncio
import contextlib
import wave
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from agent_console.live_call import CallContext, ConsoleUpdate, LiveCall
from case_store import service as case_service
from case_store.database import transaction
from case_store.models import CallStatus
from qa_review import service as qa_service
from scripts_library import service as scripts_service
from tests.factories import make_case, make_user
from transcription.service import StreamParams


def final(channel: int, text: str, start: float) -> dict[str, Any]:
    speaker = "agent" if channel == 0 else "debtor"
    return {
        "type": "final",
        "channel": channel,
        "speaker": speaker,
        "text": text,
        "start": start,
        "end": start + 2,
        "words": [],
    }


class ScriptedSession:
    """Hands back one scripted batch of protocol messages per fed frame."""

    def __init__(self, batches: list[list[dict[str, Any]]]) -> None:
        self.batches = batches
        self.session_id = "scripted"
        self.hotwords: Sequence[str] = ()
        self.finished = asyncio.Event()

    async def feed(self, data: bytes) -> list[dict[str, Any]]:
        return self.batches.pop(0) if self.batches else []

    def set_context(self, hotwords: Sequence[str] = (), prompt: str | None = None) -> None:
        self.hotwords = hotwords

    async def finish(self) -> list[dict[str, Any]]:
        self.finished.set()
        return [*[m for batch in self.batches for m in batch], {"type": "end"}]

    async def poll(self) -> list[dict[str, Any]]:
        """Everything arrives with a frame here; nothing is pushed in between."""
        await self.finished.wait()
        return []


class ScriptedTranscriber:
    def __init__(self, batches: list[list[dict[str, Any]]]) -> None:
        self.stream = ScriptedSession(batches)

    @contextlib.asynccontextmanager
    async def session(self, params: StreamParams) -> AsyncIterator[ScriptedSession]:
        yield self.stream


@pytest.fixture
def recording(tmp_path: Path) -> Path:
    path = tmp_path / "call.wav"
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(2)
        wav.setsampwidth(2)
        wav.setframerate(16000)
        wav.writeframes(b"\0" * 4 * 16000)  # one second of stereo silence: ten frames
    return path


@pytest.fixture
def call_context(session_factory: sessionmaker[Session]) -> CallContext:
    with transaction(session_factory) as session:
        qa_service.seed_starter_rules(session=session)
        scripts_service.seed_starter_scripts(session=session)
        collector = make_user(session)
        case = make_case(session, collector=collector, days_past_due=75, name="John Miller")
        call = case_service.start_call(
            session=session,
            case_id=case.id,
            collector_id=collector.id,
            source="simulated",
            language="en",
        )
        return CallContext(
            call_id=call.id,
            case_id=case.id,
            language="en",
            agent_name="Sam",
            hotwords=["John Miller"],
        )


def run(live: LiveCall, transcriber: ScriptedTranscriber, recording: Path) -> list[ConsoleUpdate]:
    async def go() -> list[ConsoleUpdate]:
        updates: list[ConsoleUpdate] = []
        with live.subscribe() as queue:
            await live.run_simulated(recording, transcriber, speed=1000.0)
            while not queue.empty():
                updates.append(queue.get_nowait())
        return updates

    return asyncio.run(go())


def test_finals_are_saved_and_drive_warnings_and_suggestions(
    call_context: CallContext, session_factory: sessionmaker[Session], recording: Path
) -> None:
    transcriber = ScriptedTranscriber(
        [
            [
                {
                    "type": "partial",
                    "channel": 1,
                    "speaker": "debtor",
                    "text": "I lost",
                    "start": 1.0,
                }
            ],
            [final(1, "I lost my job last month and I can't afford it.", 1.0)],
            [final(0, "If you don't pay today, you will be arrested.", 4.0)],
        ]
    )
    live = LiveCall(call_context, session_factory)
    updates = run(live, transcriber, recording)

    kinds = [u.kind for u in updates]
    assert "partial" in kinds and kinds.count("segment") == 2
    assert any(s["intent"] == "hardship" for s in live.state.suggestions)
    assert "lost my job" in live.state.suggestions[0]["reason"]
    assert [w["category"] for w in live.state.warnings] == ["false_legal"]
    assert transcriber.stream.hotwords == ["John Miller"]
    with session_factory() as session:
        texts = [
            s.text
            for s in case_service.list_segments(session=session, call_id=call_context.call_id)
        ]
        flags = qa_service.list_flags_for_call(session=session, call_id=call_context.call_id)
        call = case_service.get_call_or_raise(session=session, call_id=call_context.call_id)
    assert texts == [
        "I lost my job last month and I can't afford it.",
        "If you don't pay today, you will be arrested.",
    ]
    assert [(f.category, f.evidence) for f in flags] == [("false_legal", "you will be arrested")]
    assert call.status == CallStatus.COMPLETED
    assert updates[-1] == ConsoleUpdate("status", {"status": "ended", "error": None})


def test_debtor_insults_do_not_warn_the_agent(
    call_context: CallContext, session_factory: sessionmaker[Session], recording: Path
) -> None:
    live = LiveCall(call_context, session_factory)
    run(
        live,
        ScriptedTranscriber([[final(1, "You scumbag, you will be arrested yourself.", 1.0)]]),
        recording,
    )
    assert live.state.warnings == []


def test_opening_scripts_and_checklist_are_offered_at_call_start(
    call_context: CallContext, session_factory: sessionmaker[Session], recording: Path
) -> None:
    live = LiveCall(call_context, session_factory)
    updates = run(
        live, ScriptedTranscriber([[final(0, "This call may be recorded.", 0.5)]]), recording
    )
    first_suggestions = next(u for u in updates if u.kind == "suggestions")
    assert first_suggestions.data["suggestions"], (
        "opening scripts are suggested before anyone speaks"
    )
    assert live.state.checklist["recording_notice"] is True
    assert live.state.checklist["mini_miranda"] is False


def test_a_transcription_error_ends_the_call_but_keeps_its_segments(
    call_context: CallContext, session_factory: sessionmaker[Session], recording: Path
) -> None:
    transcriber = ScriptedTranscriber(
        [
            [final(1, "Hello?", 0.2)],
            [{"type": "error", "code": "internal_error", "message": "model crashed"}],
        ]
    )
    live = LiveCall(call_context, session_factory)
    run(live, transcriber, recording)
    assert live.state.status == "error"
    assert "model crashed" in (live.state.error or "")
    with session_factory() as session:
        call = case_service.get_call_or_raise(session=session, call_id=call_context.call_id)
        segments = case_service.list_segments(session=session, call_id=call.id)
    assert call.status == CallStatus.INTERRUPTED
    assert [s.text for s in segments] == ["Hello?"]


CARD = "4111 1111 1111 1111"


def card_final() -> dict[str, Any]:
    words = [" My", " card", " is", " 4111", " 1111", " 1111", " 1111", " thanks"]
    return {
        **final(1, f"My card is {CARD} thanks", 2.0),
        "words": [{"word": w, "start": i * 0.3, "end": i * 0.3 + 0.2} for i, w in enumerate(words)],
    }


@pytest.mark.parametrize("keep_original", [False, True])
def test_pii_is_redacted_before_a_segment_is_stored_or_shown(
    call_context: CallContext,
    session_factory: sessionmaker[Session],
    recording: Path,
    keep_original: bool,
) -> None:
    call_context.keep_original = keep_original
    live = LiveCall(call_context, session_factory)
    updates = run(live, ScriptedTranscriber([[card_final()]]), recording)

    [shown] = [u.data for u in updates if u.kind == "segment"]
    assert shown["text"] == "My card is [CARD_NUMBER] thanks"
    with transaction(session_factory) as session:
        [stored] = case_service.list_segments(session=session, call_id=call_context.call_id)
        assert stored.text == "My card is [CARD_NUMBER] thanks"
        assert [w["word"] for w in stored.words] == [
            " My",
            " card",
            " is",
            " [CARD_NUMBER]",
            " thanks",
        ]
        assert stored.original_text == (f"My card is {CARD} thanks" if keep_original else None)
        raw = session.execute(
            text("select original_text from transcript_segments where id = :id"), {"id": stored.id}
        ).scalar()
    assert raw is None or "4111" not in raw  # encrypted at rest


def test_redaction_can_be_switched_off(
    call_context: CallContext, session_factory: sessionmaker[Session], recording: Path
) -> None:
    call_context.redact_pii = False
    run(LiveCall(call_context, session_factory), ScriptedTranscriber([[card_final()]]), recording)
    with transaction(session_factory) as session:
        [stored] = case_service.list_segments(session=session, call_id=call_context.call_id)
        assert CARD in stored.text and stored.original_text is None


def test_a_failing_redactor_still_saves_the_segment_without_its_digits(
    call_context: CallContext,
    session_factory: sessionmaker[Session],
    recording: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(text: str, language: str | None = None) -> Any:
        raise RuntimeError("detector bug")

    monkeypatch.setattr("agent_console.live_call.redact", broken)
    run(LiveCall(call_context, session_factory), ScriptedTranscriber([[card_final()]]), recording)
    with transaction(session_factory) as session:
        [stored] = case_service.list_segments(session=session, call_id=call_context.call_id)
        assert stored.text == "My card is #### #### #### #### thanks" and stored.words == []
