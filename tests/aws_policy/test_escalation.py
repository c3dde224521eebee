"""Privilege-escalation paths: the published methods, through the roles a principal can
assume, and what makes a path certain, resource-constrained, conditional or no path."""

from __future__ import annotations

import pytest

from iam_gov.aws_policy import Certainty, EscalationPath
from tests.support.aws_account import (
    ADMINISTRATOR_ACCESS,
    ExportedAccount,
    allow,
    arn,
    deny,
    document,
    trust,
)

ALICE = arn("user", "alice")
DEV = arn("user", "dev")
MFA = {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
OWN_USER = "arn:aws:iam::123456789012:user/${aws:username}"


def by_method(paths: tuple[EscalationPath, ...]) -> dict[str, EscalationPath]:
    return {path.method.id: path for path in paths}


def with_admin_user(aws: ExportedAccount) -> str:
    """A user holding AdministratorAccess: the prize of taking over another user."""
    admin = aws.aws_managed("AdministratorAccess", ADMINISTRATOR_ACCESS)
    return aws.user("boss", policies=[admin])


def with_admin_lambda_role(aws: ExportedAccount) -> str:
    admin = aws.aws_managed("AdministratorAccess", ADMINISTRATOR_ACCESS)
    return aws.role("lambda-admin", trust(service="lambda.amazonaws.com"), policies=[admin])


def test_a_user_escalates_through_a_role_it_can_assume(aws: ExportedAccount) -> None:
    lambda_admin = with_admin_lambda_role(aws)
    deploy = document(
        allow("iam:PassRole", Resource=lambda_admin),
        allow(["lambda:CreateFunction", "lambda:InvokeFunction"]),
    )
    ops = aws.role("ops", trust(ALICE), inline={"deploy": deploy})
    aws.user(
        "alice",
        inline={"p": document(allow("sts:AssumeRole", Resource=ops), allow("s3:Get*"))},
    )
    analysis = aws.analysis()

    paths = by_method(analysis.escalation_paths(ALICE))

    path = paths["passrole-lambda-invoke"]
    assert path.chain == (ALICE, ops)
    assert path.target == lambda_admin
    assert path.describe() == (
        "user/alice → role/ops → iam:PassRole + lambda:CreateFunction + lambda:InvokeFunction "
        "on role/lambda-admin"
    )
    assert path.certainty is Certainty.CERTAIN and path.admin
    assert [str(ref) for ref in path.statements] == [
        f"{ops}#inline/deploy statement 1",
        f"{ops}#inline/deploy statement 2",
    ]
    assert f"role/lambda-admin trusts lambda.amazonaws.com ({lambda_admin}#trust statement 1)" in (
        path.notes
    )
    # Becoming ops is itself a gain: it may pass roles, which alice may not.
    assumed = paths["sts-assume-role"]
    assert (assumed.chain, assumed.target) == ((ALICE,), ops)
    assert analysis.is_admin_equivalent(ALICE) is None  # it takes a Lambda function


def test_a_role_that_can_rewrite_its_own_policy_is_a_prize_behind_a_conditional_trust(
    aws: ExportedAccount,
) -> None:
    ops_policy = arn("policy", "OpsPolicy")
    aws.policy("OpsPolicy", document(allow("iam:CreatePolicyVersion", Resource=ops_policy)))
    ops = aws.role("ops", trust(ALICE, condition=MFA), policies=[ops_policy])
    aws.user("alice", inline={"p": document(allow("sts:AssumeRole", Resource=ops))})
    analysis = aws.analysis()

    [path] = analysis.escalation_paths(ALICE)

    assert path.method.id == "sts-assume-role"
    assert path.describe() == "user/alice → sts:AssumeRole on role/ops"
    assert path.admin and path.certainty is Certainty.CONDITIONAL
    assert analysis.is_admin_equivalent(ALICE) is None  # not without the MFA
    assert analysis.is_admin_equivalent(ops) is not None


def test_creating_access_keys_for_other_users_is_an_escalation(aws: ExportedAccount) -> None:
    boss = with_admin_user(aws)
    keys = document(allow("iam:CreateAccessKey", Resource="arn:aws:iam::123456789012:user/*"))
    aws.user("dev", inline={"keys": keys})

    [path] = aws.analysis().escalation_paths(DEV)

    assert path.method.id == "iam-create-access-key"
    assert path.target == boss and path.admin
    assert path.certainty is Certainty.CERTAIN
    assert path.describe() == "user/dev → iam:CreateAccessKey on user/boss"
    assert [s.action for s in path.steps] == ["iam:CreateAccessKey"]
    assert path.steps[0].resource == boss


@pytest.mark.parametrize(
    "actions", [["iam:CreateAccessKey"], ["iam:CreateAccessKey", "iam:UpdateLoginProfile"]]
)
def test_credentials_for_its_own_user_only_are_no_escalation(
    aws: ExportedAccount, actions: list[str]
) -> None:
    with_admin_user(aws)
    aws.user("dev", inline={"self-service": document(allow(actions, Resource=OWN_USER))})

    assert aws.analysis().escalation_paths(DEV) == ()


def test_passing_only_a_low_privilege_role_is_no_escalation(aws: ExportedAccount) -> None:
    with_admin_lambda_role(aws)
    logs = document(allow(["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]))
    basic = aws.role("lambda-basic", trust(service="lambda.amazonaws.com"), inline={"logs": logs})
    deploy = document(
        allow("iam:PassRole", Resource=basic),
        allow(["lambda:CreateFunction", "lambda:InvokeFunction"]),
    )
    aws.user("dev", inline={"deploy": deploy})

    assert aws.analysis().escalation_paths(DEV) == ()


def test_passing_any_role_to_lambda_is_an_escalation(aws: ExportedAccount) -> None:
    lambda_admin = with_admin_lambda_role(aws)
    deploy = document(allow(["iam:PassRole", "lambda:CreateFunction", "lambda:InvokeFunction"]))
    aws.user("dev", inline={"deploy": deploy})

    [path] = aws.analysis().escalation_paths(DEV)

    assert (path.method.id, path.target) == ("passrole-lambda-invoke", lambda_admin)
    assert path.certainty is Certainty.CERTAIN


def test_the_service_a_role_may_be_passed_to_is_evaluated(aws: ExportedAccount) -> None:
    with_admin_lambda_role(aws)
    admin = aws.aws_managed("AdministratorAccess", ADMINISTRATOR_ACCESS)
    ec2_admin = aws.role("ec2-admin", trust(service="ec2.amazonaws.com"), policies=[admin])
    to_ec2 = {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}
    launch = document(
        allow("iam:PassRole", Condition=to_ec2),
        allow(["ec2:RunInstances", "lambda:CreateFunction", "lambda:InvokeFunction"]),
    )
    aws.user("dev", inline={"launch": launch})

    paths = by_method(aws.analysis().escalation_paths(DEV))

    assert set(paths) == {"passrole-ec2-run-instances"}
    assert paths["passrole-ec2-run-instances"].target == ec2_admin
    assert paths["passrole-ec2-run-instances"].certainty is Certainty.CERTAIN


def test_using_a_role_on_an_existing_resource_is_never_certain(aws: ExportedAccount) -> None:
    lambda_admin = with_admin_lambda_role(aws)
    aws.user("dev", inline={"code": document(allow("lambda:UpdateFunctionCode"))})

    [path] = aws.analysis().escalation_paths(DEV)

    assert (path.method.id, path.target) == ("lambda-update-function-code", lambda_admin)
    assert path.certainty is Certainty.RESOURCE_CONSTRAINED
    assert (
        "which existing functions carry which role is not in an IAM snapshot: possible, "
        "not proven" in path.notes
    )


def test_an_explicit_deny_removes_the_path(aws: ExportedAccount) -> None:
    with_admin_user(aws)
    guard = aws.policy("NoKeys", document(deny("iam:CreateAccessKey")))
    staff = aws.group("staff", policies=[guard])
    keys = document(allow("iam:CreateAccessKey", Resource="arn:aws:iam::123456789012:user/*"))
    aws.user("dev", groups=[staff], inline={"keys": keys})
    aws.user("other", inline={"keys": keys})  # the same grant, without the group
    analysis = aws.analysis()

    assert analysis.escalation_paths(DEV) == ()
    assert [p.method.id for p in analysis.escalation_paths(arn("user", "other"))] == [
        "iam-create-access-key"
    ]


def test_a_deny_on_the_target_alone_removes_the_path(aws: ExportedAccount) -> None:
    boss = with_admin_user(aws)
    keys = document(
        allow("iam:CreateAccessKey", Resource="arn:aws:iam::123456789012:user/*"),
        deny("iam:CreateAccessKey", Resource=boss),
    )
    aws.user("dev", inline={"keys": keys})

    assert aws.analysis().escalation_paths(DEV) == ()


def test_a_deny_on_assuming_the_role_removes_the_path_through_it(aws: ExportedAccount) -> None:
    with_admin_lambda_role(aws)
    deploy = document(allow(["iam:PassRole", "lambda:CreateFunction", "lambda:InvokeFunction"]))
    bob = arn("user", "bob")
    ops = aws.role("ops", trust(ALICE, bob), inline={"deploy": deploy})
    no_assume = aws.policy("NoAssume", document(deny("sts:AssumeRole", Resource=ops)))
    aws.user("alice", policies=[no_assume], inline={"p": document(allow("sts:AssumeRole"))})
    aws.user("bob", inline={"p": document(allow("sts:AssumeRole"))})
    analysis = aws.analysis()

    assert analysis.escalation_paths(ALICE) == ()
    assert {p.method.id for p in analysis.escalation_paths(bob)} == {
        "sts-assume-role",
        "passrole-lambda-invoke",
    }


def test_a_condition_makes_the_path_conditional(aws: ExportedAccount) -> None:
    with_admin_user(aws)
    keys = document(
        allow("iam:CreateAccessKey", Resource="arn:aws:iam::123456789012:user/*", Condition=MFA)
    )
    aws.user("dev", inline={"keys": keys})

    [path] = aws.analysis().escalation_paths(DEV)

    assert path.method.id == "iam-create-access-key"
    assert path.certainty is Certainty.CONDITIONAL
    assert path.steps[0].certainty is Certainty.CONDITIONAL


def test_a_conditional_deny_leaves_the_path_conditional(aws: ExportedAccount) -> None:
    no_mfa = {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}
    attach = document(
        allow("iam:AttachUserPolicy", Resource=OWN_USER), deny("iam:*", Condition=no_mfa)
    )
    aws.user("dev", inline={"attach": attach})
    analysis = aws.analysis()

    [path] = analysis.escalation_paths(DEV)

    assert path.method.id == "iam-attach-user-policy"
    assert path.certainty is Certainty.CONDITIONAL and path.admin
    assert f"a Deny might apply ({DEV}#inline/attach statement 2); assumed not to" in path.notes
    assert analysis.is_admin_equivalent(DEV) is None


def test_removing_its_own_permissions_boundary(aws: ExportedAccount) -> None:
    admin = aws.aws_managed("AdministratorAccess", ADMINISTRATOR_ACCESS)
    boundary = aws.policy(
        "Boundary", document(allow(["s3:*", "iam:DeleteUserPermissionsBoundary"]))
    )
    aws.user("dev", policies=[admin], boundary=boundary)
    analysis = aws.analysis()

    [path] = analysis.escalation_paths(DEV)

    assert path.method.id == "iam-permissions-boundary"
    assert path.describe() == "user/dev → iam:DeleteUserPermissionsBoundary on user/dev"
    assert path.certainty is Certainty.CERTAIN and path.admin
    assert analysis.is_admin_equivalent(DEV) is None


def test_nothing_to_gain_is_no_path(aws: ExportedAccount) -> None:
    # Taking over a user that can do less than dev is not an escalation.
    aws.user("intern", inline={"read": document(allow("s3:GetObject"))})
    keys = document(allow("iam:CreateAccessKey", Resource="arn:aws:iam::123456789012:user/*"))
    aws.user("dev", inline={"keys": keys})

    assert aws.analysis().escalation_paths(DEV) == ()


def test_rewriting_a_trust_policy_needs_no_allowance_to_assume_the_role(
    aws: ExportedAccount,
) -> None:
    admin = aws.aws_managed("AdministratorAccess", ADMINISTRATOR_ACCESS)
    target = aws.role("admin", trust(service="ec2.amazonaws.com"), policies=[admin])
    rewrite = document(allow("iam:UpdateAssumeRolePolicy", Resource=target))
    aws.user("dev", inline={"rewrite": rewrite})
    analysis = aws.analysis()

    [path] = analysis.escalation_paths(DEV)

    # Once the trust names dev, it grants sts:AssumeRole by itself within the account.
    assert path.method.id == "iam-update-assume-role-policy"
    assert path.certainty is Certainty.CERTAIN and path.admin
    assert path.describe() == "user/dev → iam:UpdateAssumeRolePolicy on role/admin"
    assert path.enabling_actions == ("iam:UpdateAssumeRolePolicy",)
    assert [str(ref) for ref in path.statements] == [f"{DEV}#inline/rewrite statement 1"]
    assume = path.steps[1]
    assert (assume.action, assume.resource, assume.granted) == ("sts:AssumeRole", target, True)
    assert (
        "the rewritten trust policy names it, which within the account grants sts:AssumeRole "
        "by itself: no identity policy needs to allow it" in path.notes
    )


def test_a_deny_or_a_boundary_on_assuming_still_stops_rewriting_a_trust(
    aws: ExportedAccount,
) -> None:
    admin = aws.aws_managed("AdministratorAccess", ADMINISTRATOR_ACCESS)
    target = aws.role("admin", trust(service="ec2.amazonaws.com"), policies=[admin])
    rewrite = allow("iam:UpdateAssumeRolePolicy", Resource=target)
    aws.user("denied", inline={"p": document(rewrite, deny("sts:AssumeRole", Resource=target))})
    no_sts = aws.policy("NoSts", document(allow("iam:*")))
    aws.user("bounded", inline={"p": document(rewrite)}, boundary=no_sts)
    maybe = deny("sts:AssumeRole", Condition={"Bool": {"aws:MultiFactorAuthPresent": "false"}})
    aws.user("hedged", inline={"p": document(rewrite, maybe)})
    analysis = aws.analysis()

    assert analysis.escalation_paths(arn("user", "denied")) == ()
    assert analysis.escalation_paths(arn("user", "bounded")) == ()
    [path] = analysis.escalation_paths(arn("user", "hedged"))
    assert path.method.id == "iam-update-assume-role-policy"
    assert path.certainty is Certainty.CONDITIONAL


def test_joining_an_empty_group_that_holds_administrator_access(aws: ExportedAccount) -> None:
    admin = aws.aws_managed("AdministratorAccess", ADMINISTRATOR_ACCESS)
    admins = aws.group("admins", policies=[admin])  # no member: no grant shows its policies
    aws.user("dev", inline={"join": document(allow("iam:AddUserToGroup", Resource=admins))})
    analysis = aws.analysis()

    [path] = analysis.escalation_paths(DEV)

    assert path.method.id == "iam-add-user-to-group"
    assert path.describe() == "user/dev → iam:AddUserToGroup on group/admins"
    assert path.certainty is Certainty.CERTAIN and path.admin
    assert analysis.group_policies[admins] == (admin,)
