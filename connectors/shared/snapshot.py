"""Assembling a connector's snapshot with every list in one stable order, so that two collects
of the same data are equal record for record whatever order the system listed them in."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from iam_gov.model import (
    Account,
    Credential,
    Entitlement,
    Grant,
    PolicyDocument,
    SnapshotError,
    SystemSnapshot,
)


def ordered_snapshot(
    *,
    system: str,
    connector: str,
    source: str,
    collected_at: datetime,
    complete: bool,
    errors: Iterable[SnapshotError],
    accounts: Iterable[Account],
    credentials: Iterable[Credential] = (),
    entitlements: Iterable[Entitlement] = (),
    grants: Iterable[Grant] = (),
    documents: Iterable[PolicyDocument] = (),
    settings: Mapping[str, Any] | None = None,
) -> SystemSnapshot:
    """The snapshot, its records sorted by their ids (problems stay in the order met)."""
    return SystemSnapshot(
        system=system,
        connector=connector,
        source=source,
        collected_at=collected_at,
        complete=complete,
        errors=tuple(errors),
        accounts=tuple(sorted(accounts, key=lambda a: a.native_id)),
        credentials=tuple(sorted(credentials, key=lambda c: c.credential_id)),
        entitlements=tuple(sorted(entitlements, key=lambda e: e.entitlement_id)),
        grants=tuple(sorted(grants, key=lambda g: (g.account_id, g.entitlement_id, g.via or ""))),
        documents=tuple(sorted(documents, key=lambda d: d.document_id)),
        settings=dict(settings or {}),
    )
