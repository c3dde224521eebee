"""The evaluator against IAM's evaluation logic written out plainly: for any policies
without conditions, an action on a resource is allowed exactly when some identity Allow and
(with a boundary) some boundary Allow cover it, and no Deny does.

The policies go straight into ``AwsAccount.build``: the export path is the same for every
document and is exercised by the other tests; here only the evaluator varies."""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from iam_gov.aws_policy import AwsAccount, Certainty, Principal

ACTION_PATTERNS = [
    "*",
    "s3:*",
    "s3:Get*",
    "S3:getobject",
    "s3:PutObject",
    "iam:*",
    "iam:?etUser",
    "iam:CreateUser",
    "ec2:Run*",
]
RESOURCE_PATTERNS = [
    "*",
    "arn:aws:s3:::a/*",
    "arn:aws:s3:::*",
    "arn:aws:s3:::b/x",
    "arn:aws:iam::123456789012:user/*",
]
ACTIONS = ["s3:GetObject", "s3:PutObject", "s3:ListBucket", "iam:CreateUser", "iam:GetUser"]
RESOURCES = ["arn:aws:s3:::a/x", "arn:aws:s3:::b/x", "arn:aws:iam::123456789012:user/u"]
ZOE = "arn:aws:iam::123456789012:user/zoe"

Statement = dict[str, Any]


@st.composite
def statements(draw: st.DrawFn, effects: tuple[str, ...] = ("Allow", "Deny")) -> Statement:
    action_key = draw(st.sampled_from(["Action", "NotAction"]))
    resource_key = draw(st.sampled_from(["Resource", "Resource", "NotResource"]))
    return {
        "Effect": draw(st.sampled_from(effects)),
        action_key: draw(st.lists(st.sampled_from(ACTION_PATTERNS), min_size=1, max_size=3)),
        resource_key: draw(st.lists(st.sampled_from(RESOURCE_PATTERNS), min_size=1, max_size=2)),
    }


def covers(statement: Statement, action: str, resource: str) -> bool:
    if "Action" in statement:
        action_hit = any(fnmatchcase(action.lower(), p.lower()) for p in statement["Action"])
    else:
        action_hit = not any(fnmatchcase(action.lower(), p.lower()) for p in statement["NotAction"])
    if "Resource" in statement:
        resource_hit = any(fnmatchcase(resource, p) for p in statement["Resource"])
    else:
        resource_hit = not any(fnmatchcase(resource, p) for p in statement["NotResource"])
    return action_hit and resource_hit


def iam_allows(
    identity: list[list[Statement]], boundary: list[Statement] | None, action: str, resource: str
) -> bool:
    everything = [s for policy in identity for s in policy] + (boundary or [])
    if any(s["Effect"] == "Deny" and covers(s, action, resource) for s in everything):
        return False
    allowed = any(
        s["Effect"] == "Allow" and covers(s, action, resource) for p in identity for s in p
    )
    if boundary is not None:
        allowed = allowed and any(
            s["Effect"] == "Allow" and covers(s, action, resource) for s in boundary
        )
    return allowed


@settings(max_examples=80, deadline=None)
@given(
    identity=st.lists(st.lists(statements(), min_size=1, max_size=3), min_size=1, max_size=3),
    boundary=st.none() | st.lists(statements(), min_size=1, max_size=2),
)
def test_decisions_follow_iams_evaluation_logic(
    identity: list[list[Statement]], boundary: list[Statement] | None
) -> None:
    documents = {f"{ZOE}#inline/p{i}": {"Statement": s} for i, s in enumerate(identity)}
    boundary_arn = "arn:aws:iam::123456789012:policy/Boundary"
    if boundary is not None:
        documents[boundary_arn] = {"Statement": boundary}
    zoe = Principal(
        ZOE,
        "zoe",
        "user",
        policies=tuple(d for d in documents if d != boundary_arn),
        boundary=boundary_arn if boundary is not None else None,
    )
    analysis = AwsAccount.build([zoe], documents, {})
    permissions = analysis.effective_permissions(zoe)
    catalog = analysis.catalog

    for action in ACTIONS:
        allowed_on = [r for r in RESOURCES if iam_allows(identity, boundary, action, r)]
        for resource in RESOURCES:
            decision = analysis.can(zoe, action, resource)
            assert (decision is not None) == (resource in allowed_on), (action, resource)
            if decision is not None:
                assert decision.certainty is Certainty.CERTAIN
        if allowed_on:
            assert permissions.allows(action)
        if permissions.unconditional & catalog.mask(action):
            assert allowed_on == RESOURCES
