"""``aws-unused-permission-set``: a permission set assigned in an AWS account whose
AWSReservedSSO role has not been used for long (or never), with who holds it; unknown (its
account unread) is not unused."""

from __future__ import annotations

from iam_gov.model import Severity
from tests.rules.test_aws_identity_center import ALICE, BOB, RULE, org_with_platform
from tests.support.aws_org import ADMIN_POLICY, DEV, PROD, READ_ONLY_POLICY, Org, reserved_role_name
from tests.support.world import days_ago


def test_a_permission_set_unused_for_long_is_reported_with_who_holds_it() -> None:
    """The role last used 120 days ago: one finding naming the permission set, the account,
    the people assigned and the group; privileged, so high."""
    org = org_with_platform(role_last_used=120)
    bob = org.sso_user("bob.baker@example.com", email="bob.baker@example.com")
    admin = next(iter(org._sets))
    org.assign(admin, PROD, users=[bob])
    [finding] = org.world(people=[ALICE, BOB]).findings(RULE)
    assert finding.severity is Severity.HIGH
    assert finding.subject == f"aws:{admin}@{PROD}:unused"
    assert finding.person_id is None  # two people
    evidence = finding.evidence
    assert (evidence["aws_account_id"], evidence["aws_account_name"]) == (PROD, "prod")
    assert evidence["permission_set"] == "Admin"
    assert evidence["role_arn"].endswith(reserved_role_name("Admin", PROD))
    assigned = {(a["person_id"], a["via_group"]) for a in evidence["assigned"]}
    assert assigned == {("E1", "Platform"), ("E2", None)}
    assert f"Admin (privileged) in account prod ({PROD})" in finding.message
    assert "Alice Archer through group Platform" in finding.message
    assert "not been used for 120 days (last on 2026-07-30)" in finding.message


def test_a_permission_set_used_recently_is_no_finding() -> None:
    """Used 3 days ago: nothing to say."""
    assert org_with_platform(role_last_used=3).world(people=[ALICE]).findings(RULE) == []


def test_never_used_is_judged_by_the_roles_age() -> None:
    """Never used: a finding when its role is older than the threshold, none when younger."""
    [old] = (
        org_with_platform(role_last_used=None, role_created=200)
        .world(people=[ALICE])
        .findings(RULE)
    )
    assert old.evidence["role_last_used"] is None
    assert "never used in the 200 days since its role was created" in old.message
    assert old.person_id == "E1"
    young = org_with_platform(role_last_used=None, role_created=30)
    assert young.world(people=[ALICE]).findings(RULE) == []


def test_the_threshold_is_a_setting() -> None:
    """``unused_days`` from the policy moves the line."""
    org = org_with_platform(role_last_used=120)
    policy = "version: 1\nrules:\n  aws-unused-permission-set:\n    unused_days: 150\n"
    assert org.world(policy, people=[ALICE]).findings(RULE) == []
    policy = "version: 1\nrules:\n  aws-unused-permission-set:\n    unused_days: 100\n"
    assert len(org.world(policy, people=[ALICE]).findings(RULE)) == 1


def test_a_permission_set_in_an_unread_account_is_not_judged() -> None:
    """Its account could not be read, so its role is not in the data: no finding (unknown
    is not unused), and the snapshot is incomplete, so nothing earlier is resolved."""
    org = Org(uncollected={DEV})
    alice = org.sso_user("alice.archer@example.com", email="alice.archer@example.com")
    org.assign(org.permission_set("Admin", managed=[ADMIN_POLICY]), DEV, users=[alice])
    world = org.world(people=[ALICE])
    assert world.findings(RULE) == []
    assert not world.state().systems["aws"].complete
    assert not org.snapshot().complete
    assert org.snapshot().errors[0].source == f"account {DEV} (dev)"


def test_an_unused_read_only_permission_set_is_medium() -> None:
    """Not privileged: the rule's own severity."""
    org = Org()
    alice = org.sso_user("alice.archer@example.com", email="alice.archer@example.com")
    read_only = org.permission_set("ReadOnly", managed=[READ_ONLY_POLICY])
    org.assign(read_only, DEV, users=[alice], role_last_used=days_ago(365))
    [finding] = org.world(people=[ALICE]).findings(RULE)
    assert finding.severity is Severity.MEDIUM
    assert finding.person_id == "E1"
