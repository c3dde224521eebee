"""excess-access: a grant that no role, approved exception or declaration explains."""

from __future__ import annotations

from iam_gov.model import AccountKind, EmploymentStatus, Severity
from tests.support.world import (
    World,
    account,
    arn,
    grant,
    group,
    managed_policy,
    person,
)

RULE = "excess-access"

POLICY = """\
version: 1
roles:
  - name: employee
    grants:
      aws: ["policy:IAMUserChangePassword"]
  - name: engineer
    match: {department: Engineering}
    includes: [employee]
    grants:
      aws: ["group:Developers"]
privileged:
  aws: ["group:Admins"]
"""

DEVELOPERS = group("Developers")
ADMINS = group("Admins")
BILLING = group("Billing")
READ_ONLY = managed_policy("ReadOnlyAccess")
CHANGE_PASSWORD = managed_policy("IAMUserChangePassword")


def jane_with(*entitlements: object, policy: str = POLICY, **person_extra: object) -> World:
    jane = account("jane.doe")
    return World(
        policy_yaml=policy,
        people=[person("E1", "Jane Doe", **person_extra)],  # type: ignore[arg-type]
        accounts=[jane],
        entitlements=[DEVELOPERS, ADMINS, BILLING, READ_ONLY, CHANGE_PASSWORD],
        grants=[grant(jane, e) for e in entitlements],  # type: ignore[arg-type]
    )


def exception_policy(expires: str, who: str = "person: E1", system: str = "aws") -> str:
    return POLICY + (
        "exceptions:\n"
        f"  - {who}\n"
        f"    system: {system}\n"
        "    entitlement: group:Billing\n"
        "    approver: cfo@example.com\n"
        "    reason: quarter-end close\n"
        f"    expires: {expires}\n"
    )


def test_grant_no_role_explains_is_reported() -> None:
    [finding] = jane_with(DEVELOPERS, BILLING).findings(RULE)

    assert finding.severity is Severity.MEDIUM
    assert finding.subject == f"aws:{arn('jane.doe')}:{BILLING.entitlement_id}"
    assert finding.person_id == "E1"
    assert finding.message == (
        "Jane Doe's aws account jane.doe holds group:Billing, which no role, approved "
        "exception or declaration explains."
    )
    assert finding.evidence["entitlement"] == "group:Billing"
    assert finding.evidence["entitlement_id"] == BILLING.entitlement_id
    assert finding.evidence["privileged"] is False
    assert finding.evidence["roles"] == ["employee", "engineer"]
    assert finding.evidence["expired_exceptions"] == []
    assert finding.evidence["correlation"] == "login (medium)"


def test_unexplained_privileged_grant_is_high() -> None:
    [finding] = jane_with(DEVELOPERS, ADMINS).findings(RULE)

    assert finding.severity is Severity.HIGH
    assert finding.evidence["privileged"] is True
    assert "holds group:Admins (privileged)" in finding.message


def test_grants_roles_explain_are_not_reported() -> None:
    # Developers from the engineer role, IAMUserChangePassword from the role it includes
    assert jane_with(DEVELOPERS, CHANGE_PASSWORD).findings(RULE) == []


def test_role_that_does_not_match_the_person_explains_nothing() -> None:
    world = jane_with(DEVELOPERS, CHANGE_PASSWORD, department="Sales")

    [finding] = world.findings(RULE)

    assert finding.evidence["entitlement"] == "group:Developers"
    assert finding.evidence["roles"] == ["employee"]


def test_what_comes_through_a_group_is_judged_by_the_group_membership() -> None:
    world = jane_with(DEVELOPERS)
    world.grants.append(grant(world.accounts[0], READ_ONLY, via=DEVELOPERS))
    assert world.findings(RULE) == []

    world = jane_with(BILLING)
    world.grants.append(grant(world.accounts[0], READ_ONLY, via=BILLING))
    assert [f.evidence["entitlement"] for f in world.findings(RULE)] == ["group:Billing"]


def test_valid_exception_explains_the_grant() -> None:
    assert jane_with(BILLING, policy=exception_policy("2027-03-31")).findings(RULE) == []


def test_exception_may_name_the_person_by_email() -> None:
    policy = exception_policy("2027-03-31", who="person: Jane.Doe@Example.com")

    assert jane_with(BILLING, policy=policy).findings(RULE) == []


def test_exception_may_name_the_account() -> None:
    policy = exception_policy("2027-03-31", who="account: jane.*")

    assert jane_with(BILLING, policy=policy).findings(RULE) == []


