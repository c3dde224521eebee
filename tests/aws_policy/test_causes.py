"""Root causes: what grants admin-equivalence or an escalation path, as the fix names it."""

from __future__ import annotations

from iam_gov.aws_policy import Cause, Grantor
from tests.support.aws_account import (
    ADMINISTRATOR_ACCESS,
    AWS_ADMINISTRATOR,
    ExportedAccount,
    allow,
    arn,
    document,
    trust,
)

ZOE = arn("user", "zoe")
MAX = arn("user", "max")


def test_a_policy_through_a_group_and_attached_directly_is_two_causes(
    aws: ExportedAccount,
) -> None:
    admin = aws.aws_managed("AdministratorAccess", ADMINISTRATOR_ACCESS)
    admins = aws.group("admins", policies=[admin])
    aws.user("zoe", groups=[admins], policies=[admin])
    analysis = aws.analysis()

    causes = analysis.admin_causes(ZOE)

    assert causes == (
        Cause((Grantor(admins, "group", (AWS_ADMINISTRATOR,)),)),
        Cause((Grantor(AWS_ADMINISTRATOR, "policy", (AWS_ADMINISTRATOR,)),)),
    )
    assert [c.describe() for c in causes] == [
        "group admins (AdministratorAccess)",
        "policy AdministratorAccess attached directly",
    ]


def test_policies_that_only_together_allow_all_of_iam_are_one_cause(
    aws: ExportedAccount,
) -> None:
    aws.user(
        "zoe",
        inline={
            "most": document(allow(NotAction="iam:Get*")),
            "rest": document(allow("iam:Get*")),
        },
    )
    analysis = aws.analysis()

    [cause] = analysis.admin_causes(ZOE)

    assert cause.key == f"{ZOE}#inline/most+{ZOE}#inline/rest"
    assert cause.describe() == "inline policy most of user/zoe and inline policy rest of user/zoe"


def test_a_policy_that_adds_a_little_iam_is_not_part_of_the_cause(aws: ExportedAccount) -> None:
    admin = aws.aws_managed("AdministratorAccess", ADMINISTRATOR_ACCESS)
    read = aws.aws_managed("IAMReadOnlyAccess", document(allow(["iam:Get*", "iam:List*"])))
    aws.user("zoe", policies=[admin, read])

    # The analysis names every statement allowing IAM actions; the cause only the one that
    # makes it admin on its own: detaching the reader would change nothing.
    analysis = aws.analysis()
    admin_equivalence = analysis.is_admin_equivalent(ZOE)
    assert admin_equivalence is not None and len(admin_equivalence.statements) == 2
    [cause] = analysis.admin_causes(ZOE)
    assert cause.key == AWS_ADMINISTRATOR


def test_identical_inline_copies_are_one_grantor_on_users_and_groups(
    aws: ExportedAccount,
) -> None:
    everything = document(allow("*"))
    team = aws.group("team", inline={"everything": everything})
    aws.user("zoe", inline={"everything": everything})
    aws.user("max", groups=[team])
    analysis = aws.analysis()

    [zoe] = analysis.admin_causes(ZOE)
    [max_] = analysis.admin_causes(MAX)

    assert zoe.key == max_.key
    assert zoe.key.startswith("inline-policy/everything@")
    [grantor] = zoe.grantors
    assert grantor.kind == "inline-copies"
    assert grantor.owners == (team, ZOE)
    assert grantor.describe() == (
        "inline policy everything (the same document on 1 group and 1 user)"
    )


def test_a_changed_copy_is_a_cause_of_its_own(aws: ExportedAccount) -> None:
    aws.user("zoe", inline={"everything": document(allow("*"))})
    aws.user("max", inline={"everything": document(allow("*", Sid="Edited"))})
    analysis = aws.analysis()

    [zoe] = analysis.admin_causes(ZOE)
    [max_] = analysis.admin_causes(MAX)

    assert (zoe.key, max_.key) == (f"{ZOE}#inline/everything", f"{MAX}#inline/everything")


def test_an_escalation_through_a_role_has_the_role_s_cause(aws: ExportedAccount) -> None:
    admin = aws.aws_managed("AdministratorAccess", ADMINISTRATOR_ACCESS)
    worker = aws.role("worker", trust(service="lambda.amazonaws.com"), policies=[admin])
    deploy = document(allow(["iam:PassRole", "lambda:CreateFunction", "lambda:InvokeFunction"]))
    ops = aws.role("ops", trust(ZOE), inline={"deploy": deploy})
    aws.user("zoe", inline={"assume": document(allow("sts:AssumeRole"))})
    analysis = aws.analysis()

    paths = {p.method.id: p for p in analysis.escalation_paths(ZOE)}
    [own] = analysis.escalation_paths(ops)

    through_ops = analysis.cause_of(paths["passrole-lambda-invoke"])
    assert through_ops == analysis.cause_of(own)
    assert through_ops.key == f"{ops}#inline/deploy:passrole-lambda-invoke:{worker}"
    assert analysis.cause_of(paths["sts-assume-role"]).key == (
        f"{ZOE}#inline/assume:sts-assume-role:{ops}"
    )


def test_a_role_whose_trust_alone_admits_the_principal_is_caused_by_that_trust(
    aws: ExportedAccount,
) -> None:
    passer = aws.role("passer", trust(ZOE), inline={"p": document(allow("iam:PassRole"))})
    aws.user("zoe")  # no policy: the trust naming zoe is all it takes
    analysis = aws.analysis()

    [path] = analysis.escalation_paths(ZOE)

    cause = analysis.cause_of(path)
    assert cause.key == f"{passer}#trust:sts-assume-role:{passer}"
    assert cause.describe() == "the trust policy of role/passer"


def test_what_an_admin_keeps_without_its_admin_policies(aws: ExportedAccount) -> None:
    admin = aws.aws_managed("AdministratorAccess", ADMINISTRATOR_ACCESS)
    boss = aws.user("boss", policies=[admin])
    keys = document(allow("iam:CreateAccessKey", Resource="arn:aws:iam::123456789012:user/*"))
    aws.user("zoe", policies=[admin], inline={"keys": keys})
    analysis = aws.analysis()

    assert analysis.escalation_paths(ZOE) == ()  # nothing to gain today
    [path] = analysis.paths_beyond_admin(ZOE)

    assert (path.method.id, path.target, path.admin) == ("iam-create-access-key", boss, True)
    assert analysis.cause_of(path).key == f"{ZOE}#inline/keys:iam-create-access-key:{boss}"
    assert analysis.paths_beyond_admin(boss) == ()
    # The analysis of everyone else is untouched by asking.
    assert analysis.is_admin_equivalent(ZOE) is not None


def test_an_admin_that_would_stay_admin_another_way_keeps_that_way(
    aws: ExportedAccount,
) -> None:
    admin = aws.aws_managed("AdministratorAccess", ADMINISTRATOR_ACCESS)
    own = "arn:aws:iam::123456789012:user/${aws:username}"
    aws.user(
        "zoe", policies=[admin], inline={"self": document(allow("iam:PutUserPolicy", Resource=own))}
    )
    role = aws.role("admin", trust(MAX), policies=[admin])
    aws.user("max", policies=[admin])
    analysis = aws.analysis()

    [writes] = analysis.paths_beyond_admin(ZOE)
    [assumes] = analysis.paths_beyond_admin(MAX)

    assert (writes.method.id, writes.target, writes.admin) == ("iam-put-user-policy", ZOE, True)
    assert (assumes.method.id, assumes.target, assumes.admin) == ("sts-assume-role", role, True)
