"""AWS's own formats (authorization details, credential report, password policy, services
last accessed), as the CLI writes them to files and as the live API returns them; and an
export, the files the CLI wrote, read into the records a collect works on."""

from __future__ import annotations

import base64
import binascii
import json
import urllib.parse
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError
from pydantic.alias_generators import to_pascal

from iam_gov.connectors.shared.csv_file import CsvFile
from iam_gov.connectors.shared.export_time import export_time
from iam_gov.connectors.shared.files import BadFile, json_documents, read_source_text
from iam_gov.errors import SourceError, location
from iam_gov.model import SnapshotError, UTCDateTime
from iam_gov.timeutil import as_utc

# --- authorization details ----------------------------------------------------------------


def _decode_document(value: Any) -> Any:
    # botocore and the CLI hand documents over as objects, but IAM's wire format is URL-encoded
    # JSON, and files written by other tools sometimes keep it that way.
    if not isinstance(value, str):
        return value
    text = value.strip()
    if not text.startswith("{"):
        text = urllib.parse.unquote(text)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not a JSON policy document ({exc.msg})") from None


Document = Annotated[dict[str, Any], BeforeValidator(_decode_document)]


class _Raw(BaseModel):
    # Field names are AWS's, in snake case; keys AWS may add later are not our business.
    model_config = ConfigDict(
        alias_generator=to_pascal, populate_by_name=True, extra="ignore", frozen=True
    )


class Tag(_Raw):
    key: str
    value: str


class InlinePolicy(_Raw):
    policy_name: str
    policy_document: Document


class AttachedPolicy(_Raw):
    policy_name: str
    policy_arn: str


class Boundary(_Raw):
    permissions_boundary_arn: str


class UserDetail(_Raw):
    path: str = "/"
    user_name: str
    user_id: str = ""
    arn: str
    create_date: UTCDateTime | None = None
    user_policy_list: tuple[InlinePolicy, ...] = ()
    group_list: tuple[str, ...] = ()
    attached_managed_policies: tuple[AttachedPolicy, ...] = ()
    permissions_boundary: Boundary | None = None
    tags: tuple[Tag, ...] = ()


class GroupDetail(_Raw):
    path: str = "/"
    group_name: str
    group_id: str = ""
    arn: str
    create_date: UTCDateTime | None = None
    group_policy_list: tuple[InlinePolicy, ...] = ()
    attached_managed_policies: tuple[AttachedPolicy, ...] = ()


class RoleLastUsed(_Raw):
    last_used_date: UTCDateTime | None = None
    region: str | None = None


class RoleDetail(_Raw):
    path: str = "/"
    role_name: str
    role_id: str = ""
    arn: str
    create_date: UTCDateTime | None = None
    assume_role_policy_document: Document | None = None
    role_policy_list: tuple[InlinePolicy, ...] = ()
    attached_managed_policies: tuple[AttachedPolicy, ...] = ()
    permissions_boundary: Boundary | None = None
    tags: tuple[Tag, ...] = ()
    role_last_used: RoleLastUsed | None = None


class PolicyVersion(_Raw):
    document: Document | None = None
    version_id: str = ""
    is_default_version: bool = False


class ManagedPolicy(_Raw):
    policy_name: str | None = None
    arn: str
    path: str = "/"
    default_version_id: str | None = None
    description: str | None = None
    policy_version_list: tuple[PolicyVersion, ...] = ()

    @property
    def name(self) -> str:
        # Some producers (moto among them) leave PolicyName out; the ARN always ends with it.
        return self.policy_name or self.arn.rsplit("/", 1)[-1]

    @property
    def default_document(self) -> dict[str, Any] | None:
        for version in self.policy_version_list:
            if version.is_default_version or version.version_id == self.default_version_id:
                return version.document
        return None


