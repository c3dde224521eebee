"""Campaign rows written straight into the store, for tests that need items without a launch.

``seed_campaign(store, [dict(person_email="ann@example.com"), ...])`` makes one campaign and
its items (item ids 1..n in list order, version 0); every NOT NULL column has a plain default
that each item dict overrides.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from iam_gov.campaigns.definition import CampaignDefinition
from iam_gov.store import Store
from iam_gov.store.bulk import bulk_insert
from iam_gov.store.schema import campaign_items, campaigns

SEEDED_AT = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
REVIEWER = "rita.reviewer@example.com"


def item_defaults(n: int) -> dict[str, Any]:
    """The columns of item ``n`` before the test's overrides."""
    return {
        "system": "okta",
        "account_id": f"acct-{n}",
        "account_login": f"user{n}@example.com",
        "account_kind": "human",
        "account_status": "active",
        "person_id": f"E{n:05d}",
        "person_name": f"Person {n}",
        "person_email": f"person{n}@example.com",
        "department": "Engineering",
        "title": "Engineer",
        "entitlement_id": f"group:app-{n}",
        "entitlement_name": f"app-{n}",
        "entitlement_kind": "group",
        "via": "",
        "via_ids": "",
        "direct": True,
        "privileged": False,
        "leaver": False,
        "mover": False,
        "in_role": True,
        "explanation": "direct grant",
        "last_used_at": None,
        "peers_holding": 0,
        "peers_total": 0,
        "finding_rules": "",
        "finding_severity": None,
        "risk": 0,
        "recommendation": "approve",
        "reviewer": REVIEWER,
        "reviewer_rule": "manager",
        "decision": None,
        "comment": None,
        "decided_by": None,
        "decided_at": None,
        "acting_for": None,
        "precertified": None,
        "version": 0,
    }


def seed_campaign(
    store: Store,
    items: list[dict[str, Any]],
    definition: CampaignDefinition | None = None,
    status: str = "open",
    kind: str = "periodic",
) -> int:
    """Insert a campaign and its items; returns the campaign id."""
    definition = definition or CampaignDefinition(name="Seeded review")
    unknown = {key for item in items for key in item} - set(item_defaults(0))
    if unknown:
        raise ValueError(f"not campaign_items columns: {sorted(unknown)}")
    with store.writing() as conn:
        campaign_id: int = conn.execute(
            campaigns.insert()
            .values(
                name=definition.name,
                kind=kind,
                trigger=None,
                status=status,
                definition=definition.model_dump(mode="json"),
                created_at=SEEDED_AT,
                created_by="seed@example.com",
                launched_at=None if status == "draft" else SEEDED_AT,
                due_on=None if status == "draft" else definition.due_on(SEEDED_AT),
                closed_at=SEEDED_AT if status == "closed" else None,
                closed_by="seed@example.com" if status == "closed" else None,
                snapshot_ids={},
                population_hash="0" * 64,
                item_count=len(items),
            )
            .returning(campaigns.c.id)
        ).scalar_one()
        rows = (
            {**item_defaults(n), **item, "campaign_id": campaign_id, "item_id": n}
            for n, item in enumerate(items, start=1)
        )
        bulk_insert(conn, campaign_items, rows)
    return campaign_id
