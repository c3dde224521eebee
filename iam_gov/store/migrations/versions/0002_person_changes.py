"""person changes between HR snapshots

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "person_changes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("snapshot_id", sa.Integer(), nullable=False),
        sa.Column("employee_id", sa.String(length=128), nullable=False),
        sa.Column("field", sa.String(length=160), nullable=False),
        sa.Column("old_value", sa.Text(), nullable=True),
        sa.Column("new_value", sa.Text(), nullable=True),
        sa.Column("changed_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["snapshot_id"],
            ["snapshots.id"],
            name=op.f("fk_person_changes_snapshot_id_snapshots"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person_changes")),
    )
    with op.batch_alter_table("person_changes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_person_changes_employee_id"), ["employee_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("person_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_person_changes_employee_id"))
    op.drop_table("person_changes")
