"""Builders for rule and engine tests: a small world of people, accounts and grants.

It goes through the real code (policy loader, correlation, state indexing, the rule
registry); only the snapshots are built in memory instead of collected.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from iam_gov.config import CorrelationSettings
from iam_gov.correlate import Overrides, correlate
from iam_gov.engine.state import EvaluationState, build_view
from iam_gov.evaluation import ExpectedHit, run_rules
from iam_gov.model import (
    Account,
    AccountKind,
    AccountStatus,
    Credential,
    CredentialKind,
    EmploymentStatus,
    Entitlement,
    Finding,
    Grant,
    Person,
    SnapshotError,
)
from iam_gov.policy import Policy, load_policy
from iam_gov.rules import all_rules
from iam_gov.store.people import Move
from iam_gov.store.snapshots import SnapshotInfo

AS_OF = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
ACCOUNT = "123456789012"


def days_ago(n: float) -> datetime:
    return AS_OF - timedelta(days=n)


def person(
    employee_id: str,
    name: str = "Jane Doe",
    *,
    email: str | None = None,
    department: str = "Engineering",
    title: str = "Software Engineer",
    status: EmploymentStatus = EmploymentStatus.ACTIVE,
    end_date: date | None = None,
    **extra: Any,
) -> Person:
    if email is None:
        email = ".".join(name.lower().split()) + "@example.com"
    return Person(
        employee_id=employee_id,
        name=name,
        email=email,
        department=department,
        title=title,
        status=status,
        end_date=end_date,
        **extra,
    )


def arn(login: str, kind: str = "user") -> str:
    return f"arn:aws:iam::{ACCOUNT}:{kind}/{login}"


def account(
    login: str,
    *,
    system: str = "aws",
    employee_id: str | None = None,
    email: str | None = None,
    display_name: str | None = None,
    status: AccountStatus = AccountStatus.ACTIVE,
    kind: AccountKind = AccountKind.HUMAN,
    created_at: datetime | None = None,
    last_login_at: datetime | None = None,
    mfa_factors: tuple[str, ...] | None = ("mfa",),
) -> Account:
    return Account(
        system=system,
        native_id=arn(login),
        login=login,
        employee_id=employee_id,
        email=email,
        display_name=display_name,
        status=status,
        kind=kind,
        created_at=created_at if created_at is not None else days_ago(365),
        last_login_at=last_login_at,
        mfa_factors=mfa_factors,
    )


def group(name: str, *, system: str = "aws", privileged: bool = False) -> Entitlement:
    return Entitlement(
        system=system,
        entitlement_id=f"arn:aws:iam::{ACCOUNT}:group/{name}",
        name=name,
        kind="group",
        privileged=privileged,
    )


def managed_policy(name: str, *, system: str = "aws", privileged: bool = False) -> Entitlement:
    return Entitlement(
        system=system,
        entitlement_id=f"arn:aws:iam::aws:policy/{name}",
        name=name,
        kind="policy",
        privileged=privileged,
    )


def grant(acct: Account, entitlement: Entitlement, via: Entitlement | None = None) -> Grant:
    return Grant(
        system=acct.system,
        account_id=acct.native_id,
        entitlement_id=entitlement.entitlement_id,
        via=via.entitlement_id if via else None,
    )


def password(
    acct: Account, *, active: bool = True, last_used: datetime | None = None
) -> Credential:
    return Credential(
        system=acct.system,
        account_id=acct.native_id,
        credential_id=f"{acct.native_id}#password",
        kind=CredentialKind.PASSWORD,
        active=active,
        last_used_at=last_used,
    )


def certificate(
    acct: Account,
    serial: str,
    *,
    active: bool = True,
    issued: datetime | None = None,
    expires: datetime | None = None,
    status: str = "V",
) -> Credential:
    return Credential(
        system=acct.system,
        account_id=acct.native_id,
        credential_id=f"{acct.native_id}#cert-{serial}",
        kind=CredentialKind.CERTIFICATE,
        active=active,
        created_at=issued if issued is not None else days_ago(100),
        expires_at=expires if expires is not None else days_ago(-265),
        attributes={"serial": serial, "status": status},
    )


def moved(
    employee_id: str, days: float, **changes: tuple[str | None, str | None]
) -> dict[str, Move]:
    """A World's ``moves``: e.g. ``moved("E1", 40, department=("Engineering", "Sales"))``."""
    return {employee_id: Move(employee_id, days_ago(days), dict(changes))}