class AuthorizationDetails(_Raw):
    """``GetAccountAuthorizationDetails``, every page merged into one."""

    user_detail_list: tuple[UserDetail, ...] = ()
    group_detail_list: tuple[GroupDetail, ...] = ()
    role_detail_list: tuple[RoleDetail, ...] = ()
    policies: tuple[ManagedPolicy, ...] = ()
    is_truncated: bool = False
    """True when the last page read says more pages follow: the data is cut short."""

    def principal_arns(self) -> list[str]:
        """Users and roles: what Access Advisor reports on."""
        return [
            *(user.arn for user in self.user_detail_list),
            *(role.arn for role in self.role_detail_list),
        ]

    def users_missing_from(self, report: Mapping[str, ReportUser]) -> list[UserDetail]:
        """Users the credential report does not list (created after it was generated)."""
        return [user for user in self.user_detail_list if user.arn not in report]


_DETAIL_LISTS = ("UserDetailList", "GroupDetailList", "RoleDetailList", "Policies")


def parse_authorization_details(
    pages: Sequence[Mapping[str, object]], source: str
) -> AuthorizationDetails:
    """Merge the pages (from the API or a file) into one; ``SourceError`` if they are unusable."""
    merged: dict[str, Any] = {key: [] for key in _DETAIL_LISTS}
    for page in pages:
        for key in _DETAIL_LISTS:
            items = page.get(key) or []
            if not isinstance(items, list):
                raise SourceError(f"{source}: {key} is not a list")
            merged[key].extend(items)
    merged["IsTruncated"] = bool(pages[-1].get("IsTruncated")) if pages else False
    try:
        return AuthorizationDetails.model_validate(merged)
    except ValidationError as exc:
        raise SourceError(_validation_problems(source, exc, merged)) from None


def _validation_problems(source: str, exc: ValidationError, data: Mapping[str, Any]) -> list[str]:
    problems = []
    for error in exc.errors()[:20]:
        loc = error["loc"]
        where = "".join(
            f"[{part}]" if isinstance(part, int) else f".{part}" if i else str(part)
            for i, part in enumerate(loc)
        )
        record = _record_name(data, loc)
        if record:
            where += f" ({record})"
        message = error["msg"].removeprefix("Value error, ")
        problems.append(f"{source}: {where}: {message}")
    return problems


def _record_name(data: Mapping[str, Any], loc: tuple[int | str, ...]) -> str | None:
    # Point at the user, group, role or policy by name: an index alone is hard to find.
    if len(loc) < 2 or not isinstance(loc[1], int):
        return None
    try:
        item = data[str(loc[0])][loc[1]]
    except (KeyError, IndexError, TypeError):
        return None
    if not isinstance(item, Mapping):
        return None
    for key in ("UserName", "GroupName", "RoleName", "PolicyName", "Arn"):
        if isinstance(item.get(key), str):
            return str(item[key])
    return None


def read_authorization_details(path: Path) -> AuthorizationDetails:
    """The output of ``aws iam get-account-authorization-details``: one object, a JSON list of
    pages, or pages written one after the other (``--no-paginate`` in a loop)."""
    documents = json_documents(_read_text(path), path)
    pages: list[Mapping[str, object]] = []
    for document in documents:
        candidates = document if isinstance(document, list) else [document]
        for page in candidates:
            if not isinstance(page, dict) or not any(key in page for key in _DETAIL_LISTS):
                raise SourceError(
                    f"{path}: not the output of `aws iam get-account-authorization-details` "
                    f"(expected an object with {', '.join(_DETAIL_LISTS)})"
                )
            pages.append(page)
    if not pages:
        # The CLI writes at least one page, even for an empty account: none is a damaged file.
        raise SourceError(
            f"{path}: no page of `aws iam get-account-authorization-details` output in it"
        )
    return parse_authorization_details(pages, str(path))


GROUP_POLICIES_KIND = "group-policies"
"""A group's own record of its policies (``AttachedManagedPolicies``: managed policy ARNs;
``InlinePolicies``: its inline policies' document ids), kept whether or not it has members."""


def group_policies_document_id(group_arn: str) -> str:
    return f"{group_arn}#{GROUP_POLICIES_KIND}"


# --- credential report --------------------------------------------------------------------

_NOT_A_VALUE = frozenset({"", "N/A", "no_information", "not_supported"})
_REQUIRED_COLUMNS = (
    "user",
    "arn",
    "user_creation_time",
    "password_enabled",
    "password_last_used",
    "password_last_changed",
    "mfa_active",
    *(
        f"access_key_{n}_{field}"
        for n in (1, 2)
        for field in ("active", "last_rotated", "last_used_date", "last_used_region")
    ),
    "access_key_1_last_used_service",
    "access_key_2_last_used_service",
)
ROOT_USER = "<root_account>"
"""How the credential report names the account's root user."""


