"""A connector's snapshot in one stable order, whatever order the system listed things in."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from iam_gov.connectors.shared.snapshot import ordered_snapshot
from iam_gov.model import Account, AccountStatus, Entitlement, Grant, SnapshotError, SystemSnapshot

NOW = datetime(2026, 11, 27, tzinfo=UTC)


def snapshot(seed: int) -> SystemSnapshot:
    accounts = [
        Account(system="s", native_id=f"u{i}", login=f"u{i}", status=AccountStatus.ACTIVE)
        for i in range(5)
    ]
    entitlements = [
        Entitlement(system="s", entitlement_id=f"g{i}", name="g", kind="group") for i in range(3)
    ]
    grants = [
        Grant(system="s", account_id=f"u{i}", entitlement_id=f"g{j}", via=via)
        for i in range(5)
        for j in range(3)
        for via in (None, "g0")
    ]
    errors = [
        SnapshotError(source="b", message="second"),
        SnapshotError(source="a", message="first"),
    ]
    shuffle = random.Random(seed).shuffle
    for items in (accounts, entitlements, grants):
        shuffle(items)
    return ordered_snapshot(
        system="s",
        connector="test",
        source="live",
        collected_at=NOW,
        complete=True,
        errors=errors,
        accounts=accounts,
        entitlements=entitlements,
        grants=grants,
    )


def test_the_same_data_listed_in_any_order_makes_the_same_snapshot() -> None:
    first = snapshot(1)

    assert all(snapshot(seed) == first for seed in range(2, 12))
    assert [e.message for e in first.errors] == ["second", "first"]  # as met
