"""Evaluations and findings in the store: stable ids, first/last seen, resolution."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, select, update

from iam_gov.correlate import AccountLink
from iam_gov.model import Finding, Severity
from iam_gov.store.bulk import bulk_insert, chunks, insert_plain
from iam_gov.store.schema import (
    account_links,
    evaluation_findings,
    evaluations,
    findings,
    snapshots,
)
from iam_gov.timeutil import as_utc

# Columns an evaluation refreshes on a finding seen again (first_seen and rule_id never change).
UPDATED = (
    "severity",
    "system",
    "subject",
    "person_id",
    "message",
    "evidence",
    "last_seen",
    "last_evaluation_id",
)


@dataclass(frozen=True)
class Recorded:
    evaluation_id: int
    new: int
    still_open: int
    reopened: int
    resolved: int
    kept_open: int
    """Open findings not seen this time whose data was incomplete: not called resolved."""


def record_evaluation(
    conn: Connection,
    *,
    started_at: datetime,
    finished_at: datetime,
    snapshot_ids: dict[str, int],
    policy_digest: str,
    summary: dict[str, Any],
    links: Iterable[AccountLink],
    current: Sequence[Finding],
    can_resolve: Callable[[str, str | None], bool],
) -> Recorded:
    """Store one evaluation, in the caller's transaction.

    ``can_resolve(rule_id, system)`` says whether an open finding that was not seen again may
    be called resolved: not when its rule did not run or its system's data was incomplete.
    """
    evaluation_id: int = conn.execute(
        evaluations.insert()
        .values(
            started_at=started_at,
            finished_at=finished_at,
            snapshot_ids=snapshot_ids,
            policy_digest=policy_digest,
            summary=summary,
        )
        .returning(evaluations.c.id)
    ).scalar_one()
    insert_plain(
        conn,
        account_links,
        ("evaluation_id", "system", "account_id", "person_id", "kind", "method", "confidence"),
        (
            (
                evaluation_id,
                link.system,
                link.account_id,
                link.person_id,
                link.kind.value,
                link.method,
                link.confidence.value,
            )
            for link in links
        ),
    )

    known = {
        row.finding_id: row
        for row in conn.execute(
            select(
                findings.c.finding_id,
                findings.c.rule_id,
                findings.c.system,
                findings.c.resolved_at,
            )
        )
    }
    current_ids = {f.finding_id for f in current}
    new_rows, seen_rows = [], []
    reopened = 0
    for f in current:
        row = _finding_row(f, finished_at, evaluation_id)
        previous = known.get(f.finding_id)
        if previous is None:
            new_rows.append({**row, "first_seen": finished_at})
        else:
            reopened += previous.resolved_at is not None
            seen_rows.append({f"b_{k}": v for k, v in row.items()})
    bulk_insert(conn, findings, new_rows)
    if seen_rows:
        statement = (
            update(findings)
            .where(findings.c.finding_id == bindparam("b_finding_id"))
            .values(
                {**{column: bindparam(f"b_{column}") for column in UPDATED}, "resolved_at": None}
            )
        )
        for chunk in chunks(seen_rows):
            conn.execute(statement, list(chunk))

    resolved, kept_open = [], 0
    for fid, old in known.items():
        if fid in current_ids or old.resolved_at is not None:
            continue
        if can_resolve(old.rule_id, old.system):
            resolved.append(fid)
        else:
            kept_open += 1
    for chunk in chunks(resolved):
        conn.execute(
            update(findings).where(findings.c.finding_id.in_(chunk)).values(resolved_at=finished_at)
        )
    insert_plain(
        conn,
        evaluation_findings,
        ("evaluation_id", "finding_id"),
        ((evaluation_id, fid) for fid in current_ids),
    )
    return Recorded(
        evaluation_id=evaluation_id,
        new=len(new_rows),
        still_open=len(seen_rows) - reopened,
        reopened=reopened,
        resolved=len(resolved),
        kept_open=kept_open,
    )


@dataclass(frozen=True)
class FindingFilter:
    rules: tuple[str, ...] = ()
    min_severity: Severity | None = None
    systems: tuple[str, ...] = ()
    person: str | None = None
    include_resolved: bool = False


def list_findings(conn: Connection, where: FindingFilter = FindingFilter()) -> list[Finding]:
    query = select(findings)
    if not where.include_resolved:
        query = query.where(findings.c.resolved_at.is_(None))
    if where.rules:
        query = query.where(findings.c.rule_id.in_(where.rules))
    if where.systems:
        query = query.where(findings.c.system.in_(where.systems))
    if where.person:
        query = query.where(findings.c.person_id == where.person)
    if where.min_severity is not None:
        allowed = [s.value for s in Severity if s.rank >= where.min_severity.rank]
        query = query.where(findings.c.severity.in_(allowed))
    out = [finding_of_row(r) for r in conn.execute(query)]
    out.sort(key=lambda f: (-f.severity.rank, f.rule_id, f.subject))
    return out


_AS_STORED: Any = object()


def finding_of_row(
    row: Any, *, last_seen: Any = _AS_STORED, resolved_at: Any = _AS_STORED
) -> Finding:
    """A ``findings`` row as a ``Finding`` (not validated again: the store wrote it);
    ``last_seen`` and ``resolved_at`` as given when they are worked out for another time."""
    return Finding.model_construct(
        finding_id=row.finding_id,
        rule_id=row.rule_id,
        severity=Severity(row.severity),
        system=row.system,
        subject=row.subject,
        person_id=row.person_id,
        message=row.message,
        evidence=row.evidence,
        first_seen=row.first_seen,
        last_seen=row.last_seen if last_seen is _AS_STORED else last_seen,
        resolved_at=row.resolved_at if resolved_at is _AS_STORED else resolved_at,
    )


def evaluation_as_of(conn: Connection, at: datetime) -> dict[str, Any] | None:
    """The last evaluation recorded at or before ``at`` (by when it finished), or None."""
    row = conn.execute(
        select(evaluations)
        .where(evaluations.c.finished_at <= at)
        .order_by(evaluations.c.finished_at.desc(), evaluations.c.id.desc())
        .limit(1)
    ).one_or_none()
    return None if row is None else dict(row._mapping)


def findings_as_of(
    conn: Connection, at: datetime, where: FindingFilter = FindingFilter()
) -> list[Finding] | None:
    """The findings that were open at ``at`` by the recorded history (``include_resolved``:
    also those first seen by then and resolved by then), with ``last_seen`` and
    ``resolved_at`` as they stood then; None if no evaluation had been recorded by then.
    Severity, message and evidence are as last recorded.

    Open at ``at``: first seen by then and not resolved by then. A finding the last evaluation
    before ``at`` saw was open. One not seen since ``at`` was open unless its resolution came
    by then (it has at most one since it was last seen). One not seen by that evaluation but
    seen again after ``at`` may have been resolved in between and reopened, which the findings
    table does not keep: its resolution is worked out again, from the evaluations since it was
    last seen by then, as ``record_evaluation`` decides it (``_could_resolve``)."""
    last = evaluation_as_of(conn, at)
    if last is None:
        return None
    query = select(findings).where(findings.c.first_seen <= at)
    if where.rules:
        query = query.where(findings.c.rule_id.in_(where.rules))
    if where.systems:
        query = query.where(findings.c.system.in_(where.systems))
    if where.person:
        query = query.where(findings.c.person_id == where.person)
    if where.min_severity is not None:
        allowed = [s.value for s in Severity if s.rank >= where.min_severity.rank]
        query = query.where(findings.c.severity.in_(allowed))
    rows = list(conn.execute(query))
    seen_last = {
        fid
        for (fid,) in conn.execute(
            select(evaluation_findings.c.finding_id).where(
                evaluation_findings.c.evaluation_id == last["id"]
            )
        )
    }
    ambiguous = [r for r in rows if r.finding_id not in seen_last and r.last_seen > at]
    reworked = _resolutions_by(conn, at, ambiguous)
    out = []
    for r in rows:
        last_seen: datetime = r.last_seen
        resolved_at: datetime | None = None
        if r.finding_id in seen_last:
            last_seen = last["finished_at"]
        elif r.last_seen <= at:
            resolved_at = (
                r.resolved_at if r.resolved_at is not None and r.resolved_at <= at else None
            )
        else:
            last_seen, resolved_at = reworked.get(r.finding_id, (r.first_seen, None))
        if resolved_at is not None and not where.include_resolved:
            continue
        out.append(finding_of_row(r, last_seen=last_seen, resolved_at=resolved_at))
    out.sort(key=lambda f: (-f.severity.rank, f.rule_id, f.subject))
    return out


def _resolutions_by(
    conn: Connection, at: datetime, rows: Sequence[Any]
) -> dict[str, tuple[datetime, datetime | None]]:
    """For findings not seen by the last evaluation before ``at`` but seen again after it:
    when each was last seen by ``at``, and the first evaluation since then, by ``at``, that
    could call it resolved (None: it was kept open)."""
    if not rows:
        return {}
    last_seen: dict[str, datetime] = {}
    for chunk in chunks([r.finding_id for r in rows]):
        for fid, seen in conn.execute(
            select(evaluation_findings.c.finding_id, func.max(evaluations.c.finished_at))
            .join(evaluations, evaluations.c.id == evaluation_findings.c.evaluation_id)
            .where(evaluations.c.finished_at <= at, evaluation_findings.c.finding_id.in_(chunk))
            .group_by(evaluation_findings.c.finding_id)
        ):
            last_seen[fid] = as_utc(seen)
    earliest = min(last_seen.values(), default=at)
    between = list(
        conn.execute(
            select(evaluations.c.finished_at, evaluations.c.snapshot_ids, evaluations.c.summary)
            .where(evaluations.c.finished_at > earliest, evaluations.c.finished_at <= at)
            .order_by(evaluations.c.finished_at, evaluations.c.id)
        )
    )
    snapshot_ids = {int(i) for e in between for i in (e.snapshot_ids or {}).values()}
    known = {
        row.id: row
        for chunk in chunks(sorted(snapshot_ids))
        for row in conn.execute(
            select(snapshots.c.id, snapshots.c.connector, snapshots.c.complete).where(
                snapshots.c.id.in_(chunk)
            )
        )
    }
    out: dict[str, tuple[datetime, datetime | None]] = {}
    for r in rows:
        seen = last_seen.get(r.finding_id)
        if seen is None:  # its sightings are not kept: say it open, as the table does
            out[r.finding_id] = (r.first_seen, None)
            continue
        resolved = next(
            (
                e.finished_at
                for e in between
                if e.finished_at > seen and _could_resolve(e, known, r.rule_id, r.system)
            ),
            None,
        )
        out[r.finding_id] = (seen, resolved)
    return out


def _could_resolve(
    evaluation: Any, known: dict[int, Any], rule_id: str, system: str | None
) -> bool:
    """Whether that evaluation could call a finding it did not see resolved, as
    ``evaluation.can_resolve`` decided then: its rule ran, and the data of its system and of
    HR was complete. A snapshot since pruned is taken to have been complete."""
    if rule_id in (evaluation.summary or {}).get("skipped_rules", {}):
        return False
    used = {name: known.get(int(sid)) for name, sid in (evaluation.snapshot_ids or {}).items()}
    hr_complete = all(
        info.complete for info in used.values() if info is not None and info.connector == "hr"
    )
    if system is None:
        return hr_complete
    if system not in used:
        return False
    info = used[system]
    return hr_complete and (info is None or bool(info.complete))


def last_evaluation(conn: Connection) -> dict[str, Any] | None:
    row = conn.execute(select(evaluations).order_by(evaluations.c.id.desc()).limit(1)).one_or_none()
    return None if row is None else dict(row._mapping)


def expected_by_policy(conn: Connection) -> list[dict[str, Any]]:
    """What the latest evaluation's rules would have reported but the policy declares
    expected (``ExpectedHit`` as recorded in its summary); empty before any evaluation."""
    last = last_evaluation(conn)
    items = ((last or {}).get("summary") or {}).get("expected_by_policy") or []
    return [item for item in items if isinstance(item, dict)]


def _finding_row(f: Finding, seen_at: datetime, evaluation_id: int) -> dict[str, Any]:
    return {
        "finding_id": f.finding_id,
        "rule_id": f.rule_id,
        "severity": f.severity.value,
        "system": f.system,
        "subject": f.subject,
        "person_id": f.person_id,
        "message": f.message,
        "evidence": f.evidence,
        "last_seen": seen_at,
        "last_evaluation_id": evaluation_id,
    }
