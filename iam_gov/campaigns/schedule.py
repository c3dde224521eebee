"""Recurring campaigns: the next campaign of a definition with a ``recurrence`` is launched
when its run is due. ``iam-gov campaign schedule`` is what cron or a systemd timer calls; it
launches each due run once, however often it is called."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select

from iam_gov.campaigns.definition import CampaignDefinition, definition_from_json
from iam_gov.campaigns.triggers import Opened, OpenStatus, claimed, event_key, open_once
from iam_gov.config import Config
from iam_gov.policy import Policy
from iam_gov.store import Store
from iam_gov.store.schema import campaigns
from iam_gov.timeutil import utcnow

SCHEDULE = "schedule"
"""``review_triggers.trigger`` of scheduled runs: the event key is the name and the run time."""


@dataclass(frozen=True)
class Recurring:
    """A recurring campaign: its latest launch and when the next run is."""

    name: str
    previous_id: int
    previous_launched_at: datetime
    next_run: datetime
    definition: CampaignDefinition
    """The latest launch's definition, which the next run uses (without a fixed due date:
    the run is due ``due_in_days`` after it is launched)."""

    @property
    def key(self) -> str:
        return event_key(self.name, self.next_run.isoformat())

    def due(self, now: datetime) -> bool:
        return self.next_run <= now


def recurring(conn: Connection) -> list[Recurring]:
    """Every campaign name whose latest launched campaign recurs, by name. Drafts and event
    reviews do not count; a definition whose recurrence was removed stops recurring."""
    rows = conn.execute(
        select(campaigns.c.id, campaigns.c.name, campaigns.c.launched_at, campaigns.c.definition)
        .where(campaigns.c.kind == "periodic", campaigns.c.launched_at.is_not(None))
        .order_by(campaigns.c.launched_at.desc(), campaigns.c.id.desc())
    )
    found: dict[str, Recurring] = {}
    seen: set[str] = set()
    for row in rows:
        if row.name in seen:
            continue
        seen.add(row.name)
        definition = definition_from_json(row.definition)
        next_run = definition.next_run(row.launched_at)
        if next_run is None:
            continue
        found[row.name] = Recurring(
            name=row.name,
            previous_id=row.id,
            previous_launched_at=row.launched_at,
            next_run=next_run,
            definition=definition.model_copy(update={"due": None}),
        )
    return [found[name] for name in sorted(found)]


@dataclass(frozen=True)
class ScheduleRun:
    results: list[Opened]
    """The runs that were due: launched, already launched, or failed (and why)."""
    upcoming: list[Recurring]
    """The recurring campaigns not due yet."""


def run_schedule(
    store: Store,
    config: Config,
    policy: Policy,
    *,
    actor: str,
    now: datetime | None = None,
    dry_run: bool = False,
) -> ScheduleRun:
    """Launch the next campaign of every recurring definition whose run is due: its previous
    campaign was launched before the latest run time the recurrence gives. Each run is
    claimed in ``review_triggers`` first, so that two schedulers at once launch it once, and
    a run whose launch failed (incomplete data) is launched, from the same draft, next time."""
    at = now or utcnow()
    with store.reading() as conn:
        every = recurring(conn)
    results: list[Opened] = []
    upcoming: list[Recurring] = []
    for run in every:
        if not run.due(at):
            upcoming.append(run)
            continue
        if dry_run:
            with store.reading() as conn:
                campaign_id = claimed(conn, SCHEDULE, run.key)
            status: OpenStatus = "would-open" if campaign_id is None else "already-opened"
            results.append(
                Opened(
                    SCHEDULE,
                    run.key,
                    run.name,
                    status,
                    campaign_id or None,
                    message=f"due since {run.next_run:%Y-%m-%d %H:%M} UTC",
                )
            )
            continue
        results.append(
            open_once(
                store,
                config,
                policy,
                run.definition,
                trigger=SCHEDULE,
                key=run.key,
                actor=actor,
                now=at,
                kind="periodic",
                audit_action="campaign.schedule",
            )
        )
    return ScheduleRun(results=results, upcoming=upcoming)