def test_exception_is_valid_through_its_expiry_date() -> None:
    # The data is from 2026-11-27.
    assert jane_with(BILLING, policy=exception_policy("2026-11-27")).findings(RULE) == []


def test_expired_exception_does_not_explain_and_is_mentioned() -> None:
    [finding] = jane_with(BILLING, policy=exception_policy("2026-11-26")).findings(RULE)

    assert "an exception for it has expired" in finding.message
    assert "approved by cfo@example.com until 2026-11-26" in finding.message
    [expired] = finding.evidence["expired_exceptions"]
    assert "cfo@example.com" in expired
    assert "policy.yaml:" in expired


def test_exception_for_another_person_or_system_does_not_apply() -> None:
    other_person = exception_policy("2027-03-31", who="person: E2")
    other_system = exception_policy("2027-03-31", system="okta")

    assert len(jane_with(BILLING, policy=other_person).findings(RULE)) == 1
    assert len(jane_with(BILLING, policy=other_system).findings(RULE)) == 1


def test_leavers_and_orphans_are_left_to_their_own_rules() -> None:
    leaver = jane_with(BILLING, status=EmploymentStatus.TERMINATED)
    assert {f.rule_id for f in leaver.findings()} >= {"leaver-active-access"}
    assert leaver.findings(RULE) == []

    orphan = jane_with(BILLING)
    orphan.accounts = [account("ghost")]
    orphan.grants = [grant(orphan.accounts[0], BILLING)]
    assert {f.rule_id for f in orphan.findings()} >= {"orphan-account"}
    assert orphan.findings(RULE) == []


SERVICE_POLICY = """\
version: 1
privileged:
  aws: ["group:Admins"]
accounts:
  - system: aws
    login: svc-backup
    kind: service
    owner: platform-team
    entitlements: ["policy:ReadOnly*"]
  - system: aws
    login: svc-undeclared-rights
    kind: service
    owner: platform-team
  - system: aws
    login: breakglass
    kind: break-glass
    owner: ciso
    entitlements: ["policy:ReadOnly*"]
"""


def test_service_account_is_judged_against_its_declared_entitlements() -> None:
    svc = account("svc-backup")
    world = World(
        policy_yaml=SERVICE_POLICY,
        accounts=[svc],
        entitlements=[READ_ONLY, ADMINS],
        grants=[grant(svc, READ_ONLY), grant(svc, ADMINS)],
    )

    [finding] = world.findings(RULE)

    assert finding.severity is Severity.HIGH
    assert finding.person_id is None
    assert finding.evidence["entitlement"] == "group:Admins"
    assert finding.evidence["roles"] == []
    assert finding.message.startswith("aws service account svc-backup holds group:Admins")


def test_service_account_without_declared_entitlements_is_not_judged() -> None:
    svc = account("svc-undeclared-rights")
    undeclared = account("deploy", kind=AccountKind.SERVICE)
    world = World(
        policy_yaml=SERVICE_POLICY,
        accounts=[svc, undeclared],
        entitlements=[ADMINS],
        grants=[grant(svc, ADMINS), grant(undeclared, ADMINS)],
    )

    assert world.findings(RULE) == []


def test_break_glass_account_is_not_judged() -> None:
    # even outside what its declaration lists: break-glass is meant to hold everything
    bg = account("breakglass")
    world = World(
        policy_yaml=SERVICE_POLICY, accounts=[bg], entitlements=[ADMINS], grants=[grant(bg, ADMINS)]
    )

    assert world.findings(RULE) == []


def test_requestable_access_needs_an_approval() -> None:
    from tests.support.world import World, account, grant, group, person

    policy = (
        "version: 1\nroles:\n  - name: engineer\n    match: {department: Engineering}\n"
        '    requestable: {aws: ["group:Prod-*"]}\n'
    )
    jane = account("jane.doe", employee_id="E1")
    prod = group("Prod-Deploy")
    world = World(
        policy_yaml=policy,
        people=[person("E1", "Jane Doe")],
        accounts=[jane],
        entitlements=[prod],
        grants=[grant(jane, prod)],
    )
    [finding] = world.findings("excess-access")
    assert "group:Prod-Deploy: requestable for role engineer, but no approval is recorded" in (
        finding.message
    )
    world.policy_yaml += (
        'exceptions:\n  - {person: E1, system: aws, entitlement: "group:Prod-Deploy", '
        "approver: lead@example.com, reason: release duty, expires: 2027-03-01}\n"
    )
    assert world.findings("excess-access") == []
