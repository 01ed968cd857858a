"""Alembic environment: runs against the URL handed in by ``case_store.schema``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

import case_store.models
import qa_review.models
import scripts_library.models  # noqa: F401  (registers tables on Base.metadata)
from case_store.database import Base, make_engine

config = context.config
target_metadata = Base.metadata
assert case_store.models and qa_review.models


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite ALTER via table copy
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("Offline (SQL script) migrations are not supported; use `parley db upgrade`.")
run_migrations_online()
