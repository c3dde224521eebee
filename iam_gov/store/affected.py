"""Which accounts and people a finding affects: the one it is about, or every principal that a
finding about a shared cause lists (``evidence["principals"]``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, Text, cast, select

from iam_gov.model import Finding, Severity
from iam_gov.store.findings import FindingFilter, finding_of_row, list_findings
from iam_gov.store.schema import findings

FILTERED_HERE = frozenset({"rules", "min_severity", "systems", "person", "include_resolved"})
"""The fields of ``FindingFilter`` that ``findings_of_person`` applies itself to the findings
about a shared cause (a test fails when the filter gains one this module does not know)."""


@dataclass(frozen=True)
class Principal:
    """One account a finding about a shared cause lists (``rules._common.AffectedPrincipal``)."""

    account_id: str
    """Its id in the finding's system (an AWS principal's ARN)."""
    login: str | None
    person_id: str | None
    severity: Severity | None
    """What this account alone would make of the finding."""


def listed_principals(evidence: Mapping[str, Any]) -> list[Principal]:
    """Every account a finding about a shared cause lists; none for any other finding."""
    listed = evidence.get("principals")
    if not isinstance(listed, list):
        return []
    out = []
    for entry in listed:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("arn"), str):
            continue
        login, person_id, severity = entry.get("login"), entry.get("person_id"), None
        if isinstance(entry.get("severity"), str):
            try:
                severity = Severity(entry["severity"])
            except ValueError:
                severity = None
        out.append(
            Principal(
                account_id=entry["arn"],
                login=login if isinstance(login, str) else None,
                person_id=person_id if isinstance(person_id, str) else None,
                severity=severity,
            )
        )
    return out


def affects_person(finding: Finding, person_id: str) -> bool:
    """The finding is the person's, or lists one of their accounts among its principals (a
    finding that lists several people's accounts is nobody's in ``person_id``)."""
    return finding.person_id == person_id or any(
        p.person_id == person_id for p in listed_principals(finding.evidence)
    )


def may_list_principals() -> ColumnElement[bool]:
    """True in SQL for every finding that lists principals, and for few others: a cheap
    first cut before ``listed_principals`` reads the evidence (SQLite and PostgreSQL both
    spell the key quoted in the evidence's text)."""
    return cast(findings.c.evidence, Text).like('%"principals"%')


def findings_of_person(conn: Connection, where: FindingFilter) -> list[Finding]:
    """``list_findings``, where a person's findings also take in those about a shared cause
    that list one of the person's accounts."""
    own = list_findings(conn, where)
    person = where.person
    if not person:
        return own
    query = select(findings).where(findings.c.person_id.is_(None)).where(may_list_principals())
    if not where.include_resolved:
        query = query.where(findings.c.resolved_at.is_(None))
    shared = [
        f
        for f in (finding_of_row(r) for r in conn.execute(query))
        if _kept(f, where) and affects_person(f, person)
    ]
    out = own + shared
    out.sort(key=lambda f: (-f.severity.rank, f.rule_id, f.subject))
    return out


def _kept(finding: Finding, where: FindingFilter) -> bool:
    """What ``list_findings`` keeps, but the person (see ``FILTERED_HERE``)."""
    return (
        (where.include_resolved or finding.resolved_at is None)
        and (not where.rules or finding.rule_id in where.rules)
        and (not where.systems or finding.system in where.systems)
        and (where.min_severity is None or finding.severity.rank >= where.min_severity.rank)
    )
