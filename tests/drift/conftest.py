"""A small company whose snapshots are built by hand, with known differences between two
collects a week apart (on SQLite and PostgreSQL).

Systems: ``hr``; ``okta`` (compared: the changes below); ``entra`` (collected again between the
runs without Dan's account, then its collect fails: stale); ``lab`` (an Okta tenant whose second
snapshot is incomplete and misses Bob).

Baseline, 2026-11-02 09:00, evaluated an hour later (evaluation 1):

- Okta: Alice (Engineering), Bob (Engineering, Okta Admins -> AWS Console through it), Carol
  (Engineering -> Wiki through it), Dan (Engineering), Fay (left in October; account disabled).

Current, 2026-11-09 09:00, evaluated an hour later (evaluation 2):

- Erin joined: account created, in Engineering.
- Dan's account removed (with his Engineering membership).
- Alice got Super Administrator directly (privileged by the policy's pattern).
- Bob lost Okta Admins (the group itself was deleted: privileged by the baseline's own flag)
  and with it AWS Console through it (privileged by Okta's flag).
- Carol left on 2026-11-05; her account is still active. She joined Docs, which now gives
  her the Wiki (the Wiki itself is not a change).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert, update

from iam_gov.campaigns.definition import CampaignDefinition, ReviewerRule, Reviewers, Scope
from iam_gov.campaigns.launch import create_campaign, launch_campaign
from iam_gov.config import Config, load_config
from iam_gov.evaluation import EvaluationReport, evaluate
from iam_gov.model import (
    Account,
    AccountStatus,
    EmploymentStatus,
    Entitlement,
    Grant,
    Person,
    SnapshotError,
    SystemSnapshot,
)
from iam_gov.policy import Policy, load_policy
from iam_gov.rules import all_rules
from iam_gov.store import Store
from iam_gov.store.schema import campaign_items, collect_failures
from iam_gov.store.snapshots import save_snapshot

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
"""The baseline's collect."""
ENTRA_AGAIN = datetime(2026, 11, 5, 9, 0, tzinfo=UTC)
"""Entra collected once more between the runs."""
T1 = datetime(2026, 11, 9, 9, 0, tzinfo=UTC)
"""The current collect."""
NOW = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)
"""When the reports are made."""
CAROL_LEFT = date(2026, 11, 5)
SIGNED_IN = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
"""Everyone's last sign-in: nobody is dormant."""

CONFIG = """\
[policy]
path = "policy.yaml"

[correlation]
match = ["employee_id", "email"]

[review]
fallback_reviewer = "security@example.com"

[drift]
expiring_within_days = 30

[systems.hr]
type = "hr"
path = "hr.csv"

[systems.okta]
type = "okta"
mode = "export"
path = "okta"

[systems.entra]
type = "entra"
mode = "export"
path = "entra"

[systems.lab]
type = "okta"
mode = "export"
path = "lab"
"""

POLICY = """\
version: 1
roles:
  - name: engineer
    match: {department: Engineering}
    grants:
      okta: ["group:Engineering"]
privileged:
  okta: ["role:Super Administrator"]
exceptions:
  - person: E1
    system: okta
    entitlement: "role:Super Administrator"
    approver: cto@example.com
    reason: Migrating the tenant
    expires: 2026-11-20
  - person: E2
    system: okta
    entitlement: "group:Docs"
    approver: cto@example.com
    reason: Writes the handbook
    expires: 2026-11-10
  - person: E3
    system: okta
    entitlement: "group:Docs"
    approver: cto@example.com
    reason: Writes the handbook too
    expires: 2026-12-31
  - person: E4
    system: okta
    entitlement: "group:Docs"
    approver: cto@example.com
    reason: Wrote the old handbook
    expires: 2026-11-01
"""


def person(
    employee_id: str,
    name: str,
    *,
    status: EmploymentStatus = EmploymentStatus.ACTIVE,
    end_date: date | None = None,
) -> Person:
    return Person(
        employee_id=employee_id,
        name=name,
        email=f"{name.split()[0].lower()}@example.com",
        department="Engineering",
        title="Engineer",
        status=status,
        start_date=date(2024, 1, 1),
        end_date=end_date,
    )


def hr(at: datetime, people: Sequence[Person]) -> SystemSnapshot:
    return SystemSnapshot(
        system="hr",
        connector="hr",
        source="export:hr.csv",
        collected_at=at,
        complete=True,
        people=tuple(people),
    )


