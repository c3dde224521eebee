"""What a principal can grant to others: the IAM writes on other users, roles, groups and
policies its own policies allow, with the targets, read from a CLI export."""

from __future__ import annotations

from iam_gov.aws_policy import Certainty
from iam_gov.aws_policy.grants_to_others import GRANT_ACTIONS, grant_cause, grants_to_others
from tests.support.aws_account import (
    ADMINISTRATOR_ACCESS,
    ExportedAccount,
    allow,
    arn,
    deny,
    document,
    trust,
)

HELPDESK = arn("user", "helpdesk")
BOB = arn("user", "bob")
ADMINS = arn("group", "admins")


def _others(who: str) -> dict[str, object]:
    """``NotResource`` the principal itself: every other user."""
    return {"NotResource": who}


def test_attach_user_policy_on_every_other_user_is_any_user(aws: ExportedAccount) -> None:
    """An Allow open to every user but itself: "any user", admin-equivalent ones named."""
    admin = aws.aws_managed("AdministratorAccess", ADMINISTRATOR_ACCESS)
    aws.user("root-ops", policies=[admin])
    aws.user("bob")
    aws.user(
        "helpdesk", inline={"hd": document(allow("iam:AttachUserPolicy", **_others(HELPDESK)))}
    )
    analysis = aws.analysis()

    [grant] = grants_to_others(analysis, HELPDESK)

    assert grant.action.action == "iam:AttachUserPolicy"
    assert grant.any_target and grant.admin
    assert grant.certainty is Certainty.CERTAIN
    # "any" covers bob; only the admin-equivalent target is named
    assert [(t.arn, t.admin) for t in grant.targets] == [(arn("user", "root-ops"), True)]
    assert grant.describe() == "iam:AttachUserPolicy on any user (admin-equivalent: user/root-ops)"
    assert [str(s) for s in grant.statements] == [f"{HELPDESK}#inline/hd statement 1"]
    assert analysis.is_admin_equivalent(HELPDESK) is None


def test_named_targets_are_listed_admin_first_and_never_itself(aws: ExportedAccount) -> None:
    """Resources named one by one: those targets only, the admin-equivalent first."""
    admin = aws.aws_managed("AdministratorAccess", ADMINISTRATOR_ACCESS)
    aws.user("zed", policies=[admin])
    aws.user("bob")
    aws.user("carol")
    aws.user(
        "helpdesk",
        inline={
            "hd": document(allow("iam:PutUserPolicy", Resource=[BOB, arn("user", "zed"), HELPDESK]))
        },
    )

    [grant] = grants_to_others(aws.analysis(), HELPDESK)

    assert not grant.any_target
    assert [t.arn for t in grant.targets] == [arn("user", "zed"), BOB]
    assert [t.admin for t in grant.targets] == [True, False]


def test_add_user_to_group_counts_only_admin_groups(aws: ExportedAccount) -> None:
    """iam:AddUserToGroup names the admin-equivalent groups, not the harmless ones."""
    admin = aws.aws_managed("AdministratorAccess", ADMINISTRATOR_ACCESS)
    aws.group("admins", policies=[admin])
    aws.group("readers")
    role = aws.role(
        "onboarding", trust(arn("user", "bob")), inline={"o": document(allow("iam:AddUserToGroup"))}
    )
    aws.user("bob")

    [grant] = grants_to_others(aws.analysis(), role)

    assert grant.action.action == "iam:AddUserToGroup"
    assert [(t.arn, t.admin) for t in grant.targets] == [(ADMINS, True)]
    assert grant.describe() == "iam:AddUserToGroup on any group (admin-equivalent: group/admins)"


def test_add_user_to_group_with_no_admin_group_in_reach_is_nothing(
    aws: ExportedAccount,
) -> None:
    """Adding users to harmless groups grants nothing worth a finding."""
    admin = aws.aws_managed("AdministratorAccess", ADMINISTRATOR_ACCESS)
    aws.group("admins", policies=[admin])
    readers = aws.group("readers")
    aws.user("bob")
    aws.user("helpdesk", inline={"hd": document(allow("iam:AddUserToGroup", Resource=readers))})

    assert grants_to_others(aws.analysis(), HELPDESK) == ()


def test_a_deny_removes_the_grant(aws: ExportedAccount) -> None:
    """An explicit Deny on the targets leaves nothing to grant."""
    aws.user("bob")
    aws.user(
        "helpdesk",
        inline={
            "hd": document(
                allow("iam:AttachUserPolicy", **_others(HELPDESK)),
                deny("iam:AttachUserPolicy", Resource=arn("user", "*")),
            )
        },
    )

    assert grants_to_others(aws.analysis(), HELPDESK) == ()


