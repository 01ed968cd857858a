from sqlalchemy import Engine, inspect


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
