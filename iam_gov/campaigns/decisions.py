"""Reviewers' work on a campaign: decide, undo, delegate, comment, sign off.

Each call is one write transaction that changes the items, adds one ``campaign_history`` row
per item and one audit record, or changes nothing. Optimistic locking: every item carries a
version; a decision names the version the reviewer saw, and when someone changed the item
since, nothing is written and ``Conflict`` says who changed what.
"""

from __future__ import annotations

import logging
import time
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar, get_args

from sqlalchemy import Connection, Row, func, select, update
from sqlalchemy.exc import DBAPIError

from iam_gov import audit
from iam_gov.campaigns.definition import (
    CampaignDefinition,
    CampaignError,
    Decision,
    definition_from_json,
)
from iam_gov.campaigns.reviewer import Reviewer, checked_email, same_email
from iam_gov.errors import StoreError
from iam_gov.retrying import backoff
from iam_gov.store import Store
from iam_gov.store.bulk import bulk_insert, chunks
from iam_gov.store.schema import campaign_history, campaign_items, campaign_signoffs, campaigns
from iam_gov.timeutil import utcnow

DECISIONS: tuple[str, ...] = get_args(Decision)
MAX_COMMENT = 10_000
CHUNK = 2000
"""Items per statement: (item_id, version) pairs stay well under the drivers' parameter limits."""

_ci = campaign_items.c
_ITEM_COLUMNS = (
    _ci.item_id,
    _ci.reviewer,
    _ci.reviewer_rule,
    _ci.person_email,
    _ci.recommendation,
    _ci.version,
    _ci.decision,
    _ci.comment,
    _ci.decided_by,
    _ci.decided_at,
    _ci.acting_for,
)
_STATE = ("decision", "comment", "decided_by", "decided_at", "acting_for")
"""What undo restores."""

ATTEMPTS = 5
"""Tries of one operation that PostgreSQL aborts to keep transactions apart."""
RETRY_BASE = 0.02
RETRY_CEILING = 0.5
"""Seconds: jittered exponential waits between those tries."""
RETRYABLE = frozenset({"40001", "40P01"})
"""SQLSTATEs of a transaction aborted only because of another one (serialization failure,
deadlock): the same work tried again from the start is correct."""
LOG = logging.getLogger("iam_gov.campaigns.decisions")
T = TypeVar("T")


class Conflict(CampaignError):
    """Items changed since the reviewer saw them; nothing was written."""

    def __init__(self, campaign_id: int, changed_by: Mapping[int, str]):
        self.campaign_id = campaign_id
        self.item_ids: tuple[int, ...] = tuple(sorted(changed_by))
        self.changed_by: dict[int, str] = dict(changed_by)
        super().__init__(_conflict_text(campaign_id, self.changed_by))


# --- the operations -------------------------------------------------------------------------


def decide(
    store: Store,
    campaign_id: int,
    item_ids: Iterable[int],
    decision: Decision,
    reviewer: Reviewer,
    *,
    comment: str | None = None,
    seen_versions: Mapping[int, int] | None = None,
    now: datetime | None = None,
) -> int:
    """Approve, revoke or abstain on items of the reviewer's; returns how many changed.

    ``seen_versions`` ({item_id: version}) are the versions the reviewer looked at: if any
    item changed since, ``Conflict`` is raised and nothing is written. An item's existing
    comment satisfies the definition's comment requirement; ``comment=None`` keeps it.
    """
    if decision not in DECISIONS:
        raise CampaignError(f"{decision!r} is not a decision ({', '.join(DECISIONS)})")
    text = clean_comment(comment)
    ids = _unique(item_ids)
    if not ids:
        return 0
    at = now or utcnow()

    def work(conn: Connection) -> int:
        definition = _open_for(conn, campaign_id, reviewer)
        items = _items_of(conn, campaign_id, ids, reviewer)
        _refuse_own_access(items, reviewer)
        _need_comments(definition, items, decision, text)
        _check_seen(conn, campaign_id, items, seen_versions)
        values: dict[str, Any] = {
            "decision": decision,
            "decided_by": reviewer.actor,
            "decided_at": at,
            "acting_for": reviewer.acting_for,
        }
        if text is not None:
            values["comment"] = text
        _write(conn, campaign_id, items, values)
        _history(
            conn,
            campaign_id,
            reviewer,
            at,
            "decide",
            [
                (r.item_id, {"previous": _state(r), "version": r.version + 1}, decision, text)
                for r in items
            ],
        )
        _audit(conn, campaign_id, reviewer, at, "decide", ids, decision=decision, comment=text)
        return len(items)

    return _retrying(store, work)


