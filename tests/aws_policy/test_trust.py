"""Role assumption: a principal's own sts:AssumeRole allowance and the role's trust policy,
one hop and chains of them."""

from __future__ import annotations

from iam_gov.aws_policy import Certainty
from tests.support.aws_account import (
    ACCOUNT,
    ExportedAccount,
    allow,
    arn,
    deny,
    document,
    trust,
)

ALICE = arn("user", "alice")
MFA = {"Bool": {"aws:MultiFactorAuthPresent": "true"}}


def assume(*roles: str) -> dict[str, object]:
    return {"assume": document(allow("sts:AssumeRole", Resource=list(roles) or "*"))}


def test_a_role_that_trusts_the_user_and_that_the_user_may_assume(aws: ExportedAccount) -> None:
    ops = aws.role("ops", trust(ALICE))
    aws.user("alice", inline=assume(ops))
    analysis = aws.analysis()

    [(role, edge)] = analysis.assumable(ALICE).items()

    assert role == ops and edge.certainty is Certainty.CERTAIN
    assert str(edge.trust_statement) == f"{ops}#trust statement 1"
    assert analysis.assumers(ops) == {ALICE}


def test_a_trust_naming_the_account_needs_the_principals_own_allowance(
    aws: ExportedAccount,
) -> None:
    shared = aws.role("shared", trust(ACCOUNT))
    aws.user("alice", inline=assume(arn("role", "elsewhere")))  # may call others only
    aws.user("bob")

    assert aws.analysis().assumers(shared) == set()


def test_a_trust_naming_the_user_is_enough_by_itself(aws: ExportedAccount) -> None:
    # Within an account, a trust policy that names the user grants the call: no identity
    # policy of the user's needs to allow sts:AssumeRole.
    ops = aws.role("ops", trust(ALICE))
    aws.user("alice", inline={"read": document(allow("s3:GetObject"))})
    aws.user("bob", inline=assume(ops))  # may call it, but the trust does not admit bob
    analysis = aws.analysis()

    edge = analysis.assumable(ALICE)[ops]

    assert edge.certainty is Certainty.CERTAIN
    assert edge.decision.notes == (
        "the role's trust policy admits it directly (by its ARN, or everyone): no identity "
        "policy needs to allow sts:AssumeRole",
    )
    assert analysis.assumers(ops) == {ALICE}


def test_a_trust_open_to_anyone_grants_by_itself_too(aws: ExportedAccount) -> None:
    in_org = {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}
    shared = aws.role("shared", trust("*", condition=in_org))
    aws.user("alice")

    edge = aws.analysis().assumable(ALICE)[shared]

    assert edge.certainty is Certainty.CONDITIONAL


def test_a_deny_or_a_boundary_still_stops_a_user_the_trust_names(aws: ExportedAccount) -> None:
    ops = aws.role("ops", trust(ALICE, arn("user", "bob"), arn("user", "carol")))
    no_assume = aws.policy("NoAssume", document(deny("sts:AssumeRole")))
    s3_only = aws.policy("S3Only", document(allow("s3:*")))
    with_assume = aws.policy("S3AndAssume", document(allow(["s3:*", "sts:AssumeRole"])))
    aws.user("alice", policies=[no_assume])
    aws.user("bob", boundary=s3_only)
    aws.user("carol", boundary=with_assume)

    assert aws.analysis().assumers(ops) == {arn("user", "carol")}


def test_trusting_the_account_admits_whoever_its_own_policies_let_assume(
    aws: ExportedAccount,
) -> None:
    shared = aws.role("shared", trust(ACCOUNT))
    aws.user("alice", inline=assume())
    aws.user("bob")

    assert aws.analysis().assumers(shared) == {ALICE}


def test_a_service_role_cannot_be_assumed_by_a_user(aws: ExportedAccount) -> None:
    aws.role("worker", trust(service="lambda.amazonaws.com"))
    aws.user("alice", inline=assume())

    assert aws.analysis().assumable(ALICE) == {}


def test_a_condition_in_the_trust_makes_assuming_conditional(aws: ExportedAccount) -> None:
    ops = aws.role("ops", trust(ALICE, condition=MFA))
    aws.user("alice", inline=assume(ops))

    assert aws.analysis().assumable(ALICE)[ops].certainty is Certainty.CONDITIONAL


def test_chains_of_roles_are_followed(aws: ExportedAccount) -> None:
    third = aws.role("third", trust(arn("role", "second")), inline=assume())
    second = aws.role("second", trust(arn("role", "first"), condition=MFA), inline=assume())
    first = aws.role("first", trust(ALICE), inline=assume())
    aws.user("alice", inline=assume(first))
    analysis = aws.analysis()

    reach = analysis.reachable_roles(ALICE)

    assert reach[first].chain == (first,) and reach[first].certainty is Certainty.CERTAIN
    assert reach[third].chain == (first, second, third)
    # A chain is only as sure as its weakest link.
    assert reach[third].certainty is Certainty.CONDITIONAL
