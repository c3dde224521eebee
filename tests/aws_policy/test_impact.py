"""Impact said right: a path "gains admin" whenever its target is admin-equivalent by
iam-gov's own rule (every target searched, the most privileged first), gained actions are
counted in one unit (actions of the catalogue), and a service-linked role is never the admin
a path gains (lowered as aws-admin-equivalent lowers roles only AWS uses)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from iam_gov.aws_policy import Certainty
from iam_gov.aws_policy.escalation import target_admin
from iam_gov.model import Severity
from tests.support.aws_account import (
    ADMINISTRATOR_ACCESS,
    ExportedAccount,
    allow,
    arn,
    document,
    trust,
)
from tests.support.world import person

ALICE = arn("user", "alice")
WORKER = arn("role", "worker")
SNEAKY = arn("role", "sneaky")
RULE = "aws-privilege-escalation"
RUN_INSTANCES = "passrole-ec2-run-instances"
EC2 = "ec2.amazonaws.com"
BROAD = ["s3:*", "kms:*", "ec2:*", "dynamodb:*", "iam:PassRole", "iam:CreateServiceLinkedRole"]
"""The worker role: many more actions than the admin-equivalent role below, so that a
search ordered by size alone would settle on it first."""

ADMIN_BY_RULE: dict[str, Any] = {
    "iam:* and sts:*": document(allow(["iam:*", "sts:*"])),
    "NotAction": document(allow(NotAction=["s3:*", "kms:*"], Resource="*")),
    "writes its own policy": document(allow("iam:AttachRolePolicy", Resource=SNEAKY)),
}


def _launcher(aws: ExportedAccount, roles: list[str]) -> str:
    """alice: may pass ``roles`` to EC2 and start instances with them."""
    return aws.user(
        "alice",
        employee_id="E1",
        inline={
            "launch": document(
                allow("iam:PassRole", Resource=roles),
                allow(["ec2:RunInstances", "ec2:AssociateIamInstanceProfile"]),
            )
        },
    )


def _catalogue_count(aws: ExportedAccount, patterns: list[str], minus: list[str]) -> int:
    """How many actions of the catalogue match ``patterns`` and not ``minus``: counted from
    the action names, not from the analysis's own masks."""
    names = aws.analysis().catalog.names

    def matches(name: str, pattern: str) -> bool:
        service, _, action = pattern.lower().partition(":")
        their_service, _, their_action = name.lower().partition(":")
        return service == their_service and (action == "*" or action == their_action)

    return sum(
        1
        for name in names
        if any(matches(name, p) for p in patterns) and not any(matches(name, m) for m in minus)
    )


@pytest.mark.parametrize("how", sorted(ADMIN_BY_RULE))
def test_passing_two_roles_gains_admin_through_the_admin_equivalent_one(
    aws: ExportedAccount, how: str
) -> None:
    """Of two roles alice may pass, the admin-equivalent one (by aws-admin-equivalent's own
    rule, however its policy says it) is the path's target, though the other holds more."""
    aws.role("sneaky", trust(service=EC2), inline={"p": ADMIN_BY_RULE[how]})
    aws.role("worker", trust(service=EC2), inline={"p": document(allow(BROAD))})
    _launcher(aws, [SNEAKY, WORKER])
    analysis = aws.analysis()
    assert analysis.is_admin_equivalent(SNEAKY) is not None
    assert analysis.is_admin_equivalent(WORKER) is None
    assert (
        analysis.policy_set(WORKER).allowed.bit_count()
        > analysis.policy_set(SNEAKY).allowed.bit_count()
        or how == "NotAction"
    )

    paths = {p.method.id: p for p in analysis.escalation_paths(ALICE)}

    path = paths[RUN_INSTANCES]
    assert path.target == SNEAKY
    assert path.admin
    assert path.certainty is Certainty.CERTAIN


def test_passing_only_the_plain_role_gains_its_actions_counted_in_the_catalogue(
    aws: ExportedAccount,
) -> None:
    """Without the admin-equivalent role, the path gains the worker's actions alice lacks,
    counted as actions of the catalogue (every one, not only the privileged ones)."""
    aws.role("worker", trust(service=EC2), inline={"p": document(allow(BROAD))})
    _launcher(aws, [WORKER])
    analysis = aws.analysis()

    [path] = [p for p in analysis.escalation_paths(ALICE) if p.method.id == RUN_INSTANCES]

    assert path.target == WORKER and not path.admin
    alice_has = ["iam:PassRole", "ec2:RunInstances", "ec2:AssociateIamInstanceProfile"]
    expected = _catalogue_count(aws, BROAD, alice_has)
    assert expected > 100  # s3:*, kms:*, ec2:*, dynamodb:* are hundreds of actions
    assert path.gained == expected


