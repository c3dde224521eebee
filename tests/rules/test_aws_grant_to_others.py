"""aws-grant-to-others: a user or role that can grant privileges to others is reported with
its targets, even when it cannot use them itself; one finding per cause."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from iam_gov.model import Severity
from tests.support.aws_account import (
    ADMINISTRATOR_ACCESS,
    ExportedAccount,
    allow,
    arn,
    deny,
    document,
    trust,
)
from tests.support.world import person

RULE = "aws-grant-to-others"
HELPDESK = arn("user", "helpdesk")
ADMINS = arn("group", "admins")
BREAK_GLASS = (
    "version: 1\n"
    "accounts:\n"
    "  - {system: aws, login: helpdesk, kind: break-glass, owner: security@example.com}\n"
)


@pytest.fixture
def aws(tmp_path: Path) -> ExportedAccount:
    return ExportedAccount(tmp_path / "export")


def _others(who: str) -> dict[str, Any]:
    return {"NotResource": who}


def _helpdesk(aws: ExportedAccount, *statements: dict[str, Any]) -> None:
    aws.user("helpdesk", employee_id="E1", inline={"hd": document(*statements)})


def _admin_user(aws: ExportedAccount, name: str = "boss") -> str:
    admin = aws.aws_managed("AdministratorAccess", ADMINISTRATOR_ACCESS)
    return aws.user(name, policies=[admin])


def test_a_helpdesk_that_can_attach_policies_to_any_other_user_is_reported(
    aws: ExportedAccount,
) -> None:
    """It cannot attach to itself, so it is no admin, yet it can make one: high, "any
    user", the admin-equivalent target named."""
    boss = _admin_user(aws)
    aws.user("bob")
    _helpdesk(aws, allow("iam:AttachUserPolicy", **_others(HELPDESK)))
    world = aws.world(people=[person("E1", "Hal Desk")])

    [finding] = world.findings(RULE)

    assert finding.severity is Severity.HIGH
    assert finding.subject == f"aws:{HELPDESK}#inline/hd:grant-to-others"
    assert finding.person_id == "E1"
    assert finding.message == (
        "aws user helpdesk (Hal Desk) can grant privileges to others through inline policy "
        "hd of user/helpdesk: iam:AttachUserPolicy on any user (admin-equivalent: "
        "user/boss); certain, so it can make an admin."
    )
    evidence = finding.evidence
    assert evidence["actions"] == ["iam:AttachUserPolicy"]
    assert evidence["targets"] == [boss, "any user"]
    assert evidence["admin_targets"] == [boss]
    assert evidence["can_make_admin"] is True
    assert evidence["statements"] == [f"{HELPDESK}#inline/hd statement 1"]
    [principal] = evidence["principals"]
    assert principal["arn"] == HELPDESK and principal["certainty"] == "certain"
    assert principal["grants"] == [0]
    [grant] = evidence["grants"]
    assert grant["any_target"] is True
    assert [t["arn"] for t in grant["targets"]] == [boss]
    # not admin-equivalent, so the admin rule says nothing of it
    assert all(HELPDESK not in str(f.evidence) for f in world.findings("aws-admin-equivalent"))


def test_attach_on_every_user_including_itself_is_left_to_the_admin_rule(
    aws: ExportedAccount,
) -> None:
    """With ``*`` it can attach AdministratorAccess to itself: admin-equivalent, reported by
    aws-admin-equivalent and not again here."""
    aws.user("bob")
    _helpdesk(aws, allow("iam:AttachUserPolicy"))
    world = aws.world()

    assert world.findings(RULE) == []
    [admin] = world.findings("aws-admin-equivalent")
    assert admin.evidence["principal_arn"] == HELPDESK


def test_add_user_to_an_admin_group_is_reported_naming_the_group(aws: ExportedAccount) -> None:
    """A role that can add users to the admins group can make an admin: the group named."""
    admin = aws.aws_managed("AdministratorAccess", ADMINISTRATOR_ACCESS)
    aws.group("admins", policies=[admin])
    aws.group("readers")
    aws.user("bob")
    onboarding = aws.role(
        "onboarding",
        trust(arn("user", "bob")),
        inline={"o": document(allow("iam:AddUserToGroup", Resource=ADMINS))},
    )

    [finding] = aws.world().findings(RULE)

    assert finding.severity is Severity.HIGH
    # bob, who can assume the role, shares its finding (one per root cause).
    assert [p["arn"] for p in finding.evidence["principals"]] == [onboarding, arn("user", "bob")]
    assert finding.evidence["admin_targets"] == [ADMINS]
    assert finding.evidence["targets"] == [ADMINS]
    assert "iam:AddUserToGroup on group/admins (admin-equivalent)" in finding.message


def test_a_deny_removes_it(aws: ExportedAccount) -> None:
    """A Deny on every user leaves nothing to report."""
    _admin_user(aws)
    _helpdesk(
        aws,
        allow("iam:AttachUserPolicy", **_others(HELPDESK)),
        deny("iam:AttachUserPolicy", Resource=arn("user", "*")),
    )

    assert aws.world().findings(RULE) == []


