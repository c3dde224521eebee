"""Writing a generated company in each system's own export format, plus policy and config."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

from iam_gov.samplegen.company import ACCOUNT_ID, Company, IamUser

MANAGED: dict[str, tuple[str, list[dict[str, Any]]]] = {
    # name -> (ARN path part, statements)
    "AdministratorAccess": ("aws", [{"Effect": "Allow", "Action": "*", "Resource": "*"}]),
    "ReadOnlyAccess": (
        "aws",
        [
            {
                "Effect": "Allow",
                "Action": ["ec2:Describe*", "s3:Get*", "s3:List*", "iam:Get*", "iam:List*"],
                "Resource": "*",
            }
        ],
    ),
    "PowerUserAccess": (
        "aws",
        [
            {
                "Effect": "Allow",
                "NotAction": ["iam:*", "organizations:*", "account:*"],
                "Resource": "*",
            },
            {
                "Effect": "Allow",
                "Action": ["iam:CreateServiceLinkedRole", "iam:ListRoles"],
                "Resource": "*",
            },
        ],
    ),
    "Billing": (
        "aws-job-function",
        [{"Effect": "Allow", "Action": ["aws-portal:*", "budgets:*", "ce:*"], "Resource": "*"}],
    ),
    "SecurityAudit": (
        "aws",
        [
            {
                "Effect": "Allow",
                "Action": ["config:Get*", "iam:GenerateCredentialReport"],
                "Resource": "*",
            }
        ],
    ),
    "DeveloperSandbox": (
        "customer",
        [
            {
                "Effect": "Allow",
                # Sandbox work, not the right to change what production functions run as.
                "Action": [
                    "ec2:Describe*",
                    "ec2:StartInstances",
                    "ec2:StopInstances",
                    "lambda:Get*",
                    "lambda:List*",
                    "lambda:InvokeFunction",
                    "s3:*",
                ],
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:RequestedRegion": "eu-central-1"}},
            }
        ],
    ),
    "DeployPipeline": (
        "customer",
        [
            {"Effect": "Allow", "Action": ["cloudformation:*", "ecs:*"], "Resource": "*"},
            {
                "Effect": "Allow",
                "Action": "iam:PassRole",
                "Resource": f"arn:aws:iam::{ACCOUNT_ID}:role/app-*",
            },
        ],
    ),
    "DataLakeRead": (
        "customer",
        [
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:ListBucket", "athena:*"],
                "Resource": ["arn:aws:s3:::datalake", "arn:aws:s3:::datalake/*"],
            }
        ],
    ),
}

GROUPS: dict[str, list[str]] = {
    "Developers": ["DeveloperSandbox"],
    "ReadOnly": ["ReadOnlyAccess"],
    "SRE": ["PowerUserAccess"],
    "Admins": ["AdministratorAccess"],
    "Finance-Billing": ["Billing"],
    "Security-Audit": ["SecurityAudit"],
    "Deployers": ["DeployPipeline"],
    "Data-Analysts": ["DataLakeRead"],
}
SRE_INLINE = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ["ec2:RebootInstances", "ssm:StartSession"], "Resource": "*"}
    ],
}


def policy_arn(name: str) -> str:
    where = MANAGED[name][0]
    if where == "aws":
        return f"arn:aws:iam::aws:policy/{name}"
    if where == "aws-job-function":
        return f"arn:aws:iam::aws:policy/job-function/{name}"
    return f"arn:aws:iam::{ACCOUNT_ID}:policy/{name}"


def _ts(value: datetime) -> str:
    return value.isoformat()


def _doc(statements: list[dict[str, Any]]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": statements}


def _fake_id(prefix: str, name: str) -> str:
    """An id shaped like AWS's (AIDA…, AGPA…), the same for the same name on every run."""
    digest = base64.b32encode(hashlib.sha256(name.encode("utf-8")).digest()).decode()
    return prefix + digest[:17]


