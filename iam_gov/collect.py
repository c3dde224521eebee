"""Collection: run connectors, then store every snapshot in one transaction, or none."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from iam_gov import audit
from iam_gov.config import Config
from iam_gov.connectors import Connector, connector_class
from iam_gov.errors import InputError, SourceError
from iam_gov.model import SystemSnapshot
from iam_gov.store import Store
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
            snapshots[name] = connector.collect()
        except SourceError as exc:
            problems.extend(f"{name}: {p}" for p in exc.problems)
    if problems:
        problems.append("nothing was stored; fix the input and run again")
        raise SourceError(problems)
    stored_at = utcnow()
    collected = []
    with store.writing() as conn:
        for name, snapshot in snapshots.items():
            sid = save_snapshot(conn, snapshot, stored_at)
            audit.append(conn, "collect", name, _audit_details(sid, snapshot))
            collected.append(Collected(name, sid, snapshot))
    return collected


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
