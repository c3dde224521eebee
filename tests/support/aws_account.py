"""Builders for AWS policy tests: one account written as the AWS CLI exports it, then read
through the AWS connector's export mode into the analysis and the state rules see.

Only the files are built by hand (``get-account-authorization-details``, the credential
report, ``get-service-last-accessed-details``); everything after that is the real path.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from iam_gov.aws_policy import AwsAccount
from iam_gov.connectors.aws.connector import AWSConnector, AWSOptions
from iam_gov.engine.state import EvaluationState, SystemView
from iam_gov.model import PolicyDocument, SystemSnapshot
from tests.support.world import ACCOUNT, AS_OF, World, days_ago

SYSTEM = "aws"
AWS_ADMINISTRATOR = "arn:aws:iam::aws:policy/AdministratorAccess"
ROOT_ARN = f"arn:aws:iam::{ACCOUNT}:root"
Json = dict[str, Any]


def arn(kind: str, name: str) -> str:
    """``arn:aws:iam::123456789012:user/alice`` (``kind`` is user, role, group or policy)."""
    return f"arn:aws:iam::{ACCOUNT}:{kind}/{name}"


def _statement(effect: str, action: str | list[str] | None, keys: Mapping[str, Any]) -> Json:
    out: Json = {"Effect": effect}
    if action is not None:
        out["Action"] = action
    out.update(keys)
    if "Resource" not in out and "NotResource" not in out:
        out["Resource"] = "*"
    return out


def allow(action: str | list[str] | None = None, **keys: Any) -> Json:
    """An Allow statement; other keys as IAM spells them (``NotAction``, ``Resource``,
    ``NotResource``, ``Condition``, ``Sid``). ``Resource`` is ``*`` unless given."""
    return _statement("Allow", action, keys)


def deny(action: str | list[str] | None = None, **keys: Any) -> Json:
    return _statement("Deny", action, keys)


def document(*statements: Json) -> Json:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def trust(*aws: str, service: str | None = None, condition: Json | None = None) -> Json:
    """A trust policy admitting IAM principals (ARNs or an account id) and/or a service."""
    principal: Json = {}
    if aws:
        principal["AWS"] = list(aws) if len(aws) > 1 else aws[0]
    if service is not None:
        principal["Service"] = service
    statement: Json = {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}
    if condition is not None:
        statement["Condition"] = condition
    return document(statement)


ADMINISTRATOR_ACCESS = document(allow("*"))

_REPORT_HEADER = (
    "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,"
    "password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,"
    "access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,"
    "access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,"
    "access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,"
    "cert_1_last_rotated,cert_2_active,cert_2_last_rotated"
)


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def _attached(policies: Sequence[str]) -> list[Json]:
    return [{"PolicyName": p.rsplit("/", 1)[-1], "PolicyArn": p} for p in policies]


def _inline(policies: Mapping[str, Json] | None) -> list[Json]:
    return [{"PolicyName": n, "PolicyDocument": d} for n, d in (policies or {}).items()]


def _boundary(boundary: str | None) -> Json:
    if boundary is None:
        return {}
    return {
        "PermissionsBoundary": {
            "PermissionsBoundaryType": "PermissionsBoundaryPolicy",
            "PermissionsBoundaryArn": boundary,
        }
    }


@dataclass
class AwsWorld(World):
    """A ``World`` whose AWS view also holds the snapshot's policy documents."""

    documents: list[PolicyDocument] = field(default_factory=list)

    def state(self) -> EvaluationState:
        state = super().state()
        for name, view in state.systems.items():
            view.documents = {d.document_id: d for d in self.documents if d.system == name}
        return state


