"""deprovisioning runs, their steps, and HR events

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "deprovision_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("plan_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("trigger", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("os_user", sa.Text(), nullable=True),
        sa.Column("started_at", TIMESTAMP, nullable=False),
        sa.Column("finished_at", TIMESTAMP, nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("allow_mass", sa.Boolean(), nullable=False),
        sa.Column("resumes", sa.Integer(), nullable=True),
        sa.Column("plan", JSON, nullable=False),
        sa.ForeignKeyConstraint(
            ["resumes"],
            ["deprovision_runs.id"],
            name=op.f("fk_deprovision_runs_resumes_deprovision_runs"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deprovision_runs")),
    )
    with op.batch_alter_table("deprovision_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_deprovision_runs_plan_id"), ["plan_id"], unique=False)
    op.create_table(
        "deprovision_steps",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("step_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.String(length=128), nullable=True),
        sa.Column("system", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=512), nullable=False),
        sa.Column("account_login", sa.Text(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("entitlement_id", sa.String(length=512), nullable=True),
        sa.Column("credential_id", sa.String(length=512), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("details", JSON, nullable=False),
        sa.Column("at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["deprovision_runs.id"],
            name=op.f("fk_deprovision_steps_run_id_deprovision_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", "step_id", name=op.f("pk_deprovision_steps")),
    )
    with op.batch_alter_table("deprovision_steps", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_deprovision_steps_person_id_system_account_id"),
            ["person_id", "system", "account_id"],
            unique=False,
        )
    op.create_table(
        "hr_events",
        sa.Column("event_id", sa.String(length=256), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("received_at", TIMESTAMP, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("employee", sa.Text(), nullable=False),
        sa.Column("effective_at", TIMESTAMP, nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("body_sha256", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["deprovision_runs.id"],
            name=op.f("fk_hr_events_run_id_deprovision_runs"),
        ),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_hr_events")),
    )


def downgrade() -> None:
    op.drop_table("hr_events")
    with op.batch_alter_table("deprovision_steps", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deprovision_steps_person_id_system_account_id"))
    op.drop_table("deprovision_steps")
    with op.batch_alter_table("deprovision_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deprovision_runs_plan_id"))
    op.drop_table("deprovision_runs")
