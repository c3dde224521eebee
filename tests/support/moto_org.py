"""An AWS Organization in moto's server for the connector's tests: a management account and
three member accounts in an OU tree, service control policies attached at the root, an OU and
an account, and in each member account the read-only role iam-gov assumes (trusting the
management account, with an external id) beside a few users, roles and policies.

moto's ``sts:AssumeRole`` hands out credentials for any role ARN, whether the role exists or
trusts the caller: a wrong external id would still get in. ``faithful_assume_role`` makes it
behave like AWS for what these tests rely on: the role must exist in its account, its trust
policy must name the caller's account (or ``*``), and a ``sts:ExternalId`` condition must match.
``OrganizationAccountAccessRole``, which AWS creates in every account made by
``CreateAccount``, is honoured for the management account, as AWS does."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import boto3
    from mypy_boto3_iam import IAMClient

MANAGEMENT = "123456789012"  # moto's default account: the one the test credentials are in
MEMBER_ROLE = "iam-gov-read"
EXTERNAL_ID = "iam-gov-test-external-id"
ORG_ACCESS_ROLE = "OrganizationAccountAccessRole"
REGION = "us-east-1"

DENY_LEAVE = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Deny", "Action": "organizations:LeaveOrganization", "Resource": "*"}],
}
DENY_IAM_USERS = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Deny", "Action": ["iam:CreateUser", "iam:CreateAccessKey"], "Resource": "*"}
    ],
}
ONLY_S3 = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
}


def member_trust(external_id: str, trusted: str = MANAGEMENT) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{trusted}:root"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": external_id}},
            }
        ],
    }


def _trusts(document: dict[str, Any], caller: str, external_id: str | None) -> bool:
    statements = document.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    for statement in statements:
        if statement.get("Effect") != "Allow":
            continue
        principals = statement.get("Principal", {})
        aws = principals.get("AWS", []) if isinstance(principals, dict) else principals
        aws = [aws] if isinstance(aws, str) else list(aws)
        if not any(p == "*" or p == caller or f"::{caller}:" in p for p in aws):
            continue
        wanted = statement.get("Condition", {}).get("StringEquals", {}).get("sts:ExternalId")
        if wanted is None or wanted == external_id:
            return True
    return False


@contextmanager
def faithful_assume_role() -> Iterator[None]:
    """While open, moto's AssumeRole refuses (AccessDenied) a role that does not exist or
    does not trust the caller with the external id given."""
    from moto.iam.models import iam_backends
    from moto.organizations.models import organizations_backends
    from moto.sts.exceptions import STSClientError
    from moto.sts.models import STSBackend

    original: Callable[..., Any] = STSBackend.assume_role

    def assume_role(self: STSBackend, **kwargs: Any) -> Any:
        role_arn = str(kwargs["role_arn"])
        target, name = role_arn.split(":")[4], role_arn.rsplit("/", 1)[-1]
        management = organizations_backends.master_accounts.get(target, (None,))[0]
        if not (name == ORG_ACCESS_ROLE and management == self.account_id):
            backend = iam_backends[target]["aws"]
            role = next((r for r in backend.roles.values() if r.arn == role_arn), None)
            if role is None or not _trusts(
                json.loads(role.assume_role_policy_document),
                self.account_id,
                kwargs.get("external_id"),
            ):
                raise STSClientError(
                    "AccessDenied",
                    f"User: arn:aws:iam::{self.account_id}:root is not authorized to perform: "
                    f"sts:AssumeRole on resource: {role_arn}",
                )
        return original(self, **kwargs)

    STSBackend.assume_role = assume_role  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        STSBackend.assume_role = original  # type: ignore[method-assign]


@dataclass
class MotoOrganization:
    """What ``build_organization`` made: ids to assert on."""

    endpoint: str
    organization_id: str
    root_id: str
    units: dict[str, str] = field(default_factory=dict)
    """OU name -> id."""
    accounts: dict[str, str] = field(default_factory=dict)
    """Account name -> id (the management account is ``management``)."""
    scps: dict[str, str] = field(default_factory=dict)
    """SCP name -> ARN."""

    def iam(self, account_id: str) -> IAMClient:
        """An IAM client in ``account_id`` (through OrganizationAccountAccessRole)."""
        import boto3

        if account_id == MANAGEMENT:
            return boto3.client("iam", endpoint_url=self.endpoint, region_name=REGION)
        return _session_in(self.endpoint, account_id).client(
            "iam", endpoint_url=self.endpoint, region_name=REGION
        )


def _session_in(endpoint: str, account_id: str) -> boto3.Session:
    import boto3

    sts = boto3.client("sts", endpoint_url=endpoint, region_name=REGION)
    keys = sts.assume_role(
        RoleArn=f"arn:aws:iam::{account_id}:role/{ORG_ACCESS_ROLE}", RoleSessionName="setup"
    )["Credentials"]
    return boto3.Session(
        aws_access_key_id=keys["AccessKeyId"],
        aws_secret_access_key=keys["SecretAccessKey"],
        aws_session_token=keys["SessionToken"],
        region_name=REGION,
    )


def build_organization(endpoint: str) -> MotoOrganization:
    """Root ─ Workloads ─ Production (account prod), Workloads (account dev), Sandbox
    (account sandbox); SCPs: DenyLeave at the root, DenyIamUsers on Workloads, OnlyS3 on the
    sandbox account (beside FullAWSAccess, which AWS attaches everywhere)."""
    import boto3

    org = boto3.client("organizations", endpoint_url=endpoint, region_name=REGION)
    organization_id = org.create_organization(FeatureSet="ALL")["Organization"]["Id"]
    root_id = org.list_roots()["Roots"][0]["Id"]
    org.enable_policy_type(RootId=root_id, PolicyType="SERVICE_CONTROL_POLICY")
    built = MotoOrganization(endpoint, organization_id, root_id)
    built.accounts["management"] = MANAGEMENT

    def unit(name: str, parent: str) -> str:
        built.units[name] = org.create_organizational_unit(ParentId=parent, Name=name)[
            "OrganizationalUnit"
        ]["Id"]
        return built.units[name]

    workloads = unit("Workloads", root_id)
    production = unit("Production", workloads)
    sandbox_ou = unit("Sandbox", root_id)
    for name, parent in (("prod", production), ("dev", workloads), ("sandbox", sandbox_ou)):
        status = org.create_account(AccountName=name, Email=f"aws+{name}@example.com")
        account_id = status["CreateAccountStatus"]["AccountId"]
        org.move_account(AccountId=account_id, SourceParentId=root_id, DestinationParentId=parent)
        built.accounts[name] = account_id

    def scp(name: str, document: dict[str, Any], target: str) -> None:
        policy = org.create_policy(
            Name=name,
            Description=name,
            Type="SERVICE_CONTROL_POLICY",
            Content=json.dumps(document),
        )["Policy"]["PolicySummary"]
        org.attach_policy(PolicyId=policy["Id"], TargetId=target)
        built.scps[name] = policy["Arn"]

    scp("DenyLeave", DENY_LEAVE, root_id)
    scp("DenyIamUsers", DENY_IAM_USERS, workloads)
    scp("OnlyS3", ONLY_S3, built.accounts["sandbox"])

    _people(built.iam(MANAGEMENT), "mgmt")
    for name in ("prod", "dev", "sandbox"):
        iam = built.iam(built.accounts[name])
        iam.create_role(
            RoleName=MEMBER_ROLE, AssumeRolePolicyDocument=json.dumps(member_trust(EXTERNAL_ID))
        )
        _people(iam, name)
    return built


def _people(iam: IAMClient, prefix: str) -> None:
    """A user in a group with a customer-managed policy, an admin user (a policy of the same
    name in every account, not the same policy), a role with an inline policy. (moto loads no
    AWS managed policy unless told to, which takes seconds per account.)"""
    policy = iam.create_policy(
        PolicyName=f"{prefix}-s3-read",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}],
            }
        ),
    )["Policy"]["Arn"]
    iam.create_group(GroupName="readers")
    iam.attach_group_policy(GroupName="readers", PolicyArn=policy)
    iam.create_user(
        UserName=f"{prefix}-alice", Tags=[{"Key": "email", "Value": f"alice@{prefix}.example"}]
    )
    iam.add_user_to_group(GroupName="readers", UserName=f"{prefix}-alice")
    admin = iam.create_policy(
        PolicyName="admin-all",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
            }
        ),
    )["Policy"]["Arn"]
    iam.create_user(UserName=f"{prefix}-admin")
    iam.attach_user_policy(UserName=f"{prefix}-admin", PolicyArn=admin)
    iam.create_role(
        RoleName=f"{prefix}-deploy",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "ec2.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )
    iam.put_role_policy(
        RoleName=f"{prefix}-deploy",
        PolicyName="deploy",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}],
            }
        ),
    )
