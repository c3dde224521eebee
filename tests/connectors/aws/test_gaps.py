"""AWS collection when something is missing: a user newer than the credential report, the
password policy, a call that fails halfway, credentials, a group's members."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from iam_gov.aws_policy import AwsAccount
from iam_gov.connectors.aws.connector import AWSConnector, AWSOptions
from iam_gov.engine.state import SystemView, build_view
from iam_gov.errors import ConnectorError
from iam_gov.model import AccountStatus, SystemSnapshot
from iam_gov.store.snapshots import SnapshotInfo, counts_of

from .conftest import ADMIN_ALL, EC2_DESCRIBE, MotoAccount, _shared_session, arn, iam_client
from .test_last_accessed import AccessAdvisor

DAVE = arn("user", "dave")
ADMINS = arn("group", "admins")


@pytest.fixture(autouse=True)
def advisor() -> Iterator[AccessAdvisor]:
    """IAM Access Advisor, which moto lacks; tests that make their own session install it."""
    fake = AccessAdvisor()
    fake.install(_shared_session())
    try:
        yield fake
    finally:
        fake.uninstall(_shared_session())


@pytest.fixture
def small(aws_endpoint: str) -> MotoAccount:
    """One user with a password, so that each test builds only what it is about."""
    iam = iam_client(aws_endpoint)
    iam.create_user(UserName="erin")
    iam.create_login_profile(UserName="erin", Password="Corr3ct-Horse-Battery")
    return MotoAccount(aws_endpoint, iam)


def _create_dave(aws: MotoAccount) -> None:
    aws.iam.create_user(UserName="dave", Tags=[{"Key": "employee_id", "Value": "E004"}])
    aws.iam.create_login_profile(UserName="dave", Password="Corr3ct-Horse-Battery")
    aws.iam.create_access_key(UserName="dave")


def _dave(snapshot: SystemSnapshot) -> Any:
    return next(a for a in snapshot.accounts if a.native_id == DAVE)


def _credential_names(snapshot: SystemSnapshot, account_id: str) -> dict[str, Any]:
    return {
        c.credential_id.rsplit("#", 1)[1]: c
        for c in snapshot.credentials
        if c.account_id == account_id
    }


def test_export_user_missing_from_report_is_unknown_not_removed(
    small: MotoAccount, tmp_path: Path
) -> None:
    connector = small.export(tmp_path, before_details=lambda: _create_dave(small))

    snapshot = connector.collect()

    assert not snapshot.complete
    (error,) = snapshot.errors
    assert error.record == DAVE and "user dave is not in the credential report" in error.message
    assert error.source.endswith("credential-report.json") and not error.fatal
    dave = _dave(snapshot)
    assert dave.status is AccountStatus.ACTIVE  # unknown must never look like removed
    assert dave.mfa_factors is None
    assert _credential_names(snapshot, DAVE) == {}


def test_live_user_missing_from_report_is_read_user_by_user(
    small: MotoAccount, advisor: AccessAdvisor
) -> None:
    _create_dave(small)
    session = advisor.install(boto3.Session())

    # AWS regenerates the report at most every four hours; moto always reports every user.
    # Drop dave's row, as a report generated before he was created would not have it.
    def older_report(parsed: dict[str, Any], **_: Any) -> None:
        lines = parsed["Content"].split(b"\n")
        parsed["Content"] = b"\n".join(line for line in lines if not line.startswith(b"dave,"))

    session.events.register("after-call.iam.GetCredentialReport", older_report)

    snapshot = small.live(session=session).collect()

    assert snapshot.complete, snapshot.errors
    dave = _dave(snapshot)
    assert dave.status is AccountStatus.ACTIVE and dave.mfa_factors == ()
    assert dave.employee_id == "E004"
    credentials = _credential_names(snapshot, DAVE)
    assert set(credentials) == {"password", "access_key_1"}
    assert credentials["password"].active and credentials["password"].created_at is not None
    assert credentials["access_key_1"].active
    assert credentials["access_key_1"].created_at is not None


def test_no_password_policy_is_a_fact(small: MotoAccount, tmp_path: Path) -> None:
    live = small.live().collect()
    exported = small.export(tmp_path).collect()

    assert live.complete and live.settings["password_policy"] is None
    assert exported.settings["password_policy"] is None


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
    info = SnapshotInfo(
        id=1,
        system=snapshot.system,
        connector=snapshot.connector,
        source=snapshot.source,
        collected_at=snapshot.collected_at,
        stored_at=snapshot.collected_at,
        complete=snapshot.complete,
        errors=snapshot.errors,
        counts=counts_of(snapshot),
    )
    return build_view(
        info,
        snapshot.accounts,
        snapshot.entitlements,
        snapshot.grants,
        snapshot.credentials,
        snapshot.settings,
        documents=snapshot.documents,
    )


def test_export_without_password_policy_file_leaves_it_unknown(
    small: MotoAccount, tmp_path: Path
) -> None:
    connector = small.export(tmp_path)
    options = connector.options.model_copy(update={"password_policy": None})

    snapshot = AWSConnector("aws-prod", options).collect()

    assert "password_policy" not in snapshot.settings
    assert snapshot.complete
    assert any("password policy is unknown" in e.message for e in snapshot.errors)


def test_export_time_defaults_to_the_file_time_and_says_so(
    small: MotoAccount, tmp_path: Path
) -> None:
    connector = small.export(tmp_path, report="csv")
    details = connector.options.authorization_details
    assert details is not None
    stamp = 1_767_225_600  # 2026-01-01 00:00 UTC
    import os

    os.utime(details, (stamp, stamp))

    snapshot = connector.collect()

    assert snapshot.collected_at.isoformat() == "2026-01-01T00:00:00+00:00"
    assert snapshot.complete
    (note,) = snapshot.errors
    assert "exported_at not given" in note.message and "2026-01-01 00:00" in note.message


def test_live_failure_halfway_gives_an_incomplete_snapshot(
    small: MotoAccount, advisor: AccessAdvisor
) -> None:
    from botocore.awsrequest import AWSResponse, HTTPHeaders

    small.iam.create_access_key(UserName="erin")
    session = advisor.install(boto3.Session())

    # AWS failing after the users were listed, as it would: an error response, no exception
    # of our own making.
    def unavailable(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        error = {"Code": "ServiceUnavailable", "Message": "Please try again later."}
        return AWSResponse(small.endpoint, 503, HTTPHeaders(), None), {"Error": error}

    session.events.register("before-call.iam.GetCredentialReport", unavailable)

    snapshot = small.live(session=session).collect()

    assert not snapshot.complete
    (error,) = snapshot.errors
    assert error.source == "iam:GetCredentialReport"
    assert error.message == ("iam:GetCredentialReport: ServiceUnavailable: Please try again later.")
    # The user was listed, but without the report its credentials are unknown, not gone.
    (erin,) = snapshot.accounts
    assert erin.login == "erin"
    assert erin.status is AccountStatus.ACTIVE and erin.mfa_factors is None
    assert snapshot.credentials == ()


def test_no_credentials_is_one_clear_error(
    aws_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    options = AWSOptions(type="aws", mode="live", endpoint_url=aws_endpoint)

    with pytest.raises(ConnectorError) as raised:
        AWSConnector("aws-prod", options).collect()

    message = str(raised.value)
    assert message.startswith("aws-prod: cannot reach AWS: sts:GetCallerIdentity: ")
    assert "credentials" in message and "\n" not in message


def test_unknown_profile_is_one_clear_error(aws_endpoint: str) -> None:
    options = AWSOptions(type="aws", mode="live", profile="nope", endpoint_url=aws_endpoint)

    with pytest.raises(ConnectorError, match="AWS profile 'nope' is not in the AWS config files"):
        AWSConnector("aws-prod", options).collect()


def test_collect_through_an_assumed_role(small: MotoAccount) -> None:
    small.iam.create_role(RoleName="iam-gov-reader", AssumeRolePolicyDocument="{}")

    snapshot = small.live(role_arn=arn("role", "iam-gov-reader")).collect()

    assert snapshot.complete
    assert {a.login for a in snapshot.accounts} == {"erin", "iam-gov-reader"}
