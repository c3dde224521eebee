"""Reading a live AWS account through boto3 into the same records an export gives: the
authorization details (every page), the credential report (generated and waited for), the
password policy, the users the report does not know yet, and Access Advisor's services last
accessed. A call that fails is noted and the snapshot marked incomplete."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from iam_gov.connectors.aws.client import access_keys, describe_aws_error
from iam_gov.connectors.aws.export import (
    AuthorizationDetails,
    Collected,
    ReportKey,
    ReportUser,
    UserDetail,
    normal_last_accessed,
    parse_authorization_details,
    parse_credential_report,
    report_value,
)
from iam_gov.errors import ConnectorError, SourceError
from iam_gov.model import SnapshotError
from iam_gov.timeutil import as_utc

if TYPE_CHECKING:
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_iam.literals import EntityTypeType
    from mypy_boto3_sts import STSClient

_DETAILS_OPERATION = "iam:GetAccountAuthorizationDetails"
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


def read_account(
    iam: IAMClient,
    sts: STSClient,
    *,
    system: str,
    access_advisor: bool,
    collected_at: datetime,
) -> Collected:
    """Everything a collect reads. ``ConnectorError`` when AWS cannot be reached at all;
    every later failure is a problem of an incomplete snapshot."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        account_id = sts.get_caller_identity()["Account"]
    except (BotoCoreError, ClientError) as exc:
        problem = describe_aws_error(exc, "sts:GetCallerIdentity")
        raise ConnectorError(f"{system}: cannot reach AWS: {problem}") from None
    errors: list[SnapshotError] = []
    details = _details(iam, errors)
    report = _report(iam, errors)
    settings: dict[str, Any] = {"account_id": account_id}
    try:
        policy = iam.get_account_password_policy()["PasswordPolicy"]
        settings["password_policy"] = dict(policy)
    except iam.exceptions.NoSuchEntityException:
        settings["password_policy"] = None  # the account has none: a fact, not a gap
    except (BotoCoreError, ClientError) as exc:
        errors.append(_api_error("iam:GetAccountPasswordPolicy", exc))
    if report is not None:
        for user in details.users_missing_from(report):
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
    if access_advisor:
        last_accessed = _last_accessed(iam, details.principal_arns(), errors)
    return Collected(
        source="live",
        origin=_DETAILS_OPERATION,
        collected_at=collected_at,
        details=details,
        report=report,
        settings=settings,
        errors=errors,
        complete=not errors and not details.is_truncated,
        last_accessed=last_accessed,
    )


def _details(iam: IAMClient, errors: list[SnapshotError]) -> AuthorizationDetails:
    from botocore.exceptions import BotoCoreError, ClientError

    pages: list[Mapping[str, object]] = []
    try:
        paginator = iam.get_paginator("get_account_authorization_details")
        for page in paginator.paginate(Filter=_ALL_DETAILS):
            pages.append(page)
    except (BotoCoreError, ClientError) as exc:
        errors.append(_api_error(_DETAILS_OPERATION, exc))
    try:
        return parse_authorization_details(pages, _DETAILS_OPERATION)
    except SourceError as exc:
        errors.extend(SnapshotError(source=_DETAILS_OPERATION, message=p) for p in exc.problems)
        return AuthorizationDetails()


def _report(iam: IAMClient, errors: list[SnapshotError]) -> dict[str, ReportUser] | None:
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


def _user_credentials(iam: IAMClient, user: UserDetail) -> ReportUser:
    """What the credential report would say about ``user``, asked user by user."""
    try:
        profile = iam.get_login_profile(UserName=user.user_name)["LoginProfile"]
        password_changed: datetime | None = as_utc(profile["CreateDate"])
    except iam.exceptions.NoSuchEntityException:
        profile, password_changed = None, None
    keys = []
    for number, key in enumerate(access_keys(iam, user.user_name)[:2], start=1):
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


def _last_accessed(
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


def _api_error(operation: str, exc: Exception) -> SnapshotError:
    # Not fatal: the snapshot is still returned, marked incomplete.
    return SnapshotError(source=operation, message=describe_aws_error(exc, operation))