def account(
    system: str,
    login: str,
    employee_id: str,
    *,
    status: AccountStatus = AccountStatus.ACTIVE,
) -> Account:
    return Account(
        system=system,
        native_id=f"00u-{login}",
        login=login,
        email=f"{login}@example.com",
        employee_id=employee_id,
        status=status,
        created_at=datetime(2024, 1, 1, tzinfo=UTC),
        last_login_at=SIGNED_IN,
        mfa_factors=("push",),
    )


def entitlement(system: str, kind: str, name: str, *, privileged: bool = False) -> Entitlement:
    return Entitlement(
        system=system,
        entitlement_id=f"{kind}-{name.lower().replace(' ', '-')}",
        name=name,
        kind=kind,
        privileged=privileged,
    )


def grant(system: str, login: str, entitlement_id: str, via: str | None = None) -> Grant:
    return Grant(system=system, account_id=f"00u-{login}", entitlement_id=entitlement_id, via=via)


def directory(
    system: str,
    at: datetime,
    accounts: Sequence[Account],
    entitlements: Sequence[Entitlement],
    grants: Sequence[Grant],
    *,
    complete: bool = True,
) -> SystemSnapshot:
    return SystemSnapshot(
        system=system,
        connector="okta" if system != "entra" else "entra",
        source=f"export:{system}",
        collected_at=at,
        complete=complete,
        errors=()
        if complete
        else (SnapshotError(source="users.json", message="page 2 could not be read"),),
        accounts=tuple(accounts),
        entitlements=tuple(entitlements),
        grants=tuple(grants),
    )


ALICE = person("E1", "Alice Admin")
BOB = person("E2", "Bob Builder")
CAROL = person("E3", "Carol Leaver")
CAROL_GONE = person("E3", "Carol Leaver", status=EmploymentStatus.TERMINATED, end_date=CAROL_LEFT)
DAN = person("E4", "Dan Removed")
ERIN = person("E5", "Erin New")
FAY = person("E6", "Fay Former", status=EmploymentStatus.TERMINATED, end_date=date(2026, 10, 1))

ENGINEERING = entitlement("okta", "group", "Engineering")
ADMINS = entitlement("okta", "group", "Okta Admins", privileged=True)
DOCS = entitlement("okta", "group", "Docs")
AWS = entitlement("okta", "app", "AWS Console", privileged=True)
WIKI = entitlement("okta", "app", "Wiki")
SUPER = entitlement("okta", "role", "Super Administrator")


def okta_before() -> SystemSnapshot:
    return directory(
        "okta",
        T0,
        [
            account("okta", "alice", "E1"),
            account("okta", "bob", "E2"),
            account("okta", "carol", "E3"),
            account("okta", "dan", "E4"),
            account("okta", "fay", "E6", status=AccountStatus.DISABLED),
        ],
        [ENGINEERING, ADMINS, DOCS, AWS, WIKI, SUPER],
        [
            grant("okta", "alice", ENGINEERING.entitlement_id),
            grant("okta", "bob", ENGINEERING.entitlement_id),
            grant("okta", "bob", ADMINS.entitlement_id),
            grant("okta", "bob", AWS.entitlement_id, via=ADMINS.entitlement_id),
            grant("okta", "carol", ENGINEERING.entitlement_id),
            grant("okta", "carol", WIKI.entitlement_id, via=ENGINEERING.entitlement_id),
            grant("okta", "dan", ENGINEERING.entitlement_id),
            grant("okta", "fay", ENGINEERING.entitlement_id),
        ],
    )


def okta_after() -> SystemSnapshot:
    return directory(
        "okta",
        T1,
        [
            account("okta", "alice", "E1"),
            account("okta", "bob", "E2"),
            account("okta", "carol", "E3"),
            account("okta", "erin", "E5"),
            account("okta", "fay", "E6", status=AccountStatus.DISABLED),
        ],
        [ENGINEERING, DOCS, AWS, WIKI, SUPER],  # Okta Admins deleted
        [
            grant("okta", "alice", ENGINEERING.entitlement_id),
            grant("okta", "alice", SUPER.entitlement_id),
            grant("okta", "bob", ENGINEERING.entitlement_id),
            grant("okta", "carol", ENGINEERING.entitlement_id),
            grant("okta", "carol", DOCS.entitlement_id),
            grant("okta", "carol", WIKI.entitlement_id, via=DOCS.entitlement_id),
            grant("okta", "erin", ENGINEERING.entitlement_id),
            grant("okta", "fay", ENGINEERING.entitlement_id),
        ],
    )