@dataclass(frozen=True)
class ReportKey:
    number: int
    """1 or 2: the report's own numbering (keys in creation order)."""
    active: bool
    created_at: datetime | None
    last_used_at: datetime | None
    last_used_region: str | None
    last_used_service: str | None


@dataclass(frozen=True)
class ReportUser:
    """One row of the credential report (or the same facts read user by user)."""

    user: str
    arn: str
    created_at: datetime | None
    password_enabled: bool | None
    """None where AWS says ``not_supported`` (the root user)."""
    password_last_used: datetime | None
    password_last_changed: datetime | None
    mfa_active: bool
    keys: tuple[ReportKey, ...]
    """Only the keys that exist."""

    @property
    def is_root(self) -> bool:
        """The account's root user; by its ARN too, so that a row whose user column is
        damaged is still known for what it is."""
        return self.user == ROOT_USER or self.arn.endswith(":root")


class _RowError(ValueError):
    pass


def report_value(text: str) -> str | None:
    """A report (or GetAccessKeyLastUsed) field, None where AWS says there is no value."""
    return None if text in _NOT_A_VALUE else text


def _time(text: str, column: str) -> datetime | None:
    value = report_value(text)
    if value is None:
        return None
    try:
        return as_utc(datetime.fromisoformat(value))
    except ValueError:
        raise _RowError(f"{column}: {value!r} is not a date and time") from None


def _flag(text: str, column: str) -> bool | None:
    if text == "true":
        return True
    if text == "false":
        return False
    if text == "not_supported":
        return None
    raise _RowError(f"{column}: {text!r} is neither true nor false")


def parse_credential_report(text: str, where: Callable[[int], str]) -> dict[str, ReportUser]:
    """The report's CSV, by user ARN. ``where(line)`` names a line in messages."""
    if not text.strip("\ufeff \t\r\n"):
        raise SourceError(f"{where(1)}: the credential report is empty")
    report = CsvFile.from_text(text, lambda line: where(line or 1), delimiter=",")
    header = report.header
    missing = [column for column in _REQUIRED_COLUMNS if column not in header]
    if missing:
        report.fail(
            "not an IAM credential report header "
            f"(missing {', '.join(missing[:5])}{', …' if len(missing) > 5 else ''})",
            report.line,
        )

    def bad_row(line: int, fields: list[str] | None, problem: str) -> None:
        if fields is not None:
            problem = f"{len(fields)} fields where the header has {len(header)}"
        report.fail(problem, line)

    rows: dict[str, ReportUser] = {}
    for fields in report.rows(bad_row):
        row = dict(zip(header, fields, strict=True))
        try:
            user = _report_user(row)
        except _RowError as exc:
            report.fail(f"{row['user']}: {exc}", report.line)
        rows[user.arn] = user
    return rows


def _report_user(row: Mapping[str, str]) -> ReportUser:
    keys = []
    for n in (1, 2):
        created = _time(row[f"access_key_{n}_last_rotated"], f"access_key_{n}_last_rotated")
        if created is None:
            continue  # the key does not exist
        keys.append(
            ReportKey(
                number=n,
                active=bool(_flag(row[f"access_key_{n}_active"], f"access_key_{n}_active")),
                created_at=created,
                last_used_at=_time(
                    row[f"access_key_{n}_last_used_date"], f"access_key_{n}_last_used_date"
                ),
                last_used_region=report_value(row[f"access_key_{n}_last_used_region"]),
                last_used_service=report_value(row[f"access_key_{n}_last_used_service"]),
            )
        )
    if not row["arn"].startswith("arn:"):
        raise _RowError(f"arn: {row['arn']!r} is not an ARN")
    return ReportUser(
        user=row["user"],
        arn=row["arn"],
        created_at=_time(row["user_creation_time"], "user_creation_time"),
        password_enabled=_flag(row["password_enabled"], "password_enabled"),
        password_last_used=_time(row["password_last_used"], "password_last_used"),
        password_last_changed=_time(row["password_last_changed"], "password_last_changed"),
        mfa_active=bool(_flag(row["mfa_active"], "mfa_active")),
        keys=tuple(keys),
    )


