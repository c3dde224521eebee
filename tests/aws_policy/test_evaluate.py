"""Effective permissions: Allow and Deny across a user's own and its groups' policies,
wildcards and NotAction, NotResource, permissions boundaries and conditions."""

from __future__ import annotations

from iam_gov.aws_policy import Certainty, StatementRef, default_catalog
from tests.support.aws_account import ExportedAccount, allow, arn, deny, document

BUCKET_KEY = "arn:aws:s3:::reports/2026/q1.csv"
MFA = {"Bool": {"aws:MultiFactorAuthPresent": "true"}}


def test_wildcards_expand_to_the_actions_they_name(aws: ExportedAccount) -> None:
    zoe = aws.user("zoe", inline={"p": document(allow(["iam:*", "s3:Get*"]))})
    analysis = aws.analysis()
    catalog = default_catalog()

    permissions = analysis.effective_permissions(zoe)

    assert permissions.actions() == catalog.actions(catalog.mask("iam:*") | catalog.mask("s3:Get*"))
    assert permissions.services() == {"iam", "s3"}
    assert analysis.can(zoe, "iam:CreateUser") is not None
    assert analysis.can(zoe, "s3:GetObject", BUCKET_KEY) is not None
    assert analysis.can(zoe, "s3:PutObject", BUCKET_KEY) is None
    assert analysis.can(zoe, "ec2:RunInstances") is None


def test_not_action_allows_everything_but_the_listed(aws: ExportedAccount) -> None:
    zoe = aws.user("zoe", inline={"p": document(allow(NotAction="iam:*"))})
    analysis = aws.analysis()

    permissions = analysis.effective_permissions(zoe)

    decision = analysis.can(zoe, "s3:GetObject", BUCKET_KEY)
    assert decision is not None and decision.certainty is Certainty.CERTAIN
    assert analysis.can(zoe, "iam:CreateUser") is None
    assert not permissions.allows("iam:*")
    assert {"s3", "ec2", "lambda", "sts"} <= permissions.services()
    assert len(permissions) == len(default_catalog().names) - len(
        default_catalog().actions(default_catalog().mask("iam:*"))
    )


def test_a_deny_with_not_action_leaves_only_the_listed(aws: ExportedAccount) -> None:
    zoe = aws.user("zoe", inline={"p": document(allow("*"), deny(NotAction=["s3:*"]))})

    permissions = aws.analysis().effective_permissions(zoe)

    assert permissions.services() == {"s3"}
    assert permissions.unconditional == permissions.allowed


def test_a_deny_in_the_group_overrides_the_users_allow(aws: ExportedAccount) -> None:
    no_iam = aws.policy("NoIam", document(deny("iam:*")))
    staff = aws.group("staff", policies=[no_iam])
    zoe = aws.user("zoe", groups=[staff], inline={"p": document(allow(["iam:*", "s3:*"]))})
    analysis = aws.analysis()

    assert analysis.can(zoe, "iam:CreateUser") is None
    assert analysis.can(zoe, "s3:GetObject", BUCKET_KEY) is not None
    assert analysis.effective_permissions(zoe).services() == {"s3"}
    assert analysis.principals[zoe].groups == (staff,)
    assert no_iam in analysis.principals[zoe].policies


def test_a_deny_on_the_user_overrides_its_groups_allow(aws: ExportedAccount) -> None:
    ops = aws.group("ops", inline={"all": document(allow("*"))})
    zoe = aws.user("zoe", groups=[ops], inline={"guard": document(deny("iam:*"))})
    other = aws.user("other", groups=[ops])
    analysis = aws.analysis()

    assert analysis.can(zoe, "iam:CreateUser") is None
    assert analysis.can(zoe, "ec2:RunInstances") is not None
    assert analysis.can(other, "iam:CreateUser") is not None  # the Deny is zoe's alone


def test_a_deny_on_some_resources_leaves_the_others(aws: ExportedAccount) -> None:
    secret = "arn:aws:s3:::secrets/*"
    zoe = aws.user("zoe", inline={"p": document(allow("s3:*"), deny("s3:*", Resource=secret))})
    analysis = aws.analysis()

    assert analysis.can(zoe, "s3:GetObject", "arn:aws:s3:::secrets/db.txt") is None
    decision = analysis.can(zoe, "s3:GetObject", BUCKET_KEY)
    assert decision is not None and decision.certainty is Certainty.CERTAIN
    # Allowed somewhere, but not everywhere without exception.
    permissions = analysis.effective_permissions(zoe)
    assert permissions.allows("s3:GetObject")
    assert not permissions.unconditional & default_catalog().mask("s3:GetObject")