def entra(at: datetime, logins: Sequence[tuple[str, str]]) -> SystemSnapshot:
    group = entitlement("entra", "group", "Engineering")
    return directory(
        "entra",
        at,
        [account("entra", login, employee_id) for login, employee_id in logins],
        [group],
        [grant("entra", login, group.entitlement_id) for login, _ in logins],
    )


def lab(at: datetime, logins: Sequence[tuple[str, str]], *, complete: bool) -> SystemSnapshot:
    group = entitlement("lab", "group", "Engineering")
    return directory(
        "lab",
        at,
        [account("lab", login, employee_id) for login, employee_id in logins],
        [group],
        [grant("lab", login, group.entitlement_id) for login, _ in logins],
        complete=complete,
    )


@dataclass
class World:
    store: Store
    config: Config
    policy: Policy
    evaluations: list[EvaluationReport] = field(default_factory=list)

    def save(self, *snapshots: SystemSnapshot) -> dict[str, int]:
        ids = {}
        with self.store.writing() as conn:
            for snapshot in snapshots:
                ids[snapshot.system] = save_snapshot(
                    conn, snapshot, snapshot.collected_at + timedelta(minutes=1)
                )
        return ids

    def evaluate(self, at: datetime) -> EvaluationReport:
        report = evaluate(self.store, self.config, self.policy, now=at)
        self.evaluations.append(report)
        return report

    def baseline_run(self) -> None:
        """The first collect and its evaluation."""
        self.save(
            hr(T0, [ALICE, BOB, CAROL, DAN, FAY]),
            okta_before(),
            entra(T0, [("alice", "E1"), ("bob", "E2"), ("dan", "E4")]),
            lab(T0, [("alice", "E1"), ("bob", "E2")], complete=True),
        )
        self.evaluate(T0 + timedelta(hours=1))

    def current_run(self, *, lab_complete: bool = False) -> None:
        """Entra read again in between; then the second collect (without Entra: its collect
        is the one that fails, see ``entra_fails``; the lab read in part unless
        ``lab_complete``) and its evaluation."""
        self.save(entra(ENTRA_AGAIN, [("alice", "E1"), ("bob", "E2")]))
        self.save(
            hr(T1, [ALICE, BOB, CAROL_GONE, DAN, ERIN, FAY]),
            okta_after(),
            lab(T1, [("alice", "E1")], complete=lab_complete),
        )
        self.evaluate(T1 + timedelta(hours=1))

    def entra_fails(self) -> None:
        with self.store.writing() as conn:
            conn.execute(
                insert(collect_failures).values(
                    system="entra",
                    failed_at=T1 + timedelta(minutes=5),
                    reason="login.microsoftonline.com: connection refused",
                )
            )

    def overdue_campaign(self) -> int:
        """An Okta review due on 2026-11-08, launched after the current run, one item
        decided; and one due later (not overdue)."""
        reviewers = Reviewers(rule=ReviewerRule.NAMED, named="reviewer@example.com")
        overdue = CampaignDefinition(
            name="Okta Q4",
            scope=Scope(systems=("okta",)),
            reviewers=reviewers,
            due=date(2026, 11, 8),
        )
        later = CampaignDefinition(
            name="Okta later",
            scope=Scope(systems=("okta",)),
            reviewers=reviewers,
            due=date(2026, 11, 30),
        )
        launched = T1 + timedelta(hours=2)
        ids = []
        for definition in (overdue, later):
            campaign_id = create_campaign(self.store, definition, actor="admin", now=launched)
            launch_campaign(
                self.store, self.config, self.policy, campaign_id, actor="admin", now=launched
            )
            ids.append(campaign_id)
        with self.store.writing() as conn:
            conn.execute(
                update(campaign_items)
                .where(campaign_items.c.campaign_id == ids[0], campaign_items.c.item_id == 1)
                .values(decision="approve", decided_by="reviewer@example.com", decided_at=launched)
            )
        return ids[0]


def make_world(store: Store, root: Path) -> World:
    root.mkdir(parents=True, exist_ok=True)
    (root / "iam-gov.toml").write_text(CONFIG, encoding="utf-8")
    (root / "policy.yaml").write_text(POLICY, encoding="utf-8")
    config = load_config(root / "iam-gov.toml")
    policy = load_policy(config.policy.path, rules=all_rules())
    return World(store, config, policy)


@pytest.fixture
def world(store: Store, tmp_path: Path) -> World:
    """Nothing collected yet."""
    return make_world(store, tmp_path / "company")


@pytest.fixture
def changed(world: World) -> World:
    """Both runs collected and evaluated; Entra's collect failed after them."""
    world.baseline_run()
    world.current_run()
    return world
