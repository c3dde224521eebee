"""Recurring campaigns on the demo company: each due run is launched once, at a fixed clock."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select

from iam_gov.campaigns.definition import CampaignDefinition
from iam_gov.campaigns.launch import create_campaign, launch_campaign
from iam_gov.campaigns.schedule import SCHEDULE, ScheduleRun, run_schedule
from iam_gov.store.schema import audit_log, campaigns, review_triggers
from tests.campaigns.conftest import DEMO_NOW, Demo

FALLBACK = "grc@example.com"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def launch(demo: Demo, *, at: datetime = DEMO_NOW, **definition: Any) -> int:
    definition.setdefault("name", "Quarterly access review")
    definition.setdefault("reviewers", {"rule": "manager", "fallback": FALLBACK})
    definition.setdefault("scope", {"systems": ["aws"]})
    campaign_id = create_campaign(demo.store, CampaignDefinition(**definition), actor="grc", now=at)
    launch_campaign(demo.store, demo.config, demo.policy, campaign_id, actor="grc", now=at)
    return campaign_id


def schedule(demo: Demo, now: datetime, *, dry_run: bool = False) -> ScheduleRun:
    return run_schedule(
        demo.store, demo.config, demo.policy, actor="cron", now=now, dry_run=dry_run
    )


def launched(demo: Demo) -> list[tuple[int, str, str, datetime, date]]:
    with demo.store.reading() as conn:
        return [
            (r.id, r.name, r.status, r.launched_at, r.due_on)
            for r in conn.execute(
                select(campaigns).where(campaigns.c.kind == "periodic").order_by(campaigns.c.id)
            )
        ]


def test_a_quarterly_campaign_is_launched_once_per_quarter(demo: Demo) -> None:
    first = launch(demo, recurrence="quarterly", due=date(2026, 12, 15))

    early = schedule(demo, utc(2026, 12, 31, 23, 59))
    assert early.results == []
    [upcoming] = early.upcoming
    assert (upcoming.name, upcoming.previous_id, upcoming.next_run) == (
        "Quarterly access review",
        first,
        utc(2027, 1, 1, 9, 0),
    )

    [dry] = schedule(demo, utc(2027, 1, 2), dry_run=True).results
    assert dry.status == "would-open" and dry.message == "due since 2027-01-01 09:00 UTC"
    assert len(launched(demo)) == 1

    [opened] = schedule(demo, utc(2027, 1, 2)).results
    assert opened.status == "opened" and opened.items > 0
    assert opened.name == "Quarterly access review"
    second = launched(demo)[-1]
    assert second[0] == opened.campaign_id and second[2] == "open"
    assert second[3] == utc(2027, 1, 2)
    # The fixed due date was the first run's: the next is due 14 days after its launch.
    assert second[4] == date(2027, 1, 16)

    # Called again, the same day or later in the quarter: nothing more.
    assert schedule(demo, utc(2027, 1, 2)).results == []
    again = schedule(demo, utc(2027, 3, 31))
    assert again.results == [] and again.upcoming[0].next_run == utc(2027, 4, 1, 9, 0)
    assert len(launched(demo)) == 2

    [next_quarter] = schedule(demo, utc(2027, 4, 1, 9, 0)).results
    assert next_quarter.status == "opened"
    assert len(launched(demo)) == 3

    with demo.store.reading() as conn:
        scheduled = conn.execute(
            select(audit_log.c.target).where(audit_log.c.action == "campaign.schedule")
        ).scalars()
        assert list(scheduled) == [
            f"campaign:{opened.campaign_id}",
            f"campaign:{next_quarter.campaign_id}",
        ]
        claims = conn.execute(
            select(review_triggers.c.event_key).where(review_triggers.c.trigger == SCHEDULE)
        ).scalars()
        assert sorted(claims) == [
            "Quarterly access review\t2027-01-01T09:00:00+00:00",
            "Quarterly access review\t2027-04-01T09:00:00+00:00",
        ]


def test_missed_runs_launch_one_campaign_not_one_per_missed_run(demo: Demo) -> None:
    launch(demo, name="Monthly admins", recurrence="monthly")

    [opened] = schedule(demo, utc(2027, 6, 15)).results

    assert opened.status == "opened"
    assert schedule(demo, utc(2027, 6, 30)).results == []
    assert schedule(demo, utc(2027, 7, 1, 9)).results[0].status == "opened"


def test_a_cron_recurrence_and_campaigns_that_do_not_recur(demo: Demo) -> None:
    launch(demo, name="Weekly privileged", recurrence="0 6 * * 1")  # Mondays 06:00
    launch(demo, name="One-off")
    friday = utc(2026, 12, 4, 12)
    monday = utc(2026, 11, 30, 6)  # the Monday after the launch (a Saturday)

    results = schedule(demo, monday).results
    assert [r.name for r in results] == ["Weekly privileged"]
    assert schedule(demo, friday).results == []
    assert {r.name for r in schedule(demo, friday).upcoming} == {"Weekly privileged"}


def test_a_run_that_cannot_launch_is_launched_next_time_from_the_same_draft(demo: Demo) -> None:
    launch(demo, name="Quarterly", recurrence="quarterly", scope={})
    # Configure a system nobody collected: a launch of every system refuses until it is.
    config = demo.config.model_copy(
        update={"systems": {**demo.config.systems, "ghost": demo.config.systems["aws"]}}
    )
    broken = Demo(demo.store, config, demo.policy)

    [failed] = schedule(broken, utc(2027, 1, 2)).results
    assert failed.status == "failed" and "ghost: never collected" in failed.message

    [opened] = schedule(demo, utc(2027, 1, 3)).results
    assert (opened.status, opened.campaign_id) == ("opened", failed.campaign_id)
    assert [c[2] for c in launched(demo)] == ["open", "open"]