def test_a_condition_makes_it_conditional(aws: ExportedAccount) -> None:
    """An Allow under a condition is never certain."""
    aws.user("bob")
    mfa = {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
    aws.user(
        "helpdesk",
        inline={"hd": document(allow("iam:AttachUserPolicy", Condition=mfa, **_others(HELPDESK)))},
    )

    [grant] = grants_to_others(aws.analysis(), HELPDESK)

    assert grant.certainty is Certainty.CONDITIONAL


def test_credentials_of_admin_users_only_and_the_password_decides(aws: ExportedAccount) -> None:
    """Taking over credentials counts on admin users; a console password known to exist
    rules out creating one and leaves resetting it."""
    admin = aws.aws_managed("AdministratorAccess", ADMINISTRATOR_ACCESS)
    aws.user("boss", policies=[admin])  # has a console password
    aws.user("bob")
    aws.user(
        "helpdesk",
        inline={
            "hd": document(
                allow(
                    ["iam:CreateLoginProfile", "iam:UpdateLoginProfile", "iam:CreateAccessKey"],
                    **_others(HELPDESK),
                )
            )
        },
    )

    grants = grants_to_others(aws.analysis(), HELPDESK)

    assert [g.action.action for g in grants] == ["iam:CreateAccessKey", "iam:UpdateLoginProfile"]
    for grant in grants:
        assert [t.arn for t in grant.targets] == [arn("user", "boss")]
        assert grant.certainty is Certainty.CERTAIN


def test_policy_versions_of_policies_others_hold(aws: ExportedAccount) -> None:
    """A new version of a policy others hold changes their permissions; one only the
    principal holds is its own (escalation), and switching versions is not certain."""
    shared = aws.policy("shared", document(allow("s3:GetObject")))
    mine = aws.policy("mine", document(allow("s3:ListBucket")))
    aws.user("bob", policies=[shared])
    aws.user(
        "helpdesk",
        policies=[mine],
        inline={
            "hd": document(
                allow(
                    ["iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion"],
                    Resource=[shared, mine],
                )
            )
        },
    )

    create, switch = grants_to_others(aws.analysis(), HELPDESK)

    assert create.action.action == "iam:CreatePolicyVersion"
    assert [t.arn for t in create.targets] == [shared]
    assert create.certainty is Certainty.CERTAIN
    assert switch.certainty is Certainty.RESOURCE_CONSTRAINED
    assert switch.notes


def test_update_assume_role_policy_on_admin_roles(aws: ExportedAccount) -> None:
    """Rewriting a role's trust counts on admin-equivalent roles only."""
    admin = aws.aws_managed("AdministratorAccess", ADMINISTRATOR_ACCESS)
    boss = aws.role("boss", trust(service="ec2.amazonaws.com"), policies=[admin])
    aws.role("plain", trust(service="ec2.amazonaws.com"))
    aws.user("helpdesk", inline={"hd": document(allow("iam:UpdateAssumeRolePolicy"))})

    [grant] = grants_to_others(aws.analysis(), HELPDESK)

    assert [(t.arn, t.admin) for t in grant.targets] == [(boss, True)]


def test_nothing_to_grant_for_a_reader(aws: ExportedAccount) -> None:
    """Read-only IAM is no grant."""
    aws.user("bob")
    aws.user("helpdesk", inline={"hd": document(allow(["iam:Get*", "iam:List*"]))})

    assert grants_to_others(aws.analysis(), HELPDESK) == ()


def test_the_cause_is_how_the_principal_holds_the_policy(aws: ExportedAccount) -> None:
    """The cause is the group that carries the allowing policy, the same for every member."""
    helpdesk_policy = aws.policy(
        "helpdesk", document(allow("iam:AttachRolePolicy", Resource=arn("role", "*")))
    )
    group = aws.group("helpdesk", policies=[helpdesk_policy])
    aws.role("app", trust(service="ec2.amazonaws.com"))
    aws.user("hal", groups=[group])
    aws.user("ivy", groups=[group])
    analysis = aws.analysis()

    keys = {
        grant_cause(analysis, who, grants_to_others(analysis, who)).key
        for who in (arn("user", "hal"), arn("user", "ivy"))
    }

    assert keys == {f"{group}:grant-to-others"}


def test_every_action_is_in_the_catalogue(aws: ExportedAccount) -> None:
    """Each action looked for is one the catalogue knows, or it would silently be skipped."""
    aws.user("bob")
    catalog = aws.analysis().catalog

    assert all(catalog.knows(a.action) for a in GRANT_ACTIONS)


def test_a_long_list_of_admin_targets_is_cut_and_says_so(aws: ExportedAccount) -> None:
    """Past a few dozen certain targets the list stops, and says there are more."""
    admin = aws.aws_managed("AdministratorAccess", ADMINISTRATOR_ACCESS)
    for i in range(30):
        aws.user(f"admin{i:02}", policies=[admin])
    aws.user("helpdesk", inline={"hd": document(allow("iam:CreateAccessKey", **_others(HELPDESK)))})

    [grant] = grants_to_others(aws.analysis(), HELPDESK)

    assert grant.more_targets
    assert [t.arn for t in grant.targets] == [arn("user", f"admin{i:02}") for i in range(25)]
    assert grant.describe().endswith("user/admin24 … and more)")
