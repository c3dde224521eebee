"""Reading a campaign's items for a reviewer: pages, counts, positions, the reviewer's
campaigns; and the administrators' overview (open findings, leavers with active accounts).

Fast on 1,000,000 items: a page is a range of the ``(campaign_id, reviewer, item_id)`` index
(keyset paging from a neighbouring page, from either end), never a sort of the whole
campaign. The TUI asks only for the rows it shows.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, Connection, false, func, or_, select, true

from iam_gov.campaigns.definition import CampaignDefinition, definition_from_json
from iam_gov.campaigns.progress import Counts
from iam_gov.campaigns.reasons import flags_of, reasons_of
from iam_gov.store.schema import (
    campaign_history,
    campaign_items,
    campaign_signoffs,
    campaigns,
    findings,
)

PAGE_SIZE = 64

DecisionFilter = Literal["approve", "revoke", "abstain", "none"]


@dataclass(frozen=True, slots=True)
class Item:
    """One row of ``campaign_items``: an (account, entitlement) under review."""

    campaign_id: int
    item_id: int
    system: str
    account_id: str
    account_login: str
    account_kind: str
    account_status: str
    person_id: str | None
    person_name: str | None
    person_email: str | None
    department: str | None
    title: str | None
    entitlement_id: str
    entitlement_name: str
    entitlement_kind: str
    via: str
    """The groups it comes through, comma-separated ('' when only held directly)."""
    via_ids: str
    """The same groups' entitlement ids, one per line."""
    direct: bool
    privileged: bool
    leaver: bool
    mover: bool
    in_role: bool
    explanation: str
    last_used_at: datetime | None
    peers_holding: int
    peers_total: int
    finding_rules: str
    finding_severity: str | None
    risk: int
    recommendation: str
    reviewer: str
    reviewer_rule: str
    decision: str | None
    comment: str | None
    decided_by: str | None
    decided_at: datetime | None
    acting_for: str | None
    precertified: str | None
    version: int

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> Item:
        return cls(**{name: row[name] for name in _FIELDS})

    def mapping(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _FIELDS}

    @property
    def who(self) -> str:
        """The person's name, else the account's login (service accounts have no person)."""
        return self.person_name or self.account_login

    @property
    def flagged(self) -> bool:
        """Needs judgement: recommended for revocation, or any fact that weighs against it
        (the same test as ``ItemFilter(flagged=True)``)."""
        return (
            self.recommendation == "revoke"
            or self.leaver
            or self.mover
            or self.privileged
            or not self.in_role
            or bool(self.finding_rules)
        )

    def flags(self, as_of: datetime, unused_after_days: int) -> list[str]:
        return flags_of(self.mapping(), as_of, unused_after_days)

    def reasons(self, as_of: datetime, unused_after_days: int) -> list[str]:
        return reasons_of(self.mapping(), as_of, unused_after_days)


_FIELDS = tuple(field.name for field in dataclasses.fields(Item))
_COLUMNS = [campaign_items.c[name] for name in _FIELDS]


@dataclass(frozen=True, slots=True)
class ItemFilter:
    """Which of the reviewer's items to show. Every field narrows; the default shows all."""

    text: str = ""
    """Case-insensitive substring of the person's name or e-mail, the login or the
    entitlement."""
    undecided: bool = False
    flagged: bool = False
    decision: DecisionFilter | None = None
    """Only items with this decision (``none``: not decided yet)."""
    system: str | None = None

    @property
    def active(self) -> bool:
        return self != ItemFilter()

    def describe(self) -> str:
        """In words, for a header: ``text "ann", undecided, system okta``."""
        parts = []
        if self.text:
            parts.append(f'text "{self.text}"')
        if self.undecided:
            parts.append("undecided")
        if self.flagged:
            parts.append("flagged")
        if self.decision:
            parts.append(f"decision {self.decision}")
        if self.system:
            parts.append(f"system {self.system}")
        return ", ".join(parts)


