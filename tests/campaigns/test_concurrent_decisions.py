"""Parallel writers, each with its own connection to the store: on the same items exactly one
wins and the others get a Conflict; on different items nobody's decision is lost."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from iam_gov import audit
from iam_gov.campaigns.decisions import Conflict, decide
from iam_gov.campaigns.definition import CampaignDefinition, Decision
from iam_gov.campaigns.reviewer import Reviewer
from iam_gov.store import Store
from iam_gov.store.schema import audit_log, campaign_history, campaign_items
from tests.campaigns.seed import REVIEWER, seed_campaign

WRITERS = 4
ITEMS = 50
DECISIONS: tuple[Decision, ...] = ("approve", "revoke", "abstain", "approve")


def writer(n: int) -> Reviewer:
    """Admins acting for the reviewer, so that each writer is someone else in the history."""
    return Reviewer(email=REVIEWER, actor=f"admin{n}@example.com", os_user=f"admin{n}", admin=True)


def in_parallel(store_url: str, work: Callable[[Store, int], object]) -> list[object]:
    """Run ``work(store, n)`` for every writer at once, each on its own Store; returns what
    each returned or raised."""
    start = threading.Barrier(WRITERS)
    results: list[object] = [None] * WRITERS

    def run(n: int) -> None:
        with Store.open(store_url) as own:
            start.wait()
            try:
                results[n] = work(own, n)
            except Exception as exc:  # collected for the test to look at
                results[n] = exc

    threads = [threading.Thread(target=run, args=(n,)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    return results


def campaign_of(store_url: str, count: int) -> int:
    with Store.open(store_url) as store:
        definition = CampaignDefinition(name="race", comment_required=())
        return seed_campaign(store, [{} for _ in range(count)], definition)


def state(store_url: str, campaign_id: int) -> tuple[list[Any], list[Any], audit.Verification]:
    with Store.open(store_url) as store, store.reading() as conn:
        items = list(
            conn.execute(
                select(campaign_items)
                .where(campaign_items.c.campaign_id == campaign_id)
                .order_by(campaign_items.c.item_id)
            )
        )
        history = list(
            conn.execute(
                select(campaign_history)
                .where(campaign_history.c.campaign_id == campaign_id)
                .order_by(campaign_history.c.id)
            )
        )
        return items, history, audit.verify(conn)


@pytest.mark.parametrize("round_", range(3))
def test_same_items_same_versions_one_winner_the_others_conflict(
    store_url: str, round_: int
) -> None:
    cid = campaign_of(store_url, ITEMS)
    ids = list(range(1, ITEMS + 1))
    seen = dict.fromkeys(ids, 0)

    def work(store: Store, n: int) -> int:
        return decide(store, cid, ids, DECISIONS[n], writer(n), seen_versions=seen)

    results = in_parallel(store_url, work)
    winners = [n for n, result in enumerate(results) if result == ITEMS]
    losers = [result for result in results if isinstance(result, Conflict)]
    assert len(winners) == 1, results
    assert len(losers) == WRITERS - 1, results
    winner = writer(winners[0])
    for conflict in losers:
        assert conflict.item_ids == tuple(ids)
        assert winner.actor in str(conflict)
    items, history, chain = state(store_url, cid)
    assert {(i.decision, i.decided_by, i.version) for i in items} == {
        (DECISIONS[winners[0]], winner.actor, 1)
    }
    assert len(history) == ITEMS
    assert {(h.actor, h.decision, h.details["version"]) for h in history} == {
        (winner.actor, DECISIONS[winners[0]], 1)
    }
    assert chain.ok and chain.records == 1


def test_parallel_writers_on_different_items_lose_nothing(store_url: str) -> None:
    per_writer = 25
    cid = campaign_of(store_url, WRITERS * per_writer)

    def work(store: Store, n: int) -> int:
        mine = range(n * per_writer + 1, (n + 1) * per_writer + 1)
        return sum(decide(store, cid, [i], DECISIONS[n], writer(n)) for i in mine)

    assert in_parallel(store_url, work) == [per_writer] * WRITERS
    items, history, chain = state(store_url, cid)
    for row in items:
        n = (row.item_id - 1) // per_writer
        assert (row.decision, row.decided_by, row.version) == (
            DECISIONS[n],
            writer(n).actor,
            1,
        )
    assert len(history) == len(items) == WRITERS * per_writer
    assert chain.ok and chain.records == WRITERS * per_writer


def test_read_then_decide_races_never_overwrite_silently(store_url: str) -> None:
    """Each writer reads the item's version, then decides at it, many times over: every
    decision that was accepted is in the history, in version order, and the item ends at the
    version of the last accepted one."""
    cid = campaign_of(store_url, 1)
    rounds = 10

    def work(store: Store, n: int) -> int:
        accepted = 0
        for _ in range(rounds):
            with store.reading() as conn:
                version = conn.execute(
                    select(campaign_items.c.version).where(campaign_items.c.campaign_id == cid)
                ).scalar_one()
            with contextlib.suppress(Conflict):
                accepted += decide(
                    store, cid, [1], DECISIONS[n], writer(n), seen_versions={1: version}
                )
        return accepted

    results = in_parallel(store_url, work)
    assert all(isinstance(r, int) for r in results), results
    accepted = sum(r for r in results if isinstance(r, int))
    (item,), history, chain = state(store_url, cid)
    assert accepted >= 1  # the first to commit saw the version it read
    assert item.version == accepted == len(history)
    assert [h.details["version"] for h in history] == list(range(1, accepted + 1))
    assert [h.details["previous"]["decided_by"] for h in history[1:]] == [
        h.actor for h in history[:-1]
    ]
    assert (item.decided_by, item.decision) == (history[-1].actor, history[-1].decision)
    with Store.open(store_url) as store, store.reading() as conn:
        records = conn.execute(select(func.count()).select_from(audit_log)).scalar_one()
    assert chain.ok and records == accepted