def undo(
    store: Store, campaign_id: int, item_id: int, reviewer: Reviewer, *, now: datetime | None = None
) -> None:
    """Take back the item's latest decision not yet undone, restoring the state before it."""
    at = now or utcnow()

    def work(conn: Connection) -> None:
        _open_for(conn, campaign_id, reviewer)
        (item,) = _items_of(conn, campaign_id, [item_id], reviewer)
        _refuse_own_access([item], reviewer)
        undone = _last_decision(conn, campaign_id, item_id)
        if undone is None:
            raise CampaignError(f"item {item_id} has no decision of yours to undo")
        history_id, previous = undone
        _write(conn, campaign_id, [item], _restored(previous))
        details = {"undid": history_id, "restored": previous, "replaced": _state(item)}
        _history(
            conn,
            campaign_id,
            reviewer,
            at,
            "undo",
            [(item_id, details, previous["decision"], previous["comment"])],
        )
        _audit(conn, campaign_id, reviewer, at, "undo", [item_id], restored=previous)

    _retrying(store, work)


def delegate(
    store: Store,
    campaign_id: int,
    item_ids: Iterable[int],
    to_email: str,
    reviewer: Reviewer,
    *,
    comment: str | None = None,
    now: datetime | None = None,
) -> int:
    """Hand items over to another reviewer, undecided; returns how many moved.

    Items about the reviewer's own access may be delegated (that is how a misrouted item
    leaves them); delegating an item to the person it is about is refused.
    """
    target = checked_email(to_email, "delegate to")
    if same_email(target, reviewer.email):
        raise CampaignError(f"the items are already {target}'s to review")
    text = clean_comment(comment)
    ids = _unique(item_ids)
    if not ids:
        return 0
    at = now or utcnow()

    def work(conn: Connection) -> int:
        _open_for(conn, campaign_id, reviewer)
        _refuse_signed_off(conn, campaign_id, target, "cannot take delegated items")
        items = _items_of(conn, campaign_id, ids, reviewer)
        _refuse_to_their_person(items, target)
        values: dict[str, Any] = {
            "reviewer": target,
            "reviewer_rule": "delegated",
            **dict.fromkeys(("decision", "decided_by", "decided_at", "acting_for")),
        }
        if text is not None:
            values["comment"] = text
        _write(conn, campaign_id, items, values)
        moves = [
            (r.item_id, {"from": r.reviewer, "to": target, "previous": _state(r)}, None, text)
            for r in items
        ]
        _history(conn, campaign_id, reviewer, at, "delegate", moves)
        _audit(conn, campaign_id, reviewer, at, "delegate", ids, to=target, comment=text)
        return len(items)

    return _retrying(store, work)


