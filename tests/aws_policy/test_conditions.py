"""Conditions the snapshot decides: each operator true, false or unknown on its own, then
through the analysis (an Allow under a false condition grants nothing, a Deny under one
blocks nothing, a true one is as if unconditional, an unknown one is shown)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from iam_gov.aws_policy import AwsAccount, Certainty
from iam_gov.aws_policy.conditions import ConditionTest, Known, evaluate
from iam_gov.aws_policy.evaluate import NEEDS_MFA
from tests.support.aws_account import (
    ADMINISTRATOR_ACCESS,
    ExportedAccount,
    allow,
    arn,
    deny,
    document,
)
from tests.support.world import AS_OF

ME = "arn:aws:iam::123456789012:user/alice"
SNAPSHOT = datetime(2026, 3, 1, tzinfo=UTC)
KNOWN = Known(
    {
        "aws:principalarn": (ME,),
        "aws:principalaccount": ("123456789012",),
        "aws:username": ("alice",),
        "aws:principaltag/team": ("Platform",),
        "aws:multifactorauthage": ("300",),
        "aws:tagkeys": ("team", "cost"),
    },
    ("aws:principaltag/",),
    SNAPSHOT,
)

CASES: list[tuple[str, dict[str, Any], bool | None]] = [
    # String operators: case, wildcards, negation, several values (OR).
    ("equals", {"StringEquals": {"aws:PrincipalAccount": "123456789012"}}, True),
    ("equals other", {"StringEquals": {"aws:PrincipalAccount": "999999999999"}}, False),
    ("equals one of", {"StringEquals": {"aws:PrincipalAccount": ["9", "123456789012"]}}, True),
    ("equals is case-sensitive", {"StringEquals": {"aws:PrincipalTag/team": "platform"}}, False),
    ("ignore case", {"StringEqualsIgnoreCase": {"aws:PrincipalTag/team": "platform"}}, True),
    ("not equals", {"StringNotEquals": {"aws:PrincipalAccount": "123456789012"}}, False),
    ("not equals none of", {"StringNotEquals": {"aws:PrincipalAccount": ["1", "2"]}}, True),
    ("not equals ignore case", {"StringNotEqualsIgnoreCase": {"aws:username": "ALICE"}}, False),
    ("like", {"StringLike": {"aws:username": "ali*"}}, True),
    ("like ?", {"StringLike": {"aws:username": "al?ce"}}, True),
    ("like misses", {"StringLike": {"aws:username": "bob*"}}, False),
    ("not like", {"StringNotLike": {"aws:username": "bob*"}}, True),
    # ARN operators: each of the six parts on its own.
    ("arn like", {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:user/*"}}, True),
    ("arn equals", {"ArnEquals": {"aws:PrincipalArn": ME}}, True),
    ("arn like role", {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/*"}}, False),
    ("arn not like", {"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/*"}}, True),
    ("arn not equals", {"ArnNotEquals": {"aws:PrincipalArn": ME}}, False),
    ("arn * stays in its part", {"ArnLike": {"aws:PrincipalArn": "arn:aws:*"}}, False),
    # Numbers, where the key is known.
    ("numeric less", {"NumericLessThan": {"aws:MultiFactorAuthAge": "3600"}}, True),
    ("numeric greater", {"NumericGreaterThan": {"aws:MultiFactorAuthAge": "3600"}}, False),
    ("numeric equals", {"NumericEquals": {"aws:MultiFactorAuthAge": "300"}}, True),
    ("numeric not equals", {"NumericNotEquals": {"aws:MultiFactorAuthAge": "300"}}, False),
    ("numeric unknown", {"NumericLessThan": {"s3:max-keys": "10"}}, None),
    # Time: the snapshot's time or later.
    ("time before, past", {"DateLessThan": {"aws:CurrentTime": "2025-01-01T00:00:00Z"}}, False),
    ("time before, future", {"DateLessThan": {"aws:CurrentTime": "2027-01-01T00:00:00Z"}}, None),
    ("time after, past", {"DateGreaterThan": {"aws:CurrentTime": "2025-01-01T00:00:00Z"}}, True),
    ("time after, future", {"DateGreaterThan": {"aws:CurrentTime": "2027-01-01"}}, None),
    ("epoch seconds", {"DateGreaterThanEquals": {"aws:CurrentTime": "1600000000"}}, True),
    ("at most, past", {"DateLessThanEquals": {"aws:CurrentTime": "2026-02-01T00:00:00Z"}}, False),
    ("equals, past", {"DateEquals": {"aws:CurrentTime": "2026-02-01T00:00:00Z"}}, False),
    ("not equals, past", {"DateNotEquals": {"aws:CurrentTime": "2026-02-01T00:00:00Z"}}, True),
    ("token before, past", {"DateLessThan": {"aws:TokenIssueTime": "2026-02-01T00:00:00Z"}}, False),
    ("token after, past", {"DateGreaterThan": {"aws:TokenIssueTime": "2026-02-01T00:00Z"}}, True),
    # Bool and Null.
    ("bool unknown", {"Bool": {"aws:SecureTransport": "true"}}, None),
    ("null of a known key", {"Null": {"aws:PrincipalTag/team": "false"}}, True),
    ("null of an absent tag", {"Null": {"aws:PrincipalTag/owner": "true"}}, True),
    ("null of an unknown key", {"Null": {"aws:SourceVpc": "true"}}, None),
    # A key known to be absent: negated and IfExists tests hold, the others do not.
    ("absent tag", {"StringEquals": {"aws:PrincipalTag/owner": "me"}}, False),
    ("absent tag, negated", {"StringNotEquals": {"aws:PrincipalTag/owner": "me"}}, True),
    ("absent tag, if exists", {"StringEqualsIfExists": {"aws:PrincipalTag/owner": "me"}}, True),
    ("present, if exists", {"StringEqualsIfExists": {"aws:PrincipalTag/team": "x"}}, False),
    # Multi-valued keys.
    ("for any value", {"ForAnyValue:StringEquals": {"aws:TagKeys": ["cost"]}}, True),
    ("for any value misses", {"ForAnyValue:StringEquals": {"aws:TagKeys": ["x"]}}, False),
    ("for all values", {"ForAllValues:StringEquals": {"aws:TagKeys": ["team", "cost"]}}, True),
    ("for all values misses", {"ForAllValues:StringEquals": {"aws:TagKeys": ["team"]}}, False),
    ("for all of nothing", {"ForAllValues:StringEquals": {"aws:PrincipalTag/x": ["a"]}}, True),
    ("for any of nothing", {"ForAnyValue:StringEquals": {"aws:PrincipalTag/x": ["a"]}}, False),
    # Keys the snapshot cannot know, operators it cannot judge.
    ("unknown key", {"StringEquals": {"aws:RequestedRegion": "eu-west-1"}}, None),
    ("ip address", {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, None),
    ("org unknown", {"StringEquals": {"aws:PrincipalOrgID": "o-abc"}}, None),
    # Several keys AND: one false key decides, else one unknown leaves it unknown.
    (
        "and: false wins over unknown",
        {"StringEquals": {"aws:SourceVpc": "vpc-1", "aws:PrincipalAccount": "9"}},
        False,
    ),
    (
        "and: unknown stays unknown",
        {
            "StringEquals": {"aws:PrincipalAccount": "123456789012"},
            "Bool": {"aws:ViaAWSService": "true"},
        },
        None,
    ),
    (
        "and: all true",
        {
            "StringEquals": {"aws:PrincipalAccount": "123456789012"},
            "StringLike": {"aws:username": "a*"},
        },
        True,
    ),
]


@pytest.mark.parametrize(("block", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_operator_is_true_false_or_unknown(
    block: dict[str, Any], expected: bool | None
) -> None:
    """The operator table: what the snapshot decides, and what it leaves unknown."""
    assert evaluate(block, KNOWN).holds is expected


def test_unknown_tests_are_named_with_operator_key_and_values() -> None:
    """What is left unknown is listed as the policy writes it, and nothing decided is."""
    block = {
        "StringEquals": {"aws:PrincipalAccount": "123456789012", "aws:SourceVpc": ["a", "b"]},
        "IpAddress": {"aws:SourceIp": "10.0.0.0/8"},
    }
    verdict = evaluate(block, KNOWN)
    assert verdict.holds is None
    assert verdict.unknown == (
        ConditionTest("StringEquals", "aws:SourceVpc", ("a", "b")),
        ConditionTest("IpAddress", "aws:SourceIp", ("10.0.0.0/8",)),
    )
    assert [str(t) for t in verdict.unknown] == [
        "StringEquals aws:SourceVpc [a, b]",
        "IpAddress aws:SourceIp 10.0.0.0/8",
    ]


def test_mfa_is_told_apart_from_other_unknowns() -> None:
    """Bool MFA true holds with MFA only; a deny-without-MFA block holds without it only; a
    block that also tests something else unknown is not put down to MFA."""
    needs = evaluate({"Bool": {"aws:MultiFactorAuthPresent": "true"}}, KNOWN)
    assert (needs.holds, needs.mfa, needs.without_mfa) == (None, True, False)
    deny_without = evaluate({"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}, KNOWN)
    assert (deny_without.mfa, deny_without.without_mfa) == (False, True)
    mixed = {"Bool": {"aws:MultiFactorAuthPresent": "true", "aws:SecureTransport": "true"}}
    assert evaluate(mixed, KNOWN).mfa is None


def test_without_snapshot_time_dates_are_unknown() -> None:
    """No time known: even a date long past decides nothing."""
    block = {"DateLessThan": {"aws:CurrentTime": "2001-01-01T00:00:00Z"}}
    assert evaluate(block, Known()).holds is None


_KEYS = ["aws:principalaccount", "aws:username", "aws:sourcevpc", "aws:principaltag/team"]
_OPERATORS = ["StringEquals", "StringNotEquals", "StringLike", "StringEqualsIfExists", "Null"]


@hypothesis_settings(max_examples=200)
@given(
    tests=st.dictionaries(
        st.sampled_from(_OPERATORS),
        st.dictionaries(
            st.sampled_from(_KEYS), st.lists(st.sampled_from(["a", "b*", "true"]), min_size=1)
        ),
        min_size=1,
    ),
    facts=st.dictionaries(st.sampled_from(_KEYS), st.sampled_from(["a", "bb", "true"])),
    more=st.dictionaries(st.sampled_from(_KEYS), st.sampled_from(["a", "bb", "true"])),
)
def test_learning_more_never_reverses_a_decided_outcome(
    tests: dict[str, Any], facts: dict[str, str], more: dict[str, str]
) -> None:
    """Three-valued and monotone: facts added to the context only settle unknowns; what was
    decided stays decided the same way."""
    before = evaluate(tests, Known({k: (v,) for k, v in facts.items()}))
    after = evaluate(tests, Known({k: (v,) for k, v in {**more, **facts}.items()}))
    if before.holds is not None:
        assert after.holds is before.holds
    assert set(after.unknown) <= set(before.unknown) or before.holds is not None


# --- through the analysis ----------------------------------------------------------------

ALICE = arn("user", "alice")
PAST = "2020-01-01T00:00:00Z"
FUTURE = "2100-01-01T00:00:00Z"


def only_if(condition: dict[str, Any]) -> dict[str, Any]:
    """Alice's policy: attach any policy to herself, under ``condition``."""
    own = "arn:aws:iam::123456789012:user/${aws:username}"
    return document(allow("iam:AttachUserPolicy", Resource=own, Condition=condition))


