"""aws-admin-equivalent: a user, role or root user that can do anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from iam_gov.model import Severity
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
from tests.support.world import person

RULE = "aws-admin-equivalent"
ALICE = arn("user", "alice")


@pytest.fixture
def aws(tmp_path: Path) -> ExportedAccount:
    return ExportedAccount(tmp_path / "export")


def test_a_user_with_administrator_access_is_reported(aws: ExportedAccount) -> None:
    admin = aws.aws_managed("AdministratorAccess", ADMINISTRATOR_ACCESS)
    admins = aws.group("admins", policies=[admin])
    aws.user("alice", employee_id="E1", groups=[admins])
    world = aws.world(people=[person("E1", "Alice Archer")])

    [finding] = world.findings(RULE)

    assert finding.severity is Severity.HIGH
    assert finding.subject == f"aws:{ALICE}"
    assert finding.person_id == "E1"
    assert finding.message == (
        "aws user alice (Alice Archer) is admin-equivalent: it allows every action (*) on "
        "every resource, without conditions."
    )
    assert finding.evidence["principal_arn"] == ALICE
    assert finding.evidence["principal_type"] == "user"
    assert finding.evidence["statements"] == [f"{AWS_ADMINISTRATOR} statement 1"]
    assert finding.evidence["chain"] == [ALICE]
    assert finding.evidence["method"] is None
    assert finding.evidence["expected"] is False


def test_star_colon_star_in_an_inline_policy_is_reported(aws: ExportedAccount) -> None:
    aws.user("alice", inline={"everything": document(allow("*:*"))})

    [finding] = aws.world().findings(RULE)

    assert finding.evidence["principal_arn"] == ALICE
    assert finding.evidence["statements"] == [f"{ALICE}#inline/everything statement 1"]


def test_a_user_that_can_become_an_admin_role_is_reported(aws: ExportedAccount) -> None:
    admin = aws.aws_managed("AdministratorAccess", ADMINISTRATOR_ACCESS)
    admin_role = aws.role("admin", trust(ALICE), policies=[admin])
    aws.user("alice", inline={"p": document(allow("sts:AssumeRole", Resource=admin_role))})

    found = {f.evidence["principal_arn"]: f for f in aws.world().findings(RULE)}

    assert set(found) == {ALICE, admin_role}
    assert found[ALICE].message == (
        "aws user alice is admin-equivalent: it can assume role/admin, which allows every "
        "action (*) on every resource, without conditions."
    )
    assert found[ALICE].evidence["chain"] == [ALICE, admin_role]
    assert found[admin_role].evidence["assumable_by"] == [f"aws:{ALICE}"]
    assert found[admin_role].severity is Severity.HIGH


def test_who_may_assume_a_role_is_shown_as_aws_spells_it(aws: ExportedAccount) -> None:
    admin = aws.aws_managed("AdministratorAccess", ADMINISTRATOR_ACCESS)
    deployer = aws.user("DeployBot")
    ci = aws.role("CI-Runner", trust(service="codebuild.amazonaws.com"))
    role = aws.role("PlatformAdmin", trust(deployer, ci, "123456789012"), policies=[admin])

    found = {f.evidence["principal_arn"]: f for f in aws.world().findings(RULE)}

    # IAM keeps the case of names; the analysis matches principals ignoring it, but a
    # reviewer searches the console for the name as it was written. A bare account id is
    # stored by AWS as the account's root ARN.
    assert found[role].evidence["assumable_by"] == [
        "aws:arn:aws:iam::123456789012:role/CI-Runner",
        "aws:arn:aws:iam::123456789012:root",
        "aws:arn:aws:iam::123456789012:user/DeployBot",
    ]


def test_a_role_only_services_can_assume_is_medium(aws: ExportedAccount) -> None:
    admin = aws.aws_managed("AdministratorAccess", ADMINISTRATOR_ACCESS)
    worker = aws.role("worker", trust(service="lambda.amazonaws.com"), policies=[admin])

    [finding] = aws.world().findings(RULE)

    assert finding.severity is Severity.MEDIUM
    assert finding.message == (
        "aws role worker, which only AWS services (lambda.amazonaws.com) can assume, is "
        "admin-equivalent: it allows every action (*) on every resource, without conditions."
    )
    assert finding.evidence["principal_arn"] == worker
    assert finding.evidence["assumable_by"] == ["service:lambda.amazonaws.com"]


def test_a_declared_break_glass_account_and_the_root_user_are_low(aws: ExportedAccount) -> None:
    admin = aws.aws_managed("AdministratorAccess", ADMINISTRATOR_ACCESS)
    aws.user("breakglass", policies=[admin])
    root = aws.root()
    policy = (
        "version: 1\n"
        "accounts:\n"
        "  - {system: aws, login: breakglass, kind: break-glass, owner: security@example.com}\n"
    )

    found = {f.evidence["principal_arn"]: f for f in aws.world(policy).findings(RULE)}

    assert set(found) == {arn("user", "breakglass"), root}
    breakglass = found[arn("user", "breakglass")]
    assert breakglass.severity is Severity.LOW
    assert breakglass.evidence["expected"] is True
    assert breakglass.message.endswith(
        "; expected of a declared break-glass account, noted for the record."
    )
    assert found[root].severity is Severity.LOW
    assert found[root].message.startswith(
        "the aws root user is admin-equivalent: it is the account's root user, which no IAM "
        "policy limits"
    )
    assert found[root].message.endswith(
        "(keep it without access keys, with hardware MFA), noted for the record."
    )


def test_a_non_admin_is_not_reported(aws: ExportedAccount) -> None:
    read = document(allow(["s3:*", "ec2:Describe*", "iam:Get*", "iam:List*"]))
    aws.user("alice", inline={"read": read})

    assert aws.world().findings(RULE) == []


def test_an_admin_under_a_deny_of_iam_is_not_reported(aws: ExportedAccount) -> None:
    admin = aws.aws_managed("AdministratorAccess", ADMINISTRATOR_ACCESS)
    aws.user("alice", policies=[admin], inline={"guard": document(deny("iam:*"))})

    assert aws.world().findings(RULE) == []
