"""A moto server for the AWS connector's tests: real HTTP, and a fresh account for each test,
with IAM Access Advisor (which moto lacks) answered on the session the connectors share."""

from __future__ import annotations

import base64
import functools
import json
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pytest

from iam_gov.connectors.aws.connector import AWSConnector, AWSOptions
from iam_gov.model import SystemSnapshot
from tests.support.moto_iam import faithful_credential_report

from .access_advisor import AccessAdvisor

if TYPE_CHECKING:
    import boto3
    from mypy_boto3_iam import IAMClient

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _statement(action: str | list[str], resource: str | list[str] = "*") -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource}],
    }


ADMIN_ALL = _statement("*")
IAM_ALL = _statement(["iam:*"], ["*"])
S3_READ = _statement(["s3:Get*", "s3:List*"])
EC2_DESCRIBE = _statement("ec2:Describe*")
TRUST_EC2 = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "ec2.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


def arn(kind: str, name: str, path: str = "/") -> str:
    return f"arn:aws:iam::{ACCOUNT_ID}:{kind}{path}{name}"


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    with faithful_credential_report():
        server.start()
        host, port = server.get_host_and_port()
        try:
            yield f"http://{host}:{port}"
        finally:
            server.stop()


@pytest.fixture(scope="module")
def aws_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """An environment where nothing on this machine (a profile, a config file, an instance
    role) can change what boto3 does."""
    nowhere = tmp_path_factory.mktemp("aws") / "no-such-dir"
    with pytest.MonkeyPatch.context() as patch:
        for name in (
            "AWS_PROFILE",
            "AWS_DEFAULT_PROFILE",
            "AWS_SESSION_TOKEN",
            "AWS_SECURITY_TOKEN",
            "AWS_ROLE_ARN",
            "AWS_WEB_IDENTITY_TOKEN_FILE",
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            "AWS_ENDPOINT_URL",
            "AWS_ENDPOINT_URL_IAM",
            "AWS_ENDPOINT_URL_STS",
            "AWS_MAX_ATTEMPTS",
            "AWS_RETRY_MODE",
            "AWS_CA_BUNDLE",
        ):
            patch.delenv(name, raising=False)
        patch.setenv("AWS_ACCESS_KEY_ID", "testing")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        patch.setenv("AWS_DEFAULT_REGION", REGION)
        patch.setenv("AWS_CONFIG_FILE", str(nowhere / "config"))
        patch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(nowhere / "credentials"))
        patch.setenv("AWS_EC2_METADATA_DISABLED", "true")
        yield


def _reset(endpoint: str) -> None:
    request = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


@pytest.fixture
def aws_endpoint(moto_server: str, aws_env: None) -> str:
    """An empty moto account."""
    _reset(moto_server)
    return moto_server


def iam_client(endpoint_url: str) -> IAMClient:
    import boto3

    return boto3.client("iam", endpoint_url=endpoint_url, region_name=REGION)


@dataclass
class MotoAccount:
    """A small, realistic IAM account in moto, and ways to collect it."""

    endpoint: str
    iam: IAMClient
    keys: dict[str, list[str]] = field(default_factory=dict)
    """User name -> access key ids, oldest first."""

    def options(self, **extra: Any) -> AWSOptions:
        return AWSOptions.model_validate(
            {"type": "aws", "mode": "live", "endpoint_url": self.endpoint, **extra}
        )

    def live(
        self, session: boto3.Session | None = None, *, own_session: bool = False, **extra: Any
    ) -> AWSConnector:
        """A live connector. It shares one boto3 session with the other tests (loading the
        service models takes a quarter of a second), unless given its own or told to make one
        the way it does in use."""
        if session is None and not own_session:
            session = _shared_session()
        return AWSConnector("aws-prod", self.options(**extra), clock=lambda: NOW, session=session)

    def export(
        self,
        folder: Path,
        *,
        report: Literal["csv", "json"] = "json",
        before_details: Callable[[], None] | None = None,
        **extra: Any,
    ) -> AWSConnector:
        """Write the files the AWS CLI would, then a connector reading them.
        ``before_details`` runs between the credential report and the authorization details."""
        folder.mkdir(parents=True, exist_ok=True)
        self.iam.generate_credential_report()
        generated = self.iam.get_credential_report()
        if report == "csv":
            (folder / "credential-report.csv").write_bytes(generated["Content"])
        else:
            cli_json = {
                "Content": base64.b64encode(generated["Content"]).decode("ascii"),
                "ReportFormat": "text/csv",
                "GeneratedTime": generated["GeneratedTime"].isoformat(),
            }
            (folder / "credential-report.json").write_text(json.dumps(cli_json, indent=4))
        if before_details is not None:
            before_details()
        # The CLI follows every page and prints them merged into one object.
        merged: dict[str, list[Any]] = {}
        for page in self.iam.get_paginator("get_account_authorization_details").paginate():
            for key in ("UserDetailList", "GroupDetailList", "RoleDetailList", "Policies"):
                merged.setdefault(key, []).extend(page.get(key, []))  # type: ignore[arg-type]
        (folder / "authorization-details.json").write_text(
            json.dumps(merged, indent=4, default=_iso)
        )
        try:
            policy: Any = {
                "PasswordPolicy": self.iam.get_account_password_policy()["PasswordPolicy"]
            }
        except self.iam.exceptions.NoSuchEntityException:
            policy = None  # the CLI prints an error; the user writes null
        (folder / "password-policy.json").write_text(json.dumps(policy, indent=4))
        options = AWSOptions.model_validate(
            {
                "type": "aws",
                "mode": "export",
                "authorization_details": folder / "authorization-details.json",
                "credential_report": folder / f"credential-report.{report}",
                "password_policy": folder / "password-policy.json",
                **extra,
            }
        )
        return AWSConnector("aws-prod", options, clock=lambda: NOW)


