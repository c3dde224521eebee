"""The "first run" examples of the AWS settings guide, loaded as written and collected from
moto: a named profile (whose AWS config file points at moto, as a profile may), a role to
assume, and endpoint_url for a local emulator. Each connector gets the boto3 session it would
build itself (``boto3.Session(profile_name=…, region_name=…)``), with the Access Advisor
stand-in on it (moto answers those calls with what botocore cannot parse)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import boto3
import pytest

from iam_gov.configtypes import BASE_DIR_KEY
from iam_gov.connectors.aws.connector import AWSConnector, AWSOptions

from .access_advisor import AccessAdvisor
from .conftest import NOW, iam_client

WITH_A_PROFILE = """
[systems.aws]
type = "aws"
mode = "live"
profile = "iam-gov-audit"
region = "us-east-1"
"""

WITH_A_ROLE = """
[systems.aws-prod]
type = "aws"
mode = "live"
profile = "security-tooling"
role_arn = "arn:aws:iam::123456789012:role/iam-gov-reader"
"""

WITH_AN_ENDPOINT = """
[systems.aws-local]
type = "aws"
mode = "live"
endpoint_url = "http://localhost:4566"
region = "us-east-1"
"""


def _load(text: str, folder: Path) -> AWSOptions:
    (raw,) = tomllib.loads(text)["systems"].values()
    return AWSOptions.model_validate(raw, context={BASE_DIR_KEY: folder})


def _profiles(folder: Path, endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """AWS config and credentials files with the guide's two profiles; moto stands for AWS
    through the profile's own endpoint_url."""
    config = folder / "config"
    credentials = folder / "credentials"
    config.write_text(
        "".join(
            f"[profile {name}]\nregion = us-east-1\nendpoint_url = {endpoint}\n"
            for name in ("iam-gov-audit", "security-tooling")
        )
    )
    credentials.write_text(
        "".join(
            f"[{name}]\naws_access_key_id = testing\naws_secret_access_key = testing\n"
            for name in ("iam-gov-audit", "security-tooling")
        )
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")


@pytest.fixture
def account(aws_endpoint: str) -> str:
    iam = iam_client(aws_endpoint)
    iam.create_user(UserName="erin")
    iam.create_role(RoleName="iam-gov-reader", AssumeRolePolicyDocument="{}")
    return aws_endpoint


def _connector(name: str, options: AWSOptions) -> AWSConnector:
    session = boto3.Session(profile_name=options.profile, region_name=options.region)
    AccessAdvisor().install(session)
    return AWSConnector(name, options, clock=lambda: NOW, session=session)


def test_with_a_profile(account: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _profiles(tmp_path, account, monkeypatch)

    snapshot = _connector("aws", _load(WITH_A_PROFILE, tmp_path)).collect()

    assert snapshot.complete, snapshot.errors
    assert "erin" in {a.login for a in snapshot.accounts}
    assert snapshot.settings["account_id"] == "123456789012"


def test_with_a_role_to_assume(
    account: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _profiles(tmp_path, account, monkeypatch)
    roles: list[str] = []
    connector = _connector("aws-prod", _load(WITH_A_ROLE, tmp_path))
    assert connector._clients._session is not None
    connector._clients._session.events.register(
        "provide-client-params.sts.AssumeRole", lambda params, **_: roles.append(params["RoleArn"])
    )

    snapshot = connector.collect()

    assert snapshot.complete, snapshot.errors
    assert roles == ["arn:aws:iam::123456789012:role/iam-gov-reader"]
    assert "erin" in {a.login for a in snapshot.accounts}


def test_with_an_endpoint_url(account: str, tmp_path: Path) -> None:
    text = WITH_AN_ENDPOINT.replace("http://localhost:4566", account)

    snapshot = _connector("aws-local", _load(text, tmp_path)).collect()

    assert snapshot.complete, snapshot.errors
    assert "erin" in {a.login for a in snapshot.accounts}
