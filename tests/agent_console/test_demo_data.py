from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from agent_console import demo_data
from agent_console.cli import main
from case_store import service as case_service
from case_store.models import Case, Role


def test_demo_load_is_idempotent(session_factory: sessionmaker[Session]) -> None:
    first = demo_data.load(session_factory)
    second = demo_data.load(session_factory)
    assert first["cases"] >= 20 and first["rules"] > 0 and first["scripts"] > 0
    assert second == {"users": first["users"], "cases": 0, "rules": 0, "scripts": 0}
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Case)) == first["cases"]


def test_demo_covers_every_role_both_languages_and_every_bucket(
    session_factory: sessionmaker[Session],
) -> None:
    demo_data.load(session_factory)
    with session_factory() as session:
        roles = [u.role for u in case_service.list_users(session=session)]
        cases = session.scalars(select(Case)).unique().all()
        assert roles.count(Role.COLLECTOR) == 2
        assert {Role.QA_REVIEWER, Role.TRAINER, Role.SUPERVISOR} <= set(roles)
        assert {c.debtor.language for c in cases} == {"en", "zh"}
        assert {c.bucket() for c in cases} >= {"M0", "M1", "M2", "M3+"}


def test_demo_sign_ins_work_with_the_printed_password(
    session_factory: sessionmaker[Session],
) -> None:
    demo_data.load(session_factory)
    lines = demo_data.login_lines(session_factory)
    assert any("alice" in line and demo_data.DEMO_PASSWORD in line for line in lines)
    with session_factory() as session:
        assert case_service.authenticate(
            session=session, username="alice", password=demo_data.DEMO_PASSWORD
        )


def test_cli_upgrades_the_database_and_loads_demo_data(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PARLEY_DATA_DIR", str(tmp_path))
    assert main(["db", "upgrade"]) == 0
    assert (tmp_path / "parley.db").exists()
    assert main(["demo", "load"]) == 0
    assert main(["demo", "load"]) == 0
    out = capsys.readouterr().out
    assert "cases 20" in out and "cases 0" in out
    assert "alice" in out and demo_data.DEMO_PASSWORD in out
