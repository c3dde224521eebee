"""Every problem met reading the inputs, as `iam-gov problems` lists them: the errors each
stored snapshot keeps (rows left out, notes) and the collects that failed as a whole (the
system is stale: its previous snapshot stays the latest). Nothing is cut: the run summary
shows the first ten, this shows them all."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from rich.text import Text
from sqlalchemy import Connection

from iam_gov.store.snapshots import (
    SnapshotInfo,
    StaleInfo,
    latest_snapshots,
    snapshot_history,
    stale_systems,
)
from iam_gov.textsafe import csv_cell, printable

Kind = Literal["input", "collect-failed"]

FIELDS = (
    "system",
    "kind",
    "snapshot_id",
    "collected_at",
    "complete",
    "source",
    "line",
    "record",
    "message",
    "fatal",
    "failed_at",
    "failures",
)
"""The columns of the CSV and the keys of each JSON object, in this order."""


@dataclass(frozen=True)
class Problem:
    """One input problem of one system.

    ``kind`` is ``input`` for a problem a stored snapshot recorded (``snapshot_id``,
    ``collected_at`` and ``complete`` are that snapshot's), ``collect-failed`` for a system
    whose last collect failed as a whole (they are then of the snapshot still used instead,
    None when there is none, and ``failed_at``/``failures`` say since when and how often).
    """

    system: str
    kind: Kind
    snapshot_id: int | None
    collected_at: datetime | None
    complete: bool | None
    source: str
    line: int | None
    record: str | None
    message: str
    fatal: bool
    failed_at: datetime | None = None
    failures: int | None = None

    def where(self) -> str:
        """``source:line (record)``, as the run summary shows it."""
        where = self.source
        if self.line is not None:
            where += f":{self.line}"
        if self.record:
            where += f" ({self.record})"
        return where

    def as_dict(self) -> dict[str, Any]:
        return {
            "system": self.system,
            "kind": self.kind,
            "snapshot_id": self.snapshot_id,
            "collected_at": _iso(self.collected_at),
            "complete": self.complete,
            "source": self.source,
            "line": self.line,
            "record": self.record,
            "message": self.message,
            "fatal": self.fatal,
            "failed_at": _iso(self.failed_at),
            "failures": self.failures,
        }


@dataclass(frozen=True)
class ProblemList:
    """The problems of ``systems`` (sorted), and the snapshots they were read from."""

    systems: tuple[str, ...]
    snapshots: tuple[SnapshotInfo, ...]
    problems: tuple[Problem, ...]
    all_snapshots: bool = False


def list_problems(
    conn: Connection, systems: Collection[str], *, all_snapshots: bool = False
) -> ProblemList:
    """Every problem of the latest snapshot of each of ``systems`` (of every stored snapshot
    with ``all_snapshots``, newest first), and each of them whose last collect failed."""
    wanted = sorted(systems)
    if all_snapshots:
        infos = [i for i in snapshot_history(conn) if i.system in systems]
    else:
        latest = latest_snapshots(conn)
        infos = [latest[s] for s in wanted if s in latest]
    stale = {s: info for s, info in stale_systems(conn).items() if s in systems}
    by_system: dict[str, list[SnapshotInfo]] = {}
    for info in infos:
        by_system.setdefault(info.system, []).append(info)
    problems: list[Problem] = []
    for system in wanted:
        if system in stale:
            problems.append(_collect_failed(stale[system]))
        for info in by_system.get(system, ()):
            problems.extend(_input_problems(info))
    return ProblemList(tuple(wanted), tuple(infos), tuple(problems), all_snapshots)


def _input_problems(info: SnapshotInfo) -> Iterable[Problem]:
    for error in info.errors:
        yield Problem(
            system=info.system,
            kind="input",
            snapshot_id=info.id,
            collected_at=info.collected_at,
            complete=info.complete,
            source=error.source,
            line=error.line,
            record=error.record,
            message=error.message,
            fatal=error.fatal,
        )


def _collect_failed(stale: StaleInfo) -> Problem:
    snapshot = stale.snapshot
    return Problem(
        system=stale.system,
        kind="collect-failed",
        snapshot_id=None if snapshot is None else snapshot.id,
        collected_at=None if snapshot is None else snapshot.collected_at,
        complete=None if snapshot is None else snapshot.complete,
        source="collect",
        line=None,
        record=None,
        message=stale.reason,
        fatal=True,
        failed_at=stale.failed_at,
        failures=stale.failures,
    )


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _when(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"


# --- renderers ----------------------------------------------------------------------------


def problems_text(found: ProblemList) -> Text:
    """Plain lines, one per problem, grouped by system and snapshot; every string printable
    and nothing cut (long lines are for the terminal to wrap)."""
    text = Text()
    if not found.problems:
        which = "stored" if found.all_snapshots else "latest"
        text.append(
            f"no input problems in the {which} snapshots of {len(found.systems)} system(s)\n",
            style="green",
        )
        return text
    heading: tuple[str, int | None] | None = None
    for problem in found.problems:
        if problem.kind == "collect-failed":
            heading = None
            text.append_text(_failure_line(problem))
            continue
        if heading != (problem.system, problem.snapshot_id):
            heading = (problem.system, problem.snapshot_id)
            text.append_text(_snapshot_heading(problem, found.snapshots))
        text.append(f"  {printable(problem.where())}: ", style="dim")
        text.append(f"{printable(problem.message)}\n")
    systems = len({p.system for p in found.problems})
    text.append(
        f"{len(found.problems)} problem(s) in {systems} of {len(found.systems)} system(s)\n",
        style="bold yellow",
    )
    return text


def _snapshot_heading(problem: Problem, snapshots: Sequence[SnapshotInfo]) -> Text:
    count = sum(len(i.errors) for i in snapshots if i.id == problem.snapshot_id)
    line = Text()
    line.append(printable(problem.system), style="bold")
    moment = "" if problem.collected_at is None else f" of {_when(problem.collected_at)}"
    line.append(f": snapshot #{problem.snapshot_id}{moment}, ")
    if problem.complete:
        line.append("complete", style="green")
    else:
        line.append("INCOMPLETE", style="bold yellow")
    line.append(f", {count} problem(s)\n")
    return line


def _failure_line(problem: Problem) -> Text:
    line = Text()
    line.append(printable(problem.system), style="bold red")
    line.append(": COLLECT FAILED", style="bold red")
    if problem.failed_at is not None:
        tries = f", {problem.failures} tries" if (problem.failures or 0) > 1 else ""
        line.append(f" (since {_when(problem.failed_at)}{tries})")
    line.append(f": {printable(problem.message)}\n")
    line.append("  ")
    if problem.collected_at is None:
        line.append("no earlier snapshot: the system is not evaluated\n", style="yellow")
    else:
        state = "complete" if problem.complete else "INCOMPLETE"
        line.append(
            f"its snapshot #{problem.snapshot_id} of {_when(problem.collected_at)} ({state}) "
            "stays the latest\n",
            style="yellow",
        )
    return line


def problems_json(found: ProblemList) -> str:
    """A JSON list of objects (``FIELDS``), ASCII only."""
    return json.dumps([p.as_dict() for p in found.problems], indent=2, ensure_ascii=True) + "\n"


def problems_csv(found: ProblemList) -> str:
    """A header and a row per problem; every cell printable and never a formula."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(FIELDS)
    for problem in found.problems:
        row: Mapping[str, Any] = problem.as_dict()
        writer.writerow([_cell(row[field]) for field in FIELDS])
    return buffer.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return csv_cell(value)
