"""The AWS IAM connector: users, roles, groups and policies, live through boto3 or from the
files the AWS CLI writes."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field, model_validator

from iam_gov.configtypes import RelPath
from iam_gov.connectors.aws.actions import apply_action, describe_aws_error
from iam_gov.connectors.aws.export import (
    GROUP_POLICIES_KIND,
    LAST_ACCESSED_KIND,
    ROOT_USER,
    AuthorizationDetails,
    GroupDetail,
    InlinePolicy,
    ReportKey,
    ReportUser,
    UserDetail,
    account_ids,
    group_policies_document_id,
    last_accessed_document_id,
    last_accessed_file,
    normal_last_accessed,
    parse_authorization_details,
    parse_credential_report,
    read_authorization_details,
    read_credential_report,
    read_last_accessed,
    read_password_policy,
    report_value,
)
from iam_gov.connectors.shared.protocol import Connector, ConnectorOptions, Permissions
from iam_gov.connectors.shared.registry import connector
from iam_gov.errors import ConnectorError, SourceError
from iam_gov.model import (
    Account,
    AccountKind,
    AccountStatus,
    Action,
    ActionKind,
    ActionOutcome,
    ActionResult,
    Credential,
    CredentialKind,
    Entitlement,
    Grant,
    PolicyDocument,
    SnapshotError,
    SystemSnapshot,
    UTCDateTime,
)
from iam_gov.timeutil import as_utc, utcnow

if TYPE_CHECKING:
    from boto3.session import Session
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_iam.literals import EntityTypeType
    from mypy_boto3_sts import STSClient


class AWSOptions(ConnectorOptions):
    """One AWS account. Credentials come only from boto3's own chain (environment, profile,
    instance role), never from these options."""

    type: Literal["aws"]
    mode: Literal["live", "export"]
    # live
    profile: str | None = None
    region: str = "us-east-1"
    endpoint_url: str | None = None
    """Another IAM/STS endpoint, e.g. a local test server."""
    role_arn: str | None = Field(default=None, pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/\S+$")
    """A role to assume for collection and actions."""
    access_advisor: bool = True
    """Collect each user's and role's service-last-accessed data (IAM Access Advisor: two
    calls per principal, run a few at a time); what the unused-privilege rule reads."""
    # export
    authorization_details: RelPath | None = None
    """Output of ``aws iam get-account-authorization-details``."""
    credential_report: RelPath | None = None
    """Decoded CSV, or the JSON of ``aws iam get-credential-report``."""
    password_policy: RelPath | None = None
    """Output of ``aws iam get-account-password-policy``; ``null`` when there is none."""
    service_last_accessed: RelPath | None = None
    """A folder of ``aws iam get-service-last-accessed-details`` outputs, one per principal:
    ``user/<UserName>.json`` and ``role/<RoleName>.json``."""
    exported_at: UTCDateTime | None = None
    """When the export was taken. Default: the report's GeneratedTime, else the file's mtime."""
    # both
    employee_id_tag: str = Field(default="employee_id", min_length=1)
    email_tag: str = Field(default="email", min_length=1)

    @model_validator(mode="after")
    def _fits_mode(self) -> AWSOptions:
        if self.mode == "export":
            if self.authorization_details is None or self.credential_report is None:
                raise ValueError(
                    'mode = "export" needs authorization_details (the output of `aws iam '
                    "get-account-authorization-details`) and credential_report (the output of "
                    "`aws iam get-credential-report`)"
                )
            misplaced = [n for n in _LIVE_ONLY if n in self.model_fields_set]
            wanted = "live"
        else:
            misplaced = [n for n in _EXPORT_ONLY if getattr(self, n) is not None]
            wanted = "export"
        if misplaced:
            raise ValueError(f'{", ".join(misplaced)} only apply to mode = "{wanted}"')
        return self


_LIVE_ONLY = ("profile", "region", "endpoint_url", "role_arn", "access_advisor")
_EXPORT_ONLY = (
    "authorization_details",
    "credential_report",
    "password_policy",
    "service_last_accessed",
    "exported_at",
)

COLLECT_PERMISSIONS = (
    "sts:GetCallerIdentity",
    "iam:GetAccountAuthorizationDetails",
    "iam:GenerateCredentialReport",
    "iam:GetCredentialReport",
    "iam:GetAccountPasswordPolicy",
    # for users created after the credential report was generated
    "iam:GetLoginProfile",
    "iam:ListAccessKeys",
    "iam:GetAccessKeyLastUsed",
    "iam:ListMFADevices",
    # Access Advisor (access_advisor = true): "Generate" starts a read-only report job
    "iam:GenerateServiceLastAccessedDetails",
    "iam:GetServiceLastAccessedDetails",
    # only with role_arn; granted to the base credential, not to the role
    "sts:AssumeRole",
)
# Actions read the current state before changing it (that is what makes them idempotent),
# so the reads they use are listed with the writes.
APPLY_PERMISSIONS = (
    "iam:GetLoginProfile",
    "iam:DeleteLoginProfile",
    "iam:ListAccessKeys",
    "iam:UpdateAccessKey",
    "iam:GetCredentialReport",
    "iam:ListGroupsForUser",
    "iam:RemoveUserFromGroup",
    "iam:ListAttachedUserPolicies",
    "iam:DetachUserPolicy",
    "iam:ListUserPolicies",
    "iam:DeleteUserPolicy",
    "iam:ListAttachedGroupPolicies",
    "iam:ListAttachedRolePolicies",
    "iam:DetachRolePolicy",
    "iam:ListRolePolicies",
    "iam:DeleteRolePolicy",
    "sts:AssumeRole",
)

_ALL_DETAILS: list[EntityTypeType] = [
    "User",
    "Role",
    "Group",
    "LocalManagedPolicy",
    "AWSManagedPolicy",
]
_REPORT_WAIT_SECONDS = 120.0
_ADVISOR_WORKERS = 4
"""Access Advisor jobs started and read at once: IAM throttles per account."""
_ADVISOR_WAIT_SECONDS = 300.0
_ROLE_SESSION_SECONDS = 3600
_PRIVILEGED_AWS_POLICY = re.compile(
    r"^arn:aws[a-z-]*:iam::aws:policy/(AdministratorAccess|IAMFullAccess)$"
)


@connector
class AWSConnector(Connector[AWSOptions]):
    """IAM users and roles as accounts; groups, managed and inline policies as entitlements."""

    options_model: ClassVar[type[ConnectorOptions]] = AWSOptions
    permissions: ClassVar[Permissions] = Permissions(
        collect=COLLECT_PERMISSIONS, apply=APPLY_PERMISSIONS
    )
    capabilities: ClassVar[frozenset[ActionKind]] = frozenset(
        {ActionKind.DISABLE_ACCOUNT, ActionKind.REMOVE_GRANT, ActionKind.DEACTIVATE_CREDENTIAL}
    )

    def __init__(
        self,
        system: str,
        options: AWSOptions,
        *,
        clock: Callable[[], datetime] = utcnow,
        session: Session | None = None,
    ) -> None:
        """``session``: a boto3 session to use instead of one built from ``profile``."""
        super().__init__(system, options, clock=clock)
        self._session = session
        self._iam: IAMClient | None = None
        self._sts: STSClient | None = None
        self._clients_expire_at = float("inf")

    # --- collect ------------------------------------------------------------------------

    def collect(self) -> SystemSnapshot:
        if self.options.mode == "export":
            return self._collect_export()
        return self._collect_live()

    def _collect_export(self) -> SystemSnapshot:
        options = self.options
        assert options.authorization_details is not None and options.credential_report is not None
        details_path, report_path = options.authorization_details, options.credential_report
        details = read_authorization_details(details_path)
        report, generated_at = read_credential_report(report_path)
        errors: list[SnapshotError] = []
        settings: dict[str, Any] = {"account_id": _export_account_id(details, report, options)}
        files = [details_path.name, report_path.name]
        if options.password_policy is not None:
            settings["password_policy"] = read_password_policy(options.password_policy)
            files.append(options.password_policy.name)
        else:
            errors.append(
                SnapshotError(
                    source="password_policy",
                    message="no file given: the account's password policy is unknown",
                )
            )
        exported_at = options.exported_at or generated_at
        if exported_at is None:
            exported_at = as_utc(datetime.fromtimestamp(details_path.stat().st_mtime))
            errors.append(
                SnapshotError(
                    source=str(details_path),
                    message=f"exported_at not given: taken to be the file's modification "
                    f"time, {exported_at:%Y-%m-%d %H:%M} UTC",
                )
            )
        complete = not details.is_truncated
        if details.is_truncated:
            errors.append(
                SnapshotError(
                    source=str(details_path),
                    message="the last page says more pages follow (IsTruncated): "
                    "the export is cut short",
                )
            )
        for user in _users_missing_from(details, report):
            complete = False
            errors.append(_missing_from_report(str(report_path), user))
        last_accessed: dict[str, list[dict[str, Any]]] = {}
        if options.service_last_accessed is not None:
            folder = options.service_last_accessed
            if not folder.is_dir():
                raise SourceError(f"{folder}: service_last_accessed is not a folder")
            files.append(folder.name + "/")
            last_accessed, advisor_errors = _export_last_accessed(folder, details)
            errors.extend(advisor_errors)
            complete = complete and not advisor_errors
        return _Mapper(self.system, options, str(details_path)).snapshot(
            source="export:" + ",".join(files),
            collected_at=exported_at,
            details=details,
            report=report,
            settings=settings,
            errors=errors,
            complete=complete,
            last_accessed=last_accessed,
        )

    def _collect_live(self) -> SystemSnapshot:
        from botocore.exceptions import BotoCoreError, ClientError

        collected_at = self.clock()
        iam, sts = self._clients()
        try:
            account_id = sts.get_caller_identity()["Account"]
        except (BotoCoreError, ClientError) as exc:
            problem = describe_aws_error(exc, "sts:GetCallerIdentity")
            raise ConnectorError(f"{self.system}: cannot reach AWS: {problem}") from None
        errors: list[SnapshotError] = []
        details = self._live_details(iam, errors)
        report = self._live_report(iam, errors)
        settings: dict[str, Any] = {"account_id": account_id}
        try:
            policy = iam.get_account_password_policy()["PasswordPolicy"]
            settings["password_policy"] = dict(policy)
        except iam.exceptions.NoSuchEntityException:
            settings["password_policy"] = None  # the account has none: a fact, not a gap
        except (BotoCoreError, ClientError) as exc:
            errors.append(_api_error("iam:GetAccountPasswordPolicy", exc))
        if report is not None:
            for user in _users_missing_from(details, report):
                try:
                    report[user.arn] = _user_credentials(iam, user)
                except (BotoCoreError, ClientError) as exc:
                    errors.append(
                        SnapshotError(
                            source="iam",
                            record=user.arn,
                            message=f"user {user.user_name} is not in the credential report and "
                            f"reading its credentials failed: {describe_aws_error(exc)}",
                        )
                    )
        last_accessed: dict[str, list[dict[str, Any]]] = {}
        if self.options.access_advisor:
            last_accessed = _live_last_accessed(iam, _principal_arns(details), errors)
        complete = not errors and not details.is_truncated
        return _Mapper(self.system, self.options, "iam:GetAccountAuthorizationDetails").snapshot(
            source="live",
            collected_at=collected_at,
            details=details,
            report=report,
            settings=settings,
            errors=errors,
            complete=complete,
            last_accessed=last_accessed,
        )

    def _live_details(self, iam: IAMClient, errors: list[SnapshotError]) -> AuthorizationDetails:
        from botocore.exceptions import BotoCoreError, ClientError

        source = "iam:GetAccountAuthorizationDetails"
        pages: list[Mapping[str, object]] = []
        try:
            paginator = iam.get_paginator("get_account_authorization_details")
            for page in paginator.paginate(Filter=_ALL_DETAILS):
                pages.append(page)
        except (BotoCoreError, ClientError) as exc:
            errors.append(_api_error(source, exc))
        try:
            return parse_authorization_details(pages, source)
        except SourceError as exc:
            errors.extend(SnapshotError(source=source, message=p) for p in exc.problems)
            return AuthorizationDetails()

    def _live_report(
        self, iam: IAMClient, errors: list[SnapshotError]
    ) -> dict[str, ReportUser] | None:
        from botocore.exceptions import BotoCoreError, ClientError

        operation = "iam:GenerateCredentialReport"
        deadline = time.monotonic() + _REPORT_WAIT_SECONDS
        delay = 0.1
        try:
            while iam.generate_credential_report()["State"] != "COMPLETE":
                if time.monotonic() + delay > deadline:
                    errors.append(
                        SnapshotError(
                            source=operation,
                            message=f"the credential report was not ready after "
                            f"{_REPORT_WAIT_SECONDS:.0f} s",
                        )
                    )
                    return None
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
            operation = "iam:GetCredentialReport"
            content = iam.get_credential_report()["Content"].decode("utf-8", errors="replace")
        except (BotoCoreError, ClientError) as exc:
            errors.append(_api_error(operation, exc))
            return None
        try:
            return parse_credential_report(content, lambda line: f"{operation}: line {line}")
        except SourceError as exc:
            errors.append(SnapshotError(source=operation, message=str(exc)))
            return None

    # --- apply --------------------------------------------------------------------------

    def apply(self, action: Action) -> ActionResult:
        if action.kind not in self.capabilities:
            return super().apply(action)
        if action.system != self.system:
            return _failed(action, f"this connector serves system {self.system!r}")
        if self.options.mode != "live":
            return _failed(action, 'an export cannot be changed: actions need mode = "live"')
        try:
            iam, _ = self._clients()
        except ConnectorError as exc:
            return _failed(action, str(exc))
        return apply_action(iam, action)

    # --- clients ------------------------------------------------------------------------

    def _clients(self) -> tuple[IAMClient, STSClient]:
        if self._iam is None or self._sts is None or time.monotonic() >= self._clients_expire_at:
            self._build_clients()
        assert self._iam is not None and self._sts is not None
        return self._iam, self._sts

    def _build_clients(self) -> None:
        from botocore.config import Config
        from botocore.exceptions import BotoCoreError, ClientError

        options = self.options
        session = self._boto_session()
        config = Config(
            retries={"mode": "adaptive", "max_attempts": 10},
            connect_timeout=10,
            read_timeout=60,
            user_agent_extra="iam-gov",
        )
        keys: dict[str, str | None] = {
            "aws_access_key_id": None,
            "aws_secret_access_key": None,
            "aws_session_token": None,
        }
        expire_at = float("inf")
        if options.role_arn is not None:
            base_sts = session.client(
                "sts", region_name=options.region, endpoint_url=options.endpoint_url, config=config
            )
            try:
                credentials = base_sts.assume_role(
                    RoleArn=options.role_arn,
                    RoleSessionName="iam-gov",
                    DurationSeconds=_ROLE_SESSION_SECONDS,
                )["Credentials"]
            except (BotoCoreError, ClientError) as exc:
                raise ConnectorError(
                    f"{self.system}: cannot assume {options.role_arn}: "
                    f"{describe_aws_error(exc, 'sts:AssumeRole')}"
                ) from None
            keys = {
                "aws_access_key_id": credentials["AccessKeyId"],
                "aws_secret_access_key": credentials["SecretAccessKey"],
                "aws_session_token": credentials["SessionToken"],
            }
            # Renew well before the temporary credentials expire.
            lifetime = (as_utc(credentials["Expiration"]) - utcnow()).total_seconds()
            expire_at = time.monotonic() + max(lifetime - 300, 0)
        self._iam = session.client(
            "iam",
            region_name=options.region,
            endpoint_url=options.endpoint_url,
            config=config,
            aws_access_key_id=keys["aws_access_key_id"],
            aws_secret_access_key=keys["aws_secret_access_key"],
            aws_session_token=keys["aws_session_token"],
        )
        self._sts = session.client(
            "sts",
            region_name=options.region,
            endpoint_url=options.endpoint_url,
            config=config,
            aws_access_key_id=keys["aws_access_key_id"],
            aws_secret_access_key=keys["aws_secret_access_key"],
            aws_session_token=keys["aws_session_token"],
        )
        self._clients_expire_at = expire_at

    def _boto_session(self) -> Session:
        if self._session is None:
            import boto3
            from botocore.exceptions import ProfileNotFound

            try:
                self._session = boto3.Session(
                    profile_name=self.options.profile, region_name=self.options.region
                )
            except ProfileNotFound:
                raise ConnectorError(
                    f"{self.system}: AWS profile {self.options.profile!r} is not in the AWS "
                    "config files"
                ) from None
        return self._session


# --- live helpers ---------------------------------------------------------------------------


def _user_credentials(iam: IAMClient, user: UserDetail) -> ReportUser:
    """What the credential report would say about ``user``, asked user by user."""
    try:
        profile = iam.get_login_profile(UserName=user.user_name)["LoginProfile"]
        password_changed: datetime | None = as_utc(profile["CreateDate"])
    except iam.exceptions.NoSuchEntityException:
        profile, password_changed = None, None
    metadata = [
        key
        for page in iam.get_paginator("list_access_keys").paginate(UserName=user.user_name)
        for key in page["AccessKeyMetadata"]
    ]
    metadata.sort(key=lambda key: key["CreateDate"])
    keys = []
    for number, key in enumerate(metadata[:2], start=1):
        used = iam.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])["AccessKeyLastUsed"]
        last_used = used.get("LastUsedDate")
        keys.append(
            ReportKey(
                number=number,
                active=key["Status"] == "Active",
                created_at=as_utc(key["CreateDate"]),
                last_used_at=as_utc(last_used) if last_used else None,
                last_used_region=report_value(used.get("Region", "")),
                last_used_service=report_value(used.get("ServiceName", "")),
            )
        )
    mfa_active = any(
        page["MFADevices"]
        for page in iam.get_paginator("list_mfa_devices").paginate(UserName=user.user_name)
    )
    return ReportUser(
        user=user.user_name,
        arn=user.arn,
        created_at=user.create_date,
        password_enabled=profile is not None,
        password_last_used=None,  # only the report and GetUser say; a new user rarely has one
        password_last_changed=password_changed,
        mfa_active=mfa_active,
        keys=tuple(keys),
    )


def _principal_arns(details: AuthorizationDetails) -> list[str]:
    return [
        *(user.arn for user in details.user_detail_list),
        *(role.arn for role in details.role_detail_list),
    ]


def _live_last_accessed(
    iam: IAMClient, arns: list[str], errors: list[SnapshotError]
) -> dict[str, list[dict[str, Any]]]:
    """Access Advisor for every principal: start every job, then read each when it is done.
    A principal whose job fails is noted (the snapshot is then incomplete); the others
    are kept."""
    from concurrent.futures import ThreadPoolExecutor

    # boto3 clients are thread-safe; the adaptive retry mode paces throttled calls.
    with ThreadPoolExecutor(max_workers=_ADVISOR_WORKERS) as pool:
        started = list(pool.map(lambda arn: _start_advisor_job(iam, arn), arns))
        deadline = time.monotonic() + _ADVISOR_WAIT_SECONDS
        done = list(
            pool.map(
                lambda job: job if isinstance(job, SnapshotError) else job.result(iam, deadline),
                started,
            )
        )
    found = {}
    for arn, result in zip(arns, done, strict=True):
        if isinstance(result, SnapshotError):
            errors.append(result)
        else:
            found[arn] = result
    return found


@dataclass(frozen=True)
class _AdvisorJob:
    arn: str
    job_id: str

    def result(self, iam: IAMClient, deadline: float) -> list[dict[str, Any]] | SnapshotError:
        from botocore.exceptions import BotoCoreError, ClientError

        operation = "iam:GetServiceLastAccessedDetails"
        delay = 0.2
        entries: list[Any] = []
        marker: str | None = None
        try:
            while True:
                kwargs: dict[str, Any] = {"JobId": self.job_id, "MaxItems": 1000}
                if marker is not None:
                    kwargs["Marker"] = marker
                page = iam.get_service_last_accessed_details(**kwargs)
                status = page["JobStatus"]
                if status == "IN_PROGRESS":
                    if time.monotonic() + delay > deadline:
                        return _advisor_error(
                            operation, self.arn, f"not ready after {_ADVISOR_WAIT_SECONDS:.0f} s"
                        )
                    time.sleep(delay)
                    delay = min(delay * 2, 5.0)
                    continue
                if status != "COMPLETED":
                    reason = page.get("Error", {}).get("Message") or status
                    return _advisor_error(operation, self.arn, f"the job failed: {reason}")
                entries.extend(page["ServicesLastAccessed"])
                if not page.get("IsTruncated"):
                    return normal_last_accessed(entries)
                marker = page["Marker"]
        except (BotoCoreError, ClientError) as exc:
            return _advisor_error(operation, self.arn, describe_aws_error(exc, operation))


def _start_advisor_job(iam: IAMClient, arn: str) -> _AdvisorJob | SnapshotError:
    from botocore.exceptions import BotoCoreError, ClientError

    operation = "iam:GenerateServiceLastAccessedDetails"
    try:
        job = iam.generate_service_last_accessed_details(Arn=arn, Granularity="SERVICE_LEVEL")
    except (BotoCoreError, ClientError) as exc:
        return _advisor_error(operation, arn, describe_aws_error(exc, operation))
    return _AdvisorJob(arn, job["JobId"])


def _advisor_error(operation: str, arn: str, problem: str) -> SnapshotError:
    return SnapshotError(
        source=operation,
        record=arn,
        message=f"service last accessed data is unknown: {problem}",
    )


def _export_last_accessed(
    folder: Path, details: AuthorizationDetails
) -> tuple[dict[str, list[dict[str, Any]]], list[SnapshotError]]:
    found: dict[str, list[dict[str, Any]]] = {}
    errors = []
    for arn in _principal_arns(details):
        path = last_accessed_file(folder, arn)
        if not path.is_file():
            errors.append(
                SnapshotError(
                    source=str(folder),
                    record=arn,
                    message=f"no {path.relative_to(folder)}: its service last accessed data "
                    "is unknown",
                )
            )
            continue
        try:
            found[arn] = read_last_accessed(path)
        except SourceError as exc:
            errors.extend(
                SnapshotError(source=str(path), record=arn, message=p) for p in exc.problems
            )
    return found, errors


def _api_error(operation: str, exc: Exception) -> SnapshotError:
    # Not fatal: the snapshot is still returned, marked incomplete.
    return SnapshotError(source=operation, message=describe_aws_error(exc, operation))


def _failed(action: Action, message: str) -> ActionResult:
    return ActionResult(action=action, outcome=ActionOutcome.FAILED, message=message)


# --- export helpers -------------------------------------------------------------------------


def _export_account_id(
    details: AuthorizationDetails, report: Mapping[str, ReportUser], options: AWSOptions
) -> str | None:
    detail_arns = [
        *(u.arn for u in details.user_detail_list),
        *(g.arn for g in details.group_detail_list),
        *(r.arn for r in details.role_detail_list),
        *(p.arn for p in details.policies),
    ]
    in_details, in_report = account_ids(detail_arns), account_ids(report)
    for path, found in (
        (options.authorization_details, in_details),
        (options.credential_report, in_report),
    ):
        if len(found) > 1:
            raise SourceError(f"{path}: holds several AWS accounts ({', '.join(sorted(found))})")
    if in_details and in_report and in_details != in_report:
        raise SourceError(
            f"{options.credential_report}: is for AWS account {in_report.pop()}, but "
            f"{options.authorization_details} is for {in_details.pop()}"
        )
    found = in_details | in_report
    return found.pop() if found else None


def _users_missing_from(
    details: AuthorizationDetails, report: Mapping[str, ReportUser]
) -> list[UserDetail]:
    return [user for user in details.user_detail_list if user.arn not in report]


def _missing_from_report(source: str, user: UserDetail) -> SnapshotError:
    return SnapshotError(
        source=source,
        record=user.arn,
        message=f"user {user.user_name} is not in the credential report (created after it was "
        "generated?): its password, access keys and MFA are unknown",
    )


# --- mapping to the model -------------------------------------------------------------------


def grants_everything(document: Mapping[str, Any]) -> bool:
    """An Allow of ``*`` or ``iam:*`` on every resource: whoever holds it can do anything,
    or give themselves anything."""
    statements = document.get("Statement", [])
    if isinstance(statements, Mapping):
        statements = [statements]
    if not isinstance(statements, list):
        return False
    for statement in statements:
        if not isinstance(statement, Mapping) or statement.get("Effect") != "Allow":
            continue
        actions = {a.lower() for a in _strings(statement.get("Action"))}
        if actions & {"*", "iam:*"} and "*" in _strings(statement.get("Resource")):
            return True
    return False


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str)]
    return []


def _inline_id(owner_arn: str, policy_name: str) -> str:
    return f"{owner_arn}#inline/{policy_name}"


@dataclass
class _Mapper:
    """Turns what IAM says into the shared model; the same code for both modes."""

    system: str
    options: AWSOptions
    details_source: str
    """Where the authorization details came from, for problems found in them."""
    accounts: list[Account] = field(default_factory=list)
    credentials: list[Credential] = field(default_factory=list)
    entitlements: dict[str, Entitlement] = field(default_factory=dict)
    grants: set[Grant] = field(default_factory=set)
    documents: list[PolicyDocument] = field(default_factory=list)
    errors: list[SnapshotError] = field(default_factory=list)
    complete: bool = True
    groups: dict[str, GroupDetail] = field(default_factory=dict)

    def snapshot(
        self,
        *,
        source: str,
        collected_at: datetime,
        details: AuthorizationDetails,
        report: Mapping[str, ReportUser] | None,
        settings: dict[str, Any],
        errors: list[SnapshotError],
        complete: bool,
        last_accessed: Mapping[str, list[dict[str, Any]]] | None = None,
    ) -> SystemSnapshot:
        self.errors, self.complete = list(errors), complete
        self.groups = {group.group_name: group for group in details.group_detail_list}
        self._policies(details)
        self._groups(details)
        for user in details.user_detail_list:
            self._user(user, report.get(user.arn) if report is not None else None)
        self._roles(details)
        for arn, entries in (last_accessed or {}).items():
            self.documents.append(
                PolicyDocument(
                    system=self.system,
                    document_id=last_accessed_document_id(arn),
                    name=arn.rsplit("/", 1)[-1],
                    kind=LAST_ACCESSED_KIND,
                    document={"ServicesLastAccessed": entries},
                )
            )
        root = next((row for row in (report or {}).values() if row.user == ROOT_USER), None)
        if root is not None:
            self._root(root)
        return SystemSnapshot(
            system=self.system,
            connector=AWSConnector.type_name,
            source=source,
            collected_at=collected_at,
            complete=self.complete,
            errors=tuple(self.errors),
            accounts=tuple(sorted(self.accounts, key=lambda a: a.native_id)),
            credentials=tuple(sorted(self.credentials, key=lambda c: c.credential_id)),
            entitlements=tuple(self.entitlements[key] for key in sorted(self.entitlements)),
            grants=tuple(
                sorted(self.grants, key=lambda g: (g.account_id, g.entitlement_id, g.via or ""))
            ),
            documents=tuple(sorted(self.documents, key=lambda d: d.document_id)),
            settings=settings,
        )

    # entitlements

    def _policies(self, details: AuthorizationDetails) -> None:
        for policy in details.policies:
            document = policy.default_document
            privileged = bool(_PRIVILEGED_AWS_POLICY.match(policy.arn)) or (
                document is not None and grants_everything(document)
            )
            self.entitlements[policy.arn] = Entitlement(
                system=self.system,
                entitlement_id=policy.arn,
                name=policy.name,
                kind="policy",
                privileged=privileged,
                description=policy.description or None,
            )
            if document is not None:
                self.documents.append(
                    PolicyDocument(
                        system=self.system,
                        document_id=policy.arn,
                        name=policy.name,
                        kind="managed-policy",
                        document=document,
                    )
                )
        # A policy attached somewhere but missing from the list (a filtered export) is still
        # something its holders have.
        attached = [
            *(a for u in details.user_detail_list for a in u.attached_managed_policies),
            *(a for g in details.group_detail_list for a in g.attached_managed_policies),
            *(a for r in details.role_detail_list for a in r.attached_managed_policies),
        ]
        for attachment in attached:
            if attachment.policy_arn not in self.entitlements:
                self.entitlements[attachment.policy_arn] = Entitlement(
                    system=self.system,
                    entitlement_id=attachment.policy_arn,
                    name=attachment.policy_name,
                    kind="policy",
                    privileged=bool(_PRIVILEGED_AWS_POLICY.match(attachment.policy_arn)),
                )

    def _inline(self, owner_arn: str, policies: Iterable[InlinePolicy]) -> list[str]:
        ids = []
        for policy in policies:
            entitlement_id = _inline_id(owner_arn, policy.policy_name)
            self.entitlements[entitlement_id] = Entitlement(
                system=self.system,
                entitlement_id=entitlement_id,
                name=policy.policy_name,
                kind="inline-policy",
                privileged=grants_everything(policy.policy_document),
                description=f"inline policy of {owner_arn}",
            )
            self.documents.append(
                PolicyDocument(
                    system=self.system,
                    document_id=entitlement_id,
                    name=policy.policy_name,
                    kind="inline-policy",
                    document=policy.policy_document,
                )
            )
            ids.append(entitlement_id)
        return ids

    def _groups(self, details: AuthorizationDetails) -> None:
        for group in details.group_detail_list:
            inline = self._inline(group.arn, group.group_policy_list)
            attached = [a.policy_arn for a in group.attached_managed_policies]
            self.entitlements[group.arn] = Entitlement(
                system=self.system,
                entitlement_id=group.arn,
                name=group.group_name,
                kind="group",
                privileged=any(self.entitlements[p].privileged for p in attached + inline),
            )
            # Grants show a group's policies only through its members: an empty group that
            # holds AdministratorAccess is still one a user allowed to join it can join.
            self.documents.append(
                PolicyDocument(
                    system=self.system,
                    document_id=group_policies_document_id(group.arn),
                    name=group.group_name,
                    kind=GROUP_POLICIES_KIND,
                    document={
                        "AttachedManagedPolicies": sorted(attached),
                        "InlinePolicies": sorted(inline),
                    },
                )
            )

    # accounts

    def _grant(self, account: str, entitlement: str, via: str | None = None) -> None:
        self.grants.add(
            Grant(system=self.system, account_id=account, entitlement_id=entitlement, via=via)
        )

    def _user(self, user: UserDetail, row: ReportUser | None) -> None:
        tags = {tag.key: tag.value for tag in user.tags}
        attributes = {"principal_type": "user", "path": user.path, "user_id": user.user_id}
        if user.permissions_boundary is not None:
            attributes["permissions_boundary"] = user.permissions_boundary.permissions_boundary_arn
        status = AccountStatus.ACTIVE  # unknown credentials must never look like removed ones
        mfa: tuple[str, ...] | None = None
        last_login = None
        if row is not None:
            usable = bool(row.password_enabled) or any(key.active for key in row.keys)
            status = AccountStatus.ACTIVE if usable else AccountStatus.DISABLED
            mfa = ("mfa",) if row.mfa_active else ()
            last_login = row.password_last_used
            self._credentials(user.arn, row)
        self.accounts.append(
            Account(
                system=self.system,
                native_id=user.arn,
                login=user.user_name,
                email=tags.get(self.options.email_tag),
                display_name=tags.get("name"),
                employee_id=tags.get(self.options.employee_id_tag),
                status=status,
                kind=AccountKind.HUMAN,
                created_at=user.create_date,
                last_login_at=last_login,
                mfa_factors=mfa,
                attributes=attributes,
            )
        )
        for name in user.group_list:
            group = self.groups.get(name)
            if group is None:
                self.complete = False
                self.errors.append(
                    SnapshotError(
                        source=self.details_source,
                        record=user.arn,
                        message=f"user {user.user_name} is in group {name}, which the "
                        "authorization details do not list",
                    )
                )
                continue
            self._grant(user.arn, group.arn)
            for attachment in group.attached_managed_policies:
                self._grant(user.arn, attachment.policy_arn, via=group.arn)
            for policy in group.group_policy_list:
                self._grant(user.arn, _inline_id(group.arn, policy.policy_name), via=group.arn)
        for attachment in user.attached_managed_policies:
            self._grant(user.arn, attachment.policy_arn)
        for entitlement_id in self._inline(user.arn, user.user_policy_list):
            self._grant(user.arn, entitlement_id)

    def _credentials(self, arn: str, row: ReportUser) -> None:
        # The root user's password shows as not_supported (None): it always has one.
        password_active = row.password_enabled is not False
        if password_active or row.password_last_changed is not None:
            self.credentials.append(
                Credential(
                    system=self.system,
                    account_id=arn,
                    credential_id=f"{arn}#password",
                    kind=CredentialKind.PASSWORD,
                    active=password_active,
                    created_at=row.password_last_changed,
                    last_used_at=row.password_last_used,
                )
            )
        for key in row.keys:
            attributes = {}
            if key.last_used_service is not None:
                attributes["last_used_service"] = key.last_used_service
            if key.last_used_region is not None:
                attributes["last_used_region"] = key.last_used_region
            self.credentials.append(
                Credential(
                    system=self.system,
                    account_id=arn,
                    credential_id=f"{arn}#access_key_{key.number}",
                    kind=CredentialKind.ACCESS_KEY,
                    active=key.active,
                    created_at=key.created_at,
                    last_used_at=key.last_used_at,
                    attributes=attributes,
                )
            )

    def _roles(self, details: AuthorizationDetails) -> None:
        for role in details.role_detail_list:
            attributes = {"principal_type": "role", "path": role.path, "role_id": role.role_id}
            if role.permissions_boundary is not None:
                attributes["permissions_boundary"] = (
                    role.permissions_boundary.permissions_boundary_arn
                )
            self.accounts.append(
                Account(
                    system=self.system,
                    native_id=role.arn,
                    login=role.role_name,
                    status=AccountStatus.ACTIVE,
                    kind=AccountKind.SERVICE,
                    created_at=role.create_date,
                    last_login_at=role.role_last_used.last_used_date
                    if role.role_last_used
                    else None,
                    attributes=attributes,
                )
            )
            for attachment in role.attached_managed_policies:
                self._grant(role.arn, attachment.policy_arn)
            for entitlement_id in self._inline(role.arn, role.role_policy_list):
                self._grant(role.arn, entitlement_id)
            if role.assume_role_policy_document is not None:
                self.documents.append(
                    PolicyDocument(
                        system=self.system,
                        document_id=f"{role.arn}#trust",
                        name=role.role_name,
                        kind="trust-policy",
                        document=role.assume_role_policy_document,
                    )
                )

    def _root(self, row: ReportUser) -> None:
        # The root user is in the credential report only; it is the account's break-glass
        # identity, so it is kept (its MFA and access keys matter most) but never acted on.
        self.accounts.append(
            Account(
                system=self.system,
                native_id=row.arn,
                login="root",
                display_name="root user",
                status=AccountStatus.ACTIVE,
                kind=AccountKind.BREAK_GLASS,
                created_at=row.created_at,
                last_login_at=row.password_last_used,
                mfa_factors=("mfa",) if row.mfa_active else (),
                attributes={"principal_type": "root"},
            )
        )
        self._credentials(row.arn, row)
