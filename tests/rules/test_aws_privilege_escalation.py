"""aws-privilege-escalation: a user or role that can give itself more than it has."""

from __future__ import annotations

from pathlib import Path

import pytest

from iam_gov.model import Finding, Severity
from tests.support.aws_account import (
    ADMINISTRATOR_ACCESS,
    AWS_ADMINISTRATOR,
    ExportedAccount,
    allow,
    arn,
    document,
    trust,
)
from tests.support.world import person

RULE = "aws-privilege-escalation"
ALICE = arn("user", "alice")
OPS = arn("role", "ops")
LAMBDA_ADMIN = arn("role", "lambda-admin")
MFA = {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
ANY_USER = "arn:aws:iam::123456789012:user/*"


@pytest.fixture
def aws(tmp_path: Path) -> ExportedAccount:
    """An account with an administrator role that Lambda functions may run as."""
    account = ExportedAccount(tmp_path / "export")
    admin = account.aws_managed("AdministratorAccess", ADMINISTRATOR_ACCESS)
    account.role("lambda-admin", trust(service="lambda.amazonaws.com"), policies=[admin])
    return account


def by_subject(findings: list[Finding]) -> dict[str, Finding]:
    return {f.subject: f for f in findings}


def principals(finding: Finding) -> list[str]:
    return [p["arn"] for p in finding.evidence["principals"]]


def test_a_person_escalating_through_a_role_shares_the_role_s_finding(
    aws: ExportedAccount,
) -> None:
    deploy = document(
        allow("iam:PassRole", Resource=LAMBDA_ADMIN),
        allow(["lambda:CreateFunction", "lambda:InvokeFunction"]),
    )
    aws.role("ops", trust(ALICE), inline={"deploy": deploy})
    aws.user("alice", employee_id="E1", inline={"p": document(allow("sts:AssumeRole"))})
    world = aws.world(people=[person("E1", "Alice Archer")])

    found = by_subject(world.findings(RULE))

    # One cause: ops's policy lets it pass the admin role to Lambda; alice can become ops.
    passing = f"aws:{OPS}#inline/deploy:passrole-lambda-invoke:{LAMBDA_ADMIN}"
    assuming = f"aws:{ALICE}#inline/p:sts-assume-role:{OPS}"
    assert set(found) == {passing, assuming}
    finding = found[passing]
    assert finding.severity is Severity.CRITICAL
    assert finding.person_id == "E1"  # the only person it affects
    assert finding.message == (
        "aws inline policy deploy of role/ops lets 1 role and 1 user escalate their "
        "privileges (Pass a role to a new Lambda function and invoke it): iam:PassRole + "
        "lambda:CreateFunction + lambda:InvokeFunction on role/lambda-admin; certain, gains "
        "admin: role/ops, user/alice (Alice Archer) through role/ops."
    )
    evidence = finding.evidence
    assert evidence["cause"] == passing.removeprefix("aws:")
    assert evidence["grantors"] == [f"{OPS}#inline/deploy"]
    assert evidence["method_id"] == "passrole-lambda-invoke"
    assert evidence["target"] == LAMBDA_ADMIN
    assert evidence["enabling_actions"] == [
        "iam:PassRole",
        "lambda:CreateFunction",
        "lambda:InvokeFunction",
    ]
    assert evidence["statements"] == [
        f"{OPS}#inline/deploy statement 1",
        f"{OPS}#inline/deploy statement 2",
    ]
    assert evidence["certainty"] == "certain"
    assert evidence["gains_admin"] is True
    assert evidence["count"] == 2
    ops, alice = evidence["principals"]
    # The role's own path matters because a person can become the role.
    assert ops["arn"] == OPS and ops["chain"] == [OPS] and ops["severity"] == "critical"
    assert ops["reachable_by_human"] is True
    assert ops["human_route"] == [ALICE, OPS]
    assert ops["human_route_certainty"] == "certain"
    assert alice["arn"] == ALICE and alice["person_id"] == "E1"
    assert alice["chain"] == [ALICE, OPS]
    assert alice["path"] == (
        "user/alice → role/ops → iam:PassRole + lambda:CreateFunction + "
        "lambda:InvokeFunction on role/lambda-admin"
    )
    # Becoming ops is a gain of its own: it may pass roles, which alice may not.
    assumed = found[assuming]
    assert assumed.message == (
        "aws user alice (Alice Archer) can escalate its privileges (Assume a more privileged "
        "role) through inline policy p of user/alice: user/alice → sts:AssumeRole on "
        "role/ops; certain, gains 3 more actions."
    )
    # Counted in one unit, every action of the catalogue: iam:PassRole and the two of Lambda.
    assert assumed.evidence["gained_actions"] == 3
    assert assumed.evidence["principal_arn"] == ALICE
    assert assumed.evidence["account_login"] == "alice"
    assert assumed.evidence["target"] == OPS


def test_many_users_with_one_group_s_grant_are_one_finding(aws: ExportedAccount) -> None:
    admin = aws.aws_managed("AdministratorAccess", ADMINISTRATOR_ACCESS)
    aws.user("boss", policies=[admin])
    keys = aws.policy("Keys", document(allow("iam:CreateAccessKey", Resource=ANY_USER)))
    helpdesk = aws.group("helpdesk", policies=[keys])
    for i, name in enumerate(["ann", "ben", "cat"]):
        aws.user(name, employee_id=f"E{i}", groups=[helpdesk])
    world = aws.world(people=[person(f"E{i}", f"Person {i}") for i in range(3)])

    [finding] = world.findings(RULE)

    assert finding.subject == (
        f"aws:{arn('group', 'helpdesk')}:iam-create-access-key:{arn('user', 'boss')}"
    )
    assert finding.severity is Severity.CRITICAL
    assert finding.person_id is None
    assert finding.message == (
        "aws group helpdesk (Keys) lets 3 users escalate their privileges (Create an access "
        "key for another user): iam:CreateAccessKey on user/boss; certain, gains admin: "
        "user/ann (Person 0), user/ben (Person 1), user/cat (Person 2)."
    )
    assert finding.evidence["policies"] == [keys]
    assert principals(finding) == [arn("user", n) for n in ("ann", "ben", "cat")]
    assert finding.evidence["account_login"] is None


def test_identical_inline_copies_are_one_finding_and_a_unique_one_its_own(
    aws: ExportedAccount,
) -> None:
    admin = aws.aws_managed("AdministratorAccess", ADMINISTRATOR_ACCESS)
    aws.user("boss", policies=[admin])
    # "Manage your own keys", written without the ${aws:username} resource, on each user.
    keys = document(allow(["iam:CreateAccessKey", "iam:ListAccessKeys"]))
    aws.user("ann", inline={"self-service-credentials": keys})
    aws.user("ben", inline={"self-service-credentials": keys})
    aws.user("cat", inline={"own-keys": document(allow("iam:CreateAccessKey"))})

    found = by_subject(aws.world().findings(RULE))

    boss = arn("user", "boss")
    [copies] = [f for s, f in found.items() if s.startswith("aws:inline-policy/")]
    assert copies.subject.startswith("aws:inline-policy/self-service-credentials@")
    assert copies.subject.endswith(f":iam-create-access-key:{boss}")
    assert principals(copies) == [arn("user", "ann"), arn("user", "ben")]
    assert copies.message.startswith(
        "aws inline policy self-service-credentials (the same document on 2 users) lets 2 "
        "users escalate their privileges (Create an access key for another user): "
    )
    unique = found[f"aws:{arn('user', 'cat')}#inline/own-keys:iam-create-access-key:{boss}"]
    assert principals(unique) == [arn("user", "cat")]
    assert len(found) == 2


def test_a_certain_path_a_person_reaches_only_conditionally_is_high(
    aws: ExportedAccount,
) -> None:
    deploy = document(allow(["iam:PassRole", "lambda:CreateFunction", "lambda:InvokeFunction"]))
    aws.role("ops", trust(ALICE, condition=MFA), inline={"deploy": deploy})
    aws.user("alice", employee_id="E1", inline={"p": document(allow("sts:AssumeRole"))})
    world = aws.world(people=[person("E1", "Alice Archer")])

    found = by_subject(world.findings(RULE))

    # The role's own path is certain, but alice becomes the role only with MFA.
    finding = found[f"aws:{OPS}#inline/deploy:passrole-lambda-invoke:{LAMBDA_ADMIN}"]
    assert finding.severity is Severity.HIGH
    assert finding.evidence["certainty"] == "certain"  # the surest of the two
    ops, alice = finding.evidence["principals"]
    assert (ops["arn"], ops["certainty"], ops["severity"]) == (OPS, "certain", "high")
    assert ops["reachable_by_human"] is True
    assert ops["human_route"] == [ALICE, OPS]
    assert ops["human_route_certainty"] == "conditional"
    # alice's own path goes through the MFA condition: possible, not proven.
    assert (alice["arn"], alice["certainty"], alice["severity"]) == (
        ALICE,
        "conditional",
        "high",
    )
    assert "; certain for 1 of them; possible but not proven (conditional: it depends on a " in (
        finding.message
    )


def test_a_conditional_path_ranks_one_level_lower(aws: ExportedAccount) -> None:
    admin = aws.aws_managed("AdministratorAccess", ADMINISTRATOR_ACCESS)
    aws.user("boss", policies=[admin])
    keys = document(allow("iam:CreateAccessKey", Resource=ANY_USER, Condition=MFA))
    aws.user("dev", inline={"keys": keys})

    [finding] = aws.world().findings(RULE)

    # A person's user (dev is nobody's, so it counts as one): critical if certain.
    assert finding.severity is Severity.HIGH
    assert finding.person_id is None
    assert finding.message == (
        "aws user dev can escalate its privileges (Create an access key for another user) "
        "through inline policy keys of user/dev: user/dev → iam:CreateAccessKey on "
        "user/boss; possible but not proven (conditional: it depends on a condition an IAM "
        "snapshot cannot evaluate), gains admin."
    )
    assert finding.evidence["certainty"] == "conditional"


def test_a_resource_constrained_path_ranks_one_level_lower(aws: ExportedAccount) -> None:
    code = document(allow("lambda:UpdateFunctionCode"))
    aws.user("dev", employee_id="E1", inline={"code": code})
    aws.role("builder", trust(service="codebuild.amazonaws.com"), inline={"build": code})
    world = aws.world(people=[person("E1", "Dev Eloper")])

    found = by_subject(world.findings(RULE))

    # Which function runs as which role is not in the snapshot: possible, not proven.
    method = f"lambda-update-function-code:{LAMBDA_ADMIN}"
    dev = found[f"aws:{arn('user', 'dev')}#inline/code:{method}"]
    assert dev.severity is Severity.HIGH  # critical if it were certain
    assert "; possible but not proven (resource-constrained: it depends on resources an IAM " in (
        dev.message
    )
    builder = found[f"aws:{arn('role', 'builder')}#inline/build:{method}"]
    assert builder.severity is Severity.MEDIUM  # high if it were certain
    assert builder.evidence["certainty"] == "resource-constrained"


def test_a_role_no_person_can_reach_is_high(aws: ExportedAccount) -> None:
    deploy = document(allow(["iam:PassRole", "lambda:CreateFunction", "lambda:InvokeFunction"]))
    builder = aws.role(
        "builder", trust(service="codebuild.amazonaws.com"), inline={"deploy": deploy}
    )

    [finding] = aws.world().findings(RULE)

    assert finding.subject == f"aws:{builder}#inline/deploy:passrole-lambda-invoke:{LAMBDA_ADMIN}"
    assert finding.severity is Severity.HIGH
    [role] = finding.evidence["principals"]
    assert role["reachable_by_human"] is False
    assert role["human_route"] == []
    assert role["human_route_certainty"] is None
    assert role["type"] == "role"


def test_a_cause_is_as_severe_as_the_worst_principal_it_affects(aws: ExportedAccount) -> None:
    admin = aws.aws_managed("AdministratorAccess", ADMINISTRATOR_ACCESS)
    aws.user("boss", policies=[admin])
    keys = aws.policy("Keys", document(allow("iam:CreateAccessKey", Resource=ANY_USER)))
    robot = aws.role("robot", trust(service="ec2.amazonaws.com"), policies=[keys])
    aws.user("dev", employee_id="E1", policies=[keys])
    world = aws.world(people=[person("E1", "Dev Eloper")])

    [finding] = world.findings(RULE)

    # A person's user makes it critical; the role only a service can become is high.
    assert finding.severity is Severity.CRITICAL
    assert [(p["arn"], p["severity"]) for p in finding.evidence["principals"]] == [
        (arn("user", "dev"), "critical"),
        (robot, "high"),
    ]
    assert finding.subject == f"aws:{keys}:iam-create-access-key:{arn('user', 'boss')}"


def test_credentials_for_itself_only_are_not_reported(aws: ExportedAccount) -> None:
    admin = aws.aws_managed("AdministratorAccess", ADMINISTRATOR_ACCESS)
    aws.user("boss", policies=[admin])
    own = "arn:aws:iam::123456789012:user/${aws:username}"
    self_service = document(allow(["iam:CreateAccessKey", "iam:UpdateLoginProfile"], Resource=own))
    aws.user("dev", inline={"self-service": self_service})

    assert aws.world().findings(RULE) == []


def test_admins_are_left_to_aws_admin_equivalent(aws: ExportedAccount) -> None:
    aws.user("root-like", inline={"all": document(allow("*"))})

    world = aws.world()

    assert world.findings(RULE) == []
    admins = world.findings("aws-admin-equivalent")
    assert {p["arn"] for f in admins for p in f.evidence["principals"]} == {
        arn("user", "root-like"),
        LAMBDA_ADMIN,
    }


def test_a_disabled_user_is_not_reported(aws: ExportedAccount) -> None:
    admin = aws.aws_managed("AdministratorAccess", ADMINISTRATOR_ACCESS)
    aws.user("boss", policies=[admin])
    keys = document(allow("iam:CreateAccessKey", Resource=ANY_USER))
    aws.user("dev", password=False, key=False, inline={"keys": keys})

    assert aws.world().findings(RULE) == []


def test_an_admin_that_can_also_escalate_is_reported_under_both_rules(
    aws: ExportedAccount,
) -> None:
    admin = aws.aws_managed("AdministratorAccess", ADMINISTRATOR_ACCESS)
    admins = aws.group("admins", policies=[admin])
    boss = aws.user("boss", policies=[admin])
    keys = document(allow("iam:CreateAccessKey", Resource=ANY_USER))
    aws.user("alice", groups=[admins], inline={"keys": keys})

    world = aws.world()

    # Removing alice from the admins group would leave her a way back to admin: the
    # escalation rule lists her, marked, and the admin finding names the path.
    [finding] = world.findings(RULE)
    assert finding.subject == f"aws:{ALICE}#inline/keys:iam-create-access-key:{boss}"
    assert finding.severity is Severity.CRITICAL
    [alice] = finding.evidence["principals"]
    assert alice["arn"] == ALICE and alice["admin_equivalent"] is True
    assert finding.message == (
        "aws user alice can escalate its privileges (Create an access key for another user) "
        "through inline policy keys of user/alice: user/alice → iam:CreateAccessKey on "
        "user/boss; certain, gains admin; it is admin-equivalent already "
        "(aws-admin-equivalent) and keeps this path when that is fixed."
    )
    by_cause = {f.subject: f for f in world.findings("aws-admin-equivalent")}
    group = by_cause[f"aws:{arn('group', 'admins')}"]
    assert group.evidence["principals"][0]["still_escalates"] == [
        "Create an access key for another user: user/alice → iam:CreateAccessKey on user/boss"
    ]
    assert group.message.endswith(
        "; without the policies that make it so, it can still escalate "
        "(aws-privilege-escalation): Create an access key for another user: user/alice → "
        "iam:CreateAccessKey on user/boss."
    )
    # boss has nothing but the admin policy: nothing left once it is gone.
    assert by_cause[f"aws:{AWS_ADMINISTRATOR}"].evidence["principals"][0]["still_escalates"] == []
