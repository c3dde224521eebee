"""Concurrent reviewers on one store: each a thread with its own ``Store`` making random
decisions (approve / revoke / abstain, changing its mind, now and then on items another
reviewer is deciding too, some in bulk), then the store checked against what each reviewer was
told. Used by tests/hardening/test_reviewer_load.py and benchmarks/reviewer_load.py.

A reviewer only ever names a version it read or the one its own last decision made, so a
``Conflict`` it gets must come from someone else's decision in between.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from iam_gov import audit
from iam_gov.campaigns import decisions
from iam_gov.campaigns.decisions import Conflict, decide, ranges_text
from iam_gov.campaigns.definition import CampaignDefinition, Decision
from iam_gov.campaigns.reviewer import Reviewer
from iam_gov.store import Store
from iam_gov.store.schema import audit_log, campaign_history, campaign_items
from tests.campaigns.seed import REVIEWER, seed_campaign

CHOICES: tuple[Decision, ...] = ("approve", "revoke", "abstain")


def reviewer(n: int) -> Reviewer:
    """Admins acting for the items' reviewer: each thread is someone else in the history."""
    return Reviewer(
        email=REVIEWER, actor=f"reviewer{n}@example.com", os_user=f"reviewer{n}", admin=True
    )


@dataclass(frozen=True)
class Attempt:
    """One call of ``decide`` and what the reviewer was told."""

    writer: int
    seen: dict[int, int]
    decision: Decision
    committed: bool
    conflict_ids: tuple[int, ...] = ()
    changed_by: dict[int, str] = field(default_factory=dict)


@dataclass
class Outcome:
    attempts: list[Attempt]
    errors: list[str]
    retries: int
    seconds: float
    problems: list[str] = field(default_factory=list)
    lost: int = 0
    phantom: int = 0

    @property
    def committed(self) -> int:
        return sum(a.committed for a in self.attempts)

    @property
    def conflicts(self) -> int:
        return sum(not a.committed for a in self.attempts)


