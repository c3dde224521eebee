"""Creating a campaign and launching it: a frozen population of (account, entitlement) items.

Launch works on the latest snapshots and the evaluation made of them, and refuses an
incomplete snapshot: a review of half a system would certify the half nobody saw. What needs
the policy (roles, privileged patterns, exceptions, owners) is worked out in Python once per
person, role set or entitlement, and put in temporary tables; the items themselves are made
by one ``INSERT … SELECT`` per system and one that numbers them in review order, so that a
million items take seconds, not a row at a time.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import (
    Connection,
    insert,
    select,
    update,
)

from iam_gov import audit
from iam_gov.campaigns.definition import (
    CampaignDefinition,
    CampaignError,
    definition_from_json,
)
from iam_gov.campaigns.population import Population
from iam_gov.campaigns.population_tables import TEMP
from iam_gov.config import Config
from iam_gov.policy import Policy
from iam_gov.store import Store
from iam_gov.store.schema import (
    campaign_items,
    campaigns,
)
from iam_gov.store.snapshots import driver_rows
from iam_gov.timeutil import utcnow


@dataclass(frozen=True)
class LaunchResult:
    campaign_id: int
    items: int
    population_hash: str
    precertified: int
    snapshot_ids: dict[str, int]
    reviewers: int
    seconds: float
    timings: dict[str, float] = field(default_factory=dict)


def create_campaign(
    store: Store,
    definition: CampaignDefinition,
    *,
    actor: str,
    kind: str = "periodic",
    trigger: str | None = None,
    now: datetime | None = None,
) -> int:
    """Record a campaign as a draft; ``launch_campaign`` freezes its population."""
    at = now or utcnow()
    with store.writing() as conn:
        campaign_id = conn.execute(
            insert(campaigns)
            .values(
                name=definition.name,
                kind=kind,
                trigger=trigger,
                status="draft",
                definition=definition.model_dump(mode="json"),
                created_at=at,
                created_by=actor,
                item_count=0,
            )
            .returning(campaigns.c.id)
        ).scalar_one()
        audit.append(
            conn,
            "campaign.create",
            f"campaign:{campaign_id}",
            {"name": definition.name, "kind": kind, "trigger": trigger},
            actor=actor,
            at=at,
        )
    return int(campaign_id)


def launch_campaign(
    store: Store,
    config: Config,
    policy: Policy,
    campaign_id: int,
    *,
    actor: str,
    now: datetime | None = None,
) -> LaunchResult:
    """Freeze the population of a draft campaign and open it. All of it lands, or none."""
    started = time.perf_counter()
    at = now or utcnow()
    with store.writing() as conn:
        row = conn.execute(select(campaigns).where(campaigns.c.id == campaign_id)).one_or_none()
        if row is None:
            raise CampaignError(f"there is no campaign {campaign_id}")
        if row.status != "draft":
            raise CampaignError(f"campaign {campaign_id} ({row.name}) is already {row.status}")
        definition = definition_from_json(row.definition)
        if conn.dialect.name == "sqlite":
            # Joins and sorts over a million rows: a page cache of 2 MB (the default) would
            # read the same pages from disk again and again.
            conn.exec_driver_sql("PRAGMA cache_size = -262144")
        builder = Population(conn, config, policy, definition, at)
        builder.check_inputs()
        builder.fill_temporary_tables()
        count = builder.insert_items(campaign_id)
        if count == 0:
            raise CampaignError(
                f"campaign {campaign_id} ({definition.name}): nothing in the latest snapshots "
                "matches its scope; nothing to review"
            )
        scan = _scan(conn, campaign_id)
        digest, reviewers, precertified = scan.population_hash, scan.reviewers, scan.precertified
        builder.record_precertification(campaign_id, precertified)
        builder.lap("scan")
        snapshot_ids = {name: info.id for name, info in builder.snapshots.items()}
        conn.execute(
            update(campaigns)
            .where(campaigns.c.id == campaign_id)
            .values(
                status="open",
                launched_at=at,
                due_on=definition.due_on(at),
                snapshot_ids=snapshot_ids,
                evaluation_id=builder.evaluation_id,
                population_hash=digest,
                item_count=count,
            )
        )
        audit.append(
            conn,
            "campaign.launch",
            f"campaign:{campaign_id}",
            {
                "name": definition.name,
                "items": count,
                "precertified": precertified,
                "population_hash": digest,
                "snapshot_ids": snapshot_ids,
                "evaluation_id": builder.evaluation_id,
                "due_on": definition.due_on(at).isoformat(),
            },
            actor=actor,
            at=at,
        )
        TEMP.drop_all(conn)
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA cache_size = -2000")
        builder.lap("finish")
    return LaunchResult(
        campaign_id=campaign_id,
        items=count,
        population_hash=digest,
        precertified=precertified,
        snapshot_ids=snapshot_ids,
        reviewers=int(reviewers),
        seconds=time.perf_counter() - started,
        timings=builder.timings,
    )


def population_hash(conn: Connection, campaign_id: int) -> str:
    """SHA-256 over every item's (system, account, entitlement, direct, group ids) in review
    order: the same population always hashes the same, and any change shows."""
    return _scan(conn, campaign_id).population_hash


@dataclass(frozen=True)
class _Scan:
    population_hash: str
    reviewers: int
    precertified: int


def _scan(conn: Connection, campaign_id: int) -> _Scan:
    """One pass over the launched items: their hash, how many reviewers, how many
    pre-certified."""
    digest = hashlib.sha256()
    c = campaign_items.c
    query = (
        select(
            c.item_id,
            c.system,
            c.account_id,
            c.entitlement_id,
            c.direct,
            c.via_ids,
            c.reviewer,
            c.precertified.is_not(None),
        )
        .where(c.campaign_id == campaign_id)
        .order_by(c.item_id)
    )
    reviewers: set[str] = set()
    precertified = 0
    lines: list[str] = []
    for item_id, system, account_id, entitlement_id, direct, via_ids, reviewer, pre in driver_rows(
        conn, query
    ):
        lines.append(
            f"{item_id}\t{system}\t{account_id}\t{entitlement_id}\t{int(bool(direct))}\t{via_ids}\n"
        )
        reviewers.add(reviewer)
        precertified += bool(pre)
        if len(lines) >= 10_000:
            digest.update("".join(lines).encode("utf-8"))
            lines.clear()
    digest.update("".join(lines).encode("utf-8"))
    return _Scan(digest.hexdigest(), len(reviewers), precertified)