def access_key(
    acct: Account,
    n: int = 1,
    *,
    active: bool = True,
    created: datetime | None = None,
    last_used: datetime | None = None,
) -> Credential:
    return Credential(
        system=acct.system,
        account_id=acct.native_id,
        credential_id=f"{acct.native_id}#access_key_{n}",
        kind=CredentialKind.ACCESS_KEY,
        active=active,
        created_at=created if created is not None else days_ago(10),
        last_used_at=last_used,
    )


@dataclass
class World:
    """People in HR and one or more systems; ``findings()`` runs every registered rule."""

    policy_yaml: str = "version: 1\n"
    people: list[Person] = field(default_factory=list)
    accounts: list[Account] = field(default_factory=list)
    entitlements: list[Entitlement] = field(default_factory=list)
    grants: list[Grant] = field(default_factory=list)
    credentials: list[Credential] = field(default_factory=list)
    hr_complete: bool = True
    incomplete_systems: set[str] = field(default_factory=set)
    settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    """System -> its snapshot's settings (e.g. a VPN's authentication and CRL)."""
    observed_since: dict[str, datetime] = field(default_factory=dict)
    """System -> since when its sampled sign-in data has been watched."""
    moves: dict[str, Move] = field(default_factory=dict)
    """Employee id -> their latest change in HR."""
    correlation: CorrelationSettings = field(default_factory=CorrelationSettings)
    as_of: datetime = AS_OF

    def policy(self) -> Policy:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "policy.yaml"
            path.write_text(self.policy_yaml, encoding="utf-8")
            return load_policy(path, rules=all_rules())

    def _info(self, system: str, complete: bool, counts: dict[str, int]) -> SnapshotInfo:
        errors = () if complete else (SnapshotError(source="test", message="a bad record", line=7),)
        return SnapshotInfo(
            id=0,
            system=system,
            connector=system,
            source="test",
            collected_at=self.as_of,
            stored_at=self.as_of,
            complete=complete,
            errors=errors,
            counts=counts,
        )

    def state(self) -> EvaluationState:
        systems = sorted(
            {a.system for a in self.accounts}
            | {e.system for e in self.entitlements}
            | set(self.settings)
        )
        views = {}
        for system in systems:
            views[system] = build_view(
                self._info(system, system not in self.incomplete_systems, {}),
                tuple(a for a in self.accounts if a.system == system),
                tuple(e for e in self.entitlements if e.system == system),
                tuple(g for g in self.grants if g.system == system),
                tuple(c for c in self.credentials if c.system == system),
                self.settings.get(system, {}),
                self.observed_since.get(system),
            )
        policy = self.policy()
        links = correlate(self.people, self.accounts, self.correlation, policy, Overrides.empty())
        return EvaluationState(
            policy=policy,
            hr=self._info("hr", self.hr_complete, {"people": len(self.people)}),
            people={p.employee_id: p for p in self.people},
            systems=views,
            links=links,
            evaluated_at=self.as_of,
            moves=self.moves,
        )

    def run(self) -> tuple[list[Finding], dict[str, str]]:
        return run_rules(self.state(), all_rules())

    def findings(self, rule_id: str | None = None) -> list[Finding]:
        found, _ = self.run()
        return [f for f in found if rule_id is None or f.rule_id == rule_id]

    def expected(self, rule_id: str | None = None) -> list[ExpectedHit]:
        """What the rules would report but the policy declares expected."""
        expected: list[ExpectedHit] = []
        run_rules(self.state(), all_rules(), expected)
        return [e for e in expected if rule_id is None or e.rule_id == rule_id]


def public_key(
    acct: Account,
    n: int = 1,
    *,
    kind: CredentialKind = CredentialKind.PUBLIC_KEY,
    active: bool = True,
    created: datetime | None = None,
) -> Credential:
    """A WireGuard peer's key or an SSH key; ``created`` None when the system does not say."""
    return Credential(
        system=acct.system,
        account_id=acct.native_id,
        credential_id=f"{acct.native_id}#key-{n}",
        kind=kind,
        active=active,
        created_at=created,
    )
