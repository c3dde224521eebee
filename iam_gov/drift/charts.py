"""The drift report's chart series (``Charts``): open findings per severity and per system at
each of the last evaluations, accounts per system in the snapshots each evaluated, and the
leavers of each month of the last year by how their access ended.

Rows are counted by the database (``GROUP BY`` over ``evaluation_findings``); accounts come
from the counts each snapshot stored with itself. The leaver SLA series is the leavers
report's (``iam_gov.deprovision.leavers``), bucketed by the month of each termination.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Final

from sqlalchemy import Connection, func, select

from iam_gov.config import Config
from iam_gov.deprovision.leavers import LeaversReport, leavers_report
from iam_gov.drift.model import Charts, Point
from iam_gov.engine.state import EvaluationState
from iam_gov.errors import IamGovError
from iam_gov.model import Severity
from iam_gov.policy import Policy
from iam_gov.store import Store
from iam_gov.store.schema import evaluation_findings, evaluations, findings, snapshots
from iam_gov.timeutil import as_utc

EVALUATIONS: Final = 60
"""How many of the latest evaluations the findings and accounts charts show."""
LEAVER_MONTHS: Final = 12
"""How many months (this one included) the leaver SLA chart shows."""
NO_SYSTEM: Final = "(no system)"
"""The series of findings about a person rather than one system (separation of duties …)."""
WITHIN, OVER, STILL_ACTIVE = "within", "over", "still active"
SEVERITIES: Final = tuple(sorted(Severity, key=lambda s: -s.rank))


def compute_charts(
    store: Store,
    config: Config,
    policy: Policy,
    *,
    now: datetime,
    evaluations_shown: int = EVALUATIONS,
    leaver_months: int = LEAVER_MONTHS,
    state: EvaluationState | None = None,
) -> Charts:
    with store.reading() as conn:
        chosen = _last_evaluations(conn, evaluations_shown)
        by_severity, by_system = findings_series(conn, chosen)
        accounts = accounts_series(conn, chosen, list(config.systems), config.hr_system)
    return Charts(
        findings_by_severity=by_severity,
        findings_by_system=by_system,
        accounts_per_system=accounts,
        leaver_sla=leaver_sla_series(
            store, config, policy, now=now, months=leaver_months, state=state
        ),
    )


def _last_evaluations(conn: Connection, limit: int) -> list[tuple[int, datetime, dict[str, int]]]:
    """(id, finished at, snapshot ids) of the last ``limit`` evaluations, oldest first."""
    rows = conn.execute(
        select(evaluations.c.id, evaluations.c.finished_at, evaluations.c.snapshot_ids)
        .order_by(evaluations.c.id.desc())
        .limit(limit)
    ).all()
    return [
        (
            int(row.id),
            as_utc(row.finished_at),
            {str(k): int(v) for k, v in row.snapshot_ids.items()},
        )
        for row in reversed(rows)
    ]


def findings_series(
    conn: Connection, chosen: Sequence[tuple[int, datetime, dict[str, int]]]
) -> tuple[list[Point], list[Point]]:
    """Open findings at each evaluation, per severity (every severity, zero included) and
    per system (every system seen in the window, zero included): one ``GROUP BY``. A
    finding counts with the severity it has now (the store keeps its latest)."""
    if not chosen:
        return [], []
    ids = [evaluation_id for evaluation_id, _, _ in chosen]
    ef, f = evaluation_findings.c, findings.c
    rows = conn.execute(
        select(ef.evaluation_id, f.severity, f.system, func.count().label("n"))
        .select_from(evaluation_findings.join(findings, findings.c.finding_id == ef.finding_id))
        .where(ef.evaluation_id >= min(ids), ef.evaluation_id <= max(ids))
        .group_by(ef.evaluation_id, f.severity, f.system)
    ).all()
    severity: dict[int, dict[str, int]] = {i: {s.value: 0 for s in SEVERITIES} for i in ids}
    system: dict[int, dict[str, int]] = {i: {} for i in ids}
    names: set[str] = set()
    for row in rows:
        evaluation_id = int(row.evaluation_id)
        if evaluation_id not in severity:
            continue
        n = int(row.n)
        per = severity[evaluation_id]
        per[row.severity] = per.get(row.severity, 0) + n
        name = row.system or NO_SYSTEM
        names.add(name)
        system[evaluation_id][name] = system[evaluation_id].get(name, 0) + n
    ordered = sorted(names, key=lambda name: (name == NO_SYSTEM, name))
    return (
        [Point(at=at, values=severity[i]) for i, at, _ in chosen],
        [Point(at=at, values={n: system[i].get(n, 0) for n in ordered}) for i, at, _ in chosen],
    )


def accounts_series(
    conn: Connection,
    chosen: Sequence[tuple[int, datetime, dict[str, int]]],
    systems: Sequence[str],
    hr: str,
) -> list[Point]:
    """Accounts in each configured system's snapshot at each evaluation, from the counts the
    snapshot stored (no rows are counted again). A system an evaluation had no data of is
    left out of that point, not shown as zero."""
    wanted = {sid for _, _, ids in chosen for name, sid in ids.items() if name != hr}
    counts: dict[int, int] = {}
    listed = sorted(wanted)
    for start in range(0, len(listed), 500):
        for row in conn.execute(
            select(snapshots.c.id, snapshots.c.counts).where(
                snapshots.c.id.in_(listed[start : start + 500])
            )
        ):
            counts[int(row.id)] = int(dict(row.counts).get("accounts", 0))
    points = []
    for _, at, ids in chosen:
        values = {
            name: counts[ids[name]]
            for name in systems
            if name != hr and name in ids and ids[name] in counts
        }
        points.append(Point(at=at, values=values))
    return points


def _month_starts(today: date, months: int) -> list[date]:
    first = today.replace(day=1)
    out = []
    for back in range(months - 1, -1, -1):
        index = first.year * 12 + first.month - 1 - back
        out.append(date(index // 12, index % 12 + 1, 1))
    return out


def leaver_sla_series(
    store: Store,
    config: Config,
    policy: Policy,
    *,
    now: datetime,
    months: int = LEAVER_MONTHS,
    state: EvaluationState | None = None,
) -> list[Point]:
    """Leavers by the month their termination took effect (this month and the ones before):
    ``within`` the SLA, ``over`` it (or without evidence that access ended), ``still
    active``. From the leavers report; empty when it cannot be made (no HR data yet)."""
    if months < 1:
        return []
    starts = _month_starts(as_utc(now).date(), months)
    try:
        at = as_utc(now)
        report = leavers_report(
            store, config, policy, since=starts[0], until=at.date(), now=at, state=state
        )
    except IamGovError:
        return []
    return leaver_points(report, starts)


def leaver_points(report: LeaversReport, starts: Sequence[date]) -> list[Point]:
    buckets = {start: {WITHIN: 0, OVER: 0, STILL_ACTIVE: 0} for start in starts}
    for leaver in report.leavers:
        month = leaver.terminated_at.date().replace(day=1)
        bucket = buckets.get(month)
        if bucket is None:
            continue
        if STILL_ACTIVE in leaver.flags:
            bucket[STILL_ACTIVE] += 1
        elif leaver.within_sla:
            bucket[WITHIN] += 1
        else:
            bucket[OVER] += 1
    return [
        Point(at=datetime(start.year, start.month, 1, tzinfo=UTC), values=values)
        for start, values in buckets.items()
    ]
