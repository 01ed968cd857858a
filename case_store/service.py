"""Every database read and write of the case store: users, cases, calls, transcript segments."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from case_store.models import (
    Call,
    CallStatus,
    Case,
    Role,
    TranscriptSegment,
    User,
    utcnow,
)

_hasher = PasswordHasher()


class NotFound(LookupError):
    """Raised by ``*_or_raise`` verbs; views turn it into a 404."""


# --- users -----------------------------------------------------------------------------


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def get_user(*, session: Session, user_id: int) -> User | None:
    return session.get(User, user_id)


def get_user_by_username(*, session: Session, username: str) -> User | None:
    return session.scalars(select(User).where(User.username == username)).first()


def authenticate(*, session: Session, username: str, password: str) -> User | None:
    """The active user with these credentials, else None (same answer for every failure)."""
    user = get_user_by_username(session=session, username=username)
    if user is None or not user.active:
        _hasher.hash(password)  # spend the same time as a real check: no username probing
        return None
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user


def upsert_user(
    *,
    session: Session,
    username: str,
    display_name: str,
    role: Role,
    password: str,
    language: str = "en",
) -> User:
    user = get_user_by_username(session=session, username=username)
    if user is None:
        user = User(
            username=username,
            display_name=display_name,
            role=role,
            language=language,
            password_hash=hash_password(password),
        )
        session.add(user)
    else:
        user.display_name, user.role, user.language = display_name, role, language
    session.flush()
    return user


def list_users(*, session: Session, role: Role | None = None) -> Sequence[User]:
    stmt = select(User).order_by(User.username)
    if role is not None:
        stmt = stmt.where(User.role == role)
    return session.scalars(stmt).all()


# --- cases -----------------------------------------------------------------------------


def get_case(*, session: Session, case_id: int) -> Case | None:
    return session.get(Case, case_id)


def get_case_or_raise(*, session: Session, case_id: int) -> Case:
    case = get_case(session=session, case_id=case_id)
    if case is None:
        raise NotFound(f"case {case_id} not found")
    return case


def get_case_by_ref(*, session: Session, account_ref: str) -> Case | None:
    return session.scalars(select(Case).where(Case.account_ref == account_ref)).first()


def can_access_case(user: User, case: Case) -> bool:
    """Collectors see only their own cases; other roles see all."""
    return user.role != Role.COLLECTOR or case.collector_id == user.id


def list_worklist(*, session: Session, user: User) -> Sequence[Case]:
    """A collector's own cases, soonest follow-up first; other roles see every case."""
    stmt = select(Case)
    if user.role == Role.COLLECTOR:
        stmt = stmt.where(Case.collector_id == user.id)
    # Cases with no follow-up time go last; within a time, the larger balance first.
    stmt = stmt.order_by(Case.next_follow_up.is_(None), Case.next_follow_up, Case.balance.desc())
    return session.scalars(stmt).unique().all()


# --- calls and transcripts -------------------------------------------------------------


def start_call(
    *,
    session: Session,
    case_id: int,
    collector_id: int,
    source: str,
    language: str | None,
    recording: str | None = None,
) -> Call:
    call = Call(
        case_id=case_id,
        collector_id=collector_id,
        source=source,
        language=language,
        recording=recording,
        status=CallStatus.LIVE,
    )
    session.add(call)
    session.flush()
    return call


def get_call(*, session: Session, call_id: int) -> Call | None:
    return session.get(Call, call_id)


def get_call_or_raise(*, session: Session, call_id: int) -> Call:
    call = get_call(session=session, call_id=call_id)
    if call is None:
        raise NotFound(f"call {call_id} not found")
    return call


def get_call_for_user(*, session: Session, user: User, call_id: int) -> Call | None:
    """The call, if it exists and its case is one this user may see (pages and WebSockets)."""
    call = get_call(session=session, call_id=call_id)
    case = get_case(session=session, case_id=call.case_id) if call else None
    return call if case is not None and can_access_case(user, case) else None


def set_call_recording(*, session: Session, call_id: int, recording: str) -> Call:
    """Where the call's audio is kept; a streamed call's file is named after its id."""
    call = get_call_or_raise(session=session, call_id=call_id)
    call.recording = recording
    session.flush()
    return call


def end_call(*, session: Session, call_id: int, status: CallStatus = CallStatus.COMPLETED) -> Call:
    call = get_call_or_raise(session=session, call_id=call_id)
    call.status = status
    call.ended_at = utcnow()
    session.flush()
    return call


def mark_interrupted_calls(*, session: Session) -> int:
    """At start-up, calls still 'live' were cut by a restart: keep their segments, mark them."""
    result = session.execute(
        update(Call)
        .where(Call.status == CallStatus.LIVE)
        .values(status=CallStatus.INTERRUPTED, ended_at=utcnow())
    )
    return int(getattr(result, "rowcount", 0) or 0)


def list_calls_for_case(*, session: Session, case_id: int) -> Sequence[Call]:
    """A case's calls, oldest first."""
    stmt = select(Call).where(Call.case_id == case_id).order_by(Call.started_at, Call.id)
    return session.scalars(stmt).all()


def latest_call_for_case(*, session: Session, case_id: int) -> Call | None:
    stmt = (
        select(Call).where(Call.case_id == case_id).order_by(Call.started_at.desc(), Call.id.desc())
    )
    return session.scalars(stmt).first()


def add_segment(
    *,
    session: Session,
    call_id: int,
    channel: int,
    speaker: str,
    start: float,
    end: float,
    text: str,
    words: list[dict[str, Any]],
    original_text: str | None = None,
) -> TranscriptSegment:
    segment = TranscriptSegment(
        call_id=call_id,
        channel=channel,
        speaker=speaker,
        start=start,
        end=end,
        text=text,
        words=words,
        original_text=original_text,
    )
    session.add(segment)
    session.flush()
    return segment


def list_segments(*, session: Session, call_id: int) -> Sequence[TranscriptSegment]:
    stmt = (
        select(TranscriptSegment)
        .where(TranscriptSegment.call_id == call_id)
        .order_by(TranscriptSegment.start, TranscriptSegment.id)
    )
    return session.scalars(stmt).all()