class _Retries(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.count = 0
        self._lock_count = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        with self._lock_count:
            self.count += 1


def seed(store_url: str, items: int) -> int:
    with Store.open(store_url) as store:
        definition = CampaignDefinition(name="load", comment_required=())
        return seed_campaign(store, [{} for _ in range(items)], definition)


def _versions(store: Store, campaign_id: int, ids: list[int]) -> dict[int, int]:
    with store.reading() as conn:
        rows = conn.execute(
            select(campaign_items.c.item_id, campaign_items.c.version).where(
                campaign_items.c.campaign_id == campaign_id, campaign_items.c.item_id.in_(ids)
            )
        )
        return {row.item_id: row.version for row in rows}


def _reviewer_work(
    store: Store,
    campaign_id: int,
    n: int,
    items: int,
    reviewers: int,
    count: int,
    seed_: int,
    done: list[Attempt],
) -> None:
    """One reviewer's decisions, each appended to ``done`` as it returns."""
    rng = random.Random(seed_ * 1000 + n)
    me = reviewer(n)
    home = [i for i in range(1, items + 1) if i % reviewers == n]
    known: dict[int, int] = {}
    mine: dict[int, Decision] = {}
    for _ in range(count):
        size = 1 if rng.random() < 0.8 else rng.randint(2, 4)
        pool = range(1, items + 1) if rng.random() < 0.3 else home
        ids = rng.sample(list(pool), min(size, len(pool)))
        stale = [i for i in ids if i not in known or rng.random() < 0.5]
        if stale:
            known.update(_versions(store, campaign_id, stale))
        seen = {i: known[i] for i in ids}
        # Changing its mind: a reviewer who decided an item before mostly picks something else.
        before = mine.get(ids[0])
        options = [c for c in CHOICES if c != before] if rng.random() < 0.7 else list(CHOICES)
        decision = rng.choice(options)
        try:
            decide(store, campaign_id, ids, decision, me, seen_versions=seen)
        except Conflict as conflict:
            done.append(Attempt(n, seen, decision, False, conflict.item_ids, conflict.changed_by))
            known.update(_versions(store, campaign_id, ids))
            continue
        done.append(Attempt(n, seen, decision, True))
        for i in ids:
            known[i] = seen[i] + 1
            mine[i] = decision


def run(
    store_url: str,
    *,
    reviewers: int = 10,
    decisions_each: int = 300,
    items: int = 120,
    seed_: int = 1,
) -> Outcome:
    """Seed a campaign, let ``reviewers`` threads make ``decisions_each`` decisions each at
    once, then check the store (``Outcome.problems`` empty when nothing was lost or made up)."""
    campaign_id = seed(store_url, items)
    start = threading.Barrier(reviewers)
    results: list[list[Attempt]] = [[] for _ in range(reviewers)]
    errors: list[str] = []
    retries = _Retries()
    decisions.LOG.addHandler(retries)
    level = decisions.LOG.level
    decisions.LOG.setLevel(logging.INFO)

    def one(n: int) -> None:
        try:
            with Store.open(store_url) as own:
                start.wait()
                _reviewer_work(
                    own, campaign_id, n, items, reviewers, decisions_each, seed_, results[n]
                )
        except Exception as exc:  # reported by the caller, with the reviewer it stopped
            errors.append(f"reviewer {n}: {type(exc).__name__}: {exc}")

    started = time.perf_counter()
    try:
        threads = [threading.Thread(target=one, args=(n,)) for n in range(reviewers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=600)
        if any(thread.is_alive() for thread in threads):
            errors.append("a reviewer did not finish within 600 s")
    finally:
        seconds = time.perf_counter() - started
        decisions.LOG.removeHandler(retries)
        decisions.LOG.setLevel(level)
    outcome = Outcome([a for r in results for a in r], errors, retries.count, seconds)
    check(store_url, campaign_id, outcome)
    return outcome


def check(store_url: str, campaign_id: int, outcome: Outcome) -> None:
    """Compare the store with what every reviewer was told; fills ``outcome.problems``."""
    with Store.open(store_url) as store, store.reading() as conn:
        items = {
            row.item_id: row
            for row in conn.execute(
                select(campaign_items).where(campaign_items.c.campaign_id == campaign_id)
            )
        }
        history = list(
            conn.execute(
                select(campaign_history)
                .where(campaign_history.c.campaign_id == campaign_id)
                .order_by(campaign_history.c.id)
            )
        )
        chain = audit.verify(conn)
        records = list(conn.execute(select(audit_log).order_by(audit_log.c.seq)))
    problems = outcome.problems
    actors = {reviewer(a.writer).actor for a in outcome.attempts}

    # Every committed decision is in the history exactly once; nothing else is.
    told = Counter(
        (i, v + 1, reviewer(a.writer).actor, a.decision)
        for a in outcome.attempts
        if a.committed
        for i, v in a.seen.items()
    )
    stored = Counter(
        (h.item_id, h.details["version"], h.actor, h.decision)
        for h in history
        if h.action == "decide"
    )
    lost, phantom = told - stored, stored - told
    outcome.lost, outcome.phantom = sum(lost.values()), sum(phantom.values())
    if lost:
        problems.append(f"{outcome.lost} committed decisions not in the history: {list(lost)[:5]}")
    if phantom:
        problems.append(f"{outcome.phantom} decisions nobody was told of: {list(phantom)[:5]}")
    if any(h.action != "decide" for h in history):
        problems.append("history rows other than decisions")

    # Each item's history is its versions in order, each row following the one before it, and
    # the item is the last of them.
    by_item: dict[int, list[Any]] = {}
    for h in history:
        by_item.setdefault(h.item_id, []).append(h)
    for item_id, row in items.items():
        rows = by_item.get(item_id, [])
        versions = [h.details["version"] for h in rows]
        if versions != list(range(1, len(rows) + 1)) or row.version != len(rows):
            problems.append(f"item {item_id}: version {row.version}, history {versions}")
            continue
        before: tuple[Any, Any] = (None, None)
        for h in rows:
            previous = h.details["previous"]
            if (previous["decision"], previous["decided_by"]) != before:
                problems.append(f"item {item_id} v{h.details['version']}: previous {previous}")
            before = (h.decision, h.actor)
        if (row.decision, row.decided_by) != before:
            problems.append(f"item {item_id}: holds {row.decision} by {row.decided_by}")

    # Every conflict is real: someone else wrote the version after the one the reviewer saw.
    for a in outcome.attempts:
        if a.committed:
            continue
        me = reviewer(a.writer).actor
        if not a.conflict_ids or not set(a.conflict_ids) <= set(a.seen):
            problems.append(f"conflict on {a.conflict_ids} for an attempt on {sorted(a.seen)}")
            continue
        for i in a.conflict_ids:
            rows = by_item.get(i, [])
            seen = a.seen[i]
            if len(rows) <= seen or rows[seen].actor == me:
                problems.append(f"{me}: conflict on item {i} at v{seen} that nobody else caused")
            who = a.changed_by.get(i, "")
            if who.startswith(me) or not any(who.startswith(x) for x in actors - {me}):
                problems.append(f"{me}: conflict on item {i} says {who!r} changed it")

    # The audit chain holds one record per committed decision, the decision as told.
    if not chain.ok:
        problems.append(f"the audit chain is broken: {chain.problem}")
    committed = Counter(
        (audit.attributed(reviewer(a.writer).actor), ranges_text(a.seen), a.decision)
        for a in outcome.attempts
        if a.committed
    )
    audited = Counter(
        (r.actor, r.details.get("items"), r.details.get("decision"))
        for r in records
        if r.action == "campaign.decide"
    )
    if len(records) != outcome.committed or committed != audited:
        problems.append(
            f"{len(records)} audit records for {outcome.committed} committed decisions "
            f"({sum((committed - audited).values())} missing, "
            f"{sum((audited - committed).values())} unexpected)"
        )
