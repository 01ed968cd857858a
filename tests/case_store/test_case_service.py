from sqlalchemy import text
from sqlalchemy.orm import Session

from case_store import service as case_service
from case_store.models import CallStatus, Role
from tests.factories import make_case, make_user


def test_authenticate_accepts_right_password_only(db: Session) -> None:
    user = make_user(db, password="correct horse")
    assert (
        case_service.authenticate(session=db, username=user.username, password="correct horse")
        == user
    )
    assert case_service.authenticate(session=db, username=user.username, password="wrong") is None
    assert (
        case_service.authenticate(session=db, username="nobody", password="correct horse") is None
    )


def test_password_is_stored_as_argon2_hash(db: Session) -> None:
    user = make_user(db, password="secret-pass")
    assert user.password_hash.startswith("$argon2id$")
    assert "secret-pass" not in user.password_hash


def test_collector_worklist_holds_only_their_own_cases(db: Session) -> None:
    alice, bob = make_user(db), make_user(db)
    mine = make_case(db, collector=alice)
    theirs = make_case(db, collector=bob)
    worklist = case_service.list_worklist(session=db, user=alice)
    assert mine in worklist
    assert theirs not in worklist
    assert not case_service.can_access_case(alice, theirs)


def test_supervisor_sees_every_case(db: Session) -> None:
    boss = make_user(db, role=Role.SUPERVISOR)
    case = make_case(db, collector=make_user(db))
    assert case in case_service.list_worklist(session=db, user=boss)
    assert case_service.can_access_case(boss, case)


def test_debtor_pii_is_encrypted_at_rest(db: Session) -> None:
    case = make_case(db, phone="+1 555 010 4242", national_id="987-65-4321")
    raw = db.execute(
        text("select phone, national_id from debtors where id = :id"), {"id": case.debtor_id}
    ).one()
    assert "4242" not in raw.phone and "4321" not in raw.national_id
    db.expire_all()
    reloaded = case_service.get_case_or_raise(session=db, case_id=case.id)
    assert reloaded.debtor.phone == "+1 555 010 4242"


def test_days_past_due_and_bucket_are_derived_from_due_date(db: Session) -> None:
    assert make_case(db, days_past_due=10).bucket() == "M0"
    assert make_case(db, days_past_due=45).bucket() == "M1"
    assert make_case(db, days_past_due=75).bucket() == "M2"
    assert make_case(db, days_past_due=200).bucket() == "M3+"


def test_calls_cut_by_a_restart_are_marked_interrupted_and_keep_segments(db: Session) -> None:
    collector = make_user(db)
    case = make_case(db, collector=collector)
    call = case_service.start_call(
        session=db, case_id=case.id, collector_id=collector.id, source="simulated", language="en"
    )
    case_service.add_segment(
        session=db,
        call_id=call.id,
        channel=1,
        speaker="debtor",
        start=1.0,
        end=2.5,
        text="I lost my job",
        words=[],
    )
    assert case_service.mark_interrupted_calls(session=db) == 1
    db.expire_all()
    call = case_service.get_call_or_raise(session=db, call_id=call.id)
    assert call.status == CallStatus.INTERRUPTED
    assert [s.text for s in case_service.list_segments(session=db, call_id=call.id)] == [
        "I lost my job"
    ]