def add_comment(
    store: Store,
    campaign_id: int,
    item_id: int,
    text: str,
    reviewer: Reviewer,
    *,
    now: datetime | None = None,
) -> None:
    """Write (or replace) the item's comment without deciding."""
    cleaned = clean_comment(text)
    if cleaned is None:
        raise CampaignError(f"item {item_id}: the comment is empty")
    at = now or utcnow()

    def work(conn: Connection) -> None:
        _open_for(conn, campaign_id, reviewer)
        (item,) = _items_of(conn, campaign_id, [item_id], reviewer)
        _refuse_own_access([item], reviewer)
        _write(conn, campaign_id, [item], {"comment": cleaned})
        details = {"previous": item.comment, "version": item.version + 1}
        _history(conn, campaign_id, reviewer, at, "comment", [(item_id, details, None, cleaned)])
        _audit(conn, campaign_id, reviewer, at, "comment", [item_id], comment=cleaned)

    _retrying(store, work)


def sign_off(
    store: Store, campaign_id: int, reviewer: Reviewer, *, now: datetime | None = None
) -> None:
    """Declare the reviewer's part of the campaign done; their decisions are frozen from now."""
    at = now or utcnow()

    def work(conn: Connection) -> None:
        _open_for(conn, campaign_id, reviewer)
        _refuse_undecided(conn, campaign_id, reviewer)
        conn.execute(
            campaign_signoffs.insert().values(
                campaign_id=campaign_id,
                reviewer=reviewer.email,
                signed_at=at,
                signed_by=reviewer.actor,
                acting_for=reviewer.acting_for,
            )
        )
        _history(conn, campaign_id, reviewer, at, "sign-off", [(None, {}, None, None)])
        _audit(conn, campaign_id, reviewer, at, "sign-off", [])

    _retrying(store, work)


def clean_comment(comment: str | None) -> str | None:
    """The comment stripped (``None`` when blank), with ``\\n`` line ends; control characters
    (but newline and tab) and bidirectional overrides, which make text show other than it
    reads, are refused."""
    if comment is None or not comment.strip():
        return None
    text = comment.strip().replace("\r\n", "\n").replace("\r", "\n")
    if any(_hidden(ch) for ch in text):
        raise CampaignError("a comment cannot contain control characters")
    if len(text) > MAX_COMMENT:
        raise CampaignError(f"a comment is at most {MAX_COMMENT} characters ({len(text)} given)")
    return text


def _hidden(ch: str) -> bool:
    if ch in "\n\t":
        return False
    return unicodedata.category(ch) == "Cc" or ch in _BIDI_CONTROLS


_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


# --- transactions ---------------------------------------------------------------------------


def _retrying(store: Store, work: Callable[[Connection], T]) -> T:
    """``work`` in one write transaction. When PostgreSQL aborts it only because of another
    transaction (a serialization failure or a deadlock), it runs again from the start, reading
    afresh (an item changed meanwhile is then a ``Conflict``), after a jittered wait, at most
    ``ATTEMPTS`` times; the last failure is the store's one-line error."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            with store.writing() as conn:
                return work(conn)
        except (StoreError, DBAPIError) as exc:
            state = retryable_state(exc)
            if state is None or attempt == ATTEMPTS:
                raise
            LOG.info("the store aborted the transaction (SQLSTATE %s): trying again", state)
        time.sleep(backoff(attempt, base=RETRY_BASE, ceiling=RETRY_CEILING))
    raise AssertionError("unreachable")  # pragma: no cover


def retryable_state(exc: BaseException) -> str | None:
    """The SQLSTATE of a transaction aborted only because of another one, else None."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, DBAPIError):
            state = getattr(cause.orig, "sqlstate", None)
            return state if state in RETRYABLE else None
        cause = cause.__cause__
    return None


# --- checks ---------------------------------------------------------------------------------


def _open_for(conn: Connection, campaign_id: int, reviewer: Reviewer) -> CampaignDefinition:
    """The campaign's definition, if it is open and the reviewer has not signed off."""
    if reviewer.acting_for is not None and not reviewer.admin:
        raise CampaignError(
            f"{reviewer.actor} may not act for {reviewer.email}: that needs an admin role"
        )
    row = conn.execute(
        select(campaigns.c.status, campaigns.c.definition).where(campaigns.c.id == campaign_id)
    ).one_or_none()
    if row is None:
        raise CampaignError(f"there is no campaign #{campaign_id}")
    if row.status == "draft":
        raise CampaignError(f"campaign #{campaign_id} is not launched yet")
    if row.status != "open":
        raise CampaignError(f"campaign #{campaign_id} is {row.status}: its decisions are final")
    _refuse_signed_off(conn, campaign_id, reviewer.email, "decisions are frozen")
    return definition_from_json(row.definition)


