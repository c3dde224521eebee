"""access review campaigns

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("trigger", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column(
            "definition",
            JSON,
            nullable=False,
        ),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.Column("launched_at", TIMESTAMP, nullable=True),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("closed_at", TIMESTAMP, nullable=True),
        sa.Column("closed_by", sa.Text(), nullable=True),
        sa.Column(
            "snapshot_ids",
            JSON,
            nullable=True,
        ),
        sa.Column("evaluation_id", sa.Integer(), nullable=True),
        sa.Column("population_hash", sa.String(length=64), nullable=True),
        sa.Column("item_count", sa.Integer(), nullable=False),
        sa.Column(
            "close_summary",
            JSON,
            nullable=True,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
    )
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_campaigns_status"), ["status"], unique=False)

    op.create_table(
        "campaign_history",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("acting_for", sa.String(length=320), nullable=True),
        sa.Column("os_user", sa.Text(), nullable=True),
        sa.Column("at", TIMESTAMP, nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column(
            "details",
            JSON,
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_history_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_history")),
    )
    with op.batch_alter_table("campaign_history", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_campaign_history_campaign_id_item_id"),
            ["campaign_id", "item_id"],
            unique=False,
        )

    op.create_table(
        "campaign_items",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("system", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=512), nullable=False),
        sa.Column("account_login", sa.Text(), nullable=False),
        sa.Column("account_kind", sa.String(length=16), nullable=False),
        sa.Column("account_status", sa.String(length=16), nullable=False),
        sa.Column("person_id", sa.String(length=128), nullable=True),
        sa.Column("person_name", sa.Text(), nullable=True),
        sa.Column("person_email", sa.String(length=320), nullable=True),
        sa.Column("department", sa.Text(), nullable=True),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("entitlement_id", sa.String(length=512), nullable=False),
        sa.Column("entitlement_name", sa.Text(), nullable=False),
        sa.Column("entitlement_kind", sa.String(length=32), nullable=False),
        sa.Column("via", sa.Text(), nullable=False),
        sa.Column("via_ids", sa.Text(), nullable=False),
        sa.Column("direct", sa.Boolean(), nullable=False),
        sa.Column("privileged", sa.Boolean(), nullable=False),
        sa.Column("leaver", sa.Boolean(), nullable=False),
        sa.Column("mover", sa.Boolean(), nullable=False),
        sa.Column("in_role", sa.Boolean(), nullable=False),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.Column("last_used_at", TIMESTAMP, nullable=True),
        sa.Column("peers_holding", sa.Integer(), nullable=False),
        sa.Column("peers_total", sa.Integer(), nullable=False),
        sa.Column("finding_rules", sa.Text(), nullable=False),
        sa.Column("finding_severity", sa.String(length=16), nullable=True),
        sa.Column("risk", sa.Integer(), nullable=False),
        sa.Column("recommendation", sa.String(length=8), nullable=False),
        sa.Column("reviewer", sa.String(length=320), nullable=False),
        sa.Column("reviewer_rule", sa.String(length=32), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.Text(), nullable=True),
        sa.Column("decided_at", TIMESTAMP, nullable=True),
        sa.Column("acting_for", sa.String(length=320), nullable=True),
        sa.Column("precertified", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_items_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("campaign_id", "item_id", name=op.f("pk_campaign_items")),
    )
    with op.batch_alter_table("campaign_items", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_campaign_items_campaign_id_reviewer_item_id"),
            ["campaign_id", "reviewer", "item_id"],
            unique=False,
        )

    op.create_table(
        "campaign_signoffs",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("reviewer", sa.String(length=320), nullable=False),
        sa.Column("signed_at", TIMESTAMP, nullable=False),
        sa.Column("signed_by", sa.Text(), nullable=False),
        sa.Column("acting_for", sa.String(length=320), nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_signoffs_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("campaign_id", "reviewer", name=op.f("pk_campaign_signoffs")),
    )
    op.create_table(
        "review_triggers",
        sa.Column("trigger", sa.String(length=32), nullable=False),
        sa.Column("event_key", sa.String(length=1024), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("opened_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_review_triggers_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("trigger", "event_key", name=op.f("pk_review_triggers")),
    )


def downgrade() -> None:
    op.drop_table("review_triggers")
    op.drop_table("campaign_signoffs")
    with op.batch_alter_table("campaign_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_campaign_items_campaign_id_reviewer_item_id"))

    op.drop_table("campaign_items")
    with op.batch_alter_table("campaign_history", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_campaign_history_campaign_id_item_id"))

    op.drop_table("campaign_history")
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_campaigns_status"))

    op.drop_table("campaigns")
