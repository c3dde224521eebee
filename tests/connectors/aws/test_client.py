"""The AWS connector's boto3 clients: no credentials or an unknown profile is one clear error;
a role is assumed when asked."""

from __future__ import annotations

import pytest

from iam_gov.connectors.aws.connector import AWSConnector, AWSOptions
from iam_gov.errors import ConnectorError

from .conftest import MotoAccount, arn


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
    assert {a.login for a in snapshot.accounts} == {"erin", "iam-gov-reader", "root"}
