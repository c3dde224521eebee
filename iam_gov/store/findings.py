"""Evaluations and findings in the store: stable ids, first/last seen, resolution."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from iam_gov.correlate import AccountLink
from iam_gov.model import Finding, Severity
from iam_gov.store.bulk import bulk_insert, chunks, insert_plain
from iam_gov.store.schema import account_links, evaluation_findings, evaluations, findings

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
    out = [
        Finding.model_construct(
            finding_id=r.finding_id,
            rule_id=r.rule_id,
            severity=Severity(r.severity),
            system=r.system,
            subject=r.subject,
            person_id=r.person_id,
            message=r.message,
            evidence=r.evidence,
            first_seen=r.first_seen,
            last_seen=r.last_seen,
            resolved_at=r.resolved_at,
        )
        for r in conn.execute(query)
    ]
    out.sort(key=lambda f: (-f.severity.rank, f.rule_id, f.subject))
    return out


def last_evaluation(conn: Connection) -> dict[str, Any] | None:
    row = conn.execute(select(evaluations).order_by(evaluations.c.id.desc()).limit(1)).one_or_none()
    return None if row is None else dict(row._mapping)


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
