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

from iam_gov.connectors.aws.client import access_keys, aws_failures, describe_aws_error
from iam_gov.connectors.aws.export import (
    AuthorizationDetails,
    Collected,
    ReportKey,
    ReportUser,
    UserDetail,
    missing_root_row,
    normal_last_accessed,
    parse_authorization_details,
    parse_credential_report,
    report_value,
)
from iam_gov.errors import ConnectorError, SourceError
from iam_gov.model import SnapshotError
from iam_gov.retrying import Patience
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
ADVISOR_UNKNOWN = "service last-accessed data unknown: unused-privilege is not concluded"
_PASSWORD_POLICY_UNKNOWN = "password policy unknown: weak-password-policy is not concluded"
# What IAM-compatible endpoints answer for a call they do not implement: Access Advisor is
# then unavailable as a whole, not for one principal.
_NOT_IMPLEMENTED = {"InvalidAction", "NotImplemented", "UnknownOperationException"}


def read_account(
    iam: IAMClient,
    sts: STSClient,
    *,
    system: str,
    access_advisor: bool,
    collected_at: datetime,
    patience: Patience | None = None,
) -> Collected:
    """Everything a collect reads. ``ConnectorError`` when AWS cannot be reached at all, or
    stops answering (``patience``'s circuit breaker opened); every other failure is a
    problem of an incomplete snapshot, with what it leaves unknown."""
    failures = aws_failures()
    try:
        account_id = sts.get_caller_identity()["Account"]
    except failures as exc:
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
    except failures as exc:
        errors.append(
            _api_error("iam:GetAccountPasswordPolicy", exc, consequence=_PASSWORD_POLICY_UNKNOWN)
        )
    if report is not None:
        for user in details.users_missing_from(report):
            try:
                report[user.arn] = _user_credentials(iam, user)
            except failures as exc:
                errors.append(
                    SnapshotError(
                        source="iam",
                        record=user.arn,
                        message=f"user {user.user_name} is not in the credential report and "
                        f"reading its credentials failed: {describe_aws_error(exc)}",
                    )
                )
    last_accessed: dict[str, list[dict[str, Any]]] = {}
    gone = patience is not None and patience.failures_in_a_row >= patience.failures_to_open
    answered = False
    if access_advisor:
        last_accessed, answered = _last_accessed(iam, details.principal_arns(), errors)
    # Access Advisor's calls run side by side: an endpoint answering them all with an error
    # page (it lacks them) can fail several at once and open the circuit breaker. That is an
    # answer about an optional part, not a server gone: only the advisor's data is unknown.
    if patience is not None and patience.failures_in_a_row >= patience.failures_to_open:
        gone = gone or not answered
    if gone:
        assert patience is not None
        # The server went away mid-collect: what is left is mostly unknown, so the collect
        # fails (the previous snapshot stays the latest, marked stale) rather than store it.
        raise ConnectorError(
            f"{system}: AWS stopped answering during the collect ({patience.last_failure}); "
            f"{len(errors)} parts were left unread"
        )
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
    pages: list[Mapping[str, object]] = []
    try:
        paginator = iam.get_paginator("get_account_authorization_details")
        for page in paginator.paginate(Filter=_ALL_DETAILS):
            pages.append(page)
    except aws_failures() as exc:
        errors.append(_api_error(_DETAILS_OPERATION, exc))
    try:
        return parse_authorization_details(pages, _DETAILS_OPERATION)
    except SourceError as exc:
        errors.extend(SnapshotError(source=_DETAILS_OPERATION, message=p) for p in exc.problems)
        return AuthorizationDetails()


