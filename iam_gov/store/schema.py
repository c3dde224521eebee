"""The store's tables (SQLAlchemy Core); Alembic migrations in ``migrations/`` must match them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
)

from iam_gov.timeutil import as_utc


class UTCDateTime(TypeDecorator[datetime]):
    """Stored as UTC; always read back timezone-aware (SQLite keeps no zone of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = as_utc(value)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else as_utc(value)


class JSONType(TypeDecorator[Any]):
    """JSON; ``JSONB`` on PostgreSQL. A decorator rather than ``with_variant(JSONB())``, so that
    SQLAlchemy's PostgreSQL dialect (about 20 ms and 20 modules) is imported only when a
    PostgreSQL store is used, not at every start of every command on SQLite."""

    impl = JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import JSONB

            return dialect.type_descriptor(JSONB())
        return dialect.type_descriptor(JSON())


NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)


def _snapshot_fk() -> Column[Any]:
    return Column(
        "snapshot_id",
        Integer,
        ForeignKey("snapshots.id", ondelete="CASCADE"),
        primary_key=True,
    )


snapshots = Table(
    "snapshots",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("system", String(64), nullable=False),
    Column("connector", String(32), nullable=False),
    Column("source", Text, nullable=False),
    Column("collected_at", UTCDateTime, nullable=False),
    Column("stored_at", UTCDateTime, nullable=False),
    Column("complete", Boolean, nullable=False),
    Column("errors", JSONType, nullable=False),
    Column("settings", JSONType, nullable=False),
    Column("counts", JSONType, nullable=False),
    Index(None, "system", "collected_at"),
)

