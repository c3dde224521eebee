"""aws-grant-to-others through assumed roles: a principal that can become a role which can
grant privileges to others is reported under that role's cause (one finding per root cause,
not one per assumer), naming the route and the targets."""

from __future__ import annotations

from pathlib import Path

import pytest

from iam_gov.aws_policy.grants_to_others import by_route, grants_to_others
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

RULE = "aws-grant-to-others"
ALICE = arn("user", "alice")
CAROL = arn("user", "carol")
BOB = arn("user", "bob")
DEPLOYER = arn("role", "deployer")
OPS = arn("role", "ops")
MFA = {"Bool": {"aws:MultiFactorAuthPresent": "true"}}


@pytest.fixture
def aws(tmp_path: Path) -> ExportedAccount:
    """An account with an admin user (the target that matters) and the deployer role, which
    may attach any policy to any user."""
    account = ExportedAccount(tmp_path / "export")
    admin = account.aws_managed("AdministratorAccess", ADMINISTRATOR_ACCESS)
    account.user("boss", policies=[admin])
    return account


def _deployer(
    aws: ExportedAccount, *trusted: str, condition: dict[str, object] | None = None
) -> str:
    return aws.role(
        "deployer",
        trust(*trusted, condition=condition),
        inline={"d": document(allow("iam:AttachUserPolicy", Resource="*"))},
    )


def _assumer(aws: ExportedAccount, name: str, employee_id: str | None = None) -> str:
    return aws.user(name, employee_id=employee_id, inline={"a": document(allow("sts:AssumeRole"))})


def _only(findings: list[Finding]) -> Finding:
    [finding] = findings
    return finding


def test_a_user_that_can_assume_a_granting_role_is_reported_naming_the_role(
    aws: ExportedAccount,
) -> None:
    """alice can become deployer, which may attach policies to any user: she is listed in
    deployer's finding, via role/deployer, with the targets; bob, whom the trust does not
    name, is not."""
    _deployer(aws, ALICE)
    _assumer(aws, "alice", "E1")
    _assumer(aws, "bob")
    world = aws.world(people=[person("E1", "Alice Archer")])

    finding = _only(world.findings(RULE))

    assert finding.subject == f"aws:{DEPLOYER}#inline/d:grant-to-others"
    listed = {p["arn"]: p for p in finding.evidence["principals"]}
    assert set(listed) == {DEPLOYER, ALICE}
    assert listed[ALICE]["via"] == [DEPLOYER]
    assert listed[DEPLOYER]["via"] == []
    # deployer's grant and alice's through it are one, listed once; the route is hers
    [grant] = finding.evidence["grants"]
    assert listed[ALICE]["grants"] == listed[DEPLOYER]["grants"] == [0]
    assert grant["description"] == "iam:AttachUserPolicy on any user (admin-equivalent: user/boss)"
    assert "any user" in finding.evidence["targets"]
    assert arn("user", "boss") in finding.evidence["admin_targets"]
    assert "user/alice (Alice Archer) via role/deployer" in finding.message
    assert finding.severity is Severity.HIGH


def test_the_grant_through_the_role_names_the_route_and_targets(
    aws: ExportedAccount,
) -> None:
    """The grant through the role names its route and the admin-equivalent target: what the
    finding's sentence and evidence say of the assumer."""
    _deployer(aws, ALICE)
    _assumer(aws, "alice")
    analysis = aws.analysis()

    [grant] = grants_to_others(analysis, ALICE)

    assert grant.via == (DEPLOYER,) and grant.actor == DEPLOYER
    assert grant.describe() == (
        "iam:AttachUserPolicy on any user (admin-equivalent: user/boss) via role/deployer"
    )