def _refuse_signed_off(conn: Connection, campaign_id: int, email: str, consequence: str) -> None:
    signed = conn.execute(
        select(campaign_signoffs.c.signed_at).where(
            campaign_signoffs.c.campaign_id == campaign_id,
            func.lower(campaign_signoffs.c.reviewer) == email.lower(),
        )
    ).scalar_one_or_none()
    if signed is not None:
        raise CampaignError(
            f"{email} signed off campaign #{campaign_id} at {signed:%Y-%m-%d %H:%M} UTC: "
            f"{consequence}"
        )


def _items_of(
    conn: Connection, campaign_id: int, ids: Sequence[int], reviewer: Reviewer
) -> list[Row[Any]]:
    """The items, in the order asked, if they exist and are in the reviewer's review."""
    found: dict[int, Row[Any]] = {}
    for chunk in chunks(ids, CHUNK):
        query = select(*_ITEM_COLUMNS).where(_ci.campaign_id == campaign_id, _ci.item_id.in_(chunk))
        found.update({row.item_id: row for row in conn.execute(query)})
    missing = [i for i in ids if i not in found]
    if missing:
        raise CampaignError(f"campaign #{campaign_id} has no {_items_text(missing)}")
    items = [found[i] for i in ids]
    others = [r for r in items if not same_email(r.reviewer, reviewer.email)]
    if others:
        whose = others[0].reviewer
        ids_ = [r.item_id for r in others]
        raise CampaignError(
            f"{_items_text(ids_)} {_are(ids_)} not in {reviewer.email}'s review "
            f"(item {others[0].item_id} is {whose}'s)"
        )
    return items


def _refuse_own_access(items: Sequence[Row[Any]], reviewer: Reviewer) -> None:
    """Nobody decides their own access: neither the reviewer nor whoever acts for them."""
    for who in dict.fromkeys((reviewer.actor, reviewer.email)):
        own = [r.item_id for r in items if same_email(r.person_email, who)]
        if own:
            raise CampaignError(
                f"{_items_text(own)} {_are(own)} about {who}'s own access: nobody reviews their "
                "own access "
                "(delegate it to their manager or the fallback reviewer)"
            )


def _refuse_to_their_person(items: Sequence[Row[Any]], target: str) -> None:
    own = [r.item_id for r in items if same_email(r.person_email, target)]
    if own:
        raise CampaignError(
            f"{_items_text(own)} {_are(own)} about {target}'s own access: they cannot review it"
        )


def _need_comments(
    definition: CampaignDefinition, items: Sequence[Row[Any]], decision: str, text: str | None
) -> None:
    if text is not None:
        return
    bare = [
        r.item_id
        for r in items
        if not r.comment and definition.requires_comment(decision, r.recommendation)
    ]
    if bare:
        raise CampaignError(
            f"{_items_text(bare)}: the campaign requires a comment to {decision} "
            f"{'them' if len(bare) > 1 else 'it'} (comment_required: "
            f"{', '.join(definition.comment_required)})"
        )


def _check_seen(
    conn: Connection,
    campaign_id: int,
    items: Sequence[Row[Any]],
    seen_versions: Mapping[int, int] | None,
) -> None:
    if not seen_versions:
        return
    changed = [
        r.item_id
        for r in items
        if r.item_id in seen_versions and seen_versions[r.item_id] != r.version
    ]
    if changed:
        raise Conflict(campaign_id, _changed_by(conn, campaign_id, changed))


