"""The temporary tables a launch fills: what needs the policy, worked out in Python once per
person, role set, entitlement or finding, for the SQL that makes the items to join."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Date,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from iam_gov.model import Severity
from iam_gov.store.bulk import insert_plain
from iam_gov.store.schema import campaign_items

TEMP = MetaData()
TMP_PEOPLE = Table(
    "tmp_review_people",
    TEMP,
    Column("person_id", String(128), primary_key=True),
    Column("roles_key", Integer, nullable=False),
    Column("mover", Boolean, nullable=False),
    Column("manager_email", String(320)),
    Column("in_scope", Boolean, nullable=False),
    # the person's place in review order (by name), so that sorting compares numbers
    Column("person_rank", Integer, nullable=False),
    # what items show and judge of the person, copied here once per person rather than
    # looked up in the HR snapshot once per item
    Column("name", Text, nullable=False),
    Column("email", String(320)),
    Column("department", Text),
    Column("title", Text),
    Column("status", String(16), nullable=False),
    Column("end_date", Date),
    prefixes=["TEMPORARY"],
    postgresql_on_commit="DROP",
)
TMP_ROLE_SIZES = Table(
    "tmp_review_role_sizes",
    TEMP,
    Column("roles_key", Integer, primary_key=True),
    Column("people", Integer, nullable=False),
    prefixes=["TEMPORARY"],
    postgresql_on_commit="DROP",
)
TMP_ENTITLEMENTS = Table(
    "tmp_review_entitlements",
    TEMP,
    # the staged items refer to their entitlement by this number
    Column("ent_key", Integer, primary_key=True, autoincrement=False),
    Column("system", String(64), nullable=False),
    Column("entitlement_id", String(512), nullable=False),
    Column("privileged", Boolean, nullable=False),
    Column("in_scope", Boolean, nullable=False),
    Column("owner", String(320)),
    Column("name", Text, nullable=False),
    Column("kind", String(32), nullable=False),
    UniqueConstraint("system", "entitlement_id"),
    prefixes=["TEMPORARY"],
    postgresql_on_commit="DROP",
)
TMP_ROLE_GRANTS = Table(
    "tmp_review_role_grants",
    TEMP,
    Column("roles_key", Integer, primary_key=True),
    Column("system", String(64), primary_key=True),
    Column("entitlement_id", String(512), primary_key=True),
    Column("role", Text, nullable=False),
    prefixes=["TEMPORARY"],
    postgresql_on_commit="DROP",
)
TMP_FACTS = Table(
    "tmp_review_facts",
    TEMP,
    # What the policy and the findings say of a grant, or ('' entitlement) of a whole account:
    # an exception or a declaration that explains it, a declared account's owner, the open
    # findings and the worst of their severities (rank plus one).
    Column("system", String(64), primary_key=True),
    Column("account_id", String(512), primary_key=True),
    Column("entitlement_id", String(512), primary_key=True),
    Column("explanation", Text),
    Column("owner", String(320)),
    Column("rules", Text),
    Column("severity_rank", Integer),
    prefixes=["TEMPORARY"],
    postgresql_on_commit="DROP",
)
TMP_ACCOUNTS = Table(
    "tmp_review_accounts",
    TEMP,
    # the staged items refer to their account by this number: the account's and its
    # person's text is copied once per item, into ``campaign_items``, not twice
    Column("acct", Integer, primary_key=True, autoincrement=True),
    Column("system", String(64), nullable=False),
    Column("account_id", String(512), nullable=False),
    Column("login", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("last_login_at", campaign_items.c.last_used_at.type),
    Column("kind", String(16), nullable=False),
    Column("person_id", String(128)),
    Column("person_rank", Integer),
    Column("name", Text),
    Column("email", String(320)),
    Column("department", Text),
    Column("title", Text),
    Column("roles_key", Integer),
    Column("mover", Boolean, nullable=False),
    Column("manager_email", String(320)),
    Column("in_scope", Boolean, nullable=False),
    Column("leaver", Boolean, nullable=False),
    Column("a_explanation", Text),
    Column("a_owner", String(320)),
    Column("a_rules", Text),
    Column("a_rank", Integer, nullable=False),
    UniqueConstraint("system", "account_id"),
    prefixes=["TEMPORARY"],
    postgresql_on_commit="DROP",
)
TMP_GRANTS = Table(
    "tmp_review_grants",
    TEMP,
    Column("system", String(64), primary_key=True),
    Column("account_id", String(512), primary_key=True),
    Column("entitlement_id", String(512), primary_key=True),
    prefixes=["TEMPORARY"],
    postgresql_on_commit="DROP",
)
TMP_GROUPED = Table(
    "tmp_review_grouped",
    TEMP,
    # Each system's grants grouped by (account, entitlement), in key order; a system's rows
    # are one range of row ids
    Column("row_id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", String(512), nullable=False),
    Column("entitlement_id", String(512), nullable=False),
    Column("groups", Text),
    Column("group_ids", Text),
    Column("direct", Boolean, nullable=False),
    Column("used", campaign_items.c.last_used_at.type),
    prefixes=["TEMPORARY"],
    postgresql_on_commit="DROP",
)
STAGED_FROM_ITEMS = (
    "system",
    "account_id",
    "entitlement_id",
    "via",
    "via_ids",
    "direct",
    "privileged",
    "leaver",
    "mover",
    "in_role",
    "explanation",
    "last_used_at",
    "finding_rules",
    "reviewer_rule",
)
"""The columns an item has in the staging table as in ``campaign_items``."""

TMP_ITEMS = Table(
    "tmp_review_items",
    TEMP,
    # What an item holds of its own, per system, before it is numbered; what it shares with
    # its account and entitlement stays in their tables (``acct``, ``ent_key``). Sorted by
    # numbers (person_rank, the risk), not by text.
    Column("row_id", Integer, primary_key=True, autoincrement=True),
    Column("sid", Integer, nullable=False),
    Column("acct", Integer, nullable=False),
    *(
        Column(name, campaign_items.c[name].type, nullable=campaign_items.c[name].nullable)
        for name in STAGED_FROM_ITEMS
    ),
    Column("person_rank", Integer),
    Column("ent_key", Integer, nullable=False),
    Column("role_only", Boolean, nullable=False),
    Column("unused", Boolean, nullable=False),
    Column("roles_key", Integer),
    Column("finding_rank", Integer, nullable=False),
    # who reviews it (never the person themself; NULL: nobody, and the launch is refused)
    Column("reviewer", String(320)),
    prefixes=["TEMPORARY"],
    postgresql_on_commit="DROP",
)
TMP_ORDER = Table(
    "tmp_review_order",
    TEMP,
    # SQLite: the rowid, numbered in insertion order; PostgreSQL: ROW_NUMBER()
    Column("n", Integer, primary_key=True, autoincrement=False),
    Column("row_id", Integer, nullable=False),
    # worked out once per item here, not in each expression of the final copy that needs it
    Column("risk", Integer, nullable=False),
    Column("revoke", Boolean, nullable=False),
    Column("pre", Boolean, nullable=False),
    prefixes=["TEMPORARY"],
    postgresql_on_commit="DROP",
)
TMP_PEERS = Table(
    "tmp_review_peers",
    TEMP,
    Column("roles_key", Integer, primary_key=True),
    Column("ent_key", Integer, primary_key=True),
    Column("holding", Integer, nullable=False),
    prefixes=["TEMPORARY"],
    postgresql_on_commit="DROP",
)
# Severity ranks are stored plus one: 0 means no finding.
SEVERITY_BY_RANK = {s.rank + 1: s.value for s in Severity}
HIGH = Severity.HIGH.rank + 1


def insert_rows(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Plain values (text, numbers, booleans, NULL) through the driver's executemany."""
    if rows:
        columns = list(rows[0])
        insert_plain(conn, table, columns, (tuple(r[c] for c in columns) for r in rows))
