"""Writing a live AWS account as the files the AWS CLI writes, which the export mode reads
back: ``get-account-authorization-details`` (AWS's own pages, merged as the CLI prints them),
``get-credential-report``, ``get-account-password-policy`` and one
``get-service-last-accessed-details`` per principal."""

from __future__ import annotations

import base64
import csv
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import iam_gov.connectors.aws.organization_export as org_files
from iam_gov.connectors.aws.export import (
    Collected,
    ReportUser,
    last_accessed_file,
    parse_credential_report,
)
from iam_gov.connectors.aws.identity_center import write_identity_center_export
from iam_gov.connectors.aws.organization_export import OrganizationCollected
from iam_gov.errors import SourceError
from iam_gov.files import make_private_folders, write_atomically
from iam_gov.timeutil import as_utc

if TYPE_CHECKING:
    from mypy_boto3_iam import IAMClient

AUTHORIZATION_DETAILS = "authorization-details.json"
CREDENTIAL_REPORT = "credential-report.json"
PASSWORD_POLICY = "password-policy.json"
SERVICE_LAST_ACCESSED = "last-accessed"

_DETAIL_LISTS = ("UserDetailList", "GroupDetailList", "RoleDetailList", "Policies")
# The credential report's columns, as IAM writes them: used when AWS gave no report at all.
REPORT_HEADER = (
    "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,"
    "password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,"
    "access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,"
    "access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,"
    "access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,"
    "cert_1_last_rotated,cert_2_active,cert_2_last_rotated\n"
)


@dataclass
class Answers:
    """AWS's own answers to the calls a live collect makes whose output the export keeps as
    it came: every page of the authorization details, and the credential report. Kept
    through botocore's event hooks on the collect's own client, so nothing is asked twice."""

    iam: IAMClient
    detail_pages: list[dict[str, Any]] = field(default_factory=list)
    report: dict[str, Any] | None = None

    def __enter__(self) -> Answers:
        events = self.iam.meta.events
        events.register(_DETAILS_EVENT, self._details, unique_id=self._id("details"))
        events.register(_REPORT_EVENT, self._report, unique_id=self._id("report"))
        return self

    def __exit__(self, *exc_info: object) -> None:
        events = self.iam.meta.events
        events.unregister(_DETAILS_EVENT, unique_id=self._id("details"))
        events.unregister(_REPORT_EVENT, unique_id=self._id("report"))

    def _id(self, what: str) -> str:
        return f"iam-gov-export-{what}-{id(self)}"

    def _details(self, http_response: Any, parsed: Mapping[str, Any], **_: Any) -> None:
        if http_response.status_code < 300:  # a failed call is said by the collect
            self.detail_pages.append(_without_metadata(parsed))

    def _report(self, http_response: Any, parsed: Mapping[str, Any], **_: Any) -> None:
        if http_response.status_code < 300:
            self.report = _without_metadata(parsed)


_DETAILS_EVENT = "after-call.iam.GetAccountAuthorizationDetails"
_REPORT_EVENT = "after-call.iam.GetCredentialReport"


def _without_metadata(parsed: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in parsed.items() if key != "ResponseMetadata"}


@dataclass
class Written:
    files: list[Path] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def write_account(
    out: Path,
    collected: Collected,
    answers: Answers,
    *,
    access_advisor: bool,
    last_accessed_folder: str = SERVICE_LAST_ACCESSED,
) -> Written:
    """The files, and the options naming them (relative to ``out``). Every problem of the
    collect is one of the export: what it could not read is missing from the files too."""
    written = Written()
    written.problems = [
        _problem(error.source, error.record, error.message) for error in collected.errors
    ]

    def write(name: str, data: Any, what: str) -> None:
        path = out / name
        make_private_folders(path.parent)
        text = json.dumps(data, indent=4, ensure_ascii=False, default=_iso) + "\n"
        write_atomically(path, text, what)
        written.files.append(Path(name))

    write(AUTHORIZATION_DETAILS, merged_pages(answers.detail_pages), "authorization details")
    written.options["authorization_details"] = AUTHORIZATION_DETAILS
    write(CREDENTIAL_REPORT, credential_report(answers.report, collected.report), "report")
    written.options["credential_report"] = CREDENTIAL_REPORT
    if "password_policy" in collected.settings:
        policy = collected.settings["password_policy"]
        # The CLI prints nothing when the account has none; null is what the reader takes.
        write(PASSWORD_POLICY, None if policy is None else {"PasswordPolicy": policy}, "policy")
        written.options["password_policy"] = PASSWORD_POLICY
    if access_advisor:
        make_private_folders(out / last_accessed_folder)
        for arn, entries in collected.last_accessed.items():
            path = last_accessed_file(Path(last_accessed_folder), arn)
            document = {
                "JobStatus": "COMPLETED",
                "JobType": "SERVICE_LEVEL",
                "ServicesLastAccessed": entries,
                "IsTruncated": False,
            }
            write(str(path), document, "service last accessed data")
        written.options["service_last_accessed"] = last_accessed_folder
    return written


