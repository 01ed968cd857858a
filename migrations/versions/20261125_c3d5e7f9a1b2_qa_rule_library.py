"""qa rule library (conditions, version history, phrase lists); redacted transcripts

Transcript segments may keep their pre-redaction text, encrypted (``original_text``).
Rules keep their conditions (exceptions, near, not_near, speakers) in a JSON column
instead of "!"-prefixed phrases; every saved version is kept whole in
``qa_rule_versions``; reusable word lists live in ``qa_phrase_lists``.

Revision ID: c3d5e7f9a1b2
Revises: b7e1f4a2c9d0
Create Date: 2026-11-25 03:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c3d5e7f9a1b2"
down_revision: str | None = "b7e1f4a2c9d0"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EXCEPTION_PREFIX = "!"

rules = sa.table(
    "qa_rules",
    sa.column("id", sa.Integer),
    sa.column("phrases", sa.JSON),
    sa.column("conditions", sa.JSON),
)


def upgrade() -> None:
    with op.batch_alter_table("transcript_segments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("original_text", sa.Text(), nullable=True))
    with op.batch_alter_table("qa_rules", schema=None) as batch_op:
        batch_op.add_column(sa.Column("conditions", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
    connection = op.get_bind()
    for row in connection.execute(sa.select(rules.c.id, rules.c.phrases)).all():
        phrases = list(row.phrases or [])
        exceptions = [p[1:] for p in phrases if p.startswith(EXCEPTION_PREFIX)]
        conditions = {"exceptions": exceptions} if exceptions else {}
        connection.execute(
            rules.update()
            .where(rules.c.id == row.id)
            .values(
                phrases=[p for p in phrases if not p.startswith(EXCEPTION_PREFIX)],
                conditions=conditions,
            )
        )
    with op.batch_alter_table("qa_rules", schema=None) as batch_op:
        batch_op.alter_column("conditions", existing_type=sa.JSON(), nullable=False)

    op.create_table(
        "qa_rule_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule_key", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name=op.f("fk_qa_rule_versions_author_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qa_rule_versions")),
        sa.UniqueConstraint("rule_key", "version", name=op.f("uq_qa_rule_versions_rule_key")),
    )
    op.create_index(
        op.f("ix_qa_rule_versions_rule_key"), "qa_rule_versions", ["rule_key"], unique=False
    )
    op.create_table(
        "qa_phrase_lists",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("entries", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qa_phrase_lists")),
        sa.UniqueConstraint("name", name=op.f("uq_qa_phrase_lists_name")),
    )


def downgrade() -> None:
    op.drop_table("qa_phrase_lists")
    op.drop_index(op.f("ix_qa_rule_versions_rule_key"), table_name="qa_rule_versions")
    op.drop_table("qa_rule_versions")
    connection = op.get_bind()
    for row in connection.execute(sa.select(rules.c.id, rules.c.phrases, rules.c.conditions)):
        exceptions = (row.conditions or {}).get("exceptions", [])
        connection.execute(
            rules.update()
            .where(rules.c.id == row.id)
            .values(phrases=list(row.phrases or []) + [EXCEPTION_PREFIX + e for e in exceptions])
        )
    with op.batch_alter_table("qa_rules", schema=None) as batch_op:
        batch_op.drop_column("updated_at")
        batch_op.drop_column("conditions")
    with op.batch_alter_table("transcript_segments", schema=None) as batch_op:
        batch_op.drop_column("original_text")