def authorization_details(company: Company) -> dict[str, Any]:
    """What ``aws iam get-account-authorization-details`` prints for the account."""
    used: set[str] = set()
    users = []
    for u in company.users:
        used.update(u.attached)
        for g in u.groups:
            used.update(GROUPS[g])
        entry: dict[str, Any] = {
            "Path": "/",
            "UserName": u.name,
            "UserId": _fake_id("AIDA", u.name),
            "Arn": f"arn:aws:iam::{ACCOUNT_ID}:user/{u.name}",
            "CreateDate": _ts(u.created),
            "UserPolicyList": [
                {"PolicyName": k, "PolicyDocument": v} for k, v in sorted(u.inline.items())
            ],
            "GroupList": sorted(u.groups),
            "AttachedManagedPolicies": [
                {"PolicyName": p, "PolicyArn": policy_arn(p)} for p in sorted(u.attached)
            ],
            "Tags": [{"Key": k, "Value": v} for k, v in sorted(u.tags.items())],
        }
        if u.boundary:
            entry["PermissionsBoundary"] = {
                "PermissionsBoundaryType": "Policy",
                "PermissionsBoundaryArn": policy_arn(u.boundary),
            }
        users.append(entry)
    groups = []
    for name, attached in GROUPS.items():
        groups.append(
            {
                "Path": "/",
                "GroupName": name,
                "GroupId": _fake_id("AGPA", name),
                "Arn": f"arn:aws:iam::{ACCOUNT_ID}:group/{name}",
                "CreateDate": _ts(company.as_of.replace(year=company.as_of.year - 3)),
                "GroupPolicyList": (
                    [{"PolicyName": "sre-break-fix", "PolicyDocument": SRE_INLINE}]
                    if name == "SRE"
                    else []
                ),
                "AttachedManagedPolicies": [
                    {"PolicyName": p, "PolicyArn": policy_arn(p)} for p in attached
                ],
            }
        )
        used.update(attached)
    roles = []
    for r in company.roles:
        used.update(r.attached)
        role: dict[str, Any] = {
            "Path": "/",
            "RoleName": r.name,
            "RoleId": _fake_id("AROA", r.name),
            "Arn": f"arn:aws:iam::{ACCOUNT_ID}:role/{r.name}",
            "CreateDate": _ts(r.created),
            "AssumeRolePolicyDocument": r.trust,
            "InstanceProfileList": [],
            "RolePolicyList": [],
            "AttachedManagedPolicies": [
                {"PolicyName": p, "PolicyArn": policy_arn(p)} for p in r.attached
            ],
            "Tags": [],
            "RoleLastUsed": (
                {"LastUsedDate": _ts(r.last_used), "Region": "eu-central-1"} if r.last_used else {}
            ),
        }
        roles.append(role)
    policies = []
    created = _ts(company.as_of.replace(year=company.as_of.year - 4))
    for name in sorted(used):
        arn = policy_arn(name)
        policies.append(
            {
                "PolicyName": name,
                "PolicyId": _fake_id("ANPA", name),
                "Arn": arn,
                "Path": "/job-function/" if "job-function" in arn else "/",
                "DefaultVersionId": "v1",
                "AttachmentCount": 1,
                "PermissionsBoundaryUsageCount": 0,
                "IsAttachable": True,
                "CreateDate": created,
                "UpdateDate": created,
                "PolicyVersionList": [
                    {
                        "Document": _doc(MANAGED[name][1]),
                        "VersionId": "v1",
                        "IsDefaultVersion": True,
                        "CreateDate": created,
                    }
                ],
            }
        )
    return {
        "UserDetailList": users,
        "GroupDetailList": groups,
        "RoleDetailList": roles,
        "Policies": policies,
    }


REPORT_COLUMNS = [
    "user",
    "arn",
    "user_creation_time",
    "password_enabled",
    "password_last_used",
    "password_last_changed",
    "password_next_rotation",
    "mfa_active",
    *(
        f"access_key_{n}_{what}"
        for n in (1, 2)
        for what in (
            "active",
            "last_rotated",
            "last_used_date",
            "last_used_region",
            "last_used_service",
        )
    ),
    "cert_1_active",
    "cert_1_last_rotated",
    "cert_2_active",
    "cert_2_last_rotated",
]


def _report_row(u: IamUser) -> list[str]:
    def opt(value: datetime | None, none: str = "N/A") -> str:
        return _ts(value) if value else none

    row = [
        u.name,
        f"arn:aws:iam::{ACCOUNT_ID}:user/{u.name}",
        _ts(u.created),
        "true" if u.password else "false",
        opt(u.password_last_used, "no_information") if u.password else "N/A",
        opt(u.password_changed),
        "N/A",
        "true" if u.mfa else "false",
    ]
    for i in range(2):
        if i < len(u.keys):
            k = u.keys[i]
            row += [
                "true" if k.active else "false",
                _ts(k.created),
                opt(k.last_used),
                k.region or "N/A",
                k.service or "N/A",
            ]
        else:
            row += ["false", "N/A", "N/A", "N/A", "N/A"]
    return row + ["false", "N/A", "false", "N/A"]


