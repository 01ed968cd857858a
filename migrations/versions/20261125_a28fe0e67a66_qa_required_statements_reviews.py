"""qa required statements per tenant, call statement results, flag review history

Required statements move from the starter YAML into ``qa_required_statements`` so QA
leads can edit them per language and tenant; ``qa_call_statements`` records, at call end,
which were said and which were missing; ``qa_flag_reviews`` keeps every review decision
(flags already reviewed get their one known decision copied in).

Revision ID: a28fe0e67a66
Revises: c3d5e7f9a1b2
Create Date: 2026-11-25 04:27:46.377196
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a28fe0e67a66"
down_revision: str | None = "c3d5e7f9a1b2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "qa_required_statements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("tenant", sa.String(length=128), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("phrases", sa.JSON(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qa_required_statements")),
        sa.UniqueConstraint(
            "key", "language", "tenant", name=op.f("uq_qa_required_statements_key")
        ),
    )
    op.create_table(
        "qa_call_statements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("said", sa.Boolean(), nullable=False),
        sa.Column("segment_id", sa.Integer(), nullable=True),
        sa.Column("stream_start", sa.Float(), nullable=True),
        sa.Column("evidence", sa.Text(), nullable=True),
        sa.Column("statement_version", sa.Integer(), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name=op.f("fk_qa_call_statements_call_id_calls")
        ),
        sa.ForeignKeyConstraint(
            ["segment_id"],
            ["transcript_segments.id"],
            name=op.f("fk_qa_call_statements_segment_id_transcript_segments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qa_call_statements")),
        sa.UniqueConstraint("call_id", "key", name=op.f("uq_qa_call_statements_call_id")),
    )
    with op.batch_alter_table("qa_call_statements", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_qa_call_statements_call_id"), ["call_id"], unique=False
        )

    op.create_table(
        "qa_flag_reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("flag_id", sa.Integer(), nullable=False),
        sa.Column("reviewer_id", sa.Integer(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "open", "confirmed", "dismissed", name="flagstatus", native_enum=False, length=32
            ),
            nullable=False,
        ),
        sa.Column(
            "reason",
            sa.Enum(
                "confirmed",
                "negated_or_compliant",
                "debtor_speech",
                "transcription_error",
                "wrong_context",
                "other",
                name="reviewreason",
                native_enum=False,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["flag_id"], ["qa_flags.id"], name=op.f("fk_qa_flag_reviews_flag_id_qa_flags")
        ),
        sa.ForeignKeyConstraint(
            ["reviewer_id"], ["users.id"], name=op.f("fk_qa_flag_reviews_reviewer_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qa_flag_reviews")),
    )
    with op.batch_alter_table("qa_flag_reviews", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_qa_flag_reviews_flag_id"), ["flag_id"], unique=False)

    flags = sa.table(
        "qa_flags",
        sa.column("id", sa.Integer),
        sa.column("status", sa.String),
        sa.column("reviewer_id", sa.Integer),
        sa.column("reviewed_at", sa.DateTime(timezone=True)),
        sa.column("review_reason", sa.String),
        sa.column("review_comment", sa.Text),
    )
    reviews = sa.table(
        "qa_flag_reviews",
        sa.column("flag_id", sa.Integer),
        sa.column("reviewer_id", sa.Integer),
        sa.column("status", sa.String),
        sa.column("reason", sa.String),
        sa.column("comment", sa.Text),
        sa.column("at", sa.DateTime(timezone=True)),
    )
    op.execute(
        reviews.insert().from_select(
            ["flag_id", "reviewer_id", "status", "reason", "comment", "at"],
            sa.select(
                flags.c.id,
                flags.c.reviewer_id,
                flags.c.status,
                flags.c.review_reason,
                flags.c.review_comment,
                flags.c.reviewed_at,
            ).where(flags.c.reviewed_at.is_not(None)),
        )
    )


def downgrade() -> None:
    with op.batch_alter_table("qa_flag_reviews", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_qa_flag_reviews_flag_id"))

    op.drop_table("qa_flag_reviews")
    with op.batch_alter_table("qa_call_statements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_qa_call_statements_call_id"))

    op.drop_table("qa_call_statements")
    op.drop_table("qa_required_statements")
