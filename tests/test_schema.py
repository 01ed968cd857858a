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


def test_migrations_match_the_models(db_engine: Engine) -> None:
    """A model change without its migration (or the reverse) fails here, on both backends."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    import case_store.models
    import qa_review.models
    import scripts_library.models
    from case_store.database import Base

    assert case_store.models and qa_review.models and scripts_library.models
    with db_engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_qa_review_fields_migrate_down_and_up(committing_engine: Engine) -> None:
    from alembic import command

    from case_store.schema import alembic_config

    def flag_columns() -> set[str]:
        return {c["name"] for c in inspect(committing_engine).get_columns("qa_flags")}

    def flag_indexes() -> set[str | None]:
        return {i["name"] for i in inspect(committing_engine).get_indexes("qa_flags")}

    review_columns = {"reviewer_id", "reviewed_at", "review_reason", "review_comment"}
    assert review_columns <= flag_columns()
    assert "ix_qa_flags_status_created_at" in flag_indexes()
    cfg = alembic_config(committing_engine.url.render_as_string(hide_password=False))
    with committing_engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "714cef225ce4")
    assert not review_columns & flag_columns()
    assert "ix_qa_flags_status_created_at" not in flag_indexes()
    upgrade(committing_engine)
    assert review_columns <= flag_columns()