def _refuse_undecided(conn: Connection, campaign_id: int, reviewer: Reviewer) -> None:
    mine = (_ci.campaign_id == campaign_id, func.lower(_ci.reviewer) == reviewer.email.lower())
    total, undecided = conn.execute(
        select(func.count(), func.count().filter(_ci.decision.is_(None))).where(*mine)
    ).one()
    if total == 0:
        raise CampaignError(f"{reviewer.email} has no items in campaign #{campaign_id}")
    if undecided:
        raise CampaignError(
            f"{reviewer.email} still has {undecided} undecided item{'s' if undecided > 1 else ''} "
            f"of {total} in campaign #{campaign_id}: decide them (abstain is a decision) or "
            "delegate them before signing off"
        )


# --- writing --------------------------------------------------------------------------------


def _write(
    conn: Connection, campaign_id: int, items: Sequence[Row[Any]], values: Mapping[str, Any]
) -> None:
    """One UPDATE per version and chunk (a bulk decision is mostly one version), each row
    only at the version read: a row changed meanwhile is a Conflict."""
    by_version: dict[int, list[Row[Any]]] = {}
    for row in items:
        by_version.setdefault(row.version, []).append(row)
    for version, rows in by_version.items():
        for chunk in chunks(rows, CHUNK):
            result = conn.execute(
                update(campaign_items)
                .where(
                    _ci.campaign_id == campaign_id,
                    _ci.version == version,
                    _ci.item_id.in_([r.item_id for r in chunk]),
                )
                .values(**values, version=_ci.version + 1)
            )
            if result.rowcount != len(chunk):
                raise _lost_race(conn, campaign_id, chunk)


def _lost_race(conn: Connection, campaign_id: int, chunk: Sequence[Row[Any]]) -> Conflict:
    ids = [r.item_id for r in chunk]
    now = dict(
        conn.execute(
            select(_ci.item_id, _ci.version).where(
                _ci.campaign_id == campaign_id, _ci.item_id.in_(ids)
            )
        ).tuples()
    )
    changed = [r.item_id for r in chunk if now.get(r.item_id) != r.version]
    return Conflict(campaign_id, _changed_by(conn, campaign_id, changed or ids))


HistoryEntry = tuple[int | None, dict[str, Any], str | None, str | None]
"""(item_id, details, decision, comment) of one history row."""


def _history(
    conn: Connection,
    campaign_id: int,
    reviewer: Reviewer,
    at: datetime,
    action: str,
    entries: Iterable[HistoryEntry],
) -> None:
    common = {
        "campaign_id": campaign_id,
        "action": action,
        "actor": reviewer.actor,
        "acting_for": reviewer.acting_for,
        "os_user": reviewer.os_user,
        "at": at,
    }
    bulk_insert(
        conn,
        campaign_history,
        (
            {
                **common,
                "item_id": item_id,
                "details": details,
                "decision": decision,
                "comment": text,
            }
            for item_id, details, decision, text in entries
        ),
    )


def _audit(
    conn: Connection,
    campaign_id: int,
    reviewer: Reviewer,
    at: datetime,
    action: str,
    item_ids: Sequence[int],
    **details: Any,
) -> None:
    record = {
        "campaign_id": campaign_id,
        "reviewer": reviewer.email,
        "acting_for": reviewer.acting_for,
        "os_user": reviewer.os_user,
        **({"items": ranges_text(item_ids), "count": len(item_ids)} if item_ids else {}),
        **{key: value for key, value in details.items() if value is not None},
    }
    audit.append(
        conn, f"campaign.{action}", f"campaign #{campaign_id}", record, actor=reviewer.actor, at=at
    )


# --- undo -----------------------------------------------------------------------------------