ROOT_ROW_UNKNOWN = "the root user's MFA, keys and sign-ins are unknown"


def missing_root_row(report: Mapping[str, ReportUser], source: str) -> SnapshotError | None:
    """The problem of a report without the root user's row, which IAM always writes: cut
    short or filtered, it leaves the root user unjudged rather than absent."""
    if any(row.is_root for row in report.values()):
        return None
    return SnapshotError(
        source=source,
        record=ROOT_USER,
        message=f"the credential report has no {ROOT_USER} row, which IAM always writes "
        "(cut short or filtered?)",
        consequence=ROOT_ROW_UNKNOWN,
    )


def read_credential_report(path: Path) -> tuple[dict[str, ReportUser], datetime | None]:
    """The report as decoded CSV, or as ``aws iam get-credential-report`` JSON (base64
    ``Content``). Also returns when it was generated, when the file says."""
    text = _read_text(path)
    if not text.lstrip().startswith("{"):
        return parse_credential_report(text, lambda line: location(path, line)), None
    (document,) = json_documents(text, path, single=True)
    if not isinstance(document, dict) or not isinstance(document.get("Content"), str):
        raise SourceError(
            f"{path}: not the output of `aws iam get-credential-report` (no Content string)"
        )
    if document.get("ReportFormat", "text/csv") != "text/csv":
        raise SourceError(f"{path}: ReportFormat is {document['ReportFormat']!r}, not text/csv")
    try:
        content = base64.b64decode(document["Content"], validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):  # ValueError: not ASCII
        raise SourceError(f"{path}: Content is not base64-encoded UTF-8 CSV") from None
    generated_at = None
    if document.get("GeneratedTime") is not None:
        try:
            generated_at = as_utc(datetime.fromisoformat(str(document["GeneratedTime"])))
        except ValueError:
            raise SourceError(
                f"{path}: GeneratedTime {document['GeneratedTime']!r} is not a date and time"
            ) from None
    rows = parse_credential_report(content, lambda line: f"{path}: Content line {line}")
    return rows, generated_at


# --- password policy ----------------------------------------------------------------------


def read_password_policy(path: Path) -> dict[str, Any] | None:
    """``aws iam get-account-password-policy`` output; ``null`` says the account has none."""
    (document,) = json_documents(_read_text(path), path, single=True)
    if isinstance(document, dict) and "PasswordPolicy" in document:
        document = document["PasswordPolicy"]
    if document is None:
        return None
    if not isinstance(document, dict) or not document:
        raise SourceError(
            f"{path}: not the output of `aws iam get-account-password-policy` "
            "(write null to the file if the account has no password policy)"
        )
    return document


# --- service last accessed (Access Advisor) ------------------------------------------------

LAST_ACCESSED_KIND = "service-last-accessed"


def last_accessed_document_id(principal_arn: str) -> str:
    return f"{principal_arn}#{LAST_ACCESSED_KIND}"


def last_accessed_file(folder: Path, principal_arn: str) -> Path:
    """Where an export keeps one principal's data: ``user/<UserName>.json`` or
    ``role/<RoleName>.json`` (IAM names are safe file names; users and roles may share one)."""
    resource = principal_arn.split(":", 5)[-1]
    kind, _, rest = resource.partition("/")
    return folder / kind / f"{rest.rsplit('/', 1)[-1]}.json"


