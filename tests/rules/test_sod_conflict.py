"""sod-conflict: one person holding both sides of a separation of duties."""

from __future__ import annotations

from iam_gov.model import Entitlement, Severity
from tests.support.world import World, account, grant, group, person

RULE = "sod-conflict"
POLICY = """\
version: 1
separation_of_duties:
  - name: deploy-and-approve
    severity: critical
    sides:
      - {aws: ["group:Deployers"]}
      - {okta: ["app:Change Approvals"], ad: ["group:CAB"]}
"""


def approvals_app() -> Entitlement:
    return Entitlement(system="okta", entitlement_id="0oa1", name="Change Approvals", kind="app")


def test_both_sides_across_two_systems_conflict() -> None:
    aws_account = account("jane.doe", employee_id="E1")
    okta_account = account("jane.doe@example.com", system="okta", employee_id="E1")
    deployers, app = group("Deployers"), approvals_app()
    world = World(
        policy_yaml=POLICY,
        people=[person("E1", "Jane Doe")],
        accounts=[aws_account, okta_account],
        entitlements=[deployers, app],
        grants=[grant(aws_account, deployers), grant(okta_account, app)],
    )
    [finding] = world.findings(RULE)
    assert finding.severity is Severity.CRITICAL
    assert finding.person_id == "E1" and finding.system is None
    assert "both sides of separation of duties 'deploy-and-approve'" in finding.message
    assert finding.evidence["sides"] == [["aws: group:Deployers"], ["okta: app:Change Approvals"]]


def test_one_side_only_is_fine() -> None:
    aws_account = account("jane.doe", employee_id="E1")
    deployers = group("Deployers")
    world = World(
        policy_yaml=POLICY,
        people=[person("E1", "Jane Doe")],
        accounts=[aws_account],
        entitlements=[deployers],
        grants=[grant(aws_account, deployers)],
    )
    assert world.findings(RULE) == []


def test_two_people_each_holding_one_side_do_not_conflict() -> None:
    a = account("jane.doe", employee_id="E1")
    b = account("john.roe@example.com", system="okta", employee_id="E2")
    deployers, app = group("Deployers"), approvals_app()
    world = World(
        policy_yaml=POLICY,
        people=[person("E1", "Jane Doe"), person("E2", "John Roe")],
        accounts=[a, b],
        entitlements=[deployers, app],
        grants=[grant(a, deployers), grant(b, app)],
    )
    assert world.findings(RULE) == []


def _conflicted(exceptions: str) -> World:
    aws_account = account("jane.doe", employee_id="E1")
    okta_account = account("jane.doe@example.com", system="okta", employee_id="E1")
    deployers, app = group("Deployers"), approvals_app()
    return World(
        policy_yaml=POLICY + exceptions,
        people=[person("E1", "Jane Doe")],
        accounts=[aws_account, okta_account],
        entitlements=[deployers, app],
        grants=[grant(aws_account, deployers), grant(okta_account, app)],
    )


EXCEPTION = """\
    exceptions:
      - {{person: {who}, approver: cto@example.com, expires: {expires},
         reason: "On-call lead; approvals reviewed weekly"}}
"""


def test_an_approved_exception_allows_the_conflict_until_it_expires() -> None:
    assert _conflicted(EXCEPTION.format(who="E1", expires="2027-01-31")).findings(RULE) == []
    by_email = EXCEPTION.format(who="Jane.Doe@example.com", expires="2027-01-31")
    assert _conflicted(by_email).findings(RULE) == []
    someone_else = EXCEPTION.format(who="E2", expires="2027-01-31")
    assert len(_conflicted(someone_else).findings(RULE)) == 1


def test_an_expired_exception_no_longer_allows_it_and_the_finding_says_so() -> None:
    [finding] = _conflicted(EXCEPTION.format(who="E1", expires="2026-11-01")).findings(RULE)
    assert finding.message.endswith("; the exception that allowed it expired on 2026-11-01.")
    assert finding.evidence["expired_exception"] == "2026-11-01"