def _last_decision(
    conn: Connection, campaign_id: int, item_id: int
) -> tuple[int, dict[str, Any]] | None:
    """The latest decision on the item that no undo has taken back, since it came to its
    current reviewer: (its history id, the state before it)."""
    rows = conn.execute(
        select(campaign_history.c.id, campaign_history.c.action, campaign_history.c.details)
        .where(campaign_history.c.campaign_id == campaign_id, campaign_history.c.item_id == item_id)
        .order_by(campaign_history.c.id.desc())
    )
    undos = 0
    for row in rows:
        if row.action == "undo":
            undos += 1
        elif row.action == "decide" and undos:
            undos -= 1
        elif row.action == "decide":
            previous: dict[str, Any] = row.details["previous"]
            return row.id, previous
        elif row.action != "comment":
            return None  # delegated, pre-certified…: nothing before this is the reviewer's
    return None


def _state(row: Row[Any]) -> dict[str, Any]:
    """What undo would restore, as JSON."""
    state = {name: getattr(row, name) for name in _STATE}
    if state["decided_at"] is not None:
        state["decided_at"] = state["decided_at"].isoformat()
    return state


def _restored(previous: Mapping[str, Any]) -> dict[str, Any]:
    values = {name: previous.get(name) for name in _STATE}
    if values["decided_at"] is not None:
        values["decided_at"] = datetime.fromisoformat(values["decided_at"])
    return values


# --- words ----------------------------------------------------------------------------------


def _changed_by(conn: Connection, campaign_id: int, item_ids: Sequence[int]) -> dict[int, str]:
    """Who last changed each item, from its history."""
    who = dict.fromkeys(item_ids, "someone")
    for chunk in chunks(item_ids, CHUNK):
        rows = conn.execute(
            select(
                campaign_history.c.item_id,
                campaign_history.c.actor,
                campaign_history.c.acting_for,
                campaign_history.c.action,
                campaign_history.c.decision,
            )
            .where(
                campaign_history.c.campaign_id == campaign_id,
                campaign_history.c.item_id.in_(chunk),
            )
            .order_by(campaign_history.c.id)
        )
        for row in rows:
            acting = f" for {row.acting_for}" if row.acting_for else ""
            what = f"{row.action} {row.decision}" if row.decision else row.action
            who[row.item_id] = f"{row.actor}{acting} ({what})"
    return who


def _conflict_text(campaign_id: int, changed_by: Mapping[int, str]) -> str:
    shown = [f"item {i} by {who}" for i, who in sorted(changed_by.items())[:5]]
    more = len(changed_by) - len(shown)
    listing = ", ".join(shown) + (f" and {more} more" if more else "")
    count = len(changed_by)
    return (
        f"campaign #{campaign_id}: {count} item{'s were' if count > 1 else ' was'} changed "
        f"since you saw {'them' if count > 1 else 'it'} ({listing}); nothing was saved: "
        "reload and decide again"
    )


def _items_text(ids: Sequence[int]) -> str:
    """``item 4`` / ``items 4, 7 and 12 more``, for messages."""
    if len(ids) == 1:
        return f"item {ids[0]}"
    shown = ", ".join(str(i) for i in ids[:5])
    more = f" and {len(ids) - 5} more" if len(ids) > 5 else ""
    return f"items {shown}{more}"


def _are(ids: Sequence[int]) -> str:
    return "is" if len(ids) == 1 else "are"


def ranges_text(item_ids: Iterable[int]) -> str:
    """Item ids as ranges (``1-40, 45, 50-52``): a bulk decision's audit record stays small."""
    parts: list[str] = []
    run: list[int] = []
    for i in sorted(set(item_ids)):
        if run and i == run[-1] + 1:
            run[-1] = i
            continue
        if run:
            parts.append(_range(run))
        run = [i, i]
    if run:
        parts.append(_range(run))
    return ", ".join(parts)


def _range(run: list[int]) -> str:
    first, last = run
    return str(first) if first == last else f"{first}-{last}"


def _unique(item_ids: Iterable[int]) -> list[int]:
    return list(dict.fromkeys(item_ids))
