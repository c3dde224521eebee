"""A person's findings take in those about a shared cause that list one of their accounts, on
SQLite and PostgreSQL, under the same filters as their own."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime, timedelta
from typing import Any

from iam_gov.model import Finding, Severity
from iam_gov.store import Store
from iam_gov.store.affected import (
    FILTERED_HERE,
    Principal,
    affects_person,
    findings_of_person,
    listed_principals,
)
from iam_gov.store.findings import FindingFilter, record_evaluation

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
ADMINS = "arn:aws:iam::1:group/Admins"


def principal(login: str, person_id: str | None, severity: str = "high") -> dict[str, Any]:
    return {
        "arn": f"arn:aws:iam::1:user/{login}",
        "login": login,
        "type": "user",
        "person_id": person_id,
        "person": None,
        "severity": severity,
    }


def finding(fid: str, *, rule: str = "aws-admin-equivalent", **overrides: Any) -> Finding:
    values: dict[str, Any] = {
        "finding_id": fid,
        "rule_id": rule,
        "severity": Severity.HIGH,
        "system": "aws",
        "subject": f"aws:{fid}",
        "message": f"{fid}.",
        "evidence": {},
    }
    return Finding(**{**values, **overrides})


OWN = finding("own", rule="mfa-missing", person_id="E1", subject="aws:user/alice")
SHARED = finding(
    "group",
    subject=f"aws:{ADMINS}",
    evidence={"cause": ADMINS, "principals": [principal("alice", "E1"), principal("bob", "E2")]},
)
OTHERS = finding(
    "others",
    rule="aws-privilege-escalation",
    subject="aws:inline-policy/x@1",
    evidence={"principals": [principal("bob", "E2"), principal("carol", "E3")]},
)
WORDS = finding(
    "words",
    rule="orphan-account",
    severity=Severity.LOW,
    evidence={"note": "principals", "principals": "E1"},  # the word, not the list
)
LOW_SHARED = finding(
    "low-group",
    severity=Severity.LOW,
    subject="aws:arn:aws:iam::1:group/Readers",
    evidence={"principals": [principal("alice", "E1", "low"), principal("dave", None, "low")]},
)


def record(store: Store, current: list[Finding], at: datetime) -> None:
    with store.writing() as conn:
        record_evaluation(
            conn,
            started_at=at,
            finished_at=at,
            snapshot_ids={},
            policy_digest="test",
            summary={},
            links=(),
            current=current,
            can_resolve=lambda rule, system: True,
        )


def ids(found: list[Finding]) -> list[str]:
    return sorted(f.finding_id for f in found)


def test_a_persons_findings_include_the_shared_ones_that_list_them(store: Store) -> None:
    record(store, [OWN, SHARED, OTHERS, WORDS, LOW_SHARED], T0)

    with store.reading() as conn:
        alice = findings_of_person(conn, FindingFilter(person="E1"))
        bob = findings_of_person(conn, FindingFilter(person="E2"))
        nobody = findings_of_person(conn, FindingFilter(person="E9"))
        everyone = findings_of_person(conn, FindingFilter())

    assert ids(alice) == ["group", "low-group", "own"]
    assert ids(bob) == ["group", "others"]
    assert nobody == []
    assert ids(everyone) == ["group", "low-group", "others", "own", "words"]
    # in the order list_findings gives: worst first, then rule, then subject
    assert [f.finding_id for f in alice] == ["group", "own", "low-group"]
    [group] = [f for f in alice if f.finding_id == "group"]
    assert group.person_id is None and group.evidence == SHARED.evidence


def test_the_filters_apply_to_the_shared_findings_too(store: Store) -> None:
    record(store, [OWN, SHARED, OTHERS, LOW_SHARED], T0)
    record(store, [OWN, OTHERS, LOW_SHARED], T0 + timedelta(days=1))  # the group is resolved

    with store.reading() as conn:

        def alice(**where: Any) -> list[str]:
            return ids(findings_of_person(conn, FindingFilter(person="E1", **where)))

        assert alice() == ["low-group", "own"]
        assert alice(include_resolved=True) == ["group", "low-group", "own"]
        assert alice(rules=("mfa-missing",)) == ["own"]
        assert alice(rules=("aws-admin-equivalent",), include_resolved=True) == [
            "group",
            "low-group",
        ]
        assert alice(min_severity=Severity.MEDIUM, include_resolved=True) == ["group", "own"]
        assert alice(systems=("okta",), include_resolved=True) == []


def test_every_filter_field_is_applied_to_the_shared_findings() -> None:
    """A field added to FindingFilter must be applied in findings_of_person too."""
    assert {f.name for f in fields(FindingFilter)} == FILTERED_HERE


def test_principals_are_read_from_the_evidence_and_anything_else_is_ignored() -> None:
    evidence = {
        "principals": [
            principal("alice", "E1"),
            {"arn": "arn:aws:iam::1:role/deploy", "severity": "bogus", "person_id": 7},
            {"login": "no-arn"},
            "not a principal",
        ]
    }
    assert listed_principals(evidence) == [
        Principal("arn:aws:iam::1:user/alice", "alice", "E1", Severity.HIGH),
        Principal("arn:aws:iam::1:role/deploy", None, None, None),
    ]
    assert listed_principals({}) == []
    assert listed_principals({"principals": "E1"}) == []
    assert affects_person(SHARED, "E2") and affects_person(OWN, "E1")
    assert not affects_person(SHARED, "E3") and not affects_person(WORDS, "E1")