def attach_certainty(analysis: AwsAccount) -> Certainty | None:
    """How surely alice can attach a policy to herself: a certain way makes her
    admin-equivalent (and then she has no escalation path left to report)."""
    equivalence = analysis.is_admin_equivalent(ALICE)
    if equivalence is not None:
        assert equivalence.method == "iam-attach-user-policy"
        return Certainty.CERTAIN
    paths = {p.method.id: p for p in analysis.escalation_paths(ALICE)}
    path = paths.get("iam-attach-user-policy")
    return None if path is None else path.certainty


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"DateLessThan": {"aws:CurrentTime": PAST}}, None),
        ({"DateGreaterThan": {"aws:CurrentTime": PAST}}, Certainty.CERTAIN),
        ({"DateLessThan": {"aws:CurrentTime": FUTURE}}, Certainty.CONDITIONAL),
        ({"StringEquals": {"aws:PrincipalAccount": "123456789012"}}, Certainty.CERTAIN),
        ({"StringEquals": {"aws:PrincipalAccount": "999999999999"}}, None),
        (
            {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::123456789012:user/ali*"}},
            Certainty.CERTAIN,
        ),
        ({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::123456789012:role/*"}}, None),
        ({"StringEquals": {"aws:PrincipalOrgID": "o-abc"}}, Certainty.CONDITIONAL),
    ],
    ids=[
        "expired",
        "started",
        "not yet expired",
        "own account",
        "other account",
        "arn matches",
        "arn does not",
        "organization unknown",
    ],
)
def test_a_decided_allow_condition_grants_or_does_not(
    aws: ExportedAccount, condition: dict[str, Any], expected: Certainty | None
) -> None:
    """False: no path at all; true: certain, and admin-equivalent; unknown: conditional."""
    aws.user("alice", inline={"p": only_if(condition)})
    analysis = aws.analysis()

    assert attach_certainty(analysis) is expected
    assert (analysis.is_admin_equivalent(ALICE) is not None) is (expected is Certainty.CERTAIN)
    permissions = analysis.effective_permissions(ALICE)
    assert permissions.allows("iam:AttachUserPolicy") is (expected is not None)


def test_an_expired_allow_is_gone_from_effective_permissions(aws: ExportedAccount) -> None:
    """A grant that ended before the snapshot no longer counts anywhere."""
    temporary = allow("s3:*", Condition={"DateLessThan": {"aws:CurrentTime": PAST}})
    aws.user("alice", inline={"p": document(temporary, allow("ec2:DescribeInstances"))})

    permissions = aws.analysis().effective_permissions(ALICE)

    assert permissions.actions() == ["ec2:DescribeInstances"]


def test_the_organization_decides_when_the_snapshot_has_it(aws: ExportedAccount) -> None:
    """aws:PrincipalOrgID is decided from the snapshot's organization id, when it has one."""
    aws.user("alice", inline={"p": only_if({"StringEquals": {"aws:PrincipalOrgID": "o-abc"}})})
    aws.user("bob", inline={"p": document(allow("s3:GetObject"))})
    view = aws.view()
    view.settings["organization_id"] = "o-abc"
    assert attach_certainty(AwsAccount.from_view(view)) is Certainty.CERTAIN
    view.settings["organization_id"] = "o-other"
    assert attach_certainty(AwsAccount.from_view(view)) is None


def test_principal_tags_come_from_the_snapshot(aws: ExportedAccount) -> None:
    """Tags read from the authorization details decide aws:PrincipalTag: a user with the tag
    is allowed for certain, one without it (tags known) is not allowed at all."""
    condition = {"StringEquals": {"aws:PrincipalTag/team": "platform"}}
    aws.user("alice", inline={"p": only_if(condition)})
    aws.users[-1]["Tags"] = [{"Key": "team", "Value": "platform"}]
    aws.user("bob", inline={"p": only_if(condition)})
    aws.users[-1]["Tags"] = [{"Key": "team", "Value": "sales"}]
    aws.user("carol", inline={"p": only_if(condition)})
    analysis = aws.analysis()

    assert attach_certainty(analysis) is Certainty.CERTAIN
    assert analysis.escalation_paths(arn("user", "bob")) == ()
    assert analysis.escalation_paths(arn("user", "carol")) == ()


def test_a_deny_whose_condition_is_false_does_not_deny(aws: ExportedAccount) -> None:
    """The usual "deny outside our account" and "revoke older sessions" Denies do not apply to
    the account's own principals acting now: the admin grant stays certain."""
    admin = aws.aws_managed("AdministratorAccess", ADMINISTRATOR_ACCESS)
    outside = deny("*", Condition={"StringNotEquals": {"aws:PrincipalAccount": "123456789012"}})
    revoked = deny("*", Condition={"DateLessThan": {"aws:TokenIssueTime": PAST}})
    aws.user("alice", policies=[admin], inline={"guard": document(outside, revoked)})
    analysis = aws.analysis()

    equivalence = analysis.is_admin_equivalent(ALICE)
    assert equivalence is not None
    decision = analysis.can(ALICE, "iam:CreateUser", "arn:aws:iam::123456789012:user/x")
    assert decision is not None and decision.certainty is Certainty.CERTAIN
    assert decision.notes == ()


def test_a_deny_whose_condition_is_true_blocks(aws: ExportedAccount) -> None:
    """A Deny whose condition the snapshot makes true blocks as if unconditional."""
    inside = deny("iam:*", Condition={"StringEquals": {"aws:PrincipalAccount": "123456789012"}})
    own = "arn:aws:iam::123456789012:user/${aws:username}"
    aws.user("alice", inline={"p": document(allow("iam:AttachUserPolicy", Resource=own), inside)})
    analysis = aws.analysis()

    assert analysis.escalation_paths(ALICE) == ()
    assert not analysis.effective_permissions(ALICE).allows("iam:AttachUserPolicy")


def test_an_unknown_condition_is_shown_on_the_path(aws: ExportedAccount) -> None:
    """Only a truly unknown condition leaves the path conditional, and the path says which."""
    condition = {
        "StringEquals": {"aws:PrincipalAccount": "123456789012"},
        "IpAddress": {"aws:SourceIp": "203.0.113.0/24"},
    }
    aws.user("alice", inline={"p": only_if(condition)})

    [path] = aws.analysis().escalation_paths(ALICE)

    assert path.certainty is Certainty.CONDITIONAL
    assert (
        f"allowed only if IpAddress aws:SourceIp 203.0.113.0/24 ({ALICE}#inline/p statement 1)"
        in path.notes
    )
    assert path.qualifiers == ()


def test_an_allow_that_needs_mfa_says_so(aws: ExportedAccount) -> None:
    """An Allow under Bool aws:MultiFactorAuthPresent true: conditional, marked "needs MFA",
    and the finding's evidence shows it."""
    aws.user("alice", inline={"p": only_if({"Bool": {"aws:MultiFactorAuthPresent": "true"}})})

    [path] = aws.analysis().escalation_paths(ALICE)

    assert path.certainty is Certainty.CONDITIONAL
    assert path.qualifiers == (NEEDS_MFA,)
    [finding] = aws.world().findings("aws-privilege-escalation")
    assert NEEDS_MFA in finding.evidence["principals"][0]["notes"]
    assert finding.evidence["principals"][0]["qualifiers"] == [NEEDS_MFA]


def test_a_deny_without_mfa_makes_the_path_need_mfa(aws: ExportedAccount) -> None:
    """The common "deny everything without MFA" guard: the path exists with MFA only."""
    no_mfa = deny("*", Condition={"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}})
    own = "arn:aws:iam::123456789012:user/${aws:username}"
    aws.user("alice", inline={"p": document(allow("iam:AttachUserPolicy", Resource=own), no_mfa)})

    [path] = aws.analysis().escalation_paths(ALICE)

    assert path.certainty is Certainty.CONDITIONAL
    assert path.qualifiers == (NEEDS_MFA,)


def test_snapshot_time_is_the_view_s(aws: ExportedAccount) -> None:
    """The time conditions are judged against is when the snapshot was true."""
    aws.user("alice", inline={"p": document(allow("s3:GetObject"))})
    assert aws.analysis().as_of == AS_OF