ALL = ItemFilter()


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _where(
    conn: Connection, campaign_id: int, reviewer: str | None, flt: ItemFilter
) -> list[ColumnElement[bool]]:
    c = campaign_items.c
    conditions: list[ColumnElement[bool]] = [c.campaign_id == campaign_id]
    if reviewer is not None:
        # The launch writes reviewers' addresses in lower case.
        conditions.append(c.reviewer == reviewer.lower())
    if flt.text:
        pattern = _like_pattern(flt.text)
        columns = (c.person_name, c.person_email, c.account_login, c.entitlement_name)
        if conn.dialect.name == "sqlite":
            # SQLite's LIKE already ignores ASCII case, as its lower() does: the same matches
            # as ILIKE's lower(x) LIKE lower(y), without computing lower() over every row.
            conditions.append(or_(*(column.like(pattern, escape="\\") for column in columns)))
        else:
            conditions.append(or_(*(column.ilike(pattern, escape="\\") for column in columns)))
    if flt.undecided:
        conditions.append(c.decision.is_(None))
    if flt.flagged:
        conditions.append(
            or_(
                c.recommendation == "revoke",
                c.leaver == true(),
                c.mover == true(),
                c.privileged == true(),
                c.in_role == false(),
                c.finding_rules != "",
            )
        )
    if flt.decision == "none":
        conditions.append(c.decision.is_(None))
    elif flt.decision is not None:
        conditions.append(c.decision == flt.decision)
    if flt.system:
        conditions.append(c.system == flt.system)
    return conditions


def count_items(
    conn: Connection, campaign_id: int, *, reviewer: str | None, filter: ItemFilter = ALL
) -> int:
    """How many of the reviewer's items (every reviewer's with ``None``) the filter shows."""
    query = select(func.count()).select_from(campaign_items)
    query = query.where(*_where(conn, campaign_id, reviewer, filter))
    return int(conn.execute(query).scalar_one())


def item_page(
    conn: Connection,
    campaign_id: int,
    *,
    reviewer: str | None,
    filter: ItemFilter = ALL,
    offset: int = 0,
    limit: int = PAGE_SIZE,
    after: int | None = None,
    before: int | None = None,
) -> list[Item]:
    """``limit`` items in review order, skipping ``offset``.

    Keyset paging: with ``after`` the page starts past that item id; with ``before`` the page
    is the ``limit`` items that end just before it (``offset`` counted backwards from there),
    so that a page next to one already read, or near the end, costs as little as the first.
    """
    c = campaign_items.c
    conditions = _where(conn, campaign_id, reviewer, filter)
    if before is not None:
        query = (
            select(*_COLUMNS)
            .where(*conditions, c.item_id < before)
            .order_by(c.item_id.desc())
            .offset(offset)
            .limit(limit)
        )
        rows = list(conn.execute(query).mappings())
        rows.reverse()
    else:
        if after is not None:
            conditions.append(c.item_id > after)
        if offset > 0:
            # Skip by the index alone, then read only the rows of the page.
            start = conn.execute(
                select(c.item_id).where(*conditions).order_by(c.item_id).offset(offset).limit(1)
            ).scalar_one_or_none()
            if start is None:
                return []
            conditions.append(c.item_id >= start)
        query = select(*_COLUMNS).where(*conditions).order_by(c.item_id).limit(limit)
        rows = list(conn.execute(query).mappings())
    return [Item.from_row(row) for row in rows]


def get_item(conn: Connection, campaign_id: int, item_id: int) -> Item | None:
    c = campaign_items.c
    row = (
        conn.execute(select(*_COLUMNS).where(c.campaign_id == campaign_id, c.item_id == item_id))
        .mappings()
        .one_or_none()
    )
    return None if row is None else Item.from_row(row)


def get_items(conn: Connection, campaign_id: int, item_ids: Sequence[int]) -> list[Item]:
    """These items (those that exist), in review order."""
    c = campaign_items.c
    found: list[Item] = []
    ids = sorted(set(item_ids))
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        query = select(*_COLUMNS).where(c.campaign_id == campaign_id, c.item_id.in_(chunk))
        found.extend(Item.from_row(row) for row in conn.execute(query).mappings())
    found.sort(key=lambda item: item.item_id)
    return found


