"""Request-scoped checks, so route handlers read as one sentence."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Form, Header, HTTPException, Request, status
from sqlalchemy.orm import Session, sessionmaker

from agent_console.settings import Settings
from case_store import service as case_service
from case_store.models import Call, Case, Role, User

CSRF_SESSION_KEY = "csrf"


class LoginRequired(Exception):
    """Raised for anonymous requests; the app turns it into a redirect to /login."""


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_db(request: Request) -> Iterator[Session]:
    """One session per request, committed when the handler returns without error.

    The dependency is function-scoped (below) so the commit happens before the response
    is sent: with FastAPI's default request scope a browser following a save's 303
    redirect could read the database before the save was committed.
    """
    factory: sessionmaker[Session] = request.app.state.session_factory
    with factory() as session, session.begin():
        yield session


DbSession = Annotated[Session, Depends(get_db, scope="function")]


def csrf_token(request: Request) -> str:
    token = request.session.get(CSRF_SESSION_KEY)
    if not token:
        token = secrets.token_urlsafe(32)
        request.session[CSRF_SESSION_KEY] = token
    return str(token)


def verify_csrf(
    request: Request,
    x_csrf_token: Annotated[str | None, Header()] = None,
    csrf: Annotated[str | None, Form()] = None,
) -> None:
    """State-changing requests carry the session's token (htmx sends it via hx-headers)."""
    expected = request.session.get(CSRF_SESSION_KEY)
    sent = x_csrf_token or csrf
    if not expected or not sent or not secrets.compare_digest(str(expected), sent):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "Missing or invalid CSRF token; reload the page."
        )


def current_user(request: Request, db: DbSession) -> User:
    user_id = request.session.get("user_id")
    user = case_service.get_user(session=db, user_id=int(user_id)) if user_id else None
    if user is None or not user.active:
        raise LoginRequired
    return user


CurrentUser = Annotated[User, Depends(current_user)]


def require_role(*roles: Role) -> Callable[[User], User]:
    """A dependency that lets only these roles through (403 otherwise)."""

    def check(user: CurrentUser) -> User:
        if user.role not in roles:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "Your role cannot open this page.")
        return user

    return check


def valid_case(case_id: int, user: CurrentUser, db: DbSession) -> Case:
    """The case, if it exists and this user may see it; 404 either way, so ids do not leak."""
    case = case_service.get_case(session=db, case_id=case_id)
    if case is None or not case_service.can_access_case(user, case):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Case not found.")
    return case


def valid_call(call_id: int, user: CurrentUser, db: DbSession) -> Call:
    call = case_service.get_call_for_user(session=db, user=user, call_id=call_id)
    if call is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Call not found.")
    return call
