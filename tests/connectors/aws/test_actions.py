"""AWS connector actions against moto: each changes what it says, and a re-run is a noop."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from iam_gov.connectors.aws.connector import AWSConnector
from iam_gov.model import Action, ActionKind, ActionOutcome, ActionResult

from .access_advisor import AccessAdvisor
from .conftest import ADMIN_ALL, S3_READ, TRUST_EC2, MotoAccount, arn, iam_client

USER = arn("user", "uma", "/staff/")
ROLE = arn("role", "builder")


@pytest.fixture
def aws_small(aws_endpoint: str) -> MotoAccount:
    """uma: a password, an active and an inactive key; a group and policies to take away."""
    iam = iam_client(aws_endpoint)
    account = MotoAccount(aws_endpoint, iam)
    iam.create_user(UserName="uma", Path="/staff/")
    iam.create_login_profile(UserName="uma", Password="Corr3ct-Horse-Battery")
    for active in (True, False):
        key_id = iam.create_access_key(UserName="uma")["AccessKey"]["AccessKeyId"]
        if not active:
            iam.update_access_key(UserName="uma", AccessKeyId=key_id, Status="Inactive")
        account.keys.setdefault("uma", []).append(key_id)
    admin = iam.create_policy(PolicyName="AdminAll", PolicyDocument=json.dumps(ADMIN_ALL))
    s3 = iam.create_policy(PolicyName="S3Read", PolicyDocument=json.dumps(S3_READ))
    iam.create_group(GroupName="readers")
    iam.attach_group_policy(GroupName="readers", PolicyArn=s3["Policy"]["Arn"])
    iam.put_group_policy(
        GroupName="readers", PolicyName="group-inline", PolicyDocument=json.dumps(S3_READ)
    )
    iam.add_user_to_group(GroupName="readers", UserName="uma")
    iam.attach_user_policy(UserName="uma", PolicyArn=admin["Policy"]["Arn"])
    iam.put_user_policy(UserName="uma", PolicyName="own", PolicyDocument=json.dumps(S3_READ))
    iam.create_role(RoleName="builder", AssumeRolePolicyDocument=json.dumps(TRUST_EC2))
    iam.attach_role_policy(RoleName="builder", PolicyArn=admin["Policy"]["Arn"])
    iam.put_role_policy(
        RoleName="builder", PolicyName="role-inline", PolicyDocument=json.dumps(S3_READ)
    )
    return account


def _action(kind: ActionKind, account: str = USER, **extra: str) -> Action:
    return Action(kind=kind, system="aws-prod", account_id=account, reason="leaver", **extra)


def _twice(connector: AWSConnector, action: Action) -> tuple[ActionResult, ActionResult]:
    return connector.apply(action), connector.apply(action)


def _key_status(aws: MotoAccount, user: str = "uma") -> dict[str, str]:
    keys = aws.iam.list_access_keys(UserName=user)["AccessKeyMetadata"]
    return {key["AccessKeyId"]: key["Status"] for key in keys}


def _has_login_profile(aws: MotoAccount, user: str = "uma") -> bool:
    try:
        aws.iam.get_login_profile(UserName=user)
    except aws.iam.exceptions.NoSuchEntityException:
        return False
    return True


# --- disable --------------------------------------------------------------------------------


def test_disable_removes_the_password_and_deactivates_keys(aws_small: MotoAccount) -> None:
    first, again = _twice(aws_small.live(), _action(ActionKind.DISABLE_ACCOUNT))

    assert first.outcome is ActionOutcome.APPLIED, first.message
    active_key = aws_small.keys["uma"][0]
    assert first.message == (
        f"Disabled IAM user uma: deleted its console password and deactivated access key "
        f"{active_key}."
    )
    assert first.details == {"login_profile_deleted": True, "deactivated_access_keys": [active_key]}
    assert not _has_login_profile(aws_small)
    # Deactivated, not deleted: the key can be brought back if this was a mistake.
    assert set(_key_status(aws_small).values()) == {"Inactive"}
    assert len(_key_status(aws_small)) == 2
    assert again.outcome is ActionOutcome.NOOP, again.message
    assert "already disabled" in again.message


def test_disable_refuses_roles_and_the_root_user(aws_small: MotoAccount) -> None:
    connector = aws_small.live()

    role = connector.apply(_action(ActionKind.DISABLE_ACCOUNT, ROLE))
    root = connector.apply(_action(ActionKind.DISABLE_ACCOUNT, "arn:aws:iam::123456789012:root"))

    assert role.outcome is ActionOutcome.FAILED
    assert role.message == f"{ROLE} is an IAM role: disable-account applies to IAM users only."
    assert root.outcome is ActionOutcome.FAILED and "is the root user" in root.message


def test_disable_a_user_that_is_gone_is_a_noop(aws_endpoint: str) -> None:
    connector = MotoAccount(aws_endpoint, iam_client(aws_endpoint)).live()

    result = connector.apply(_action(ActionKind.DISABLE_ACCOUNT, arn("user", "ghost")))

    assert result.outcome is ActionOutcome.NOOP
    assert "NoSuchEntity" in result.message and "ghost" in result.message


# --- remove grant ---------------------------------------------------------------------------


def test_remove_group_membership(aws_small: MotoAccount) -> None:
    group = arn("group", "readers")

    first, again = _twice(aws_small.live(), _action(ActionKind.REMOVE_GRANT, entitlement_id=group))

    assert first.outcome is ActionOutcome.APPLIED
    assert first.message == "Removed IAM user uma from group readers."
    assert aws_small.iam.list_groups_for_user(UserName="uma")["Groups"] == []
    assert again.outcome is ActionOutcome.NOOP
    assert again.message == "IAM user uma is not in group readers."


def test_detach_a_directly_attached_policy(aws_small: MotoAccount) -> None:
    policy = arn("policy", "AdminAll")

    first, again = _twice(aws_small.live(), _action(ActionKind.REMOVE_GRANT, entitlement_id=policy))

    assert first.outcome is ActionOutcome.APPLIED
    assert first.message == f"Detached {policy} from IAM user uma."
    assert aws_small.iam.list_attached_user_policies(UserName="uma")["AttachedPolicies"] == []
    assert again.outcome is ActionOutcome.NOOP
    # The role still has it: only uma's attachment went.
    role_policies = aws_small.iam.list_attached_role_policies(RoleName="builder")
    assert [p["PolicyArn"] for p in role_policies["AttachedPolicies"]] == [policy]


def test_delete_an_own_inline_policy(aws_small: MotoAccount) -> None:
    inline = f"{USER}#inline/own"

    first, again = _twice(aws_small.live(), _action(ActionKind.REMOVE_GRANT, entitlement_id=inline))

    assert first.outcome is ActionOutcome.APPLIED
    assert first.message == "Deleted inline policy own of IAM user uma."
    assert aws_small.iam.list_user_policies(UserName="uma")["PolicyNames"] == []
    assert again.outcome is ActionOutcome.NOOP


def test_remove_grants_of_a_role(aws_small: MotoAccount) -> None:
    connector = aws_small.live()
    policy, inline = arn("policy", "AdminAll"), f"{ROLE}#inline/role-inline"

    detached = _twice(connector, _action(ActionKind.REMOVE_GRANT, ROLE, entitlement_id=policy))
    deleted = _twice(connector, _action(ActionKind.REMOVE_GRANT, ROLE, entitlement_id=inline))

    assert [r.outcome for r in (*detached, *deleted)] == [
        ActionOutcome.APPLIED,
        ActionOutcome.NOOP,
        ActionOutcome.APPLIED,
        ActionOutcome.NOOP,
    ]
    assert aws_small.iam.list_attached_role_policies(RoleName="builder")["AttachedPolicies"] == []
    assert aws_small.iam.list_role_policies(RoleName="builder")["PolicyNames"] == []


@pytest.mark.parametrize(
    "entitlement", [arn("policy", "S3Read"), f"{arn('group', 'readers')}#inline/group-inline"]
)
def test_a_grant_through_a_group_is_removed_with_the_membership(
    aws_small: MotoAccount, entitlement: str
) -> None:
    result = aws_small.live().apply(_action(ActionKind.REMOVE_GRANT, entitlement_id=entitlement))

    assert result.outcome is ActionOutcome.FAILED
    assert result.message == (
        f"IAM user uma holds {entitlement} through group readers, not directly: "
        "remove the group membership instead."
    )
    assert [
        g["GroupName"] for g in aws_small.iam.list_groups_for_user(UserName="uma")["Groups"]
    ] == ["readers"]


def test_a_grant_the_user_does_not_hold_is_a_noop(aws_small: MotoAccount) -> None:
    aws_small.iam.remove_user_from_group(GroupName="readers", UserName="uma")

    result = aws_small.live().apply(
        _action(ActionKind.REMOVE_GRANT, entitlement_id=arn("policy", "S3Read"))
    )

    assert result.outcome is ActionOutcome.NOOP


def test_remove_grant_needs_an_iam_entitlement(aws_small: MotoAccount) -> None:
    result = aws_small.live().apply(_action(ActionKind.REMOVE_GRANT, entitlement_id="okta:app"))

    assert result.outcome is ActionOutcome.FAILED
    assert "is not an IAM group, managed policy or inline policy" in result.message


# --- deactivate credential ------------------------------------------------------------------


def test_deactivate_the_right_access_key(aws_small: MotoAccount) -> None:
    aws_small.iam.delete_access_key(UserName="uma", AccessKeyId=aws_small.keys["uma"][1])
    newer = aws_small.iam.create_access_key(UserName="uma")["AccessKey"]["AccessKeyId"]
    older = aws_small.keys["uma"][0]
    connector = aws_small.live()

    first, again = _twice(
        connector, _action(ActionKind.DEACTIVATE_CREDENTIAL, credential_id=f"{USER}#access_key_2")
    )

    assert first.outcome is ActionOutcome.APPLIED, first.message
    assert first.details == {"access_key_id": newer}
    assert _key_status(aws_small) == {older: "Active", newer: "Inactive"}
    assert again.outcome is ActionOutcome.NOOP and "already inactive" in again.message


def test_deactivate_a_key_found_by_the_creation_time_the_report_gave(
    aws_small: MotoAccount,
) -> None:
    aws_small.iam.update_access_key(
        UserName="uma", AccessKeyId=aws_small.keys["uma"][1], Status="Active"
    )
    aws_small.iam.generate_credential_report()
    earlier_report = aws_small.iam.get_credential_report()["Content"]
    first_key, second_key = aws_small.keys["uma"]
    aws_small.iam.delete_access_key(UserName="uma", AccessKeyId=first_key)
    session = boto3.Session()

    # AWS serves the same report for up to four hours: "access key 2" is still the second key,
    # though it is now the only one.
    def served_from_cache(parsed: dict[str, Any], **_: Any) -> None:
        parsed["Content"] = earlier_report

    session.events.register("after-call.iam.GetCredentialReport", served_from_cache)

    result = aws_small.live(session=session).apply(
        _action(ActionKind.DEACTIVATE_CREDENTIAL, credential_id=f"{USER}#access_key_2")
    )

    assert result.outcome is ActionOutcome.APPLIED, result.message
    assert _key_status(aws_small) == {second_key: "Inactive"}


def test_deactivate_the_password(aws_small: MotoAccount) -> None:
    first, again = _twice(
        aws_small.live(),
        _action(ActionKind.DEACTIVATE_CREDENTIAL, credential_id=f"{USER}#password"),
    )

    assert first.outcome is ActionOutcome.APPLIED
    assert first.message == "Deleted the console password of IAM user uma."
    assert not _has_login_profile(aws_small)
    assert set(_key_status(aws_small).values()) == {"Active", "Inactive"}  # keys untouched
    assert again.outcome is ActionOutcome.NOOP


@pytest.mark.parametrize(
    "credential", [f"{arn('user', 'other')}#password", f"{USER}#access_key_3", f"{USER}#cert"]
)
def test_deactivate_refuses_credentials_it_does_not_know(
    aws_small: MotoAccount, credential: str
) -> None:
    result = aws_small.live().apply(
        _action(ActionKind.DEACTIVATE_CREDENTIAL, credential_id=credential)
    )

    assert result.outcome is ActionOutcome.FAILED
    assert credential in result.message


def test_an_export_cannot_be_changed(aws_small: MotoAccount, tmp_path: Path) -> None:
    connector = aws_small.export(tmp_path)

    result = connector.apply(_action(ActionKind.DISABLE_ACCOUNT))

    assert result.outcome is ActionOutcome.FAILED
    assert result.message == 'an export cannot be changed: actions need mode = "live"'
    assert _has_login_profile(aws_small)


# --- permissions ----------------------------------------------------------------------------


class _Recorder:
    """Every API operation botocore sends, as IAM policies name it."""

    def __init__(self) -> None:
        self.operations: set[str] = set()

    def __call__(self, model: Any, **_: Any) -> None:
        self.operations.add(f"{model.service_model.signing_name}:{model.name}")


def test_declared_permissions_are_exactly_the_ones_used(aws: MotoAccount) -> None:
    aws.iam.create_role(RoleName="iam-gov", AssumeRolePolicyDocument=json.dumps(TRUST_EC2))
    aws.iam.create_user(UserName="dave")
    aws.iam.create_access_key(UserName="dave")
    # Access Advisor answered at the wire (moto lacks it); the recorder still sees the calls.
    session = AccessAdvisor().install(boto3.Session())
    recorder = _Recorder()
    session.events.register("before-call", recorder)

    def older_report(parsed: dict[str, Any], **_: Any) -> None:  # dave is read user by user
        lines = parsed["Content"].split(b"\n")
        parsed["Content"] = b"\n".join(line for line in lines if not line.startswith(b"dave,"))

    session.events.register("after-call.iam.GetCredentialReport", older_report)
    connector = aws.live(session=session, role_arn=arn("role", "iam-gov"))

    snapshot = connector.collect()
    assert snapshot.complete, snapshot.errors
    collect_used = set(recorder.operations)

    alice, bob = arn("user", "alice", "/staff/"), arn("user", "bob", "/staff/")
    deploy = arn("role", "deploy", "/automation/")
    actions = [
        _action(ActionKind.DISABLE_ACCOUNT, alice),
        _action(ActionKind.REMOVE_GRANT, bob, entitlement_id=arn("group", "iam-operators")),
        _action(ActionKind.REMOVE_GRANT, bob, entitlement_id=arn("policy", "AdminAll")),
        _action(ActionKind.REMOVE_GRANT, bob, entitlement_id=arn("policy", "S3Read")),
        _action(ActionKind.REMOVE_GRANT, bob, entitlement_id=f"{bob}#inline/bob-notes"),
        _action(ActionKind.REMOVE_GRANT, deploy, entitlement_id=arn("policy", "AdminAll")),
        _action(ActionKind.REMOVE_GRANT, deploy, entitlement_id=f"{deploy}#inline/deploy-extra"),
        _action(ActionKind.DEACTIVATE_CREDENTIAL, bob, credential_id=f"{bob}#access_key_1"),
        _action(ActionKind.DEACTIVATE_CREDENTIAL, bob, credential_id=f"{bob}#password"),
    ]
    apply_used: set[str] = set()
    connector = aws.live(session=session, role_arn=arn("role", "iam-gov"))  # fresh role session
    for action in actions:
        recorder.operations.clear()
        result = connector.apply(action)
        assert result.outcome is not ActionOutcome.FAILED or "through group" in result.message
        assert recorder.operations <= set(AWSConnector.permissions.apply), action
        apply_used |= recorder.operations

    assert collect_used == set(AWSConnector.permissions.collect)
    assert apply_used == set(AWSConnector.permissions.apply)
    read_only = ("Get", "List", "Generate")
    assert all(
        p.split(":")[1].startswith(read_only) or p == "sts:AssumeRole"
        for p in AWSConnector.permissions.collect
    )