def item_position(
    conn: Connection,
    campaign_id: int,
    item_id: int,
    *,
    reviewer: str | None,
    filter: ItemFilter = ALL,
    anchor: tuple[int, int] | None = None,
) -> int:
    """The row an item is on (0-based) among those the filter shows.

    ``anchor`` is a known ``(item_id, row)``: only the items between it and ``item_id`` are
    counted, so that moving a few rows on costs a few index entries, not the whole list.
    """
    c = campaign_items.c
    conditions = _where(conn, campaign_id, reviewer, filter)
    base = 0
    if anchor is not None:
        anchor_id, anchor_row = anchor
        if anchor_id <= item_id:
            conditions.append(c.item_id >= anchor_id)
            base = anchor_row
        else:
            between = select(func.count()).select_from(campaign_items)
            between = between.where(*conditions, c.item_id >= item_id, c.item_id < anchor_id)
            return anchor_row - int(conn.execute(between).scalar_one())
    query = select(func.count()).select_from(campaign_items)
    query = query.where(*conditions, c.item_id < item_id)
    return base + int(conn.execute(query).scalar_one())


def next_undecided(
    conn: Connection,
    campaign_id: int,
    *,
    reviewer: str | None,
    after_item_id: int,
    filter: ItemFilter = ALL,
    wrap: bool = True,
) -> int | None:
    """The id of the next undecided item past ``after_item_id`` that the filter shows; from
    the start again when there is none after it (``wrap``); ``None`` when all are decided."""
    c = campaign_items.c
    conditions = [*_where(conn, campaign_id, reviewer, filter), c.decision.is_(None)]
    query = select(c.item_id).where(*conditions).order_by(c.item_id).limit(1)
    found = conn.execute(query.where(c.item_id > after_item_id)).scalar_one_or_none()
    if found is None and wrap:
        found = conn.execute(query.where(c.item_id <= after_item_id)).scalar_one_or_none()
    return None if found is None else int(found)


def systems_of(conn: Connection, campaign_id: int, *, reviewer: str | None) -> list[str]:
    """The systems the reviewer's items are on, for the filter's choice."""
    c = campaign_items.c
    query = (
        select(c.system)
        .where(*_where(conn, campaign_id, reviewer, ALL))
        .group_by(c.system)
        .order_by(c.system)
    )
    return [str(system) for system in conn.execute(query).scalars()]


def progress_of(conn: Connection, campaign_id: int, *, reviewer: str | None) -> Counts:
    """How many of the reviewer's items there are and how many are decided."""
    c = campaign_items.c
    query = select(func.count(), func.count(c.decision)).where(
        *_where(conn, campaign_id, reviewer, ALL)
    )
    total, decided = conn.execute(query).one()
    return Counts(int(total), int(decided))


@dataclass(frozen=True, slots=True)
class CampaignInfo:
    """A campaign as its header shows it."""

    id: int
    name: str
    kind: str
    trigger: str | None
    status: str
    due_on: date | None
    launched_at: datetime | None
    item_count: int
    definition: CampaignDefinition


@dataclass(frozen=True, slots=True)
class ReviewerCampaign:
    """One campaign in a reviewer's list: their part of it."""

    campaign: CampaignInfo
    progress: Counts
    signed_off_at: datetime | None

    @property
    def id(self) -> int:
        return self.campaign.id

    def overdue(self, today: date) -> bool:
        due = self.campaign.due_on
        return due is not None and due < today and self.progress.pending > 0


def _campaign_info(row: Mapping[Any, Any]) -> CampaignInfo:
    return CampaignInfo(
        id=row["id"],
        name=row["name"],
        kind=row["kind"],
        trigger=row["trigger"],
        status=row["status"],
        due_on=row["due_on"],
        launched_at=row["launched_at"],
        item_count=row["item_count"],
        definition=definition_from_json(row["definition"]),
    )


_INFO_COLUMNS = [
    campaigns.c[name]
    for name in (
        "id",
        "name",
        "kind",
        "trigger",
        "status",
        "due_on",
        "launched_at",
        "item_count",
        "definition",
    )
]


def get_campaign(conn: Connection, campaign_id: int) -> CampaignInfo | None:
    row = (
        conn.execute(select(*_INFO_COLUMNS).where(campaigns.c.id == campaign_id))
        .mappings()
        .one_or_none()
    )
    return None if row is None else _campaign_info(row)