@functools.cache
def _shared_session() -> boto3.Session:
    import boto3

    return boto3.Session()


def _iso(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


@pytest.fixture
def aws(aws_endpoint: str) -> MotoAccount:
    """The demo account, fresh for a test that changes it."""
    return build_account(aws_endpoint)


@pytest.fixture(scope="module")
def aws_shared(moto_server: str, aws_env: None) -> MotoAccount:
    """The demo account, built once for a module whose tests only read it. Such a module must
    not also use ``aws`` or ``aws_endpoint``: they reset the server."""
    _reset(moto_server)
    return build_account(moto_server)


def build_account(endpoint: str) -> MotoAccount:
    """Users with tags, groups with managed and inline policies, a boundary, a role, keys (one
    deactivated), console passwords, an MFA device and a password policy."""
    iam = iam_client(endpoint)
    account = MotoAccount(endpoint, iam)

    def policy(name: str, document: dict[str, Any], path: str = "/") -> str:
        created = iam.create_policy(PolicyName=name, Path=path, PolicyDocument=json.dumps(document))
        return created["Policy"]["Arn"]

    admin_all = policy("AdminAll", ADMIN_ALL)
    s3_read = policy("S3Read", S3_READ)
    # Only the default version counts: a dormant admin version must not make it privileged.
    iam.create_policy_version(
        PolicyArn=s3_read, PolicyDocument=json.dumps(ADMIN_ALL), SetAsDefault=False
    )
    boundary = policy("DeveloperBoundary", _statement("s3:*"), path="/boundaries/")

    iam.create_group(GroupName="admins")
    iam.attach_group_policy(GroupName="admins", PolicyArn=admin_all)
    iam.create_group(GroupName="developers")
    iam.attach_group_policy(GroupName="developers", PolicyArn=s3_read)
    iam.put_group_policy(
        GroupName="developers",
        PolicyName="describe-ec2",
        PolicyDocument=json.dumps(EC2_DESCRIBE),
    )
    iam.create_group(GroupName="iam-operators")
    iam.put_group_policy(
        GroupName="iam-operators", PolicyName="iam-all", PolicyDocument=json.dumps(IAM_ALL)
    )

    def user(login: str, path: str = "/", groups: tuple[str, ...] = (), **tags: str) -> None:
        iam.create_user(
            UserName=login, Path=path, Tags=[{"Key": k, "Value": v} for k, v in tags.items()]
        )
        for group in groups:
            iam.add_user_to_group(GroupName=group, UserName=login)

    def key(name: str, active: bool = True) -> None:
        key_id = iam.create_access_key(UserName=name)["AccessKey"]["AccessKeyId"]
        if not active:
            iam.update_access_key(UserName=name, AccessKeyId=key_id, Status="Inactive")
        account.keys.setdefault(name, []).append(key_id)

    user(
        "alice",
        "/staff/",
        ("admins", "developers"),
        employee_id="E001",
        email="alice@example.com",
        name="Alice Archer",
    )
    iam.create_login_profile(UserName="alice", Password="Corr3ct-Horse-Battery")
    key("alice")
    device = iam.create_virtual_mfa_device(VirtualMFADeviceName="alice")
    iam.enable_mfa_device(
        UserName="alice",
        SerialNumber=device["VirtualMFADevice"]["SerialNumber"],
        AuthenticationCode1="123456",
        AuthenticationCode2="654321",
    )

    user("bob", "/staff/", ("developers", "iam-operators"), employee_id="E002", email="bob@x.io")
    iam.create_login_profile(UserName="bob", Password="Corr3ct-Horse-Battery")
    key("bob")
    key("bob", active=False)
    iam.attach_user_policy(UserName="bob", PolicyArn=admin_all)
    iam.put_user_policy(
        UserName="bob", PolicyName="bob-notes", PolicyDocument=json.dumps(EC2_DESCRIBE)
    )

    user("carol", "/staff/", ("developers",), employee_id="E003")  # no password, no key

    user("svc-ci", "/service/")
    key("svc-ci")
    key("svc-ci")
    iam.attach_user_policy(UserName="svc-ci", PolicyArn=s3_read)

    iam.create_role(
        RoleName="deploy",
        Path="/automation/",
        AssumeRolePolicyDocument=json.dumps(TRUST_EC2),
        PermissionsBoundary=boundary,
        Tags=[{"Key": "owner", "Value": "platform"}],
    )
    iam.attach_role_policy(RoleName="deploy", PolicyArn=admin_all)
    iam.put_role_policy(
        RoleName="deploy", PolicyName="deploy-extra", PolicyDocument=json.dumps(S3_READ)
    )

    iam.update_account_password_policy(
        MinimumPasswordLength=14, RequireSymbols=True, MaxPasswordAge=90
    )
    return account


@pytest.fixture(autouse=True)
def advisor() -> Iterator[AccessAdvisor]:
    """IAM Access Advisor, which moto lacks, on the session the tests' connectors share."""
    fake = AccessAdvisor()
    fake.install(_shared_session())
    try:
        yield fake
    finally:
        fake.uninstall(_shared_session())


# --- a small account, and a user newer than the credential report ----------------------------

DAVE = arn("user", "dave")


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
