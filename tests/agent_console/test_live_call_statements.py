"""A live call checks the required statements of its case's creditor (the tenant) in its
language, and stores each one, said or missing, in the transaction that ends the call."""

from __future__ import annotations

import wave
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from agent_console.live_call import CallContext, LiveCall
from case_store import service as case_service
from case_store.database import transaction
from case_store.models import CallStatus
from qa_review import service as qa_service
from qa_review.models import QaCallStatement
from scripts_library import service as scripts_service
from tests.agent_console.test_live_call import ScriptedTranscriber, final, run
from tests.factories import make_case, make_user

TENANT = "Acme Bank"


@pytest.fixture
def silence(tmp_path: Path) -> Path:
    path = tmp_path / "call.wav"
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(2)
        wav.setsampwidth(2)
        wav.setframerate(16000)
        wav.writeframes(b"\0" * 4 * 16000)
    return path


@pytest.fixture
def acme_call(session_factory: sessionmaker[Session]) -> CallContext:
    """A call on a case of Acme Bank, which records calls in its own words, waives the
    mini-Miranda and adds a statement of its own; another tenant keeps the defaults."""
    with transaction(session_factory) as session:
        qa_service.seed_starter_rules(session=session)
        scripts_service.seed_starter_scripts(session=session)
        save = qa_service.save_statement
        save(
            session=session,
            key="recording_notice",
            language="en",
            tenant=TENANT,
            phrases=["acme keeps a recording"],
        )
        save(
            session=session,
            key="mini_miranda",
            language="en",
            tenant=TENANT,
            phrases=[],
            enabled=False,
        )
        save(
            session=session,
            key="dispute_rights",
            language="en",
            tenant=TENANT,
            phrases=["you * dispute this debt"],
        )
        save(
            session=session,
            key="mini_miranda",
            language="en",
            tenant="Other Bank",
            phrases=[],
            enabled=False,
        )
        collector = make_user(session)
        case = make_case(session, collector=collector, name="John Miller")
        case.creditor = TENANT
        call = case_service.start_call(
            session=session,
            case_id=case.id,
            collector_id=collector.id,
            source="simulated",
            language="en",
        )
        return CallContext(
            call_id=call.id, case_id=case.id, language="en", agent_name="Sam", hotwords=[]
        )


def _stored(factory: sessionmaker[Session], call_id: int) -> list[QaCallStatement]:
    with factory() as session:
        return qa_service.list_call_statements(session=session, call_id=call_id)


def test_the_tenants_statements_are_checked_and_stored_when_the_call_ends(
    acme_call: CallContext, session_factory: sessionmaker[Session], silence: Path
) -> None:
    transcriber = ScriptedTranscriber(
        [
            [final(0, "Hello, this call may be recorded.", 0.5)],  # the default's wording
            [final(1, "Acme keeps a recording? You can dispute this debt.", 2.0)],  # debtor
            [final(0, "Yes, Acme keeps a recording of every call.", 4.0)],
            [final(0, "Am I speaking with John Miller?", 6.0)],
        ]
    )
    live = LiveCall(acme_call, session_factory)
    updates = run(live, transcriber, silence)

    first = next(u for u in updates if u.kind == "checklist")
    assert first.data["checklist"] == {
        "identity_check": False,
        "recording_notice": False,
        "dispute_rights": False,
    }
    assert live.state.checklist == {
        "identity_check": True,
        "recording_notice": True,
        "dispute_rights": False,
    }
    with session_factory() as session:
        segments = case_service.list_segments(session=session, call_id=acme_call.call_id)
        call = case_service.get_call_or_raise(session=session, call_id=acme_call.call_id)
    by_text = {s.text: s.id for s in segments}
    rows = _stored(session_factory, acme_call.call_id)
    assert [(r.key, r.said, r.evidence, r.stream_start) for r in rows] == [
        ("identity_check", True, "Am I speaking with", 6.0),
        ("recording_notice", True, "Acme keeps a recording", 4.0),
        ("dispute_rights", False, None, None),
    ]
    assert rows[0].segment_id == by_text["Am I speaking with John Miller?"]
    assert rows[1].segment_id == by_text["Yes, Acme keeps a recording of every call."]
    assert rows[1].statement_version == 1
    assert call.status == CallStatus.COMPLETED
    assert all(r.checked_at is not None for r in rows)


def test_an_interrupted_call_stores_what_was_heard_so_far(
    acme_call: CallContext, session_factory: sessionmaker[Session], silence: Path
) -> None:
    transcriber = ScriptedTranscriber(
        [
            [final(0, "Am I speaking with John Miller?", 0.5)],
            [{"type": "error", "code": "internal_error", "message": "model crashed"}],
        ]
    )
    run(LiveCall(acme_call, session_factory), transcriber, silence)
    with session_factory() as session:
        call = case_service.get_call_or_raise(session=session, call_id=acme_call.call_id)
    assert call.status == CallStatus.INTERRUPTED
    rows = _stored(session_factory, acme_call.call_id)
    assert {r.key: r.said for r in rows} == {
        "identity_check": True,
        "recording_notice": False,
        "dispute_rights": False,
    }


def test_an_edit_after_the_call_started_does_not_change_what_it_checks(
    acme_call: CallContext, session_factory: sessionmaker[Session], silence: Path
) -> None:
    """The statements are read once, in the transaction that loads the rules at call start."""
    live = LiveCall(acme_call, session_factory)
    transcriber = ScriptedTranscriber([[final(0, "You may dispute this debt.", 0.5)]])

    original = live._load_rules_and_openings

    def load_then_edit() -> list[scripts_service.Suggestion]:
        openings = original()
        with transaction(session_factory) as session:
            qa_service.delete_statement(
                session=session, key="dispute_rights", language="en", tenant=TENANT
            )
        return openings

    live._load_rules_and_openings = load_then_edit  # type: ignore[method-assign]
    run(live, transcriber, silence)
    rows = {r.key: r for r in _stored(session_factory, acme_call.call_id)}
    assert rows["dispute_rights"].said and rows["dispute_rights"].evidence == (
        "You may dispute this debt"
    )