def signed_off_at(conn: Connection, campaign_id: int, reviewer: str) -> datetime | None:
    s = campaign_signoffs.c
    query = select(s.signed_at).where(
        s.campaign_id == campaign_id, func.lower(s.reviewer) == reviewer.lower()
    )
    found: datetime | None = conn.execute(query).scalar_one_or_none()
    return found


def campaigns_for_reviewer(
    conn: Connection, email: str, *, include_closed: bool = False
) -> list[ReviewerCampaign]:
    """The campaigns with items for this reviewer, open ones (and closed ones when asked),
    soonest due first, with the reviewer's progress and sign-off."""
    statuses = ("open", "closed") if include_closed else ("open",)
    rows = (
        conn.execute(
            select(*_INFO_COLUMNS)
            .where(campaigns.c.status.in_(statuses))
            .order_by(campaigns.c.due_on, campaigns.c.id)
        )
        .mappings()
        .all()
    )
    found = []
    c = campaign_items.c
    for row in rows:
        has_items = conn.execute(
            select(c.item_id)
            .where(c.campaign_id == row["id"], c.reviewer == email.lower())
            .limit(1)
        ).first()
        if has_items is None:
            continue
        found.append(
            ReviewerCampaign(
                campaign=_campaign_info(row),
                progress=progress_of(conn, row["id"], reviewer=email),
                signed_off_at=signed_off_at(conn, row["id"], email),
            )
        )
    found.sort(key=lambda rc: (rc.campaign.due_on is None, rc.campaign.due_on or date.min, rc.id))
    return found


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One thing that happened to an item (``campaign_history``)."""

    at: datetime
    action: str
    actor: str
    acting_for: str | None
    decision: str | None
    comment: str | None


def item_history(
    conn: Connection, campaign_id: int, item_id: int, *, limit: int = 20
) -> list[HistoryEntry]:
    """What happened to the item, latest first."""
    h = campaign_history.c
    query = (
        select(h.at, h.action, h.actor, h.acting_for, h.decision, h.comment)
        .where(h.campaign_id == campaign_id, h.item_id == item_id)
        .order_by(h.id.desc())
        .limit(limit)
    )
    return [HistoryEntry(**row) for row in conn.execute(query).mappings()]


# --- the administrators' overview ---------------------------------------------------------

LEAVER_RULE = "leaver-active-access"


@dataclass(frozen=True, slots=True)
class FindingCount:
    rule_id: str
    severity: str
    count: int


def findings_summary(conn: Connection) -> list[FindingCount]:
    """Open findings by rule and severity, the most serious and numerous first."""
    f = findings.c
    query = (
        select(f.rule_id, f.severity, func.count().label("open"))
        .where(f.resolved_at.is_(None))
        .group_by(f.rule_id, f.severity)
    )
    rank = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}
    found = [
        FindingCount(rule_id=row.rule_id, severity=row.severity, count=int(row.open))
        for row in conn.execute(query)
    ]
    found.sort(key=lambda c: (rank.get(c.severity, 9), -c.count, c.rule_id))
    return found


@dataclass(frozen=True, slots=True)
class LeaverAccess:
    """A person HR says has left, with an account still active (an open finding)."""

    person_id: str | None
    person_name: str
    system: str | None
    account_login: str
    end_date: str | None
    severity: str
    first_seen: datetime


def leavers_with_access(conn: Connection, *, limit: int = 500) -> list[LeaverAccess]:
    """Open ``leaver-active-access`` findings: who left, which account is still active."""
    f = findings.c
    query = (
        select(f.person_id, f.system, f.severity, f.evidence, f.first_seen)
        .where(f.resolved_at.is_(None), f.rule_id == LEAVER_RULE)
        .order_by(f.first_seen, f.finding_id)
        .limit(limit)
    )
    found = []
    for row in conn.execute(query):
        evidence = row.evidence if isinstance(row.evidence, dict) else {}
        found.append(
            LeaverAccess(
                person_id=row.person_id,
                person_name=str(evidence.get("person_name") or row.person_id or "?"),
                system=row.system,
                account_login=str(evidence.get("account_login") or ""),
                end_date=None if evidence.get("end_date") is None else str(evidence["end_date"]),
                severity=row.severity,
                first_seen=row.first_seen,
            )
        )
    return found
