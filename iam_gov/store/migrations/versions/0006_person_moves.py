"""the latest job change an HR export reports, kept with each person

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.add_column(sa.Column("previous_department", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("previous_title", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("previous_manager_id", sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column("moved_at", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.drop_column("moved_at")
        batch_op.drop_column("previous_manager_id")
        batch_op.drop_column("previous_title")
        batch_op.drop_column("previous_department")