def test_a_user_that_cannot_assume_it_is_not_reported(aws: ExportedAccount) -> None:
    """The trust names nobody else: bob, allowed sts:AssumeRole on everything, gets no grant
    and no place in the finding."""
    _deployer(aws, ALICE)
    _assumer(aws, "bob")

    assert grants_to_others(aws.analysis(), BOB) == ()
    finding = _only(aws.world().findings(RULE))
    assert [p["arn"] for p in finding.evidence["principals"]] == [DEPLOYER]


def test_many_assumers_share_one_finding(aws: ExportedAccount) -> None:
    """Three users who can become deployer: one finding (its cause), four principals."""
    _deployer(aws, ALICE, BOB, CAROL)
    for name in ("alice", "bob", "carol"):
        _assumer(aws, name)

    finding = _only(aws.world().findings(RULE))

    assert finding.evidence["count"] == 4
    assert sorted(p["arn"] for p in finding.evidence["principals"]) == sorted(
        [DEPLOYER, ALICE, BOB, CAROL]
    )


def test_a_chain_of_roles_is_named_in_order(aws: ExportedAccount) -> None:
    """alice → ops → deployer: the route names both roles."""
    _deployer(aws, OPS)
    aws.role("ops", trust(ALICE), inline={"o": document(allow("sts:AssumeRole"))})
    _assumer(aws, "alice")

    [grant] = grants_to_others(aws.analysis(), ALICE)

    assert grant.via == (OPS, DEPLOYER)
    assert grant.describe().endswith("via role/ops → role/deployer")
    finding = next(f for f in aws.world().findings(RULE) if DEPLOYER in f.subject)
    listed = {p["arn"]: p for p in finding.evidence["principals"]}
    assert listed[ALICE]["via"] == [OPS, DEPLOYER]


def test_a_conditional_route_makes_the_grant_conditional_and_lower(aws: ExportedAccount) -> None:
    """A trust that needs MFA: the grant is only as sure as the route; alice is one level
    lower than the role itself."""
    _deployer(aws, ALICE, condition=MFA)
    _assumer(aws, "alice")

    finding = _only(aws.world().findings(RULE))

    listed = {p["arn"]: p for p in finding.evidence["principals"]}
    assert listed[DEPLOYER]["certainty"] == "certain"
    assert listed[ALICE]["certainty"] != "certain"
    assert Severity(listed[ALICE]["severity"]).rank < Severity(listed[DEPLOYER]["severity"]).rank


def test_its_own_grant_and_the_role_s_are_two_causes(aws: ExportedAccount) -> None:
    """alice may attach group policies herself and attach user policies through deployer:
    two root causes, two findings, each listing her once; by_route splits her grants so."""
    aws.group("staff")
    _deployer(aws, ALICE)
    aws.user(
        "alice",
        inline={
            "a": document(
                allow("sts:AssumeRole"),
                allow("iam:AttachGroupPolicy", Resource=arn("group", "staff")),
            )
        },
    )

    routes = by_route(grants_to_others(aws.analysis(), ALICE))
    findings = aws.world().findings(RULE)

    assert [[g.via for g in grants] for grants in routes] == [[()], [(DEPLOYER,)]]
    subjects = {f.subject: f for f in findings}
    assert set(subjects) == {
        f"aws:{ALICE}#inline/a:grant-to-others",
        f"aws:{DEPLOYER}#inline/d:grant-to-others",
    }
    own = subjects[f"aws:{ALICE}#inline/a:grant-to-others"]
    assert [p["arn"] for p in own.evidence["principals"]] == [ALICE]
    assert own.evidence["actions"] == ["iam:AttachGroupPolicy"]


def test_a_role_it_can_assume_that_is_admin_makes_it_the_admin_rule_s(
    aws: ExportedAccount,
) -> None:
    """A user who can certainly become an admin role is admin-equivalent: aws-admin-equivalent
    reports it, not this rule through the role."""
    admin = aws.aws_managed("AdministratorAccess", ADMINISTRATOR_ACCESS)
    aws.role("root-ops", trust(ALICE), policies=[admin])
    _assumer(aws, "alice")

    assert aws.world().findings(RULE) == []