def _report(iam: IAMClient, errors: list[SnapshotError]) -> dict[str, ReportUser] | None:
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
    except aws_failures() as exc:
        errors.append(_api_error(operation, exc))
        return None
    try:
        report = parse_credential_report(content, lambda line: f"{operation}: line {line}")
    except SourceError as exc:
        errors.append(SnapshotError(source=operation, message=str(exc)))
        return None
    no_root = missing_root_row(report, operation)
    if no_root is not None:
        errors.append(no_root)
    return report


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
) -> tuple[dict[str, list[dict[str, Any]]], bool]:
    """Access Advisor for every principal: start every job, then read each when it is done.
    A principal whose job fails is noted; a failure that is not about one principal (the
    endpoint does not implement the call, answers what cannot be parsed, is gone) stops
    Access Advisor altogether, said once. Either way the snapshot is incomplete, never the
    collect aborted: this part is optional. Also whether what stopped it was an answer (an
    error page, "not implemented") rather than a server that no longer answers."""
    from concurrent.futures import ThreadPoolExecutor

    advisor = _Advisor(iam)
    # boto3 clients are thread-safe; the adaptive retry mode paces throttled calls.
    with ThreadPoolExecutor(max_workers=_ADVISOR_WORKERS) as pool:
        started = list(pool.map(advisor.start, arns))
        deadline = time.monotonic() + _ADVISOR_WAIT_SECONDS
        done = list(pool.map(lambda job: advisor.result(job, deadline), started))
    found = {}
    for arn, result in zip(arns, done, strict=True):
        if isinstance(result, SnapshotError):
            errors.append(result)
        elif result is not None:
            found[arn] = result
    if advisor.broken is not None:
        operation, why = advisor.broken
        errors.append(
            SnapshotError(
                source=operation,
                message=f"Access Advisor could not be used ({why}): service last accessed "
                f"data is unknown for {len(arns) - len(found)} of {len(arns)} principals",
                consequence=ADVISOR_UNKNOWN,
            )
        )
    return found, advisor.stopped_by_an_answer


@dataclass(frozen=True)
class _AdvisorJob:
    arn: str
    job_id: str


_Started = _AdvisorJob | SnapshotError | None
"""A job; a principal's own failure; None when Access Advisor as a whole stopped."""


class _Advisor:
    def __init__(self, iam: IAMClient) -> None:
        import threading

        self.iam = iam
        self.broken: tuple[str, str] | None = None
        self.stopped_by_an_answer = False
        self._lock = threading.Lock()

    def _fail(self, operation: str, arn: str, exc: Exception) -> SnapshotError | None:
        """A principal's own problem, or None once the failure stopped Access Advisor."""
        from botocore.exceptions import ClientError

        if isinstance(exc, ClientError):
            code = str(exc.response.get("Error", {}).get("Code") or "")
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code not in _NOT_IMPLEMENTED and status not in (404, 501):
                return _advisor_error(operation, arn, describe_aws_error(exc, operation))
        from botocore.parsers import ResponseParserError

        with self._lock:
            if self.broken is None:
                self.broken = (operation, describe_aws_error(exc, operation))
                self.stopped_by_an_answer = isinstance(exc, ClientError | ResponseParserError)
        return None

    def start(self, arn: str) -> _Started:
        operation = "iam:GenerateServiceLastAccessedDetails"
        if self.broken is not None:
            return None
        try:
            job = self.iam.generate_service_last_accessed_details(
                Arn=arn, Granularity="SERVICE_LEVEL"
            )
        except aws_failures() as exc:
            return self._fail(operation, arn, exc)
        return _AdvisorJob(arn, job["JobId"])

    def result(self, job: _Started, deadline: float) -> list[dict[str, Any]] | SnapshotError | None:
        if not isinstance(job, _AdvisorJob) or self.broken is not None:
            return job if isinstance(job, SnapshotError) else None
        operation = "iam:GetServiceLastAccessedDetails"
        delay = 0.2
        entries: list[Any] = []
        marker: str | None = None
        try:
            while True:
                kwargs: dict[str, Any] = {"JobId": job.job_id, "MaxItems": 1000}
                if marker is not None:
                    kwargs["Marker"] = marker
                page = self.iam.get_service_last_accessed_details(**kwargs)
                status = page["JobStatus"]
                if status == "IN_PROGRESS":
                    if time.monotonic() + delay > deadline:
                        return _advisor_error(
                            operation, job.arn, f"not ready after {_ADVISOR_WAIT_SECONDS:.0f} s"
                        )
                    time.sleep(delay)
                    delay = min(delay * 2, 5.0)
                    continue
                if status != "COMPLETED":
                    reason = page.get("Error", {}).get("Message") or status
                    return _advisor_error(operation, job.arn, f"the job failed: {reason}")
                entries.extend(page["ServicesLastAccessed"])
                if not page.get("IsTruncated"):
                    return normal_last_accessed(entries)
                marker = page["Marker"]
        except aws_failures() as exc:
            return self._fail(operation, job.arn, exc)


def _advisor_error(operation: str, arn: str, problem: str) -> SnapshotError:
    return SnapshotError(
        source=operation,
        record=arn,
        message=f"service last accessed data is unknown: {problem}",
        consequence=ADVISOR_UNKNOWN,
    )


def _api_error(operation: str, exc: Exception, consequence: str | None = None) -> SnapshotError:
    # Not fatal: the snapshot is still returned, marked incomplete.
    return SnapshotError(
        source=operation, message=describe_aws_error(exc, operation), consequence=consequence
    )
