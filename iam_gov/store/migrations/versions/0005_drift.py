"""collect failures, baselines, drift reports

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "collect_failures",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("system", sa.String(length=64), nullable=False),
        sa.Column("failed_at", TIMESTAMP, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_collect_failures")),
    )
    with op.batch_alter_table("collect_failures", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_collect_failures_system_failed_at"),
            ["system", "failed_at"],
            unique=False,
        )
    op.create_table(
        "baselines",
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("pinned_at", TIMESTAMP, nullable=False),
        sa.Column("pinned_by", sa.Text(), nullable=False),
        sa.Column("snapshot_ids", JSON, nullable=False),
        sa.Column("evaluation_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_baselines")),
    )
    op.create_table(
        "drift_reports",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("made_at", TIMESTAMP, nullable=False),
        sa.Column("folder", sa.Text(), nullable=True),
        sa.Column("baseline", JSON, nullable=False),
        sa.Column("snapshot_ids", JSON, nullable=False),
        sa.Column("exit_code", sa.Integer(), nullable=False),
        sa.Column("summary", JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drift_reports")),
    )


def downgrade() -> None:
    op.drop_table("drift_reports")
    op.drop_table("baselines")
    with op.batch_alter_table("collect_failures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_collect_failures_system_failed_at"))
    op.drop_table("collect_failures")
