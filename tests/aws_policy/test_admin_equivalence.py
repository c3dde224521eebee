"""Admin-equivalence: allowed everything (or all of IAM) without conditions, a certain way to
write its own permissions, or a certain chain of roles to a principal that is."""

from __future__ import annotations

from iam_gov.aws_policy import StatementRef
from tests.support.aws_account import (
    ADMINISTRATOR_ACCESS,
    AWS_ADMINISTRATOR,
    ExportedAccount,
    allow,
    arn,
    deny,
    document,
    trust,
)

ZOE = arn("user", "zoe")
MFA = {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
OWN_USER = "arn:aws:iam::123456789012:user/${aws:username}"


def test_administrator_access_is_admin(aws: ExportedAccount) -> None:
    admin = aws.aws_managed("AdministratorAccess", ADMINISTRATOR_ACCESS)
    admins = aws.group("admins", policies=[admin])
    aws.user("zoe", groups=[admins])
    analysis = aws.analysis()

    found = analysis.is_admin_equivalent(ZOE)

    assert found is not None
    assert found.reason == "allows every action (*) on every resource, without conditions"
    assert found.chain == (ZOE,)
    assert found.statements == (StatementRef(AWS_ADMINISTRATOR, 0),)
    assert found.method is None
    assert analysis.escalation_paths(ZOE) == ()  # nothing left to gain


def test_star_colon_star_in_an_inline_policy_is_admin(aws: ExportedAccount) -> None:
    aws.user("zoe", inline={"everything": document(allow("*:*", Sid="All"))})

    found = aws.analysis().is_admin_equivalent(ZOE)

    assert found is not None
    assert found.reason == "allows every action (*) on every resource, without conditions"
    assert [str(ref) for ref in found.statements] == [f"{ZOE}#inline/everything statement 1 (All)"]


def test_all_of_iam_is_admin(aws: ExportedAccount) -> None:
    aws.user("zoe", inline={"iam": document(allow("iam:*"))})

    found = aws.analysis().is_admin_equivalent(ZOE)

    assert found is not None
    assert found.reason == "allows every IAM action (iam:*) on every resource, without conditions"


def test_a_broad_reader_is_not_admin(aws: ExportedAccount) -> None:
    read = document(allow(["s3:*", "ec2:Describe*", "iam:Get*", "iam:List*"]))
    aws.user("zoe", inline={"read": read})

    assert aws.analysis().is_admin_equivalent(ZOE) is None


def test_a_deny_takes_admin_away(aws: ExportedAccount) -> None:
    admin = aws.aws_managed("AdministratorAccess", ADMINISTRATOR_ACCESS)
    guard = aws.policy("NoIam", document(deny("iam:*")))
    guarded = aws.group("guarded", policies=[guard])
    aws.user("zoe", groups=[guarded], policies=[admin])

    assert aws.analysis().is_admin_equivalent(ZOE) is None


def test_a_boundary_takes_admin_away(aws: ExportedAccount) -> None:
    admin = aws.aws_managed("AdministratorAccess", ADMINISTRATOR_ACCESS)
    boundary = aws.policy("S3Only", document(allow("s3:*")))
    aws.user("zoe", policies=[admin], boundary=boundary)
    analysis = aws.analysis()

    assert analysis.is_admin_equivalent(ZOE) is None
    assert analysis.escalation_paths(ZOE) == ()  # and the boundary cannot be lifted


def test_admin_only_under_a_condition_is_not_admin_equivalent(aws: ExportedAccount) -> None:
    aws.user("zoe", inline={"mfa": document(allow("*", Condition=MFA))})

    assert aws.analysis().is_admin_equivalent(ZOE) is None


def test_attaching_any_policy_to_itself_is_admin(aws: ExportedAccount) -> None:
    aws.user("zoe", inline={"self": document(allow("iam:AttachUserPolicy", Resource=OWN_USER))})

    found = aws.analysis().is_admin_equivalent(ZOE)

    assert found is not None
    assert found.reason == "can grant itself anything: iam:AttachUserPolicy on user/zoe"
    assert found.method == "iam-attach-user-policy"
    assert found.statements == (StatementRef(f"{ZOE}#inline/self", 0),)


def test_attaching_policies_to_someone_else_is_not(aws: ExportedAccount) -> None:
    other = aws.user("other")
    aws.user("zoe", inline={"p": document(allow("iam:AttachUserPolicy", Resource=other))})

    assert aws.analysis().is_admin_equivalent(ZOE) is None


def test_a_certain_chain_to_a_role_that_rewrites_its_own_policy_is_admin(
    aws: ExportedAccount,
) -> None:
    ops_policy = arn("policy", "OpsPolicy")
    aws.policy("OpsPolicy", document(allow("iam:CreatePolicyVersion", Resource=ops_policy)))
    ops = aws.role("ops", trust(ZOE), policies=[ops_policy])
    aws.user("zoe", inline={"p": document(allow("sts:AssumeRole", Resource=ops))})
    analysis = aws.analysis()

    found = analysis.is_admin_equivalent(ZOE)

    assert found is not None
    assert found.chain == (ZOE, ops)
    assert found.reason == (
        "can assume role/ops, which can grant itself anything: iam:CreatePolicyVersion on "
        "policy/OpsPolicy"
    )
    assert found.method == "iam-create-policy-version"
    assert found.statements == (StatementRef(ops_policy, 0),)


def test_a_user_an_admin_roles_trust_names_is_admin_without_any_policy(
    aws: ExportedAccount,
) -> None:
    admin = aws.aws_managed("AdministratorAccess", ADMINISTRATOR_ACCESS)
    admin_role = aws.role("admin", trust(ZOE), policies=[admin])
    aws.user("zoe")

    found = aws.analysis().is_admin_equivalent(ZOE)

    assert found is not None and found.chain == (ZOE, admin_role)
    assert found.reason == (
        "can assume role/admin, which allows every action (*) on every resource, without conditions"
    )


def test_the_root_user_is_admin(aws: ExportedAccount) -> None:
    root = aws.root()
    aws.user("zoe")

    found = aws.analysis().is_admin_equivalent(root)

    assert found is not None
    assert found.reason == "is the account's root user, which no IAM policy limits"