def test_the_rule_says_gains_admin_or_the_count(aws: ExportedAccount) -> None:
    """The finding's sentence and evidence: "gains admin" through the admin-equivalent role;
    the count, in the same unit as the path's, through the other."""
    aws.role("sneaky", trust(service=EC2), inline={"p": ADMIN_BY_RULE["iam:* and sts:*"]})
    aws.role("worker", trust(service=EC2), inline={"p": document(allow(BROAD))})
    _launcher(aws, [SNEAKY, WORKER])
    [finding] = [
        f
        for f in aws.world(people=[person("E1", "Alice Archer")]).findings(RULE)
        if f.evidence["method_id"] == RUN_INSTANCES and f.evidence["principal_arn"] == ALICE
    ]
    assert finding.evidence["target"] == SNEAKY
    assert finding.evidence["gains_admin"] is True
    assert finding.message.endswith("certain, gains admin.")
    assert finding.severity is Severity.CRITICAL


def test_the_rule_counts_the_plain_role_s_actions(aws: ExportedAccount) -> None:
    aws.role("worker", trust(service=EC2), inline={"p": document(allow(BROAD))})
    _launcher(aws, [WORKER])
    [finding] = [
        f
        for f in aws.world(people=[person("E1", "Alice Archer")]).findings(RULE)
        if f.evidence["method_id"] == RUN_INSTANCES and f.evidence["principal_arn"] == ALICE
    ]
    alice_has = ["iam:PassRole", "ec2:RunInstances", "ec2:AssociateIamInstanceProfile"]
    n = _catalogue_count(aws, BROAD, alice_has)
    assert finding.evidence["gains_admin"] is False
    assert finding.evidence["gained_actions"] == n
    assert finding.message.endswith(f"certain, gains {n} more actions.")


def test_assuming_a_role_counts_every_action_gained_not_only_privileged_ones(
    aws: ExportedAccount,
) -> None:
    """One unit for every path: assuming a role that may pass roles and read objects gains
    both actions (iam:PassRole is privileged, s3:GetObject is not), as a self-grant's count
    would count them."""
    ops = aws.role(
        "ops", trust(ALICE), inline={"p": document(allow(["iam:PassRole", "s3:GetObject"]))}
    )
    aws.user("alice", inline={"p": document(allow("sts:AssumeRole", Resource=ops))})

    [path] = [p for p in aws.analysis().escalation_paths(ALICE) if p.target == ops]

    assert path.method.id == "sts-assume-role"
    assert path.gained == 2


def test_a_role_with_only_more_reading_is_no_escalation(aws: ExportedAccount) -> None:
    """Counting every action does not make becoming a role that merely reads more an
    escalation: only privileged actions (or admin) make a path."""
    ops = aws.role("ops", trust(ALICE), inline={"p": document(allow(["s3:Get*", "s3:List*"]))})
    aws.user("alice", inline={"p": document(allow("sts:AssumeRole", Resource=ops))})

    assert aws.analysis().escalation_paths(ALICE) == ()


def _service_linked(aws: ExportedAccount, name: str, service: str) -> str:
    """A service-linked role holding AdministratorAccess (path /aws-service-role/)."""
    admin = aws.aws_managed("AdministratorAccess", ADMINISTRATOR_ACCESS)
    aws.role(name, trust(service=service), policies=[admin])
    role = aws.roles[-1]
    role["Path"] = f"/aws-service-role/{service}/"
    role["Arn"] = f"arn:aws:iam::123456789012:role/aws-service-role/{service}/{name}"
    return str(role["Arn"])