def test_not_resource_allows_everything_but_the_listed_resources(aws: ExportedAccount) -> None:
    zoe = aws.user(
        "zoe", inline={"p": document(allow("s3:*", NotResource="arn:aws:s3:::secrets/*"))}
    )
    analysis = aws.analysis()

    assert analysis.can(zoe, "s3:GetObject", "arn:aws:s3:::secrets/db.txt") is None
    decision = analysis.can(zoe, "s3:GetObject", BUCKET_KEY)
    assert decision is not None and decision.certainty is Certainty.CERTAIN
    # On a resource of its own choosing: possible, not on every resource.
    anywhere = analysis.can(zoe, "s3:GetObject")
    assert anywhere is not None and anywhere.certainty is Certainty.RESOURCE_CONSTRAINED


def test_a_deny_with_not_resource_denies_everything_but_the_listed(aws: ExportedAccount) -> None:
    team = ["arn:aws:s3:::team", "arn:aws:s3:::team/*"]
    zoe = aws.user("zoe", inline={"p": document(allow("s3:*"), deny("s3:*", NotResource=team))})
    analysis = aws.analysis()

    assert analysis.can(zoe, "s3:GetObject", "arn:aws:s3:::team/plan.md") is not None
    assert analysis.can(zoe, "s3:GetObject", BUCKET_KEY) is None


def test_a_permissions_boundary_caps_what_the_policies_allow(aws: ExportedAccount) -> None:
    boundary = aws.policy("S3Only", document(allow("s3:*")))
    admin = aws.aws_managed("AdministratorAccess", document(allow("*")))
    zoe = aws.user("zoe", policies=[admin], boundary=boundary)
    analysis = aws.analysis()

    permissions = analysis.effective_permissions(zoe)

    assert analysis.can(zoe, "ec2:RunInstances") is None
    assert analysis.can(zoe, "iam:CreateUser") is None
    assert analysis.can(zoe, "s3:GetObject", BUCKET_KEY) is not None
    assert permissions.services() == {"s3"}
    assert permissions.boundary == boundary


def test_a_boundary_grants_nothing_by_itself(aws: ExportedAccount) -> None:
    boundary = aws.policy("Wide", document(allow("*")))
    zoe = aws.user("zoe", boundary=boundary, inline={"p": document(allow("s3:GetObject"))})
    analysis = aws.analysis()

    assert analysis.effective_permissions(zoe).actions() == ["s3:GetObject"]
    assert analysis.can(zoe, "iam:CreateUser") is None


def test_a_boundary_missing_from_the_export_is_named(aws: ExportedAccount) -> None:
    missing = arn("policy", "NotExported")
    zoe = aws.user("zoe", boundary=missing, inline={"p": document(allow("s3:GetObject"))})

    permissions = aws.analysis().effective_permissions(zoe)

    assert permissions.unknown_policies == (missing,)


def test_a_condition_makes_an_allow_conditional(aws: ExportedAccount) -> None:
    zoe = aws.user(
        "zoe",
        inline={"p": document(allow("s3:GetObject", Condition=MFA), allow("s3:ListBucket"))},
    )
    analysis = aws.analysis()

    decision = analysis.can(zoe, "s3:GetObject", BUCKET_KEY)
    assert decision is not None and decision.certainty is Certainty.CONDITIONAL
    assert decision.statements == (StatementRef(f"{zoe}#inline/p", 0),)
    plain = analysis.can(zoe, "s3:ListBucket", "arn:aws:s3:::reports")
    assert plain is not None and plain.certainty is Certainty.CERTAIN
    permissions = analysis.effective_permissions(zoe)
    assert permissions.actions() == ["s3:GetObject", "s3:ListBucket"]
    assert permissions.unconditional_actions() == ["s3:ListBucket"]


def test_a_conditional_deny_is_named_and_makes_the_result_conditional(
    aws: ExportedAccount,
) -> None:
    outside = {"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}}
    zoe = aws.user("zoe", inline={"p": document(allow("s3:*"), deny("s3:*", Condition=outside))})
    analysis = aws.analysis()

    decision = analysis.can(zoe, "s3:GetObject", BUCKET_KEY)

    assert decision is not None and decision.certainty is Certainty.CONDITIONAL
    deny_ref = f"{zoe}#inline/p statement 2"
    assert decision.notes == (
        f"a Deny might apply ({deny_ref}); assumed not to",
        f"the Deny ({deny_ref}) applies if NotIpAddress aws:SourceIp 203.0.113.0/24",
    )
    assert analysis.effective_permissions(zoe).unconditional == 0


def test_policy_variables_are_filled_for_the_principal(aws: ExportedAccount) -> None:
    home = "arn:aws:s3:::homes/${aws:username}/*"
    zoe = aws.user("zoe", inline={"p": document(allow("s3:GetObject", Resource=home))})
    analysis = aws.analysis()

    assert analysis.can(zoe, "s3:GetObject", "arn:aws:s3:::homes/zoe/notes.txt") is not None
    assert analysis.can(zoe, "s3:GetObject", "arn:aws:s3:::homes/bob/notes.txt") is None