def credential_report(company: Company) -> dict[str, str]:
    """What ``aws iam get-credential-report`` prints: the CSV, base64-encoded, and its time."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(REPORT_COLUMNS)
    root_created = _ts(company.as_of.replace(year=company.as_of.year - 5))
    writer.writerow(
        ["<root_account>", f"arn:aws:iam::{ACCOUNT_ID}:root", root_created, "not_supported"]
        + [
            _ts(company.as_of.replace(year=company.as_of.year - 1)),
            "not_supported",
            "not_supported",
        ]
        + ["true", "false", "N/A", "N/A", "N/A", "N/A", "false", "N/A", "N/A", "N/A", "N/A"]
        + ["false", "N/A", "false", "N/A"]
    )
    for u in company.users:
        writer.writerow(_report_row(u))
    return {
        "Content": base64.b64encode(out.getvalue().encode()).decode(),
        "ReportFormat": "text/csv",
        "GeneratedTime": _ts(company.as_of),
    }


PASSWORD_POLICY = {
    "PasswordPolicy": {
        "MinimumPasswordLength": 14,
        "RequireSymbols": True,
        "RequireNumbers": True,
        "RequireUppercaseCharacters": True,
        "RequireLowercaseCharacters": True,
        "AllowUsersToChangePassword": True,
        "ExpirePasswords": False,
        "PasswordReusePrevention": 24,
        "HardExpiry": False,
    }
}

HR_COLUMNS = (
    "Employee_ID",
    "Legal_Name",
    "Email_Address",
    "Supervisory_Organization",
    "Business_Title",
    "Manager_Employee_ID",
    "Worker_Type",
    "Worker_Status",
    "Hire_Date",
    "Termination_Date",
    "Location",
    "Cost_Center",
)


def hr_rows(company: Company) -> Iterator[list[str]]:
    def d(value: date | None) -> str:
        return value.isoformat() if value else ""

    for p in company.people:
        yield [
            p.employee_id,
            f"{p.first} {p.last}",
            p.email,
            p.department,
            p.title,
            p.manager_id or "",
            p.worker_type,
            p.status,
            d(p.hire_date),
            d(p.termination_date),
            p.location,
            p.cost_center,
        ]


def write_hr_csv(company: Company, path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\r\n")
        writer.writerow(HR_COLUMNS)
        writer.writerows(hr_rows(company))


def write_json(value: Any, path: Path) -> None:
    with path.open("w", encoding="utf-8") as fh:
        json.dump(value, fh, indent=4, ensure_ascii=False)
        fh.write("\n")


# What a principal that works normally has used lately, for Access Advisor's view.
_EVERYDAY = ("s3", "ec2", "lambda", "sts")
_SERVICE_NAMES = {
    "s3": "Amazon S3",
    "ec2": "Amazon EC2",
    "lambda": "AWS Lambda",
    "sts": "AWS Security Token Service",
}


def _last_accessed(company: Company, arn: str, used: dict[str, datetime | None]) -> dict[str, Any]:
    """What ``aws iam get-service-last-accessed-details --job-id …`` prints."""
    entries = []
    for namespace, when in sorted(used.items()):
        entry: dict[str, Any] = {
            "ServiceName": _SERVICE_NAMES[namespace],
            "ServiceNamespace": namespace,
            "TotalAuthenticatedEntities": 0 if when is None else 1,
        }
        if when is not None:
            entry["LastAuthenticated"] = _ts(when)
            entry["LastAuthenticatedEntity"] = arn
            entry["LastAuthenticatedRegion"] = "eu-central-1"
        entries.append(entry)
    return {
        "JobStatus": "COMPLETED",
        "JobType": "SERVICE_LEVEL",
        "JobCreationDate": _ts(company.as_of),
        "ServicesLastAccessed": entries,
        "JobCompletionDate": _ts(company.as_of),
        "IsTruncated": False,
    }


def last_accessed_files(company: Company) -> Iterator[tuple[str, dict[str, Any]]]:
    """Access Advisor's data for every user and role, one file each, as the AWS connector's
    export mode reads them (``user/<name>.json``, ``role/<name>.json``)."""
    recently = company.as_of.replace(hour=8)
    for u in company.users:
        arn = f"arn:aws:iam::{ACCOUNT_ID}:user/{u.name}"
        used = u.last_accessed or dict.fromkeys(_EVERYDAY, recently)
        yield f"user/{u.name}.json", _last_accessed(company, arn, used)
    for r in company.roles:
        arn = f"arn:aws:iam::{ACCOUNT_ID}:role/{r.name}"
        when = recently if r.last_used is not None else None
        yield f"role/{r.name}.json", _last_accessed(company, arn, dict.fromkeys(_EVERYDAY, when))