def normal_last_accessed(entries: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``ServicesLastAccessed`` with times as ISO 8601 UTC text, sorted by service: the same
    whether boto3 (datetimes) or the CLI (text) produced it."""
    out = [{key: _jsonable(value) for key, value in entry.items()} for entry in entries]
    return sorted(out, key=_by_service)


def _by_service(entry: Mapping[str, Any]) -> tuple[str, str]:
    return str(entry.get("ServiceNamespace")), str(entry.get("ServiceName"))


_PLAIN = (str, int, float, bool, type(None))
"""What JSON reads that ``_jsonable`` returns unchanged."""


class _TooDeep(ValueError):
    pass


_MAX_DEPTH = 16
"""Deeper than any Access Advisor answer (entries hold lists of tracked actions, no more)."""


def _jsonable(value: Any, depth: int = 0) -> Any:
    if depth > _MAX_DEPTH:
        raise _TooDeep
    if isinstance(value, datetime):
        return as_utc(value).isoformat()
    if isinstance(value, list):
        return [_jsonable(v, depth + 1) for v in value]
    if isinstance(value, Mapping):
        return {k: _jsonable(v, depth + 1) for k, v in value.items()}
    return value


_TIME_KEYS = frozenset({"LastAuthenticated", "LastAuthenticatedTime"})


def read_last_accessed(path: Path) -> list[dict[str, Any]]:
    """One ``aws iam get-service-last-accessed-details --job-id …`` output: its
    ``ServicesLastAccessed``. ``SourceError`` when the file is not that, or the job did not
    complete."""
    (document,) = json_documents(_read_text(path), path, single=True)
    if not isinstance(document, dict) or not isinstance(document.get("ServicesLastAccessed"), list):
        raise SourceError(
            f"{path}: not the output of `aws iam get-service-last-accessed-details` "
            "(no ServicesLastAccessed list)"
        )
    status = document.get("JobStatus", "COMPLETED")
    if status != "COMPLETED":
        raise SourceError(f"{path}: the job's status is {status}, not COMPLETED")
    if document.get("IsTruncated"):
        raise SourceError(f"{path}: IsTruncated: the CLI output is cut short")
    entries = []
    too_deep = False  # said after every entry's namespace and times are checked, as before
    for index, entry in enumerate(document["ServicesLastAccessed"]):
        if not isinstance(entry, dict) or not isinstance(entry.get("ServiceNamespace"), str):
            raise SourceError(f"{path}: ServicesLastAccessed[{index}] has no ServiceNamespace")
        # What normal_last_accessed makes of it, without its walk over every value: JSON
        # text, numbers, true/false and null are kept as they are.
        normal: dict[str, Any] = {}
        for key, value in entry.items():
            if key in _TIME_KEYS:
                try:
                    value = as_utc(datetime.fromisoformat(str(value))).isoformat()
                except ValueError:
                    raise SourceError(
                        f"{path}: ServicesLastAccessed[{index}].{key}: {value!r} is not a "
                        "date and time"
                    ) from None
            elif not isinstance(value, _PLAIN):
                try:
                    value = _jsonable(value)
                except _TooDeep:
                    too_deep = True
            normal[key] = value
        entries.append(normal)
    if too_deep:
        raise SourceError(
            f"{path}: ServicesLastAccessed holds values nested deeper than the API ever writes"
        )
    return sorted(entries, key=_by_service)


# --- files --------------------------------------------------------------------------------


def _read_text(path: Path) -> str:
    text = read_source_text(path, "an AWS CLI export")
    if not text.strip():
        raise BadFile(path, "the file is empty")
    return text


def account_ids(arns: Iterable[str]) -> set[str]:
    """The 12-digit account ids found in ``arns`` (AWS managed policies, ``aws``, excluded)."""
    found = set()
    for arn in arns:
        parts = arn.split(":", 5)
        if len(parts) == 6 and parts[4].isdigit():
            found.add(parts[4])
    return found


# --- an export: the files, read into what a collect works on -------------------------------


@dataclass
class Collected:
    """What was read of one account, live or from an export, before it becomes the model."""

    source: str
    """``live``, or ``export:`` and the names of the files read."""
    origin: str
    """Where the authorization details came from, for problems found in them."""
    collected_at: datetime
    """When the data was true."""
    details: AuthorizationDetails
    report: dict[str, ReportUser] | None
    """The credential report by user ARN; None when it could not be read (live)."""
    settings: dict[str, Any]
    errors: list[SnapshotError]
    complete: bool
    last_accessed: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """``ServicesLastAccessed`` by principal ARN, where Access Advisor was read."""


def read_export(
    authorization_details: Path,
    credential_report: Path | None,
    *,
    password_policy: Path | None,
    service_last_accessed: Path | None,
    exported_at: datetime | None,
) -> Collected:
    """The files the AWS CLI wrote. ``SourceError`` when one is unusable as a whole, or they
    are of different accounts; what is only missing makes the snapshot incomplete. Without
    a credential report every user's password, access keys and MFA are unknown."""
    details = read_authorization_details(authorization_details)
    errors: list[SnapshotError] = []
    report: dict[str, ReportUser] | None = None
    generated_at: datetime | None = None
    files = [authorization_details.name]
    if credential_report is not None:
        report, generated_at = read_credential_report(credential_report)
        files.append(credential_report.name)
    else:
        errors.append(
            SnapshotError(
                source="credential_report",
                message="no file given: every user's console password, access keys and MFA "
                "are unknown",
            )
        )
    account_id = _account_id(details, report or {}, authorization_details, credential_report)
    settings: dict[str, Any] = {"account_id": account_id}
    if password_policy is not None:
        settings["password_policy"] = read_password_policy(password_policy)
        files.append(password_policy.name)
    else:
        errors.append(
            SnapshotError(
                source="password_policy",
                message="no file given: the account's password policy is unknown",
            )
        )
    taken = export_time(exported_at, [authorization_details], recorded=generated_at)
    if taken.guessed:
        errors.append(SnapshotError(source=str(authorization_details), message=taken.guessed))
    complete = not details.is_truncated and report is not None
    if details.is_truncated:
        errors.append(
            SnapshotError(
                source=str(authorization_details),
                message="the last page says more pages follow (IsTruncated): "
                "the export is cut short",
            )
        )
    if report is not None:
        for user in details.users_missing_from(report):
            complete = False
            errors.append(_missing_from_report(str(credential_report), user))
        no_root = missing_root_row(report, str(credential_report))
        if no_root is not None:
            complete = False
            errors.append(no_root)
    last_accessed: dict[str, list[dict[str, Any]]] = {}
    if service_last_accessed is not None:
        folder = service_last_accessed
        if not folder.is_dir():
            raise SourceError(f"{folder}: service_last_accessed is not a folder")
        files.append(folder.name + "/")
        last_accessed, advisor_errors = _read_last_accessed_folder(folder, details)
        errors.extend(advisor_errors)
        complete = complete and not advisor_errors
    return Collected(
        source="export:" + ",".join(files),
        origin=str(authorization_details),
        collected_at=taken.at,
        details=details,
        report=report,
        settings=settings,
        errors=errors,
        complete=complete,
        last_accessed=last_accessed,
    )


def _account_id(
    details: AuthorizationDetails,
    report: Mapping[str, ReportUser],
    details_path: Path,
    report_path: Path | None,
) -> str | None:
    detail_arns = [
        *(u.arn for u in details.user_detail_list),
        *(g.arn for g in details.group_detail_list),
        *(r.arn for r in details.role_detail_list),
        *(p.arn for p in details.policies),
    ]
    in_details, in_report = account_ids(detail_arns), account_ids(report)
    for path, found in ((details_path, in_details), (report_path, in_report)):
        if len(found) > 1:
            raise SourceError(f"{path}: holds several AWS accounts ({', '.join(sorted(found))})")
    if in_details and in_report and in_details != in_report:
        raise SourceError(
            f"{report_path}: is for AWS account {in_report.pop()}, but "
            f"{details_path} is for {in_details.pop()}"
        )
    found = in_details | in_report
    return found.pop() if found else None


def _missing_from_report(source: str, user: UserDetail) -> SnapshotError:
    return SnapshotError(
        source=source,
        record=user.arn,
        message=f"user {user.user_name} is not in the credential report (created after it was "
        "generated?): its password, access keys and MFA are unknown",
    )


def _read_last_accessed_folder(
    folder: Path, details: AuthorizationDetails
) -> tuple[dict[str, list[dict[str, Any]]], list[SnapshotError]]:
    found: dict[str, list[dict[str, Any]]] = {}
    errors = []
    for arn in details.principal_arns():
        path = last_accessed_file(folder, arn)
        try:
            present = path.is_file()
        except (OSError, ValueError):  # a name too long for a file, or with a NUL in it
            present = False
        if not present:
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
