from pathlib import Path

from sqlalchemy import Engine, inspect, text

from case_store.database import make_engine
from case_store.schema import upgrade


def test_migrations_create_every_table(db_engine: Engine) -> None:
    tables = set(inspect(db_engine).get_table_names())
    assert {
        "users",
        "debtors",
        "cases",
        "calls",
        "transcript_segments",
        "qa_rules",
        "qa_flags",
        "scripts",
    } <= tables


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'parley.db'}")
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    engine.dispose()


def test_upgrade_is_safe_to_run_on_every_start(db_engine: Engine) -> None:
    upgrade(db_engine)
    upgrade(db_engine)
    with db_engine.connect() as conn:
        assert conn.execute(text("select count(*) from alembic_version")).scalar() == 1