people = Table(
    "people",
    metadata,
    _snapshot_fk(),
    Column("employee_id", String(128), primary_key=True),
    Column("email", String(320)),
    Column("name", Text, nullable=False),
    Column("department", Text),
    Column("title", Text),
    Column("manager_id", String(128)),
    Column("employment_type", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("start_date", Date),
    Column("end_date", Date),
    Column("attributes", JSONType, nullable=False),
    Column("previous_department", Text),
    Column("previous_title", Text),
    Column("previous_manager_id", String(128)),
    Column("moved_at", Date),
)

accounts = Table(
    "accounts",
    metadata,
    _snapshot_fk(),
    Column("native_id", String(512), primary_key=True),
    Column("login", Text, nullable=False),
    Column("email", String(320)),
    Column("display_name", Text),
    Column("employee_id", String(128)),
    Column("status", String(16), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("created_at", UTCDateTime),
    Column("last_login_at", UTCDateTime),
    Column("mfa_factors", JSONType),
    Column("attributes", JSONType, nullable=False),
)

credentials = Table(
    "credentials",
    metadata,
    _snapshot_fk(),
    Column("credential_id", String(512), primary_key=True),
    Column("account_id", String(512), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("created_at", UTCDateTime),
    Column("last_used_at", UTCDateTime),
    Column("expires_at", UTCDateTime),
    Column("attributes", JSONType, nullable=False),
)

entitlements = Table(
    "entitlements",
    metadata,
    _snapshot_fk(),
    Column("entitlement_id", String(512), primary_key=True),
    Column("name", Text, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("privileged", Boolean, nullable=False),
    Column("owner", Text),
    Column("description", Text),
)

grants = Table(
    "grants",
    metadata,
    _snapshot_fk(),
    Column("account_id", String(512), primary_key=True),
    Column("entitlement_id", String(512), primary_key=True),
    # '' for a direct grant: primary-key columns cannot be NULL.
    Column("via", String(512), primary_key=True),
    Column("granted_at", UTCDateTime),
    Column("last_used_at", UTCDateTime),
)

documents = Table(
    "documents",
    metadata,
    _snapshot_fk(),
    Column("document_id", String(512), primary_key=True),
    Column("name", Text, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("document", JSONType, nullable=False),
)

# What changed about each person between one HR snapshot and the one before it (movers are
# found from here: the access of the role someone left behind).
person_changes = Table(
    "person_changes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("snapshot_id", Integer, ForeignKey("snapshots.id", ondelete="CASCADE"), nullable=False),
    Column("employee_id", String(128), nullable=False, index=True),
    Column("field", String(160), nullable=False),
    Column("old_value", Text),
    Column("new_value", Text),
    Column("changed_at", UTCDateTime, nullable=False),
)

evaluations = Table(
    "evaluations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime, nullable=False),
    Column("snapshot_ids", JSONType, nullable=False),
    Column("policy_digest", String(64), nullable=False),
    Column("summary", JSONType, nullable=False),
)

account_links = Table(
    "account_links",
    metadata,
    Column(
        "evaluation_id",
        Integer,
        ForeignKey("evaluations.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("system", String(64), primary_key=True),
    Column("account_id", String(512), primary_key=True),
    Column("person_id", String(128)),
    Column("kind", String(16), nullable=False),
    Column("method", String(32), nullable=False),
    Column("confidence", String(16), nullable=False),
)

findings = Table(
    "findings",
    metadata,
    Column("finding_id", String(32), primary_key=True),
    Column("rule_id", String(64), nullable=False, index=True),
    Column("severity", String(16), nullable=False),
    Column("system", String(64)),
    Column("subject", Text, nullable=False),
    Column("person_id", String(128)),
    Column("message", Text, nullable=False),
    Column("evidence", JSONType, nullable=False),
    Column("first_seen", UTCDateTime, nullable=False),
    Column("last_seen", UTCDateTime, nullable=False),
    Column("resolved_at", UTCDateTime, index=True),
    Column("last_evaluation_id", Integer, ForeignKey("evaluations.id"), nullable=False),
)

evaluation_findings = Table(
    "evaluation_findings",
    metadata,
    Column(
        "evaluation_id",
        Integer,
        ForeignKey("evaluations.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("finding_id", String(32), primary_key=True),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("recorded_at", UTCDateTime, nullable=False),
    Column("actor", Text, nullable=False),
    Column("action", String(64), nullable=False),
    Column("target", Text, nullable=False),
    Column("details", JSONType, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False, unique=True),
)

# One row: the newest audit record. Appenders lock it (SELECT … FOR UPDATE on PostgreSQL) so
# that two writers never chain onto the same record, and `audit verify` compares against it.
audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", Integer, nullable=False),
    Column("hash", String(64), nullable=False),
)

# --- access-review campaigns (iam_gov.campaigns) -----------------------------------------

campaigns = Table(
    "campaigns",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", Text, nullable=False),
    # ``periodic`` (from a definition) or ``event`` (opened by a trigger).
    Column("kind", String(16), nullable=False),
    Column("trigger", String(32)),
    # ``draft`` → ``open`` (launched) → ``closed``.
    Column("status", String(16), nullable=False),
    Column("definition", JSONType, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", Text, nullable=False),
    Column("launched_at", UTCDateTime),
    Column("due_on", Date),
    Column("closed_at", UTCDateTime),
    Column("closed_by", Text),
    # The snapshots the population was frozen from, by system.
    Column("snapshot_ids", JSONType),
    Column("evaluation_id", Integer),
    Column("population_hash", String(64)),
    Column("item_count", Integer, nullable=False),
    Column("close_summary", JSONType),
    Index(None, "status"),
)

# One row per (account, entitlement) under review, numbered 1..n in review order (leavers and
# high risk first), so that a page of the review is a range of item ids.
campaign_items = Table(
    "campaign_items",
    metadata,
    Column(
        "campaign_id",
        Integer,
        ForeignKey("campaigns.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("item_id", Integer, primary_key=True, autoincrement=False),
    Column("system", String(64), nullable=False),
    Column("account_id", String(512), nullable=False),
    Column("account_login", Text, nullable=False),
    Column("account_kind", String(16), nullable=False),
    Column("account_status", String(16), nullable=False),
    Column("person_id", String(128)),
    Column("person_name", Text),
    Column("person_email", String(320)),
    Column("department", Text),
    Column("title", Text),
    Column("entitlement_id", String(512), nullable=False),
    Column("entitlement_name", Text, nullable=False),
    Column("entitlement_kind", String(32), nullable=False),
    # The groups it comes through, comma-separated; '' when only held directly.
    Column("via", Text, nullable=False),
    # The same groups' entitlement ids, one per line, in the same order (names may repeat or
    # hold commas; ids say exactly which membership to remove).
    Column("via_ids", Text, nullable=False),
    Column("direct", Boolean, nullable=False),
    Column("privileged", Boolean, nullable=False),
    Column("leaver", Boolean, nullable=False),
    Column("mover", Boolean, nullable=False),
    Column("in_role", Boolean, nullable=False),
    # Why the grant exists (the ``explain`` chain), in words.
    Column("explanation", Text, nullable=False),
    Column("last_used_at", UTCDateTime),
    Column("peers_holding", Integer, nullable=False),
    Column("peers_total", Integer, nullable=False),
    # The open findings about this grant or account, rule ids comma-separated.
    Column("finding_rules", Text, nullable=False),
    Column("finding_severity", String(16)),
    Column("risk", Integer, nullable=False),
    Column("recommendation", String(8), nullable=False),
    Column("reviewer", String(320), nullable=False),
    Column("reviewer_rule", String(32), nullable=False),
    Column("decision", String(16)),
    Column("comment", Text),
    Column("decided_by", Text),
    Column("decided_at", UTCDateTime),
    Column("acting_for", String(320)),
    # The rule that pre-certified the item, when one did.
    Column("precertified", Text),
    # Optimistic locking: a decision names the version it saw.
    Column("version", Integer, nullable=False),
    Index(None, "campaign_id", "reviewer", "item_id"),
)

# Everything that happened to a campaign's items, in order: decisions, undos, delegations,
# comments, pre-certification, no-response, sign-off. The evidence of who decided what, when.
campaign_history = Table(
    "campaign_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("campaign_id", Integer, ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=False),
    Column("item_id", Integer),
    Column("action", String(16), nullable=False),
    Column("actor", Text, nullable=False),
    Column("acting_for", String(320)),
    Column("os_user", Text),
    Column("at", UTCDateTime, nullable=False),
    Column("decision", String(16)),
    Column("comment", Text),
    Column("details", JSONType, nullable=False),
    Index(None, "campaign_id", "item_id"),
)

campaign_signoffs = Table(
    "campaign_signoffs",
    metadata,
    Column(
        "campaign_id",
        Integer,
        ForeignKey("campaigns.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("reviewer", String(320), primary_key=True),
    Column("signed_at", UTCDateTime, nullable=False),
    Column("signed_by", Text, nullable=False),
    Column("acting_for", String(320)),
)

# What event triggers have already opened a review for, so that an event opens one review once.
review_triggers = Table(
    "review_triggers",
    metadata,
    Column("trigger", String(32), primary_key=True),
    Column("event_key", String(1024), primary_key=True),
    Column("campaign_id", Integer, ForeignKey("campaigns.id", ondelete="CASCADE")),
    Column("opened_at", UTCDateTime, nullable=False),
)

# Deprovisioning: each applied plan is a run; each of its steps says what happened to one
# action (done, noop, failed, skipped) and when: the proof of when access ended.
deprovision_runs = Table(
    "deprovision_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # SHA-256 of the plan's canonical JSON: a resumed run names the plan it finishes
    Column("plan_id", String(64), nullable=False, index=True),
    Column("kind", String(16), nullable=False),
    Column("trigger", String(32), nullable=False),
    Column("reason", Text, nullable=False),
    Column("actor", Text, nullable=False),
    Column("os_user", Text),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime),
    # running, done (every step done or noop), partial (some failed or skipped), refused
    Column("status", String(16), nullable=False),
    Column("allow_mass", Boolean, nullable=False),
    Column("resumes", Integer, ForeignKey("deprovision_runs.id")),
    Column("plan", JSONType, nullable=False),
)
deprovision_steps = Table(
    "deprovision_steps",
    metadata,
    Column(
        "run_id",
        Integer,
        ForeignKey("deprovision_runs.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("step_id", String(64), primary_key=True),
    Column("seq", Integer, nullable=False),
    Column("person_id", String(128)),
    Column("system", String(64), nullable=False),
    Column("account_id", String(512), nullable=False),
    Column("account_login", Text),
    Column("kind", String(32), nullable=False),
    Column("entitlement_id", String(512)),
    Column("credential_id", String(512)),
    # done, noop, failed, skipped
    Column("outcome", String(16), nullable=False),
    Column("message", Text, nullable=False),
    Column("details", JSONType, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Index(None, "person_id", "system", "account_id"),
)
# HR events received (``deprovision --event``, ``hr-webhook``): each event id is acted on once.
hr_events = Table(
    "hr_events",
    metadata,
    Column("event_id", String(256), primary_key=True),
    Column("source", String(32), nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("employee", Text, nullable=False),
    Column("effective_at", UTCDateTime),
    # planned, applied, partial, held, ignored, refused
    Column("status", String(16), nullable=False),
    Column("run_id", Integer, ForeignKey("deprovision_runs.id")),
    Column("body_sha256", String(64), nullable=False),
)

# A system that could not be collected: its previous snapshot stays the latest, stale since
# the first failure after it, for the reason given.
collect_failures = Table(
    "collect_failures",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("system", String(64), nullable=False),
    Column("failed_at", UTCDateTime, nullable=False),
    Column("reason", Text, nullable=False),
    Index(None, "system", "failed_at"),
)
# Named baselines (`iam-gov baseline pin NAME`): a set of snapshots a drift report compares
# with, kept by retention as long as the name is pinned.
baselines = Table(
    "baselines",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("pinned_at", UTCDateTime, nullable=False),
    Column("pinned_by", Text, nullable=False),
    Column("snapshot_ids", JSONType, nullable=False),
    Column("evaluation_id", Integer),
    Column("note", Text),
)
# Drift reports written: where, compared with what; retention keeps the snapshots of the
# reports it keeps.
drift_reports = Table(
    "drift_reports",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("made_at", UTCDateTime, nullable=False),
    Column("folder", Text),
    Column("baseline", JSONType, nullable=False),
    Column("snapshot_ids", JSONType, nullable=False),
    Column("exit_code", Integer, nullable=False),
    Column("summary", JSONType, nullable=False),
)
