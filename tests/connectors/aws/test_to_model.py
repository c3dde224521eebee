"""What IAM says to the shared model: which policies count as privileged, and a group's own
record of its policies, kept whether or not it has members."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from iam_gov.aws_policy import AwsAccount
from iam_gov.connectors.aws.policy_facts import grants_everything
from iam_gov.engine.state import SystemView, view_of_snapshot
from iam_gov.model import SystemSnapshot

from .conftest import ADMIN_ALL, EC2_DESCRIBE, MotoAccount, arn

ADMINS = arn("group", "admins")


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        ({"Effect": "Allow", "Action": "*", "Resource": "*"}, True),
        ({"Effect": "Allow", "Action": ["s3:*", "iam:*"], "Resource": ["*"]}, True),
        ({"Effect": "Allow", "Action": "iam:*", "Resource": "arn:aws:iam::1:user/x"}, False),
        ({"Effect": "Deny", "Action": "*", "Resource": "*"}, False),
        ({"Effect": "Allow", "Action": "iam:Get*", "Resource": "*"}, False),
        ({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}, False),
    ],
)
def test_what_counts_as_privileged(statement: dict[str, Any], expected: bool) -> None:
    assert grants_everything({"Version": "2012-10-17", "Statement": [statement]}) is expected


def test_an_empty_groups_policies_are_kept_live_and_exported(
    small: MotoAccount, tmp_path: Path
) -> None:
    admin_all = small.iam.create_policy(PolicyName="AdminAll", PolicyDocument=json.dumps(ADMIN_ALL))
    small.iam.create_group(GroupName="admins")
    small.iam.attach_group_policy(GroupName="admins", PolicyArn=admin_all["Policy"]["Arn"])
    small.iam.put_group_policy(
        GroupName="admins", PolicyName="describe", PolicyDocument=json.dumps(EC2_DESCRIBE)
    )
    join = {"Effect": "Allow", "Action": "iam:AddUserToGroup", "Resource": ADMINS}
    join_policy = {"Version": "2012-10-17", "Statement": [join]}
    small.iam.put_user_policy(
        UserName="erin", PolicyName="join", PolicyDocument=json.dumps(join_policy)
    )

    live = small.live(access_advisor=False).collect()
    exported = small.export(tmp_path).collect()

    # No member, so no grant shows what the group holds: its own record does.
    assert not any(g.via == ADMINS or g.entitlement_id == ADMINS for g in live.grants)
    record = next(d for d in live.documents if d.document_id == f"{ADMINS}#group-policies")
    assert record.kind == "group-policies" and record.name == "admins"
    assert record.document == {
        "AttachedManagedPolicies": [arn("policy", "AdminAll")],
        "InlinePolicies": [f"{ADMINS}#inline/describe"],
    }
    assert exported.documents == live.documents
    assert (exported.entitlements, exported.grants) == (live.entitlements, live.grants)
    [path] = AwsAccount.from_view(_view(live)).escalation_paths(arn("user", "erin"))
    assert (path.method.id, path.target, path.admin) == ("iam-add-user-to-group", ADMINS, True)


def _view(snapshot: SystemSnapshot) -> SystemView:
    return view_of_snapshot(snapshot, snapshot_id=1)
