"""aws-privilege-escalation: a user or role that can give itself more than it has."""

from __future__ import annotations

from pathlib import Path

import pytest

from iam_gov.model import Finding, Severity
from tests.support.aws_account import (
    ADMINISTRATOR_ACCESS,
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


def test_a_person_escalating_through_a_role_is_critical(aws: ExportedAccount) -> None:
    deploy = document(
        allow("iam:PassRole", Resource=LAMBDA_ADMIN),
        allow(["lambda:CreateFunction", "lambda:InvokeFunction"]),
    )
    aws.role("ops", trust(ALICE), inline={"deploy": deploy})
    aws.user("alice", employee_id="E1", inline={"p": document(allow("sts:AssumeRole"))})
    world = aws.world(people=[person("E1", "Alice Archer")])

    found = by_subject(world.findings(RULE))

    assert set(found) == {
        f"aws:{ALICE}:passrole-lambda-invoke",
        f"aws:{ALICE}:sts-assume-role",
        f"aws:{OPS}:passrole-lambda-invoke",
    }
    finding = found[f"aws:{ALICE}:passrole-lambda-invoke"]
    assert finding.severity is Severity.CRITICAL
    assert finding.person_id == "E1"
    assert finding.message == (
        "aws user alice (Alice Archer) can escalate its privileges (Pass a role to a new "
        "Lambda function and invoke it): user/alice → role/ops → iam:PassRole + "
        "lambda:CreateFunction + lambda:InvokeFunction on role/lambda-admin; certain, gains "
        "admin."
    )
    evidence = finding.evidence
    assert evidence["principal_arn"] == ALICE and evidence["principal_type"] == "user"
    assert evidence["method_id"] == "passrole-lambda-invoke"
    assert evidence["chain"] == [ALICE, OPS]
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
    assert evidence["reachable_by_human"] is True
    # Becoming ops is a gain of its own: it may pass roles, which alice may not.
    assumed = found[f"aws:{ALICE}:sts-assume-role"]
    assert assumed.message == (
        "aws user alice (Alice Archer) can escalate its privileges (Assume a more privileged "
        "role): user/alice → sts:AssumeRole on role/ops; certain, gains 1 more action."
    )
    assert assumed.evidence["gained_actions"] == 1
    assert assumed.evidence["chain"] == [ALICE] and assumed.evidence["target"] == OPS
    # The role's own path matters because a person can become the role.
    role_finding = found[f"aws:{OPS}:passrole-lambda-invoke"]
    assert role_finding.severity is Severity.CRITICAL
    assert role_finding.evidence["chain"] == [OPS]
    assert role_finding.evidence["reachable_by_human"] is True
    assert role_finding.evidence["human_route"] == [ALICE, OPS]
    assert role_finding.evidence["human_route_certainty"] == "certain"


def test_a_certain_path_a_person_reaches_only_conditionally_is_high(
    aws: ExportedAccount,
) -> None:
    deploy = document(allow(["iam:PassRole", "lambda:CreateFunction", "lambda:InvokeFunction"]))
    aws.role("ops", trust(ALICE, condition=MFA), inline={"deploy": deploy})
    aws.user("alice", employee_id="E1", inline={"p": document(allow("sts:AssumeRole"))})
    world = aws.world(people=[person("E1", "Alice Archer")])

    found = by_subject(world.findings(RULE))

    # The role's own path is certain, but alice becomes the role only with MFA.
    role_finding = found[f"aws:{OPS}:passrole-lambda-invoke"]
    assert role_finding.evidence["certainty"] == "certain"
    assert role_finding.severity is Severity.HIGH
    assert role_finding.evidence["reachable_by_human"] is True
    assert role_finding.evidence["human_route"] == [ALICE, OPS]
    assert role_finding.evidence["human_route_certainty"] == "conditional"
    assert role_finding.message.endswith(
        "; a person's user can become it, but not certainly (conditional: user/alice → role/ops)."
    )
    assert found[f"aws:{ALICE}:passrole-lambda-invoke"].severity is Severity.HIGH


def test_a_conditional_path_is_high_not_critical(aws: ExportedAccount) -> None:
    admin = aws.aws_managed("AdministratorAccess", ADMINISTRATOR_ACCESS)
    aws.user("boss", policies=[admin])
    keys = document(allow("iam:CreateAccessKey", Resource=ANY_USER, Condition=MFA))
    aws.user("dev", inline={"keys": keys})

    [finding] = aws.world().findings(RULE)

    assert finding.severity is Severity.HIGH
    assert finding.person_id is None
    assert finding.message == (
        "aws user dev can escalate its privileges (Create an access key for another user): "
        "user/dev → iam:CreateAccessKey on user/boss; conditional, gains admin."
    )
    assert finding.evidence["certainty"] == "conditional"


def test_a_role_no_person_can_reach_is_high(aws: ExportedAccount) -> None:
    deploy = document(allow(["iam:PassRole", "lambda:CreateFunction", "lambda:InvokeFunction"]))
    aws.role("builder", trust(service="codebuild.amazonaws.com"), inline={"deploy": deploy})

    [finding] = aws.world().findings(RULE)

    assert finding.subject == f"aws:{arn('role', 'builder')}:passrole-lambda-invoke"
    assert finding.severity is Severity.HIGH
    assert finding.evidence["reachable_by_human"] is False
    assert finding.evidence["human_route"] == []
    assert finding.evidence["human_route_certainty"] is None
    assert finding.evidence["principal_type"] == "role"


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
    assert {f.evidence["principal_arn"] for f in world.findings("aws-admin-equivalent")} == {
        arn("user", "root-like"),
        LAMBDA_ADMIN,
    }


def test_a_disabled_user_is_not_reported(aws: ExportedAccount) -> None:
    admin = aws.aws_managed("AdministratorAccess", ADMINISTRATOR_ACCESS)
    aws.user("boss", policies=[admin])
    keys = document(allow("iam:CreateAccessKey", Resource=ANY_USER))
    aws.user("dev", password=False, key=False, inline={"keys": keys})

    assert aws.world().findings(RULE) == []
