"""What closed access reviews decided, as the engine needs it: approvals that explain grants,
and revocations the next collect must find carried out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, false, or_, select, true, tuple_

from iam_gov.store.schema import campaign_items, campaigns

GrantKey = tuple[str, str, str]
"""(system, account id, entitlement id)."""


@dataclass(frozen=True)
class ReviewRevocation:
    """A revocation decided in a closed review: what the next collect should no longer see."""

    campaign_id: int
    campaign: str
    """The campaign's name."""
    decided_by: str | None
    """Who decided (``None``: nobody did, the campaign's no-response rule revoked it)."""
    acting_for: str | None
    decided_at: datetime
    """When it was decided (the campaign's close, for a no-response revocation)."""
    closed_at: datetime
    comment: str | None

    @property
    def text(self) -> str:
        return "revoked " + _in_review(
            self.campaign, self.campaign_id, self.decided_by, self.acting_for, self.decided_at
        )


@dataclass(frozen=True)
class ReviewOutcomes:
    """The latest decision about each grant in any closed review, approvals and revocations
    apart. Approvals are kept only for grants the person's role did not explain (in-role
    grants are explained by the role anyway): a million-item review stays small here."""

    approvals: dict[GrantKey, str] = field(default_factory=dict)
    """The approval in words (``approved in review 'Q4 2026' (#3) by … on 2026-12-01``)."""
    revocations: dict[GrantKey, ReviewRevocation] = field(default_factory=dict)


def review_outcomes(
    conn: Connection, systems: Sequence[str] | None = None, *, closed_by: datetime | None = None
) -> ReviewOutcomes:
    """The latest approve or revoke decision per grant across closed campaigns (the latest
    decision wins: an approval in a later review overrides an earlier revocation, in role or
    not). One query on the small campaigns table when no campaign is closed.

    Closed campaigns pile up (a million items a quarter): ranking every decision ever made
    would cost seconds on each evaluation. Only what can matter is read: revocations and
    approvals outside the role, then, when several campaigns are closed, the in-role approvals
    of revoked grants (an index lookup each).

    ``closed_by``: only the campaigns closed at or before it (an evaluation as of then)."""
    is_closed = [campaigns.c.status == "closed"]
    if closed_by is not None:
        is_closed.append(campaigns.c.closed_at <= closed_by)
    closed = {
        row.id: row
        for row in conn.execute(
            select(campaigns.c.id, campaigns.c.name, campaigns.c.closed_at).where(*is_closed)
        )
    }
    if not closed:
        return ReviewOutcomes()
    items = campaign_items
    where = [items.c.campaign_id.in_(list(closed))]
    if systems is not None:
        where.append(items.c.system.in_(list(systems)))
    key_columns = (items.c.system, items.c.account_id, items.c.entitlement_id)
    rows = conn.execute(
        select(
            *key_columns,
            items.c.decision,
            items.c.campaign_id,
            items.c.decided_by,
            items.c.acting_for,
            items.c.decided_at,
            items.c.comment,
        ).where(
            *where,
            or_(
                items.c.decision == "revoke",
                and_(items.c.decision == "approve", items.c.in_role == false()),
            ),
        )
    )
    latest: dict[GrantKey, tuple[tuple[datetime, int], Any]] = {}
    for row in rows:
        key = (row.system, row.account_id, row.entitlement_id)
        order = (row.decided_at or closed[row.campaign_id].closed_at, row.campaign_id)
        held = latest.get(key)
        if held is None or order > held[0]:
            latest[key] = (order, row)
    revoked = {key: order for key, (order, row) in latest.items() if row.decision == "revoke"}
    if revoked and len(closed) > 1:
        # An approval of the grant in a later review ends the revocation, in role or not.
        revocations = select(*key_columns).where(*where, items.c.decision == "revoke")
        later = conn.execute(
            select(*key_columns, items.c.campaign_id, items.c.decided_at).where(
                *where,
                items.c.decision == "approve",
                items.c.in_role == true(),
                tuple_(*key_columns).in_(revocations),
            )
        )
        for approval in later:
            key = (approval.system, approval.account_id, approval.entitlement_id)
            order = (
                approval.decided_at or closed[approval.campaign_id].closed_at,
                approval.campaign_id,
            )
            if key in revoked and order > revoked[key]:
                del latest[key]
                del revoked[key]
    outcomes = ReviewOutcomes()
    for key, ((when, campaign_id), row) in latest.items():
        campaign = closed[campaign_id]
        if row.decision == "approve":
            outcomes.approvals[key] = "approved " + _in_review(
                campaign.name, campaign_id, row.decided_by, row.acting_for, when
            )
        else:
            outcomes.revocations[key] = ReviewRevocation(
                campaign_id=campaign_id,
                campaign=campaign.name,
                decided_by=row.decided_by,
                acting_for=row.acting_for,
                decided_at=when,
                closed_at=campaign.closed_at,
                comment=row.comment,
            )
    return outcomes


def _in_review(
    name: str, campaign_id: int, by: str | None, acting_for: str | None, when: datetime
) -> str:
    who = by if by is not None else "its no-response rule"
    if by is not None and acting_for is not None and acting_for != by:
        who = f"{by} for {acting_for}"
    return f"in review '{name}' (#{campaign_id}) by {who} on {when.date().isoformat()}"