def test_an_admin_is_not_reported_again(aws: ExportedAccount) -> None:
    """AdministratorAccess can grant anything to anyone: aws-admin-equivalent says so."""
    _admin_user(aws)
    aws.user("bob")
    world = aws.world()

    assert world.findings(RULE) == []
    assert len(world.findings("aws-admin-equivalent")) == 1


def test_a_conditional_statement_is_conditional_and_one_level_lower(
    aws: ExportedAccount,
) -> None:
    """An Allow under a condition the snapshot cannot decide: medium, conditional."""
    _admin_user(aws)
    condition = {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}
    _helpdesk(aws, allow("iam:AttachUserPolicy", Condition=condition, **_others(HELPDESK)))

    [finding] = aws.world().findings(RULE)

    assert finding.severity is Severity.MEDIUM
    assert finding.evidence["certainty"] == "conditional"
    assert "possible but not proven (conditional" in finding.message


def test_named_harmless_targets_only_are_medium(aws: ExportedAccount) -> None:
    """Policies written on one named, non-admin role: medium, the role named."""
    _admin_user(aws)
    app = aws.role("app", trust(service="ec2.amazonaws.com"))
    _helpdesk(aws, allow("iam:PutRolePolicy", Resource=app))

    [finding] = aws.world().findings(RULE)

    assert finding.severity is Severity.MEDIUM
    assert finding.evidence["targets"] == [app]
    assert finding.evidence["admin_targets"] == []
    assert finding.evidence["can_make_admin"] is False
    assert "iam:PutRolePolicy on role/app;" in finding.message
    assert "make an admin" not in finding.message


def test_one_group_is_one_finding_listing_its_members(aws: ExportedAccount) -> None:
    """Every member of the helpdesk group shares one cause, listed together."""
    _admin_user(aws)
    policy = aws.policy(
        "helpdesk", document(allow("iam:AttachRolePolicy", Resource=arn("role", "*")))
    )
    group = aws.group("helpdesk", policies=[policy])
    aws.user("hal", groups=[group])
    aws.user("ivy", groups=[group])

    [finding] = aws.world().findings(RULE)

    assert finding.subject == f"aws:{group}:grant-to-others"
    assert [p["arn"] for p in finding.evidence["principals"]] == [
        arn("user", "hal"),
        arn("user", "ivy"),
    ]
    assert finding.evidence["count"] == 2
    assert finding.message.startswith(
        "aws group helpdesk (helpdesk) lets 2 users grant privileges to others: "
        "iam:AttachRolePolicy on any role"
    )
    assert finding.message.endswith(": user/hal, user/ivy.")


def test_a_service_only_role_is_one_level_lower(aws: ExportedAccount) -> None:
    """A role only AWS services can assume is lowered, as in aws-admin-equivalent."""
    _admin_user(aws)
    worker = aws.role(
        "worker",
        trust(service="lambda.amazonaws.com"),
        inline={"w": document(allow("iam:CreateAccessKey", Resource=arn("user", "*")))},
    )

    [finding] = aws.world().findings(RULE)

    assert finding.evidence["principal_arn"] == worker
    assert finding.severity is Severity.MEDIUM
    assert "which only AWS services (lambda.amazonaws.com) can assume" in finding.message


def test_a_declared_break_glass_account_is_expected(aws: ExportedAccount) -> None:
    """Declared break-glass: no finding, but expected by policy."""
    _admin_user(aws)
    _helpdesk(aws, allow("iam:AttachUserPolicy", **_others(HELPDESK)))
    world = aws.world(BREAK_GLASS)

    assert world.findings(RULE) == []
    [expected] = world.expected(RULE)
    assert expected.why == "declared break-glass account in the policy"


def test_a_grant_it_can_also_use_on_itself_points_to_the_escalation(
    aws: ExportedAccount,
) -> None:
    """Creating an admin's access key makes an admin of whoever gets the key, the
    principal included: reported here as a grant, and the escalation named."""
    boss = _admin_user(aws)
    _helpdesk(aws, allow(["iam:CreateAccessKey", "iam:ListAccessKeys"]))
    world = aws.world()

    [finding] = world.findings(RULE)
    [escalation] = world.findings("aws-privilege-escalation")

    assert escalation.evidence["target"] == boss
    assert finding.evidence["admin_targets"] == [boss]
    [principal] = finding.evidence["principals"]
    assert principal["also_escalation"] == [
        "Create an access key for another user: user/helpdesk → iam:CreateAccessKey on user/boss"
    ]
    assert finding.message.endswith(
        "; it can also use this on itself, which aws-privilege-escalation reports on its own."
    )


def test_a_harmless_grant_does_not_point_to_an_escalation(aws: ExportedAccount) -> None:
    """A role that adds users to the admins group cannot add itself: no escalation named."""
    admin = aws.aws_managed("AdministratorAccess", ADMINISTRATOR_ACCESS)
    aws.group("admins", policies=[admin])
    aws.user("bob")
    aws.role(
        "onboarding", trust(arn("user", "bob")), inline={"o": document(allow("iam:AddUserToGroup"))}
    )

    [finding] = aws.world().findings(RULE)

    assert finding.evidence["principals"][0]["also_escalation"] == []
    assert "aws-privilege-escalation" not in finding.message
