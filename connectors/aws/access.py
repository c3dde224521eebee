"""``config check --connect`` for AWS: the sign-in (``sts:GetCallerIdentity``, after the role
is assumed), then one small read per action a collect uses; AccessDenied names the action.

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
