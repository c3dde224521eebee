"""aws-grant-to-others evidence stays slim at organization scale: each grant (action, targets,
statements) listed once per finding, not once per principal; principals by ARN with their
route; targets named up to a cap and the rest counted, never silently dropped."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from iam_gov.rules.aws_grant_to_others import NAMED_IN_MESSAGE, NAMED_TARGETS
from tests.support.aws_account import (
    ADMINISTRATOR_ACCESS,
    ExportedAccount,
    allow,
    arn,
    deny,
    document,
    trust,
)

RULE = "aws-grant-to-others"
DEPLOYER = arn("role", "deployer")
OPS = arn("role", "ops")
HELPDESK = arn("user", "helpdesk")
UNKNOWN = {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}
"""A condition the snapshot cannot decide: a path under it is conditional."""


@pytest.fixture
def aws(tmp_path: Path) -> ExportedAccount:
    return ExportedAccount(tmp_path / "export")


def _finding(aws: ExportedAccount) -> Any:
    [finding] = aws.world().findings(RULE)
    return finding


def test_a_grant_many_principals_reach_is_listed_once(aws: ExportedAccount) -> None:
    """Twelve users reach deployer (directly, or through ops): one grant in the finding, each
    principal points at it and carries only its own route; the targets appear nowhere in
    the principals' entries."""
    admin = aws.aws_managed("AdministratorAccess", ADMINISTRATOR_ACCESS)
    boss = aws.user("boss", policies=[admin])
    users = [arn("user", f"dev{i:02}") for i in range(12)]
    aws.role(
        "deployer",
        trust(*users[:6], OPS),
        inline={"d": document(allow("iam:AttachUserPolicy", Resource="*"))},
    )
    aws.role("ops", trust(*users[6:]), inline={"o": document(allow("sts:AssumeRole"))})
    for user in users:
        aws.user(user.rsplit("/", 1)[-1], inline={"a": document(allow("sts:AssumeRole"))})

    finding = _finding(aws)

    evidence = finding.evidence
    [grant] = evidence["grants"]
    assert grant["action"] == "iam:AttachUserPolicy" and grant["any_target"] is True
    assert [t["arn"] for t in grant["targets"]] == [boss]
    assert grant["targets_total"] == 1 and grant["targets_not_listed"] == 0
    listed = {p["arn"]: p for p in evidence["principals"]}
    assert set(listed) == {DEPLOYER, OPS, *users}
    assert all(p["grants"] == [0] for p in listed.values())
    assert listed[DEPLOYER]["via"] == []
    assert listed[users[0]]["via"] == [DEPLOYER]
    assert listed[users[6]]["via"] == [OPS, DEPLOYER]
    assert boss not in json.dumps(evidence["principals"])
    assert evidence["admin_targets"] == [boss]


def test_grants_that_differ_are_each_listed_and_referenced(aws: ExportedAccount) -> None:
    """Two roles hold the same managed policy, but a Deny of the second's own keeps it off one
    target: one finding, two grants, each role pointing at its own."""
    admin = aws.aws_managed("AdministratorAccess", ADMINISTRATOR_ACCESS)
    nobody = trust(arn("user", "nobody"))
    ops_a = aws.role("ops-a", nobody, policies=[admin])
    ops_b = aws.role("ops-b", nobody, policies=[admin])
    policy = aws.policy(
        "trust-admin", document(allow("iam:UpdateAssumeRolePolicy", Resource=arn("role", "*")))
    )
    first = aws.role("first", nobody, policies=[policy])
    second = aws.role(
        "second",
        nobody,
        policies=[policy],
        inline={"no-a": document(deny("iam:UpdateAssumeRolePolicy", Resource=ops_a))},
    )

    finding = _finding(aws)

    evidence = finding.evidence
    listed = {p["arn"]: p["grants"] for p in evidence["principals"]}
    assert set(listed) == {first, second}
    grants = evidence["grants"]
    assert sorted(n for ids in listed.values() for n in ids) == [0, 1]
    assert [t["arn"] for t in grants[listed[first][0]]["targets"]] == [ops_a, ops_b]
    assert [t["arn"] for t in grants[listed[second][0]]["targets"]] == [ops_b]
    assert evidence["admin_targets"] == [ops_a, ops_b]


def test_many_targets_are_capped_and_counted(aws: ExportedAccount) -> None:
    """Thirty users the grant reaches only under a condition, one without: the evidence names
    the first NAMED_TARGETS and counts the rest; the message names fewer and says how
    many more."""
    users = [aws.user(f"app{i:02}") for i in range(30)]
    last = aws.user("zz-last")
    aws.user(
        "helpdesk",
        inline={
            "hd": document(
                allow("iam:PutUserPolicy", Resource=arn("user", "app*"), Condition=UNKNOWN),
                allow("iam:PutUserPolicy", Resource=last),
            )
        },
    )

    finding = _finding(aws)

    [grant] = finding.evidence["grants"]
    assert grant["any_target"] is False
    assert [t["arn"] for t in grant["targets"]] == users[:NAMED_TARGETS]
    assert grant["targets_total"] == len(users) + 1
    assert grant["targets_not_listed"] == len(users) + 1 - NAMED_TARGETS
    assert grant["certainty"] == "certain"  # on zz-last, which is not named
    assert finding.evidence["targets"] == users[:NAMED_TARGETS]
    hidden = len(users) + 1 - NAMED_IN_MESSAGE
    assert f"user/app{NAMED_IN_MESSAGE - 1:02}, user/app{NAMED_IN_MESSAGE:02}" not in (
        finding.message
    )
    assert f"user/app{NAMED_IN_MESSAGE - 1:02} and {hidden} more" in finding.message


def test_a_cut_list_the_analysis_stopped_says_at_least(aws: ExportedAccount) -> None:
    """When the analysis itself stops looking (more than a few dozen admin targets, the
    first already certain), the evidence says so and the message says "+ more"."""
    admin = aws.aws_managed("AdministratorAccess", ADMINISTRATOR_ACCESS)
    for i in range(30):
        aws.user(f"admin{i:02}", policies=[admin])
    aws.user(
        "helpdesk",
        inline={"hd": document(allow("iam:CreateAccessKey", NotResource=HELPDESK))},
    )

    finding = _finding(aws)

    [grant] = finding.evidence["grants"]
    assert grant["more_targets"] is True
    assert len(grant["targets"]) == grant["targets_total"] == NAMED_TARGETS
    assert f"and {NAMED_TARGETS - NAMED_IN_MESSAGE}+ more" in finding.message
