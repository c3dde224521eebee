"""`explain PERSON` for IAM Identity Center: a permission set held in an account says what
the person can act as, in which account (name and id), through which group and permission
set, and whether that is admin — from the analysis of its AWSReservedSSO role when the role
is in the data, else from the permission set's privileged flag."""

from __future__ import annotations

from rich.console import Console

from iam_gov.explain import AwsAccess, PersonExplanation, explain_person
from iam_gov.reports.explain import explanation_view
from tests.support.aws_account import allow, document
from tests.support.aws_org import ADMIN_POLICY, DEV, PROD, READ_ONLY_POLICY, Org
from tests.support.world import person

ALICE = person("E1", "Alice Archer", email="alice.archer@example.com")


def _explained(org: Org) -> PersonExplanation:
    world = org.world(people=[ALICE])
    state = world.state()
    return explain_person(state, state.people["E1"], world.findings())


def _access(x: PersonExplanation) -> list[AwsAccess]:
    return [g.aws_access for line in x.accounts for g in line.grants if g.aws_access is not None]


def _rendered(x: PersonExplanation) -> str:
    console = Console(width=400, record=True, color_system=None)
    console.print(explanation_view(x))
    return console.export_text()


def _alice(org: Org, group: str = "Platform") -> tuple[str, str]:
    """Alice's Identity Store user and a group holding her; (user id, group id)."""
    user = org.sso_user("alice.archer@example.com", email="alice.archer@example.com")
    return user.native_id, org.sso_group(group, [user])


def test_admin_through_a_group_is_said_with_account_group_and_permission_set() -> None:
    """The sentence the issue asks for, with admin from the provisioned role's analysis."""
    org = Org()
    _, platform = _alice(org)
    org.assign(org.permission_set("Admin", managed=[ADMIN_POLICY]), PROD, groups=[platform])
    x = _explained(org)
    [access] = _access(x)
    assert access.admin and access.role_arn is not None
    assert access.sentence == (
        f"can act as AdministratorAccess in account prod ({PROD}) via group Platform → "
        "permission set Admin (admin-equivalent)"
    )
    assert access.sentence in _rendered(x)


def test_a_direct_read_only_assignment_is_not_admin() -> None:
    """Assigned to the user directly, a read-only permission set: no group, not admin."""
    org = Org()
    user, _ = _alice(org)
    [alice] = [a for a in org.accounts if a.native_id == user]
    org.assign(org.permission_set("ReadOnly", managed=[READ_ONLY_POLICY]), DEV, users=[alice])
    [access] = _access(_explained(org))
    assert not access.admin
    assert access.sentence == (
        f"can act as ReadOnlyAccess in account dev ({DEV}) via permission set ReadOnly, "
        "assigned directly"
    )


def test_admin_comes_from_the_analysis_of_the_role_not_only_the_flag() -> None:
    """A permission set not flagged privileged whose role can give itself anything is
    admin-equivalent by the analysis, and said so."""
    org = Org()
    _, platform = _alice(org)
    editor = org.managed(
        f"arn:aws:iam::{PROD}:policy/RoleEditor", document(allow("iam:PutRolePolicy"))
    )
    ps = org.permission_set("RoleEditor", managed=[editor])
    entitlement = org.assign(ps, PROD, groups=[platform])
    assert not org.entitlements[entitlement].privileged
    [access] = _access(_explained(org))
    assert access.admin
    assert access.acts_as == "RoleEditor"


def test_without_its_role_the_privileged_flag_decides() -> None:
    """The account could not be read, so the role is not in the data: the permission set's
    own flag says admin (AdministratorAccess), and the account is still named."""
    org = Org(uncollected={DEV})
    _, platform = _alice(org)
    org.assign(org.permission_set("Admin", managed=[ADMIN_POLICY]), DEV, groups=[platform])
    x = _explained(org)
    [access] = _access(x)
    assert access.role_arn is None and access.admin
    assert f"in account dev ({DEV})" in access.sentence
    assert "INCOMPLETE DATA" in _rendered(x)


def test_an_inline_policy_and_the_account_of_an_iam_principal_are_shown() -> None:
    """Inline policies are named as such; an IAM user of the person shows its AWS account."""
    org = Org()
    _, platform = _alice(org)
    ps = org.permission_set("Ops", managed=[READ_ONLY_POLICY], inline=document(allow("ec2:*")))
    org.assign(ps, PROD, groups=[platform])
    org.user(PROD, "alice", email="alice.archer@example.com")
    x = _explained(org)
    [access] = _access(x)
    assert access.acts_as == "ReadOnlyAccess + an inline policy"
    assert f"AWS account prod ({PROD})" in _rendered(x)


def test_hostile_names_are_escaped() -> None:
    """Group and permission set names come from the directory: control and bidi characters
    are shown as escapes, never sent to the terminal."""
    org = Org()
    _, platform = _alice(org, group="Plat\u202eform\x1b[31m")
    org.assign(org.permission_set("Ad\x07min", managed=[ADMIN_POLICY]), PROD, groups=[platform])
    text = _rendered(_explained(org))
    assert "\x1b" not in text and "\u202e" not in text and "\x07" not in text
    assert "via group Plat\\u202eform\\x1b[31m" in text
