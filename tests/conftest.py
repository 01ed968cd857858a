"""Shared fixtures: a migrated database on SQLite and, when reachable, PostgreSQL.

Each PostgreSQL test session gets its own schema so runs never see each other's rows.
In CI (``CI=true``) an unreachable PostgreSQL fails the run instead of skipping.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from case_store import crypto
from case_store.database import make_engine, make_session_factory
from case_store.schema import upgrade

POSTGRES_URL = os.environ.get(
    "PARLEY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REPO_ROOT = Path(__file__).resolve().parent.parent
# The project's shared/ folder sits beside the checkout (CI clones it so); override for other layouts.
SHARED_AUDIO = Path(os.environ.get("PARLEY_SHARED_AUDIO", REPO_ROOT.parent / "shared" / "audio"))

BACKENDS = ["sqlite", "postgresql"]

crypto.configure("test-secret-key")


def _postgres_reachable() -> bool:
    try:
        engine = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
        return True
    except Exception:
        return False


@contextmanager
def _postgres_schema() -> Iterator[str]:
    """A throw-away schema on the test server, as a URL whose search_path points at it."""
    if not _postgres_reachable():
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL at {POSTGRES_URL} is not reachable; CI must test against it")
        pytest.skip("PostgreSQL not reachable")
    schema = f"parley_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@contextmanager
def _migrated_engine(backend: str, folder: Path) -> Iterator[Engine]:
    """A migrated database of its own; migrations themselves are exercised on both backends."""
    with contextlib.ExitStack() as stack:
        url = (
            f"sqlite:///{folder / 'parley.db'}"
            if backend == "sqlite"
            else stack.enter_context(_postgres_schema())
        )
        engine = make_engine(url)
        upgrade(engine)
        try:
            yield engine
        finally:
            engine.dispose()


@pytest.fixture(scope="session", params=BACKENDS)
def db_engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """Shared by ``db`` tests, which roll back everything they write."""
    with _migrated_engine(request.param, tmp_path_factory.mktemp("db")) as engine:
        yield engine


@pytest.fixture(params=BACKENDS)
def committing_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A fresh database for tests whose code commits (it cannot be rolled back)."""
    with _migrated_engine(request.param, tmp_path) as engine:
        yield engine


@pytest.fixture
def db(db_engine: Engine) -> Iterator[Session]:
    """A session inside a transaction that is rolled back after the test."""
    connection = db_engine.connect()
    outer = connection.begin()
    session = Session(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    yield session
    session.close()
    outer.rollback()
    connection.close()


@pytest.fixture
def session_factory(committing_engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(committing_engine)


@pytest.fixture(scope="session")
def shared_audio() -> Path:
    if not SHARED_AUDIO.is_dir():
        pytest.fail(f"test recordings not found at {SHARED_AUDIO}; set PARLEY_SHARED_AUDIO")
    return SHARED_AUDIO
