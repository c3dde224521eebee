"""unused-privilege: AWS services a principal may use but has not used for a long time, from
the service-last-accessed data the AWS connector reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from iam_gov.model import Severity
from tests.support.aws_account import ExportedAccount, allow, arn, document, trust
from tests.support.world import days_ago, person

RULE = "unused-privilege"
ALICE = arn("user", "alice")


@pytest.fixture
def aws(tmp_path: Path) -> ExportedAccount:
    return ExportedAccount(tmp_path / "export")


def alice_uses_s3_only(aws: ExportedAccount, **user: object) -> None:
    """Allowed S3, EC2 and IAM reads; uses S3, used IAM long ago, never EC2."""
    allowed = document(allow(["s3:*", "ec2:*", "iam:Get*"]))
    aws.user("alice", employee_id="E1", inline={"work": allowed}, **user)  # type: ignore[arg-type]
    aws.used(
        ALICE,
        ("ec2", None),
        ("iam", days_ago(200)),
        ("s3", days_ago(3)),
        ("sqs", None),  # never used, but not allowed either: not hers to lose
    )


def test_services_allowed_but_unused_are_reported(aws: ExportedAccount) -> None:
    alice_uses_s3_only(aws)
    world = aws.world(people=[person("E1", "Alice Archer")])

    [finding] = world.findings(RULE)

    assert finding.severity is Severity.MEDIUM
    assert finding.subject == f"aws:{ALICE}:unused-services"
    assert finding.person_id == "E1"
    assert finding.message == (
        "aws user alice has not used 2 of the 3 AWS services its policies allow in 90 days: "
        "ec2 (never), iam (last 2026-05-11)."
    )
    assert finding.evidence["unused"] == [
        {"service": "ec2", "name": "Service ec2", "last_accessed": None},
        {"service": "iam", "name": "Service iam", "last_accessed": "2026-05-11T09:00:00Z"},
    ]
    assert finding.evidence["allowed_services"] == 3
    assert finding.evidence["threshold_days"] == 90
    assert finding.evidence["principal_type"] == "user"


def test_thresholds_come_from_the_policy(aws: ExportedAccount) -> None:
    alice_uses_s3_only(aws)

    longer = aws.world("version: 1\nrules:\n  unused-privilege: {days: 365}\n")
    [finding] = longer.findings(RULE)
    assert [u["service"] for u in finding.evidence["unused"]] == ["ec2"]
    assert finding.message.endswith("in 365 days: ec2 (never).")

    fewer = aws.world("version: 1\nrules:\n  unused-privilege: {min_services: 3}\n")
    assert fewer.findings(RULE) == []


def test_a_role_is_judged_too_and_long_lists_are_cut_short(aws: ExportedAccount) -> None:
    services = ["dynamodb", "ec2", "ecs", "kms", "lambda", "logs", "rds", "s3", "sns", "sqs"]
    worker = aws.role(
        "worker",
        trust(service="ecs-tasks.amazonaws.com"),
        inline={"p": document(allow([f"{s}:*" for s in services]))},
    )
    aws.used(worker, *((s, None) for s in services))

    [finding] = aws.world().findings(RULE)

    assert finding.evidence["principal_type"] == "role"
    assert finding.message == (
        "aws role worker has not used 10 of the 10 AWS services its policies allow in 90 "
        "days: dynamodb (never), ec2 (never), ecs (never), kms (never), lambda (never), "
        "logs (never), rds (never), s3 (never) and 2 more."
    )
    assert len(finding.evidence["unused"]) == 10


def test_services_in_use_are_fine(aws: ExportedAccount) -> None:
    aws.user("alice", inline={"work": document(allow(["s3:*", "ec2:*"]))})
    aws.used(ALICE, ("ec2", days_ago(10)), ("s3", days_ago(1)), ("iam", None))

    assert aws.world().findings(RULE) == []


def test_a_principal_younger_than_the_threshold_is_not_judged(aws: ExportedAccount) -> None:
    alice_uses_s3_only(aws, created=days_ago(30))

    assert aws.world().findings(RULE) == []


def test_without_last_accessed_data_nothing_is_judged(aws: ExportedAccount) -> None:
    aws.user("alice", inline={"work": document(allow("*"))})

    assert aws.world().findings(RULE) == []


def test_a_disabled_user_is_not_reported(aws: ExportedAccount) -> None:
    alice_uses_s3_only(aws, password=False, key=False)

    assert aws.world().findings(RULE) == []