@dataclass
class ExportedAccount:
    """An AWS account (123456789012), built principal by principal, written as the CLI
    would write it into ``folder``, and collected by the AWS connector's export mode."""

    folder: Path
    users: list[Json] = field(default_factory=list)
    groups: list[Json] = field(default_factory=list)
    roles: list[Json] = field(default_factory=list)
    policies: list[Json] = field(default_factory=list)
    report: list[list[str]] = field(default_factory=list)
    """Credential report rows, one per user; the root user's row, which IAM always writes
    first, is added when the file is written."""
    with_root: bool = False
    """Whether the world the rules see has the root user: only when a test asks for it
    (``root()``), as the root user is admin-equivalent by nature and would be one more
    finding in every test."""
    last_accessed: dict[str, list[Json]] = field(default_factory=dict)
    """Principal ARN -> ``ServicesLastAccessed``, as ``get-service-last-accessed-details``
    prints it; when any is given, every principal needs one."""

    def policy(self, name: str, body: Json) -> str:
        """A customer-managed policy whose default version is ``body``; its ARN."""
        policy_arn = arn("policy", name)
        self._managed(policy_arn, name, body)
        return policy_arn

    def aws_managed(self, name: str, body: Json) -> str:
        """An AWS-managed policy, as the export lists those attached somewhere."""
        policy_arn = f"arn:aws:iam::aws:policy/{name}"
        self._managed(policy_arn, name, body)
        return policy_arn

    def _managed(self, policy_arn: str, name: str, body: Json) -> None:
        self.policies.append(
            {
                "PolicyName": name,
                "Arn": policy_arn,
                "Path": "/",
                "DefaultVersionId": "v2",
                "PolicyVersionList": [
                    {"VersionId": "v2", "IsDefaultVersion": True, "Document": body},
                    # Only the default version counts: an older one must change nothing.
                    {"VersionId": "v1", "IsDefaultVersion": False, "Document": document()},
                ],
            }
        )

    def group(
        self,
        name: str,
        *,
        policies: Sequence[str] = (),
        inline: Mapping[str, Json] | None = None,
    ) -> str:
        group_arn = arn("group", name)
        self.groups.append(
            {
                "Path": "/",
                "GroupName": name,
                "GroupId": f"AGPA{name.upper()}",
                "Arn": group_arn,
                "CreateDate": _iso(days_ago(900)),
                "GroupPolicyList": _inline(inline),
                "AttachedManagedPolicies": _attached(policies),
            }
        )
        return group_arn

    def user(
        self,
        name: str,
        *,
        groups: Sequence[str] = (),
        policies: Sequence[str] = (),
        inline: Mapping[str, Json] | None = None,
        boundary: str | None = None,
        employee_id: str | None = None,
        password: bool = True,
        key: bool = True,
        created: datetime | None = None,
    ) -> str:
        """An IAM user, with a console password (and MFA) and an active access key unless
        told otherwise; with neither, the connector takes it to be disabled."""
        user_arn = arn("user", name)
        created = created or days_ago(400)
        tags = [{"Key": "employee_id", "Value": employee_id}] if employee_id else []
        self.users.append(
            {
                "Path": "/",
                "UserName": name,
                "UserId": f"AIDA{name.upper()}",
                "Arn": user_arn,
                "CreateDate": _iso(created),
                "GroupList": [g.rsplit("/", 1)[-1] for g in groups],
                "AttachedManagedPolicies": _attached(policies),
                "UserPolicyList": _inline(inline),
                "Tags": tags,
                **_boundary(boundary),
            }
        )
        used = _iso(days_ago(2))
        self.report.append(
            [
                name,
                user_arn,
                _iso(created),
                *(["true", used, _iso(days_ago(30))] if password else ["false", "N/A", "N/A"]),
                "N/A",
                "true" if password else "false",
                "true" if key else "false",
                _iso(days_ago(20)),
                used,
                "us-east-1",
                "s3",
                *["false", "N/A", "N/A", "N/A", "N/A"],
                *["false", "N/A", "false", "N/A"],
            ]
        )
        return user_arn

    def role(
        self,
        name: str,
        trust_policy: Json,
        *,
        policies: Sequence[str] = (),
        inline: Mapping[str, Json] | None = None,
        boundary: str | None = None,
        created: datetime | None = None,
    ) -> str:
        role_arn = arn("role", name)
        self.roles.append(
            {
                "Path": "/",
                "RoleName": name,
                "RoleId": f"AROA{name.upper()}",
                "Arn": role_arn,
                "CreateDate": _iso(created or days_ago(400)),
                "AssumeRolePolicyDocument": trust_policy,
                "RolePolicyList": _inline(inline),
                "AttachedManagedPolicies": _attached(policies),
                "Tags": [],
                **_boundary(boundary),
            }
        )
        return role_arn

    def root(self) -> str:
        """The root user in the world the rules see; its ARN."""
        self.with_root = True
        return ROOT_ARN

    @staticmethod
    def _root_row() -> list[str]:
        """The root user, as the credential report lists it (the details never do): no
        password fields (``not_supported``), MFA on, no access keys."""
        return [
            "<root_account>",
            ROOT_ARN,
            _iso(days_ago(2000)),
            "not_supported",
            _iso(days_ago(100)),
            "not_supported",
            "not_supported",
            "true",
            *["false", "N/A", "N/A", "N/A", "N/A"],
            *["false", "N/A", "N/A", "N/A", "N/A"],
            *["false", "N/A", "false", "N/A"],
        ]

    def used(self, principal: str, *services: tuple[str, datetime | None]) -> None:
        """Access Advisor's answer for a principal: each service and when it was last used
        (None: never)."""
        entries = []
        for namespace, last in services:
            entry: Json = {
                "ServiceName": f"Service {namespace}",
                "ServiceNamespace": namespace,
                "TotalAuthenticatedEntities": int(last is not None),
            }
            if last is not None:
                entry["LastAuthenticated"] = _iso(last)
                entry["LastAuthenticatedRegion"] = "us-east-1"
            entries.append(entry)
        self.last_accessed[principal] = entries

    # --- reading it back ------------------------------------------------------------------

    def write(self) -> AWSOptions:
        """Write the CLI's files; the export-mode options that read them."""
        self.folder.mkdir(parents=True, exist_ok=True)
        details = self.folder / "authorization-details.json"
        details.write_text(
            json.dumps(
                {
                    "UserDetailList": self.users,
                    "GroupDetailList": self.groups,
                    "RoleDetailList": self.roles,
                    "Policies": self.policies,
                    "IsTruncated": False,
                },
                indent=2,
            )
        )
        report = self.folder / "credential-report.csv"
        rows = [self._root_row(), *self.report]
        report.write_text("\n".join([_REPORT_HEADER, *(",".join(row) for row in rows)]))
        password_policy = self.folder / "password-policy.json"
        password_policy.write_text('{"PasswordPolicy": {"MinimumPasswordLength": 14}}')
        options: Json = {
            "type": "aws",
            "mode": "export",
            "authorization_details": details,
            "credential_report": report,
            "password_policy": password_policy,
            "exported_at": AS_OF.isoformat(),
        }
        if self.last_accessed:
            folder = self.folder / "last-accessed"
            for principal, entries in self.last_accessed.items():
                kind, _, name = principal.split(":", 5)[-1].partition("/")
                path = folder / kind / f"{name}.json"
                path.parent.mkdir(parents=True, exist_ok=True)
                cli = {
                    "JobStatus": "COMPLETED",
                    "JobType": "SERVICE_LEVEL",
                    "ServicesLastAccessed": entries,
                    "IsTruncated": False,
                }
                path.write_text(json.dumps(cli, indent=2))
            options["service_last_accessed"] = folder
        return AWSOptions.model_validate(options)

    def collect(self) -> SystemSnapshot:
        snapshot = AWSConnector(SYSTEM, self.write()).collect()
        assert snapshot.complete, snapshot.errors
        return snapshot

    def view(self) -> SystemView:
        """The snapshot as rules see it."""
        return self.world().state().systems[SYSTEM]

    def analysis(self) -> AwsAccount:
        """The account's policy analysis."""
        return AwsAccount.from_view(self.view())

    def world(self, policy_yaml: str = "version: 1\n", **world: Any) -> AwsWorld:
        """The world the rules evaluate: this account, and whatever else is given
        (``people=[…]``)."""
        snapshot = self.collect()
        left_out = set() if self.with_root else {ROOT_ARN}
        return AwsWorld(
            policy_yaml=policy_yaml,
            accounts=[a for a in snapshot.accounts if a.native_id not in left_out],
            entitlements=list(snapshot.entitlements),
            grants=list(snapshot.grants),
            credentials=[c for c in snapshot.credentials if c.account_id not in left_out],
            documents=list(snapshot.documents),
            **world,
        )
