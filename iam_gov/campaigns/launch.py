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
import os
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy import (
    Connection,
    insert,
    select,
    text,
    update,
)

from iam_gov import audit
from iam_gov.campaigns.definition import (
    CampaignDefinition,
    CampaignError,
    definition_from_json,
)
from iam_gov.campaigns.population import Population
from iam_gov.config import Config
from iam_gov.policy import Policy
from iam_gov.store import Store
from iam_gov.store.schema import (
    campaigns,
)
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
        with _launch_cache(conn):
            result = _launch(conn, config, policy, campaign_id, definition, actor, at, started)
    # measured after the commit: what the launch took, writing included
    return replace(result, seconds=time.perf_counter() - started)


SORT_THREADS = min(4, os.cpu_count() or 1)
"""SQLite sorts the million rows of numbering and grouping with this many threads."""


@contextmanager
def _launch_cache(conn: Connection) -> Iterator[None]:
    """SQLite: joins and sorts over a million rows, and the new items' pages, with the default
    2 MB page cache would be read and written again and again: up to 512 MB for the launch,
    set back afterwards whatever happens (the connection goes back to the pool)."""
    if conn.dialect.name != "sqlite":
        yield
        return
    conn.exec_driver_sql("PRAGMA cache_size = -524288")
    conn.exec_driver_sql(f"PRAGMA threads = {SORT_THREADS}")
    try:
        yield
    finally:
        conn.exec_driver_sql("PRAGMA cache_size = -2000")
        conn.exec_driver_sql("PRAGMA threads = 0")


def _launch(
    conn: Connection,
    config: Config,
    policy: Policy,
    campaign_id: int,
    definition: CampaignDefinition,
    actor: str,
    at: datetime,
    started: float,
) -> LaunchResult:
    builder = Population(conn, config, policy, definition, at)
    builder.check_inputs()
    builder.fill_temporary_tables()
    count = builder.insert_items(campaign_id)
    if count == 0:
        raise CampaignError(
            f"campaign {campaign_id} ({definition.name}): nothing in the latest snapshots "
            "matches its scope; nothing to review"
        )
    digest = population_hash(conn, campaign_id)
    reviewers, precertified = builder.reviewers_and_precertified(campaign_id)
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
    # The temporary tables are not dropped here: PostgreSQL drops them at commit (ON
    # COMMIT DROP); SQLite deletes its temporary file when the connection closes, which
    # costs nothing, where dropping a million rows costs half a second. A later launch
    # on the same connection drops them first.
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


HASH_CHUNK = 50_000
"""Items whose lines the database joins into one string for each update of the hash."""


def population_hash(conn: Connection, campaign_id: int) -> str:
    """SHA-256 over one line per item, in review order:
    ``item_id TAB system TAB account_id TAB entitlement_id TAB direct (0/1) TAB group ids``.
    The same population always hashes the same, and any change shows. The database writes
    the lines as UTF-8 bytes, a chunk of items at a time: Python only feeds the hash."""
    dialect = conn.dialect.name
    tab, newline = ("chr(9)", "chr(10)") if dialect == "postgresql" else ("char(9)", "char(10)")
    line = (
        f" || {tab} || ".join(
            (
                "CAST(item_id AS TEXT)",
                "system",
                "account_id",
                "entitlement_id",
                "CAST(CAST(direct AS INTEGER) AS TEXT)",
                "via_ids",
            )
        )
        + f" || {newline}"
    )
    if dialect == "postgresql":
        chunk_sql = (
            f"SELECT convert_to(string_agg({line}, '' ORDER BY item_id), 'UTF8') "
            "FROM campaign_items "
            "WHERE campaign_id = :c AND item_id > :low AND item_id <= :high"
        )
    else:  # an ordered subquery: SQLite 3.40 has no ORDER BY inside an aggregate
        chunk_sql = (
            f"SELECT CAST(group_concat(line, '') AS BLOB) FROM (SELECT {line} AS line "
            "FROM campaign_items "
            "WHERE campaign_id = :c AND item_id > :low AND item_id <= :high ORDER BY item_id)"
        )
    last = conn.execute(
        text("SELECT max(item_id) FROM campaign_items WHERE campaign_id = :c"), {"c": campaign_id}
    ).scalar_one()
    digest = hashlib.sha256()
    # the hash of one chunk is taken in a thread (hashlib lets go of the GIL) while the
    # database writes the next: in order, one update at a time
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="population-hash") as hasher:
        pending: Future[None] | None = None
        for low in range(0, last or 0, HASH_CHUNK):
            lines = conn.execute(
                text(chunk_sql), {"c": campaign_id, "low": low, "high": low + HASH_CHUNK}
            ).scalar_one()
            if pending is not None:
                pending.result()
            # UTF-8 bytes, as the database holds the text
            pending = hasher.submit(digest.update, lines or b"")
        if pending is not None:
            pending.result()
    return digest.hexdigest()
