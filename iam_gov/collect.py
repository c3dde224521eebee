"""Collection: run connectors, then store every snapshot in one transaction, or none."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from iam_gov import audit
from iam_gov.config import Config
from iam_gov.connectors import Connector, connector_class
from iam_gov.errors import InputError, SourceError
from iam_gov.model import SystemSnapshot
from iam_gov.store import Store
from iam_gov.store.people import record_changes
from iam_gov.store.snapshots import counts_of, save_snapshot
from iam_gov.timeutil import utcnow

ConnectorFactory = Callable[[str, Any], Connector[Any]]


def build_connector(system: str, options: Any) -> Connector[Any]:
    return connector_class(options.type)(system, options)


@dataclass(frozen=True)
class Collected:
    system: str
    snapshot_id: int
    snapshot: SystemSnapshot


def select_systems(config: Config, only: Sequence[str] | None) -> list[str]:
    if not only:
        return list(config.systems)
    unknown = [name for name in only if name not in config.systems]
    if unknown:
        raise InputError(
            f"{config.path}: no system named {', '.join(unknown)} "
            f"(configured: {', '.join(config.systems)})"
        )
    return list(dict.fromkeys(only))


def collect(
    config: Config,
    store: Store,
    only: Sequence[str] | None = None,
    *,
    factory: ConnectorFactory = build_connector,
) -> list[Collected]:
    """Collect the chosen systems (all by default).

    A connector whose input is unusable as a whole (an empty or truncated HR file, a broken
    export) stops the run before anything is written: a store never holds half a collection.
    Problems a connector could work around are kept in its snapshot, marked incomplete.
    """
    names = select_systems(config, only)
    snapshots: dict[str, SystemSnapshot] = {}
    problems: list[str] = []
    for name in names:
        connector = factory(name, config.systems[name])
        try:
            snapshot = connector.collect()
        except SourceError as exc:
            problems.extend(f"{name}: {p}" for p in exc.problems)
            continue
        inconsistent = integrity_problems(snapshot)
        problems.extend(f"{name}: {p}" for p in inconsistent)
        snapshots[name] = snapshot
    if problems:
        problems.append("nothing was stored; fix the input and run again")
        raise SourceError(problems)
    stored_at = utcnow()
    collected = []
    with store.writing() as conn:
        for name, snapshot in snapshots.items():
            sid = save_snapshot(conn, snapshot, stored_at)
            details = dict(_audit_details(sid, snapshot))
            if snapshot.people:
                details["people_changed"] = record_changes(conn, sid, snapshot)
            audit.append(conn, "collect", name, details)
            collected.append(Collected(name, sid, snapshot))
    return collected


def integrity_problems(snapshot: SystemSnapshot, limit: int = 5) -> list[str]:
    """What would make a snapshot contradict itself: the same key twice, or a grant or
    credential of an account that is not there. Such a snapshot is refused as a whole."""
    keys: dict[str, Iterable[object]] = {
        "person with employee id": (p.employee_id for p in snapshot.people),
        "account with native id": (a.native_id for a in snapshot.accounts),
        "credential": (c.credential_id for c in snapshot.credentials),
        "entitlement": (e.entitlement_id for e in snapshot.entitlements),
        "grant": ((g.account_id, g.entitlement_id, g.via) for g in snapshot.grants),
        "document": (d.document_id for d in snapshot.documents),
    }
    problems = []
    for what, values in keys.items():
        seen: set[object] = set()
        for value in values:
            if value in seen:
                problems.append(f"the same {what} {value} appears twice (a page read twice?)")
                break
            seen.add(value)
    account_ids = {a.native_id for a in snapshot.accounts}
    holders = {g.account_id for g in snapshot.grants} | {c.account_id for c in snapshot.credentials}
    dangling = sorted(holders - account_ids)
    if dangling:
        problems.append(
            f"{len(dangling)} grant or credential holder(s) are not among the accounts, "
            f"e.g. {dangling[0]}"
        )
    return problems[:limit]


def _audit_details(snapshot_id: int, snapshot: SystemSnapshot) -> Mapping[str, Any]:
    return {
        "snapshot_id": snapshot_id,
        "connector": snapshot.connector,
        "source": snapshot.source,
        "collected_at": snapshot.collected_at.isoformat(),
        "complete": snapshot.complete,
        "problems": len(snapshot.errors),
        "counts": counts_of(snapshot),
    }
