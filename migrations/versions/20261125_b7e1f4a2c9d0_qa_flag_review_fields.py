"""qa flag review fields

Who reviewed a flag, when, why (a fixed reason) and with what comment, plus an index for
the review queue, which lists flags by status, newest first.

Revision ID: b7e1f4a2c9d0
Revises: 714cef225ce4
Create Date: 2026-11-25 02:55:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b7e1f4a2c9d0"
down_revision: str | None = "714cef225ce4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REVIEW_REASONS = (
    "confirmed",
    "negated_or_compliant",
    "debtor_speech",
    "transcription_error",
    "wrong_context",
    "other",
)


def upgrade() -> None:
    # batch_alter_table: SQLite cannot add a foreign key with ALTER, so the table is copied.
    with op.batch_alter_table("qa_flags", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reviewer_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column(
                "review_reason",
                sa.Enum(*REVIEW_REASONS, name="reviewreason", native_enum=False, length=32),
                nullable=True,
            )
        )
        batch_op.add_column(sa.Column("review_comment", sa.Text(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_qa_flags_reviewer_id_users"), "users", ["reviewer_id"], ["id"]
        )
        batch_op.create_index("ix_qa_flags_status_created_at", ["status", "created_at"])


def downgrade() -> None:
    with op.batch_alter_table("qa_flags", schema=None) as batch_op:
        batch_op.drop_index("ix_qa_flags_status_created_at")
        batch_op.drop_constraint(batch_op.f("fk_qa_flags_reviewer_id_users"), type_="foreignkey")
        batch_op.drop_column("review_comment")
        batch_op.drop_column("review_reason")
        batch_op.drop_column("reviewed_at")
        batch_op.drop_column("reviewer_id")
