"""`config check --connect` for AWS against moto: the sign-in, then one small read per IAM action.
With moto's IAM authorization switched on, a credential whose policy denies one action has
exactly that one missing; refused keys or a dead endpoint are one clear error."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from iam_gov.connectors.aws.connector import COLLECT_PERMISSIONS
from iam_gov.connectors.shared.protocol import AccessCheck
from iam_gov.errors import ConnectorError
from tests.support.slapd import free_port

from .access_advisor import AccessAdvisor
from .conftest import REGION, MotoAccount, iam_client

NOT_TRIED = {"iam:GenerateCredentialReport", "sts:AssumeRole"}
"""Starts a job / needs role_arn: None, saying why."""


def results(checks: list[AccessCheck]) -> dict[str, bool | None]:
    return {check.permission: check.ok for check in checks}


def test_the_collect_credential_is_granted_every_action(aws: MotoAccount) -> None:
    checks = aws.live().check_access()

    assert [c.permission for c in checks] == list(COLLECT_PERMISSIONS)
    assert results(checks) == {p: None if p in NOT_TRIED else True for p in COLLECT_PERMISSIONS}
    by = {c.permission: c.detail for c in checks}
    assert by["sts:GetCallerIdentity"].startswith("signed in as arn:aws:")
    assert by["iam:GetAccountAuthorizationDetails"] == (
        "read the users' page of the authorization details (MaxItems=1)"
    )
    assert by["iam:GenerateCredentialReport"].startswith("not tried: it starts a credential")
    assert by["sts:AssumeRole"] == "role_arn not set: not used"


def test_an_empty_account_proves_the_permissions_by_what_does_not_exist(
    aws_endpoint: str,
) -> None:
    # No user, no report, no password policy: IAM answers NoSuchEntity (and the like) only
    # after allowing the call.
    account = MotoAccount(aws_endpoint, iam_client(aws_endpoint))

    checks = {c.permission: c for c in account.live(access_advisor=False).check_access()}

    assert checks["iam:GetCredentialReport"].ok is True
    assert checks["iam:GetCredentialReport"].detail.startswith("allowed: no report generated yet")
    assert checks["iam:GetAccountPasswordPolicy"].detail.startswith(
        "allowed: the account has no password policy (NoSuchEntity"
    )
    assert checks["iam:ListAccessKeys"].ok is True
    assert checks["iam:GetAccessKeyLastUsed"].ok is None
    assert checks["iam:GenerateServiceLastAccessedDetails"] == AccessCheck(
        "iam:GenerateServiceLastAccessedDetails", None, "access_advisor = false: not used"
    )


# --- moto enforcing IAM policies ---------------------------------------------------------------


def _auth(endpoint: str, after: str) -> None:
    """moto checks every request against the caller's IAM policies after ``after`` more
    unchecked ones ("inf": never, its default)."""
    request = urllib.request.Request(
        f"{endpoint}/moto-api/reset-auth",
        data=after.encode(),
        # a form body would be parsed away by Flask before moto reads it
        headers={"Content-Type": "text/plain"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


@pytest.fixture
def auditor(aws: MotoAccount) -> Iterator[boto3.Session]:
    """A user allowed what a collect reads except iam:ListMFADevices, signed in with its own
    keys while moto enforces IAM policies."""
    iam = aws.iam
    iam.create_user(UserName="auditor")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": list(COLLECT_PERMISSIONS), "Resource": "*"},
            {"Effect": "Deny", "Action": "iam:ListMFADevices", "Resource": "*"},
        ],
    }
    iam.put_user_policy(UserName="auditor", PolicyName="iam-gov", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName="auditor")["AccessKey"]
    session = boto3.Session(
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
        region_name=REGION,
    )
    _auth(aws.endpoint, "0")
    try:
        yield session
    finally:
        _auth(aws.endpoint, "inf")


def test_an_action_the_policy_denies_is_missing_and_named(
    aws: MotoAccount, auditor: boto3.Session, advisor: AccessAdvisor
) -> None:
    advisor.install(auditor)  # moto lacks Access Advisor: the stand-in answers it

    checks = {c.permission: c for c in aws.live(auditor).check_access()}

    assert {p for p, c in checks.items() if c.ok is False} == {"iam:ListMFADevices"}
    assert checks["iam:ListMFADevices"].detail.startswith(
        "refused: iam:ListMFADevices: AccessDenied: User: arn:aws:iam::123456789012:user/auditor"
    )
    assert checks["sts:GetCallerIdentity"].detail == (
        "signed in as arn:aws:iam::123456789012:user/auditor (account 123456789012)"
    )
    assert {p for p, c in checks.items() if c.ok} == (
        set(COLLECT_PERMISSIONS) - NOT_TRIED - {"iam:ListMFADevices"}
    )


def test_keys_aws_refuses_are_one_clear_error(aws: MotoAccount, auditor: boto3.Session) -> None:
    wrong = boto3.Session(
        aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
        aws_secret_access_key="wrong",
        region_name=REGION,
    )

    with pytest.raises(ConnectorError) as raised:
        aws.live(wrong).check_access()

    assert str(raised.value).startswith(
        "aws-prod: cannot sign in to AWS: sts:GetCallerIdentity: InvalidClientTokenId"
    )


def test_an_endpoint_that_does_not_answer_is_one_clear_error(aws_env: None) -> None:
    dead = MotoAccount(f"http://127.0.0.1:{free_port()}", None)  # type: ignore[arg-type]

    connector = dead.live(connect_timeout=1, max_attempts=1)
    with pytest.raises(ConnectorError, match="aws-prod: cannot sign in to AWS: "):
        connector.check_access()


def test_an_export_has_nothing_to_connect_to(aws: MotoAccount, tmp_path: Path) -> None:
    assert aws.export(tmp_path / "export").check_access() == []