@pytest.mark.parametrize("linked", [True, False], ids=["service-linked", "ordinary"])
def test_a_path_through_a_service_linked_role_is_not_admin_nor_critical(
    aws: ExportedAccount, linked: bool
) -> None:
    """Passing a service-linked role that holds AdministratorAccess: no "gains admin", not
    critical (one level lower), the role named as service-linked. The same role with an
    ordinary path is both."""
    if linked:
        role = _service_linked(aws, "AWSServiceRoleForEc2Thing", EC2)
    else:
        admin = aws.aws_managed("AdministratorAccess", ADMINISTRATOR_ACCESS)
        role = aws.role("AWSServiceRoleForEc2Thing", trust(service=EC2), policies=[admin])
    _launcher(aws, [role])
    analysis = aws.analysis()
    assert analysis.is_admin_equivalent(role) is not None  # the admin rule reports it either way

    [path] = [p for p in analysis.escalation_paths(ALICE) if p.method.id == RUN_INSTANCES]
    [finding] = [
        f
        for f in aws.world(people=[person("E1", "Alice Archer")]).findings(RULE)
        if f.evidence["method_id"] == RUN_INSTANCES and f.evidence["principal_arn"] == ALICE
    ]

    assert path.target == role
    assert path.admin is not linked
    assert path.service_linked is linked
    assert finding.evidence["gains_admin"] is not linked
    assert finding.evidence["service_linked_target"] is linked
    assert finding.severity is (Severity.HIGH if linked else Severity.CRITICAL)
    assert ("is a service-linked role, which only AWS uses" in finding.message) is linked
    assert ("gains admin" in finding.message) is not linked


def test_an_ordinary_admin_role_is_chosen_over_a_service_linked_one(
    aws: ExportedAccount,
) -> None:
    """Both may be passed: the ordinary admin-equivalent role is the target, so the path
    gains admin; the service-linked one is never the reason."""
    linked = _service_linked(aws, "AWSServiceRoleForEc2Thing", EC2)
    aws.role("sneaky", trust(service=EC2), inline={"p": ADMIN_BY_RULE["iam:* and sts:*"]})
    _launcher(aws, [linked, SNEAKY])

    [path] = [p for p in aws.analysis().escalation_paths(ALICE) if p.method.id == RUN_INSTANCES]

    assert path.target == SNEAKY and path.admin and not path.service_linked


def test_taking_over_an_admin_user_by_a_non_obvious_policy_gains_admin(
    aws: ExportedAccount,
) -> None:
    """Other users are searched admin-first too: of many users with more actions, the one
    admin-equivalent because it can attach policies to itself is the key's target."""
    for i in range(12):
        aws.user(f"busy{i:02}", inline={"p": document(allow(["s3:*", "ec2:*", "iam:PassRole"]))})
    quiet = aws.user(
        "quiet",
        inline={"p": document(allow("iam:AttachUserPolicy", Resource=arn("user", "quiet")))},
    )
    aws.user("alice", inline={"p": document(allow("iam:CreateAccessKey"))})
    analysis = aws.analysis()
    assert analysis.is_admin_equivalent(quiet) is not None

    [path] = [p for p in analysis.escalation_paths(ALICE) if p.method.id == "iam-create-access-key"]

    assert path.target == quiet and path.admin


def test_a_what_if_copy_reuses_the_account_s_answers_but_not_for_what_it_changed(
    aws: ExportedAccount,
) -> None:
    """paths_beyond_admin asks a copy of the account with one principal changed: the
    admin-equivalence of the targets it did not change is the account's (worked out once),
    that of the changed one is the copy's own, and the account's answers stay its own."""
    admin = aws.aws_managed("AdministratorAccess", ADMINISTRATOR_ACCESS)
    boss = aws.user("boss", policies=[admin])
    ops = aws.user("ops", policies=[admin])
    aws.user("alice", inline={"p": document(allow("iam:CreateAccessKey"))})
    analysis = aws.analysis()
    [real] = analysis.escalation_paths(ALICE)
    assert real.target == boss and real.admin  # first of the two admins by ARN

    without = dataclasses.replace(analysis.principals[boss], policies=())
    what_if = analysis.with_principal(without)
    [path] = what_if.escalation_paths(ALICE)

    assert path.target == ops and path.admin  # boss is no admin in the copy
    assert what_if.is_admin_equivalent(boss) is None
    assert not target_admin(what_if, boss) and target_admin(what_if, ops)
    assert target_admin(analysis, boss)
    assert analysis.is_admin_equivalent(boss) is not None
    assert analysis.escalation_paths(ALICE) == (real,)