def write_organization(
    out: Path,
    collected: OrganizationCollected,
    answers: Mapping[str, Answers],
    *,
    access_advisor: bool,
) -> Written:
    """An organization in the folder layout ``organization_export`` reads: Organizations'
    answers as the CLI prints them, then each account read in ``accounts/<id>/``. An account
    that could not be read gets no folder (the reader then says it is uncollected)."""
    written = Written(options={"organization_folder": "."})
    organization = collected.organization

    def write(name: str, data: Any) -> None:
        path = out / name
        make_private_folders(path.parent)
        text = json.dumps(data, indent=4, ensure_ascii=False, default=_iso) + "\n"
        write_atomically(path, text, "organization export")
        written.files.append(Path(name))

    write(org_files.DESCRIBE_ORGANIZATION, {"Organization": organization.organization})
    write(org_files.LIST_ROOTS, {"Roots": organization.roots})
    write(org_files.LIST_ACCOUNTS, {"Accounts": organization.accounts})
    for parent, children in organization.children.items():
        write(f"{org_files.CHILDREN}/{parent}.json", children)
    write(org_files.LIST_POLICIES, {"Policies": organization.policies})
    for policy in organization.policies:
        policy_id = str(policy["Id"])
        content = json.dumps(organization.contents.get(policy_id, {}))
        write(
            f"{org_files.POLICIES}/{policy_id}.json",
            {"Policy": {"PolicySummary": policy, "Content": content}},
        )
        write(
            f"{org_files.TARGETS}/{policy_id}.json",
            {"Targets": organization.targets.get(policy_id, [])},
        )
    written.problems.extend(_problem(e.source, e.record, e.message) for e in collected.errors)
    for account_id, account in collected.accounts.items():
        if not isinstance(account, Collected):
            written.problems.append(_problem(account.source, account.record, account.message))
            continue
        folder = f"{org_files.ACCOUNTS}/{account_id}"
        one = write_account(
            out / folder,
            account,
            answers[account_id],
            access_advisor=access_advisor,
            last_accessed_folder=org_files.ACCOUNT_LAST_ACCESSED,
        )
        written.files.extend(Path(folder) / name for name in one.files)
        written.problems.extend(f"account {account_id}: {p}" for p in one.problems)
    if collected.identity_center is not None:
        written.files.extend(
            Path(org_files.IDENTITY_CENTER) / name
            for name in write_identity_center_export(
                collected.identity_center, out / org_files.IDENTITY_CENTER
            )
        )
    return written


def merged_pages(pages: list[dict[str, Any]]) -> dict[str, Any]:
    """The pages as the CLI prints them, merged into one object. When the last page read
    says more follow (a page failed), ``IsTruncated`` stays: the reader takes the file as cut
    short. No page at all (the first call failed) is an empty, cut-short output."""
    merged: dict[str, Any] = {key: [] for key in _DETAIL_LISTS}
    for page in pages:
        for key in _DETAIL_LISTS:
            merged[key].extend(page.get(key) or [])
    last = pages[-1] if pages else {"IsTruncated": True}
    if last.get("IsTruncated"):
        merged["IsTruncated"] = True
        if "Marker" in last:
            merged["Marker"] = last["Marker"]
    return merged


def credential_report(
    answer: Mapping[str, Any] | None, rows: Mapping[str, ReportUser] | None
) -> dict[str, Any]:
    """``get-credential-report`` as the CLI prints it: AWS's CSV in base64. Users the report
    did not know yet, whose credentials the collect read one by one (GetLoginProfile,
    ListAccessKeys, GetAccessKeyLastUsed, ListMFADevices), get a row each with what was read,
    password_last_used no_information; without any report, only the header, so that every
    user reads back as unknown."""
    if answer is None or not isinstance(answer.get("Content"), bytes):
        content, generated = REPORT_HEADER, None
    else:
        content = answer["Content"].decode("utf-8", errors="replace")
        generated = answer.get("GeneratedTime")
    if rows is not None:
        try:
            known = parse_credential_report(content, lambda line: f"report line {line}")
        except SourceError:
            known = {}  # the collect could not read it either, and said so
        header = next(csv.reader(io.StringIO(content)))
        extra = [row for arn, row in rows.items() if arn not in known]
        if extra:
            buffer = io.StringIO()
            out = csv.writer(buffer, lineterminator="\n")
            for row in extra:
                out.writerow([_report_fields(row).get(column, "N/A") for column in header])
            content = content.rstrip("\r\n") + "\n" + buffer.getvalue()
    document: dict[str, Any] = {
        "Content": base64.b64encode(content.encode("utf-8")).decode("ascii"),
        "ReportFormat": "text/csv",
    }
    if generated is not None:
        document["GeneratedTime"] = generated
    return document


def _report_fields(row: ReportUser) -> dict[str, str]:
    def when(value: datetime | None, none: str = "N/A") -> str:
        return none if value is None else as_utc(value).isoformat()

    def flag(value: bool | None) -> str:
        return "not_supported" if value is None else str(value).lower()

    fields = {
        "user": row.user,
        "arn": row.arn,
        "user_creation_time": when(row.created_at),
        "password_enabled": flag(row.password_enabled),
        "password_last_used": when(
            row.password_last_used, "no_information" if row.password_enabled else "N/A"
        ),
        "password_last_changed": when(row.password_last_changed),
        "mfa_active": flag(row.mfa_active),
    }
    for number in (1, 2):
        fields[f"access_key_{number}_active"] = "false"
        fields[f"cert_{number}_active"] = "false"
    for key in row.keys:
        prefix = f"access_key_{key.number}_"
        fields[prefix + "active"] = flag(key.active)
        fields[prefix + "last_rotated"] = when(key.created_at)
        fields[prefix + "last_used_date"] = when(key.last_used_at)
        fields[prefix + "last_used_region"] = key.last_used_region or "N/A"
        fields[prefix + "last_used_service"] = key.last_used_service or "N/A"
    return fields


def _problem(source: str, record: str | None, message: str) -> str:
    return f"{source}: {record}: {message}" if record else f"{source}: {message}"


def _iso(value: object) -> str:
    if isinstance(value, datetime):
        return as_utc(value).isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
