"""Retention: old snapshots and old drift reports go; whatever is still referred to stays.

A snapshot is deleted when it is older than ``keep_days`` *and* not among the newest
``keep_runs`` snapshots of its system, unless something refers to it:

* the newest snapshot of its system (always kept, whatever its age);
* a pinned baseline (``baselines.snapshot_ids``);
* a campaign, open or closed (``campaigns.snapshot_ids``: its evidence reads them);
* a deprovisioning run's plan (``deprovision_runs.plan`` → ``basis[].snapshot_id``);
* a drift report that is kept (its ``snapshot_ids`` and its baseline's);
* the latest evaluation (``evaluations.snapshot_ids``: what campaigns launch from).

Its rows go with it, table by table (every table whose foreign key names ``snapshots.id``,
found from the schema: people, accounts, credentials, entitlements, grants, documents, person
changes), then the snapshot row; the foreign keys' ``ON DELETE CASCADE`` is the safety net.

Evaluations, findings and their links are kept: findings point at their last evaluation, and
an evaluation is a few rows beside its snapshots. An old evaluation's ``snapshot_ids`` may
then name snapshots that are gone. Sampled sign-in data (VPN status files) is only as long
as the snapshots kept: ``keep_days`` should exceed the dormancy thresholds of the policy.

Drift reports: rows of ``drift_reports`` beyond the newest ``keep_runs`` and older than
``keep_days`` are deleted, and so are the report folders under the reports folder that are
(by the date in their names: ``YYYY-MM-DDTHHMMSSZ`` with an optional ``-N``) — only such
folders, never a symbolic link, the ``latest`` link, or any other file. A folder a kept row
names is kept.

The audit log is never touched; each prune appends one ``retention.prune`` record with what
it deleted, in the same transaction as the deletes. Folders are removed after the
transaction commits (a folder that cannot be removed is listed in ``problems`` and goes next
time); a dry run deletes nothing and says what would go.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Connection, Table, delete, func, select

from iam_gov import audit
from iam_gov.config import RetentionSettings
from iam_gov.drift.deliver import folder_time
from iam_gov.store import Store
from iam_gov.store.schema import (
    baselines,
    campaigns,
    deprovision_runs,
    drift_reports,
    evaluations,
    metadata,
    snapshots,
)
from iam_gov.timeutil import as_utc, utcnow

CHUNK = 500
"""Snapshot ids per DELETE statement."""


@dataclass
class PruneResult:
    dry_run: bool
    cutoff: datetime
    """Older than this is old (``now - keep_days``)."""
    snapshots: list[int] = field(default_factory=list)
    """Snapshot ids deleted (on a dry run: that would be)."""
    by_system: dict[str, int] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    """Rows deleted with the snapshots, per table."""
    referenced: dict[int, list[str]] = field(default_factory=dict)
    """Old snapshots kept because something refers to them: id -> what (``baseline q1``)."""
    reports: list[int] = field(default_factory=list)
    """``drift_reports`` rows deleted."""
    folders: list[Path] = field(default_factory=list)
    """Report folders removed (on a dry run: that would be)."""
    problems: list[str] = field(default_factory=list)
    """Report folders that could not be removed (they go on the next prune)."""


@dataclass(frozen=True)
class _Plan:
    snapshot_rows: list[tuple[int, str]]
    referenced: dict[int, list[str]]
    rows: dict[str, int]
    reports: list[int]
    folders: list[Path]


def prune(
    store: Store,
    settings: RetentionSettings,
    *,
    reports_root: Path | None,
    now: datetime | None = None,
    dry_run: bool = False,
    actor: str | None = None,
) -> PruneResult:
    """Delete what ``settings`` no longer keeps (see the module's docstring), in one
    transaction, then the report folders under ``reports_root`` (None: no folder is touched,
    only the store's rows)."""
    at = as_utc(now) if now is not None else utcnow()
    cutoff = at - timedelta(days=settings.keep_days)
    if dry_run:
        with store.reading() as conn:
            plan = _plan(conn, settings, cutoff, reports_root, count_rows=True)
        return _result(plan, cutoff, dry_run=True)
    with store.writing() as conn:
        plan = _plan(conn, settings, cutoff, reports_root, count_rows=False)
        rows = _delete_snapshots(conn, [sid for sid, _ in plan.snapshot_rows])
        plan = _Plan(plan.snapshot_rows, plan.referenced, rows, plan.reports, plan.folders)
        for chunk in _chunks(plan.reports):
            conn.execute(delete(drift_reports).where(drift_reports.c.id.in_(chunk)))
        result = _result(plan, cutoff, dry_run=False)
        audit.append(
            conn,
            "retention.prune",
            "retention",
            {
                "keep_days": settings.keep_days,
                "keep_runs": settings.keep_runs,
                "cutoff": cutoff.isoformat(),
                "snapshots": len(result.snapshots),
                "snapshot_ids": result.snapshots,
                "by_system": result.by_system,
                "rows": result.rows,
                "kept_referenced": len(result.referenced),
                "reports": len(result.reports),
                "report_ids": result.reports,
                "folders": [p.name for p in result.folders],
            },
            actor=actor,
            at=at,
        )
    result.folders, result.problems = _remove_folders(plan.folders)
    return result


def _result(plan: _Plan, cutoff: datetime, *, dry_run: bool) -> PruneResult:
    by_system: dict[str, int] = {}
    for _, system in plan.snapshot_rows:
        by_system[system] = by_system.get(system, 0) + 1
    return PruneResult(
        dry_run=dry_run,
        cutoff=cutoff,
        snapshots=sorted(sid for sid, _ in plan.snapshot_rows),
        by_system=dict(sorted(by_system.items())),
        rows=plan.rows,
        referenced=plan.referenced,
        reports=plan.reports,
        folders=list(plan.folders),
    )


# --- what goes ----------------------------------------------------------------------------


def _plan(
    conn: Connection,
    settings: RetentionSettings,
    cutoff: datetime,
    reports_root: Path | None,
    *,
    count_rows: bool,
) -> _Plan:
    kept_reports, old_reports = _report_rows(conn, settings, cutoff)
    references = _references(conn, kept_reports)
    candidates = _old_snapshots(conn, settings, cutoff)
    doomed: list[tuple[int, str]] = []
    referenced: dict[int, list[str]] = {}
    for sid, system in candidates:
        why = references.get(sid)
        if why:
            referenced[sid] = sorted(why)
        else:
            doomed.append((sid, system))
    rows = _count_rows(conn, [sid for sid, _ in doomed]) if count_rows else {}
    kept_folders = {_real(Path(row.folder)) for row in kept_reports if isinstance(row.folder, str)}
    folders = (
        _old_folders(reports_root, settings, cutoff, kept_folders)
        if reports_root is not None
        else []
    )
    return _Plan(doomed, referenced, rows, [row.id for row in old_reports], folders)


def _report_rows(
    conn: Connection, settings: RetentionSettings, cutoff: datetime
) -> tuple[list[Any], list[Any]]:
    """The ``drift_reports`` rows kept (the newest ``keep_runs``, and any younger than the
    cutoff) and those that go."""
    rows = conn.execute(
        select(
            drift_reports.c.id,
            drift_reports.c.made_at,
            drift_reports.c.folder,
            drift_reports.c.baseline,
            drift_reports.c.snapshot_ids,
        ).order_by(drift_reports.c.made_at.desc(), drift_reports.c.id.desc())
    ).all()
    kept: list[Any] = []
    old: list[Any] = []
    for rank, row in enumerate(rows):
        (kept if rank < settings.keep_runs or row.made_at >= cutoff else old).append(row)
    return kept, old


def _references(conn: Connection, kept_reports: Sequence[Any]) -> dict[int, set[str]]:
    """Snapshot id -> what refers to it."""
    found: dict[int, set[str]] = {}

    def add(ids: Iterable[int], why: str) -> None:
        for sid in ids:
            found.setdefault(sid, set()).add(why)

    for row in conn.execute(select(baselines.c.name, baselines.c.snapshot_ids)):
        add(_ids(row.snapshot_ids), f"baseline {row.name}")
    for row in conn.execute(
        select(campaigns.c.id, campaigns.c.snapshot_ids).where(
            campaigns.c.snapshot_ids.is_not(None)
        )
    ):
        add(_ids(row.snapshot_ids), f"campaign {row.id}")
    basis = deprovision_runs.c.plan["basis"]
    for row in conn.execute(select(deprovision_runs.c.id, basis.label("basis"))):
        entries = row.basis if isinstance(row.basis, list) else []
        add(
            _ids([e.get("snapshot_id") for e in entries if isinstance(e, dict)]),
            f"deprovisioning run {row.id}",
        )
    for row in kept_reports:
        add(_ids(row.snapshot_ids), f"drift report {row.id}")
        baseline = row.baseline if isinstance(row.baseline, dict) else {}
        add(_ids(baseline.get("snapshot_ids")), f"drift report {row.id} (its baseline)")
    latest = conn.execute(
        select(evaluations.c.id, evaluations.c.snapshot_ids)
        .order_by(evaluations.c.id.desc())
        .limit(1)
    ).one_or_none()
    if latest is not None:
        add(_ids(latest.snapshot_ids), f"evaluation {latest.id} (the latest)")
    return found


def _ids(value: Any) -> set[int]:
    """Snapshot ids from a JSON value: ``{system: id}`` or a list of ids."""
    values: Iterable[Any]
    if isinstance(value, dict):
        values = value.values()
    elif isinstance(value, list):
        values = value
    else:
        return set()
    out: set[int] = set()
    for item in values:
        if isinstance(item, bool):
            continue
        if isinstance(item, int):
            out.add(item)
        elif isinstance(item, str) and item.isdigit():
            out.add(int(item))
    return out


def _old_snapshots(
    conn: Connection, settings: RetentionSettings, cutoff: datetime
) -> list[tuple[int, str]]:
    """(id, system) of each snapshot older than the cutoff and not among the newest
    ``keep_runs`` of its system (so never the newest of a system)."""
    ranked = select(
        snapshots.c.id,
        snapshots.c.system,
        snapshots.c.collected_at,
        func.row_number()
        .over(
            partition_by=snapshots.c.system,
            order_by=(snapshots.c.collected_at.desc(), snapshots.c.id.desc()),
        )
        .label("rank"),
    ).subquery()
    query = (
        select(ranked.c.id, ranked.c.system)
        .where(ranked.c.rank > settings.keep_runs, ranked.c.collected_at < cutoff)
        .order_by(ranked.c.id)
    )
    return [(row.id, row.system) for row in conn.execute(query)]


def _snapshot_children() -> list[tuple[Table, Column[Any]]]:
    """Every table with a foreign key to ``snapshots.id``, and that key's column."""
    out: list[tuple[Table, Column[Any]]] = []
    for table in metadata.sorted_tables:
        for fk in table.foreign_keys:
            if fk.column is snapshots.c.id:
                out.append((table, fk.parent))
    return out


def _chunks(ids: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def _count_rows(conn: Connection, ids: Sequence[int]) -> dict[str, int]:
    counts = {table.name: 0 for table, _ in _snapshot_children()}
    for chunk in _chunks(ids):
        for table, column in _snapshot_children():
            n = conn.execute(select(func.count()).select_from(table).where(column.in_(chunk)))
            counts[table.name] += int(n.scalar_one())
    return counts


def _delete_snapshots(conn: Connection, ids: Sequence[int]) -> dict[str, int]:
    """Set-based: per chunk of ids, one DELETE per child table, then the snapshots."""
    counts = {table.name: 0 for table, _ in _snapshot_children()}
    for chunk in _chunks(ids):
        for table, column in _snapshot_children():
            counts[table.name] += conn.execute(delete(table).where(column.in_(chunk))).rowcount
        conn.execute(delete(snapshots).where(snapshots.c.id.in_(chunk)))
    return counts


# --- report folders -----------------------------------------------------------------------


def _real(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return path.absolute()


def _old_folders(
    root: Path, settings: RetentionSettings, cutoff: datetime, kept: set[Path]
) -> list[Path]:
    """Report folders directly under ``root`` (named by the pattern, real folders, not
    links) beyond the newest ``keep_runs`` and older than the cutoff, not named by a kept
    report row."""
    try:
        entries = list(os.scandir(root))
    except FileNotFoundError:
        return []
    dated: list[tuple[datetime, int, Path]] = []
    for entry in entries:
        when = folder_time(entry.name)
        if when is None or entry.is_symlink() or not entry.is_dir(follow_symlinks=False):
            continue
        _, _, suffix = entry.name.partition("Z-")
        dated.append((when, int(suffix) if suffix.isdigit() else 1, Path(entry.path)))
    dated.sort(reverse=True)
    old: list[Path] = []
    for rank, (when, _, path) in enumerate(dated):
        if rank < settings.keep_runs or when >= cutoff or _real(path) in kept:
            continue
        old.append(path)
    return sorted(old)


def _remove_folders(folders: Sequence[Path]) -> tuple[list[Path], list[str]]:
    removed: list[Path] = []
    problems: list[str] = []
    for path in folders:
        if path.is_symlink() or folder_time(path.name) is None:
            continue  # checked again: nothing but a report folder is ever removed
        try:
            shutil.rmtree(path)
        except FileNotFoundError:
            continue
        except OSError as exc:
            problems.append(f"{path}: cannot be removed: {exc.strerror or exc}")
            continue
        removed.append(path)
    return removed, problems
