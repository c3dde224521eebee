"""privileged-access: privileged access held by a non-employee, without MFA, without an
expiring approval, or for too long."""

from __future__ import annotations

from datetime import date

from iam_gov.model import EmploymentType, Severity
from tests.support.world import World, access_key, account, days_ago, grant, group, password, person

RULE = "privileged-access"
ADMINS = """\
version: 1
roles:
  - name: ops
    match: {department: IT}
    grants: {aws: ["group:Admins"]}
privileged:
  aws: [{spec}]
"""


def world(
    spec: str = '"group:Admins"',
    *,
    contractor: bool = False,
    mfa: tuple[str, ...] = ("mfa",),
    **grant_kw: object,
) -> World:
    jane = account("jane.doe", employee_id="E1", mfa_factors=mfa)
    admins = group("Admins")
    held = grant(jane, admins)
    if grant_kw:
        held = held.model_copy(update=grant_kw)
    return World(
        policy_yaml=ADMINS.replace("{spec}", spec),
        people=[
            person(
                "E1",
                "Jane Doe",
                department="IT",
                employment_type=EmploymentType.CONTRACTOR
                if contractor
                else EmploymentType.EMPLOYEE,
            )
        ],
        accounts=[jane],
        entitlements=[admins],
        grants=[held],
        credentials=[access_key(jane, last_used=days_ago(1))],
    )


def test_an_employee_with_mfa_holding_it_by_role_is_fine() -> None:
    assert world().findings(RULE) == []


def test_a_contractor_holding_privileged_access_is_reported() -> None:
    [finding] = world(contractor=True).findings(RULE)
    assert finding.severity is Severity.HIGH
    assert "holds privileged group:Admins, but it is held by a contractor" in finding.message
    assert finding.evidence["employment_type"] == "contractor"


def test_the_policy_can_allow_contractors_for_one_entitlement() -> None:
    allowed = '{entitlement: "group:Admins", employees_only: false}'
    assert world(allowed, contractor=True).findings(RULE) == []


def test_a_key_only_account_without_mfa_is_reported_here_not_by_mfa_missing() -> None:
    w = world(mfa=())
    [finding] = w.findings(RULE)
    assert finding.evidence["problems"] == ["the account has no second factor"]
    assert w.findings("mfa-missing") == []
    # With a console password, mfa-missing reports it (as critical) and this rule does not.
    w.credentials.append(password(w.accounts[0], last_used=days_ago(1)))
    assert w.findings(RULE) == []
    assert w.findings("mfa-missing")[0].severity is Severity.CRITICAL


def test_required_justification_needs_an_exception_not_just_a_role() -> None:
    spec = '{entitlement: "group:Admins", require_justification: true}'
    [finding] = world(spec).findings(RULE)
    assert "no approved, expiring exception backs it" in finding.message
    approved = world(spec)
    approved.policy_yaml += (
        'exceptions:\n  - {person: E1, system: aws, entitlement: "group:Admins", '
        "approver: ciso@example.com, reason: on-call rotation, expires: 2027-01-31}\n"
    )
    assert approved.findings(RULE) == []


def test_held_longer_than_allowed_where_the_system_says_when_it_was_granted() -> None:
    spec = '{entitlement: "group:Admins", max_days: 30}'
    [finding] = world(spec, granted_at=days_ago(45)).findings(RULE)
    assert "it has been held for 45 days (at most 30)" in finding.message
    assert world(spec, granted_at=days_ago(10)).findings(RULE) == []
    assert world(spec).findings(RULE) == []  # granted_at unknown: not judged


def test_non_privileged_grants_and_leavers_are_ignored() -> None:
    not_privileged = world(contractor=True)
    not_privileged.policy_yaml = "version: 1\n"
    assert not_privileged.findings(RULE) == []
    gone = world(contractor=True)
    gone.people = [gone.people[0].model_copy(update={"end_date": date(2026, 10, 1)})]
    assert gone.findings(RULE) == []


def test_a_declared_break_glass_account_is_expected_by_policy_not_a_finding() -> None:
    jane = account("jane.doe", employee_id="E1", mfa_factors=("mfa",))
    glass = account("breakglass", mfa_factors=())
    admins = group("Admins")
    policy = ADMINS.replace("{spec}", '"group:Admins"') + (
        "accounts:\n"
        "  - {system: aws, login: breakglass, kind: break-glass, owner: sec@example.com}\n"
    )
    found = World(
        policy_yaml=policy,
        people=[person("E1", "Jane Doe", department="IT")],
        accounts=[jane, glass],
        entitlements=[admins],
        grants=[grant(jane, admins), grant(glass, admins)],
    )
    assert found.findings(RULE) == []
    [expected] = found.expected(RULE)
    assert expected.logins == ("breakglass",)
    assert expected.why == "declared break-glass account in the policy"
    assert "holds privileged group:Admins" in expected.message

    undeclared = World(
        policy_yaml=ADMINS.replace("{spec}", '"group:Admins"'),
        people=[person("E1", "Jane Doe", department="IT")],
        accounts=[jane, glass],
        entitlements=[admins],
        grants=[grant(jane, admins), grant(glass, admins)],
    )
    assert undeclared.expected(RULE) == []
