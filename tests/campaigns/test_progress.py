"""Campaign and reviewer progress: counts by decision, sign-offs, overdue reviewers — each one
set-based query, however many items and reviewers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import event

from iam_gov.campaigns.definition import CampaignDefinition, CampaignError
from iam_gov.campaigns.progress import (
    Counts,
    campaign_status,
    campaign_summary,
    list_campaigns,
    overdue_reviewers,
    pending_reviews,
    reviewer_progress,
)
from iam_gov.store import Store
from iam_gov.store.schema import campaign_signoffs
from tests.campaigns.seed import REVIEWER, seed_campaign

BOB = "bob.boss@example.com"
AT = datetime(2025, 1, 9, tzinfo=UTC)


def item(decision: str | None = None, reviewer: str = REVIEWER, **extra: Any) -> dict[str, Any]:
    decided = {"decided_by": reviewer, "decided_at": AT} if decision else {}
    return {"decision": decision, "reviewer": reviewer, **decided, **extra}


@pytest.fixture
def campaigns3(store: Store) -> tuple[int, int, int]:
    first = seed_campaign(
        store,
        [
            item("approve"),
            item("approve", decided_by="precertifier", precertified="role-explained: role X"),
            item("revoke"),
            item("abstain"),
            item(),
            item(reviewer=BOB),
            item(reviewer=BOB),
            item("revoke", reviewer=BOB, decided_by="no-response (revoke)"),
        ],
        CampaignDefinition(name="First"),
    )
    second = seed_campaign(
        store, [item(reviewer=BOB)], CampaignDefinition(name="Second", due=date(2025, 3, 1))
    )
    draft = seed_campaign(store, [], CampaignDefinition(name="Draft"), status="draft")
    with store.writing() as conn:
        conn.execute(
            campaign_signoffs.insert().values(
                campaign_id=first, reviewer=REVIEWER, signed_at=AT, signed_by=REVIEWER
            )
        )
    return first, second, draft


def test_counts_per_campaign(store: Store, campaigns3: tuple[int, int, int]) -> None:
    first, second, draft = campaigns3
    with store.reading() as conn:
        found = list_campaigns(conn)
        only_open = list_campaigns(conn, statuses=["open"])
    assert [c.id for c in found] == [draft, second, first]  # newest first
    assert [c.id for c in only_open] == [second, first]
    by_id = {c.id: c for c in found}
    assert by_id[first].counts == Counts(
        total=8, decided=5, approved=2, revoked=2, abstained=1, precertified=1, no_response=1
    )
    assert by_id[first].counts.pending == 3 and by_id[first].counts.percent == 62
    assert by_id[draft].counts == Counts() and by_id[draft].counts.percent == 100
    assert by_id[first].name == "First" and by_id[first].due_on == date(2025, 1, 20)
    assert by_id[first].overdue(date(2025, 1, 21)) and not by_id[first].overdue(date(2025, 1, 20))
    assert not by_id[second].overdue(date(2025, 1, 21))


def test_status_per_reviewer(store: Store, campaigns3: tuple[int, int, int]) -> None:
    first, _, _ = campaigns3
    with store.reading() as conn:
        status = campaign_status(conn, first)
    assert status.campaign.counts.total == 8
    assert [(r.reviewer, r.pending, r.counts.decided) for r in status.reviewers] == [
        (BOB, 2, 1),  # most pending first
        (REVIEWER, 1, 4),
    ]
    rita = status.reviewers[1]
    assert rita.signed_off_at == AT and status.reviewers[0].signed_off_at is None
    assert (rita.counts.approved, rita.counts.precertified, rita.counts.abstained) == (2, 1, 1)
    with store.reading() as conn, pytest.raises(CampaignError, match="no campaign 404"):
        campaign_summary(conn, 404)


def test_overdue_reviewers_and_pending_reviews(
    store: Store, campaigns3: tuple[int, int, int]
) -> None:
    first, second, _ = campaigns3
    closed = seed_campaign(store, [item()], status="closed")
    with store.reading() as conn:
        overdue = overdue_reviewers(conn, date(2025, 1, 25))
        later = overdue_reviewers(conn, date(2025, 3, 3))
        pending = pending_reviews(conn)
        pending_second = pending_reviews(conn, second)
    assert [(o.reviewer, o.campaign_id, o.pending, o.days_overdue) for o in overdue] == [
        (BOB, first, 2, 5),
        (REVIEWER, first, 1, 5),
    ]
    assert overdue[0].campaign_name == "First" and overdue[0].due_on == date(2025, 1, 20)
    assert [(o.reviewer, o.campaign_id, o.days_overdue) for o in later] == [
        (BOB, first, 42),
        (REVIEWER, first, 42),
        (BOB, second, 2),
    ]
    assert [(p.reviewer, p.campaign_id, p.pending) for p in pending] == [
        (BOB, first, 2),
        (BOB, second, 1),
        (REVIEWER, first, 1),
    ]
    assert closed not in {p.campaign_id for p in pending}
    assert [(p.reviewer, p.pending) for p in pending_second] == [(BOB, 1)]


@contextmanager
def statements(store: Store) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(*args: Any) -> None:
        seen.append(str(args[2]))

    event.listen(store.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(store.engine, "before_cursor_execute", count)


def test_queries_do_not_grow_with_items_or_reviewers(store: Store) -> None:
    small = seed_campaign(store, [item()])
    big = seed_campaign(
        store,
        [
            item("approve" if n % 2 else None, reviewer=f"r{n % 150}@example.com")
            for n in range(3000)
        ],
    )

    def calls(campaign_id: int) -> list[Callable[[Any], object]]:
        return [
            lambda conn: list_campaigns(conn),
            lambda conn: campaign_status(conn, campaign_id),
            lambda conn: reviewer_progress(conn, campaign_id),
            lambda conn: overdue_reviewers(conn, date(2025, 2, 1)),
            lambda conn: pending_reviews(conn, campaign_id),
        ]

    def statements_of(campaign_id: int) -> list[int]:
        counts = []
        with store.reading() as conn:
            for call in calls(campaign_id):
                with statements(store) as seen:
                    call(conn)
                counts.append(len(seen))
        return counts

    few = statements_of(small)
    assert statements_of(big) == few and max(few) <= 4, few
    with store.reading() as conn:
        status = campaign_status(conn, big)
    assert len(status.reviewers) == 150
    assert sum(r.counts.total for r in status.reviewers) == 3000
    assert sum(r.pending for r in status.reviewers) == 1500
