"""``config check --connect`` for AWS: the sign-in (``sts:GetCallerIdentity``, after the role
is assumed), then one small read per action a collect uses; AccessDenied names the action. For
an organization, also Organizations' reads and, in every member account, the member role
assumed and the account's reads tried through it.

IAM checks the permission before it looks for what is asked, so a call about a user, key or
job that does not exist answers NoSuchEntity when it is allowed and AccessDenied when not:
that proves a permission without reading or starting anything."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from iam_gov.connectors.aws.client import aws_failures, describe_aws_error
from iam_gov.connectors.shared.protocol import AccessCheck
from iam_gov.errors import ConnectorError

if TYPE_CHECKING:
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_sts import STSClient

    from iam_gov.connectors.aws.client import AWSClients

T = TypeVar("T")

DENIED = frozenset(
    {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnauthorizedAccess"}
)
MADE_UP = "iam-gov-access-check"
"""The name of the user asked about when the account has none to ask about."""
_ALLOWED_ABSENT = "NoSuchEntity"


def check_account(
    iam: IAMClient,
    sts: STSClient,
    *,
    system: str,
    permissions: Sequence[str],
    role_arn: str | None,
    access_advisor: bool,
) -> list[AccessCheck]:
    """One check per permission, in the order given. ``ConnectorError`` when the sign-in
    itself fails (AWS unreachable, the keys refused)."""
    try:
        identity = sts.get_caller_identity()
    except aws_failures() as exc:
        problem = describe_aws_error(exc, "sts:GetCallerIdentity")
        raise ConnectorError(f"{system}: cannot sign in to AWS: {problem}") from None
    caller, account = identity["Arn"], identity["Account"]
    partition = caller.split(":")[1] if caller.count(":") >= 5 else "aws"
    found: dict[str, AccessCheck] = {
        "sts:GetCallerIdentity": AccessCheck(
            "sts:GetCallerIdentity", True, f"signed in as {caller} (account {account})"
        ),
        "sts:AssumeRole": AccessCheck(
            "sts:AssumeRole",
            True if role_arn else None,
            f"assumed {role_arn} to sign in" if role_arn else "role_arn not set: not used",
        ),
        "iam:GenerateCredentialReport": AccessCheck(
            "iam:GenerateCredentialReport",
            None,
            "not tried: it starts a credential report job, which a collect does anyway "
            "(iam:GetCredentialReport reads the last one)",
        ),
    }

    def attempt(
        action: str,
        call: Callable[[], T],
        granted: Callable[[T], str],
        absent: Mapping[str, str] | None = None,
    ) -> T | None:
        try:
            answer = call()
        except aws_failures() as exc:
            found[action] = _failed(action, exc, absent or {})
            return None
        found[action] = AccessCheck(action, True, granted(answer))
        return answer

    details = attempt(
        "iam:GetAccountAuthorizationDetails",
        lambda: iam.get_account_authorization_details(Filter=["User"], MaxItems=1),
        lambda _: "read the users' page of the authorization details (MaxItems=1)",
    )
    user, made_up = _user_to_ask_about(details, caller)
    whose = f"{user} (made up: the account has no user to ask about)" if made_up else user
    missing = f"allowed: no such user {user} (IAM checks the permission first)"
    attempt(
        "iam:GetCredentialReport",
        iam.get_credential_report,
        lambda a: f"read the report generated {a.get('GeneratedTime', 'at an unknown time')}",
        {
            code: f"allowed: {why}"
            for code, why in (
                ("ReportNotPresent", "no report generated yet"),
                ("ReportExpired", "the last report has expired"),
                ("ReportInProgress", "a report is being generated"),
            )
        },
    )
    attempt(
        "iam:GetAccountPasswordPolicy",
        iam.get_account_password_policy,
        lambda _: "read the account's password policy",
        {_ALLOWED_ABSENT: "allowed: the account has no password policy"},
    )
    attempt(
        "iam:GetLoginProfile",
        lambda: iam.get_login_profile(UserName=user),
        lambda _: f"read the console password state of {whose}",
        {
            _ALLOWED_ABSENT: missing
            if made_up
            else f"allowed: {user} has no console password, or does not exist"
        },
    )
    keys = attempt(
        "iam:ListAccessKeys",
        lambda: iam.list_access_keys(UserName=user, MaxItems=1),
        lambda a: f"listed {len(a['AccessKeyMetadata'])} access key of {whose} (MaxItems=1)",
        {_ALLOWED_ABSENT: missing},
    )
    key_ids = [k["AccessKeyId"] for k in keys["AccessKeyMetadata"]] if keys else []
    if key_ids:
        attempt(
            "iam:GetAccessKeyLastUsed",
            lambda: iam.get_access_key_last_used(AccessKeyId=key_ids[0]),
            lambda _: f"read when {user}'s key {key_ids[0][:8]}… was last used",
        )
    else:
        found["iam:GetAccessKeyLastUsed"] = AccessCheck(
            "iam:GetAccessKeyLastUsed",
            None,
            f"not tried: no access key of {whose} was listed to ask about",
        )
    attempt(
        "iam:ListMFADevices",
        lambda: iam.list_mfa_devices(UserName=user, MaxItems=1),
        lambda a: f"listed {len(a['MFADevices'])} MFA device of {whose} (MaxItems=1)",
        {_ALLOWED_ABSENT: missing},
    )
    _advisor(iam, found, attempt, access_advisor, f"arn:{partition}:iam::{account}")
    return [
        found.get(p, AccessCheck(p, None, "not tried: no read of this kind")) for p in permissions
    ]


def _advisor(
    iam: IAMClient,
    found: dict[str, AccessCheck],
    attempt: Callable[..., Any],
    enabled: bool,
    arn_prefix: str,
) -> None:
    """Access Advisor, asked about a principal and a job that do not exist: allowed is
    NoSuchEntity, and no job is started."""
    generate, get = (
        "iam:GenerateServiceLastAccessedDetails",
        "iam:GetServiceLastAccessedDetails",
    )
    if not enabled:
        for action in (generate, get):
            found[action] = AccessCheck(action, None, "access_advisor = false: not used")
        return
    nobody = f"{arn_prefix}:user/{MADE_UP}-{uuid.uuid4().hex[:12]}"
    allowed = {_ALLOWED_ABSENT: "allowed: asked about a principal that does not exist"}
    attempt(
        generate,
        lambda: iam.generate_service_last_accessed_details(Arn=nobody),
        lambda a: f"allowed: job {a['JobId']} started for {nobody}",
        allowed,
    )
    attempt(
        get,
        lambda: iam.get_service_last_accessed_details(JobId=str(uuid.uuid4())),
        lambda _: "read a job's result",
        {_ALLOWED_ABSENT: "allowed: asked about a job that does not exist"},
    )


def _user_to_ask_about(details: Mapping[str, Any] | None, caller: str) -> tuple[str, bool]:
    """A user of the account (the first one, else the caller when it is a user), or a made-up
    name; and whether it is made up."""
    users = (details or {}).get("UserDetailList") or []
    if users:
        return str(users[0]["UserName"]), False
    resource = caller.split(":", 5)[-1]
    if resource.startswith("user/"):
        return resource.rsplit("/", 1)[-1], False
    return MADE_UP, True


def _failed(action: str, exc: Exception, absent: Mapping[str, str]) -> AccessCheck:
    from botocore.exceptions import ClientError

    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code") or "")
        if code in DENIED:
            return AccessCheck(action, False, f"refused: {describe_aws_error(exc, action)}")
        if code in absent:
            message = " ".join(str(exc.response.get("Error", {}).get("Message") or "").split())
            return AccessCheck(action, True, f"{absent[code]} ({code}: {message})")
    return AccessCheck(action, None, f"not conclusive: {describe_aws_error(exc, action)}")


def check_organization(
    clients: AWSClients,
    sts: STSClient,
    *,
    system: str,
    member_role_name: str,
    external_id: str | None,
    max_concurrent_accounts: int,
    access_advisor: bool,
    member_permissions: Sequence[str],
) -> list[AccessCheck]:
    """With ``organization = true``: one small read per Organizations action a collect
    uses, with the base credential; then, in every other account of the organization, the
    member role assumed (with the external id) and the account's reads tried through it.
    Each account that refuses is named (name and id) with the trust or permission it lacks;
    an account that grants everything is one row."""
    from concurrent.futures import ThreadPoolExecutor

    from iam_gov.connectors.aws.organization import (
        ORGANIZATION_PERMISSIONS,
        MemberRoleRefused,
        member_clients,
        member_role_arn,
    )
    from iam_gov.connectors.aws.organization_export import SCP_TYPE

    organizations = clients.client("organizations")
    found: dict[str, AccessCheck] = {}

    def attempt(action: str, call: Callable[[], T], granted: Callable[[T], str]) -> T | None:
        try:
            answer = call()
        except aws_failures() as exc:
            found[action] = _failed(action, exc, {})
            return None
        found[action] = AccessCheck(action, True, granted(answer))
        return answer

    def accounts_of() -> list[dict[str, Any]]:
        pages = organizations.get_paginator("list_accounts").paginate()
        return [account for page in pages for account in page["Accounts"]]

    try:
        identity = sts.get_caller_identity()
    except aws_failures() as exc:
        problem = describe_aws_error(exc, "sts:GetCallerIdentity")
        raise ConnectorError(f"{system}: cannot sign in to AWS: {problem}") from None
    own, partition = identity["Account"], identity["Arn"].split(":")[1]
    attempt(
        "organizations:DescribeOrganization",
        organizations.describe_organization,
        lambda a: (
            f"organization {a['Organization']['Id']}, management account "
            f"{a['Organization']['MasterAccountId']}"
        ),
    )
    roots = attempt(
        "organizations:ListRoots",
        lambda: organizations.list_roots()["Roots"],
        lambda a: f"listed {len(a)} root",
    )
    accounts = attempt(
        "organizations:ListAccounts", accounts_of, lambda a: f"listed {len(a)} accounts"
    )
    if roots:
        root = str(roots[0]["Id"])
        attempt(
            "organizations:ListOrganizationalUnitsForParent",
            lambda: organizations.list_organizational_units_for_parent(ParentId=root, MaxResults=1),
            lambda _: f"listed the OUs under {root} (MaxResults=1)",
        )
        attempt(
            "organizations:ListAccountsForParent",
            lambda: organizations.list_accounts_for_parent(ParentId=root, MaxResults=1),
            lambda _: f"listed the accounts under {root} (MaxResults=1)",
        )
    policies = attempt(
        "organizations:ListPolicies",
        lambda: organizations.list_policies(Filter=SCP_TYPE, MaxResults=1)["Policies"],
        lambda _: "listed the service control policies (MaxResults=1)",
    )
    if policies:
        policy = str(policies[0]["Id"])
        attempt(
            "organizations:DescribePolicy",
            lambda: organizations.describe_policy(PolicyId=policy),
            lambda _: f"read the content of {policy}",
        )
        attempt(
            "organizations:ListTargetsForPolicy",
            lambda: organizations.list_targets_for_policy(PolicyId=policy, MaxResults=1),
            lambda _: f"listed where {policy} is attached (MaxResults=1)",
        )
    checks = [
        found.get(p, AccessCheck(p, None, "not tried: nothing of this kind was listed to read"))
        for p in ORGANIZATION_PERMISSIONS
    ]
    if accounts is None:
        return [
            *checks,
            AccessCheck(
                "sts:AssumeRole (member accounts)",
                None,
                "not tried: the organization's accounts could not be listed",
            ),
        ]
    with_id = "with the external id" if external_id is not None else "without an external id"

    def member(account: Mapping[str, Any]) -> list[AccessCheck]:
        account_id = str(account["Id"])
        where = f"{account.get('Name') or account_id} ({account_id})"
        assume = f"sts:AssumeRole in {where}"
        role_arn = member_role_arn(partition, account_id, member_role_name)
        try:
            clients_in = member_clients(clients, sts, role_arn, external_id)
        except MemberRoleRefused as exc:
            return [
                AccessCheck(
                    assume,
                    False,
                    f"refused: {exc} (the role must exist in {where} and trust account "
                    f"{own} {with_id}; the credential needs sts:AssumeRole on it)",
                )
            ]
        try:
            tried = check_account(
                clients_in.iam,
                clients_in.sts,
                system=system,
                permissions=member_permissions,
                role_arn=None,
                access_advisor=access_advisor,
            )
        except ConnectorError as exc:
            problem = str(exc).removeprefix(f"{system}: ")
            return [AccessCheck(assume, None, f"assumed {role_arn}, then {problem}")]
        refused = [c for c in tried if c.ok is False]
        granted = sum(1 for c in tried if c.ok)
        summary = AccessCheck(
            assume,
            True,
            f"assumed {role_arn} {with_id}; {granted} of {len(tried)} reads granted"
            + (f", {len(refused)} refused" if refused else ""),
        )
        return [
            summary,
            *(AccessCheck(f"{c.permission} in {where}", False, c.detail) for c in refused),
        ]

    members = [a for a in accounts if str(a["Id"]) != own]
    with ThreadPoolExecutor(max_workers=max(1, min(max_concurrent_accounts, 16))) as pool:
        for rows in pool.map(member, members):
            checks.extend(rows)
    return checks
