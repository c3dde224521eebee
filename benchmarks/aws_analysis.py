"""Scale run for the AWS policy analysis, against cloudsplaining on the same file.

    .venv/bin/python benchmarks/aws_analysis.py                       # 5,000 users, 500 roles
    .venv/bin/python benchmarks/aws_analysis.py --users 1000 --roles 100 --policies 400
    .venv/bin/python benchmarks/aws_analysis.py --skip-cloudsplaining
    .venv/bin/python benchmarks/aws_analysis.py --lab-only           # the 1-second check

First a lab-sized account (about 100 principals, 0.8 MB), analysed end to end by the command a
scheduler runs, `iam-gov run` (collect, evaluate, drift report; with a small HR file), timed as
a process from its start: best of ``--runs`` after a first run that creates the store.
Target: at most 1 s.

Generates the output of ``aws iam get-account-authorization-details`` for one account with a
realistic mix: customer-managed policies with wildcards, NotAction, conditions, resource
constraints and Denies; groups; permissions boundaries; roles assumed by services, by named
users and roles, by the whole account (some with MFA conditions) and by federation; inline
policies; a few admins and planted escalation paths. Then, on the same file:

* ours: read it through the AWS connector's export mode, index the snapshot, and compute for
  every principal its effective permissions, escalation paths and admin-equivalence;
* cloudsplaining: ``cloudsplaining scan --input-file … --output …`` (install it with
  ``pip install -e '.[bench]'``).

Both are timed the same way, as whole processes from their start (interpreter, imports, and
for iam-gov the action catalogue); both with Python's bytecode cached, as installed packages
have it. Prints both wall times and the ratio (target: at least 20x).
"""

from __future__ import annotations

import argparse
import base64
import csv
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ACCOUNT = "123456789012"
CREATED = "2025-01-15T10:00:00+00:00"
SERVICES = tuple(
    [
        "s3",
        "dynamodb",
        "sqs",
        "sns",
        "lambda",
        "ec2",
        "ecs",
        "ecr",
        "logs",
        "cloudwatch",
        "kms",
        "secretsmanager",
        "ssm",
        "rds",
        "elasticloadbalancing",
        "autoscaling",
        "route53",
        "cloudfront",
        "apigateway",
        "events",
        "states",
        "glue",
        "athena",
        "kinesis",
        "firehose",
        "redshift",
        "elasticache",
        "es",
        "sagemaker",
        "codebuild",
        "codepipeline",
        "codecommit",
        "cloudformation",
        "cloudtrail",
        "config",
        "guardduty",
        "securityhub",
        "xray",
        "backup",
    ]
)
TRUSTED_SERVICES = (
    "lambda.amazonaws.com",
    "ec2.amazonaws.com",
    "ecs-tasks.amazonaws.com",
    "glue.amazonaws.com",
    "codebuild.amazonaws.com",
    "cloudformation.amazonaws.com",
    "sagemaker.amazonaws.com",
    "states.amazonaws.com",
)
TEAMS = ("payments", "search", "data", "web", "mobile", "infra", "ml", "billing", "growth", "ops")


def arn(kind: str, name: str, path: str = "/") -> str:
    return f"arn:aws:iam::{ACCOUNT}:{kind}{path}{name}"


def doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


MFA = {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
NO_MFA = {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}
OFFICE = {"IpAddress": {"aws:SourceIp": ["203.0.113.0/24", "198.51.100.0/24"]}}


class Generator:
    def __init__(self, users: int, roles: int, policies: int, seed: int) -> None:
        self.rng = random.Random(seed)
        self.n_users, self.n_roles, self.n_policies = users, roles, policies
        self.role_names = [self._role_name(i) for i in range(roles)]
        self.user_names = [f"user{i:05d}" for i in range(users)]

    def _role_name(self, i: int) -> str:
        team = TEAMS[i % len(TEAMS)]
        kind = ("app", "deploy", "etl", "ci", "admin", "read")[i % 6]
        return f"{kind}-{team}-{i:04d}"

    # --- policies -----------------------------------------------------------------------

    def policy_document(self, i: int) -> dict[str, Any]:
        rng = self.rng
        team = TEAMS[i % len(TEAMS)]
        service = rng.choice(SERVICES)
        kind = rng.random()
        if kind < 0.25:  # read-only on a few services
            services = rng.sample(SERVICES, rng.randint(1, 4))
            return doc(allow([f"{s}:{v}*" for s in services for v in ("Get", "List", "Describe")]))
        if kind < 0.45:  # full service access scoped to the team's resources
            resources = [
                f"arn:aws:{service}:*:{ACCOUNT}:{team}-*",
                f"arn:aws:{service}:*:{ACCOUNT}:*/{team}-*",
            ]
            return doc(allow(f"{service}:*", resources))
        if kind < 0.55:  # writes from the office only, with MFA
            return doc(
                allow(
                    [f"{service}:Put*", f"{service}:Create*", f"{service}:Update*"],
                    "*",
                    Condition={**OFFICE, **MFA},
                )
            )
        if kind < 0.60:  # power user: everything but IAM and Organizations
            return doc(
                {"Effect": "Allow", "NotAction": ["iam:*", "organizations:*"], "Resource": "*"},
                allow(["iam:Get*", "iam:List*", "iam:CreateServiceLinkedRole"]),
            )
        if kind < 0.68:  # deploy: pass the team's app roles to Lambda and ECS
            statements = [
                allow(
                    [
                        "lambda:CreateFunction",
                        "lambda:UpdateFunctionCode",
                        "lambda:InvokeFunction",
                        "ecs:RegisterTaskDefinition",
                        "ecs:RunTask",
                    ]
                ),
                allow("iam:PassRole", arn("role", f"app-{team}-*")),
            ]
            if rng.random() < 0.5:
                statements[1]["Condition"] = {
                    "StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}
                }
            return doc(*statements)
        if kind < 0.74:  # assume the team's roles
            return doc(allow("sts:AssumeRole", arn("role", f"*-{team}-*")))
        if kind < 0.78:  # self-service credentials
            return doc(
                allow(
                    [
                        "iam:CreateAccessKey",
                        "iam:DeleteAccessKey",
                        "iam:UpdateAccessKey",
                        "iam:ChangePassword",
                        "iam:CreateVirtualMFADevice",
                        "iam:EnableMFADevice",
                    ],
                    arn("user", "${aws:username}"),
                )
            )
        if kind < 0.81:  # a helpdesk that manages other users' passwords and keys
            return doc(
                allow(
                    ["iam:CreateLoginProfile", "iam:UpdateLoginProfile", "iam:CreateAccessKey"],
                    arn("user", "*"),
                ),
                deny(["iam:*LoginProfile", "iam:CreateAccessKey"], arn("user", "admin-*")),
            )
        if kind < 0.84:  # policy editors, some scoped
            # Mostly their own sandbox policies (attached to nobody); a few all of them.
            target = "*" if rng.random() < 0.03 else arn("policy", f"sandbox/{team}-*")
            return doc(
                allow(["iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion"], target),
                allow(["iam:Get*", "iam:List*"]),
            )
        if kind < 0.87:  # guard rails
            return doc(
                deny("iam:*", "*", Condition=NO_MFA),
                deny(["s3:DeleteBucket", "kms:ScheduleKeyDeletion"]),
                allow(["cloudtrail:LookupEvents", "config:Get*"]),
            )
        if kind < 0.90:  # CI: build projects with the team's CI roles
            return doc(
                allow(["codebuild:CreateProject", "codebuild:StartBuild"]),
                allow("iam:PassRole", arn("role", f"ci-{team}-*")),
            )
        if kind < 0.93:  # SSM operators
            return doc(
                allow(["ssm:SendCommand", "ssm:StartSession"], Condition=MFA),
                allow("ec2:Describe*"),
            )
        if kind < 0.96:  # NotResource: everything in a service except production data
            return doc(
                {
                    "Effect": "Allow",
                    "Action": [f"{service}:*"],
                    "NotResource": [f"arn:aws:{service}:*:{ACCOUNT}:prod-*"],
                }
            )
        # data pipelines
        return doc(
            allow(["glue:*", "athena:*", "s3:GetObject", "s3:PutObject"]),
            allow("iam:PassRole", arn("role", f"etl-{team}-*")),
        )

    def boundary_document(self, i: int) -> dict[str, Any]:
        services = self.rng.sample(SERVICES, 8)
        return doc(
            allow([f"{s}:*" for s in services]),
            allow(["sts:AssumeRole", "iam:Get*", "iam:List*"]),
            deny(["iam:*PermissionsBoundary", "iam:CreatePolicyVersion"]),
        )

    # --- the account --------------------------------------------------------------------

    def build(self) -> dict[str, Any]:
        rng = self.rng
        policies = []
        customer = []
        for i in range(self.n_policies):
            team = TEAMS[i % len(TEAMS)]
            name = f"{team}-policy-{i:05d}"
            policies.append(self._managed(arn("policy", name), name, self.policy_document(i)))
            customer.append(arn("policy", name))
        boundaries = []
        for i in range(20):
            name = f"boundary-{i:02d}"
            policies.append(
                self._managed(arn("policy", name, "/boundaries/"), name, self.boundary_document(i))
            )
            boundaries.append(arn("policy", name, "/boundaries/"))
        aws_managed = {
            "AdministratorAccess": doc(allow("*")),
            "PowerUserAccess": doc(
                {"Effect": "Allow", "NotAction": ["iam:*", "organizations:*"], "Resource": "*"},
                allow(["iam:CreateServiceLinkedRole", "iam:ListRoles"]),
            ),
            "ReadOnlyAccess": doc(
                allow([f"{s}:{v}*" for s in SERVICES for v in ("Get", "List", "Describe")])
            ),
            "IAMUserChangePassword": doc(
                allow("iam:ChangePassword", arn("user", "${aws:username}")),
                allow("iam:GetAccountPasswordPolicy"),
            ),
        }
        for name, document in aws_managed.items():
            policies.append(self._managed(f"arn:aws:iam::aws:policy/{name}", name, document))

        groups = []
        group_names = []
        for i in range(60):
            name = f"{TEAMS[i % len(TEAMS)]}-group-{i:02d}"
            group_names.append(name)
            attached = rng.sample(customer, rng.randint(2, 6))
            if i == 0:
                attached = ["arn:aws:iam::aws:policy/AdministratorAccess"]
            elif i % 15 == 1:
                attached.append("arn:aws:iam::aws:policy/PowerUserAccess")
            inline = []
            if rng.random() < 0.3:
                inline.append(
                    {
                        "PolicyName": "extra",
                        "PolicyDocument": self.policy_document(rng.randrange(10**6)),
                    }
                )
            groups.append(
                {
                    "Path": "/",
                    "GroupName": name,
                    "GroupId": f"AGPA{i:017d}",
                    "Arn": arn("group", name),
                    "CreateDate": CREATED,
                    "GroupPolicyList": inline,
                    "AttachedManagedPolicies": [self._attachment(p) for p in attached],
                }
            )

        users = []
        for i, name in enumerate(self.user_names):
            in_groups = rng.sample(group_names[1:], rng.randint(1, 3))
            if i % 100 == 0:
                in_groups.append(group_names[0])  # admins
            attached = ["arn:aws:iam::aws:policy/IAMUserChangePassword"]
            if rng.random() < 0.15:
                attached += rng.sample(customer, rng.randint(1, 2))
            inline = []
            if rng.random() < 0.10:
                inline.append(
                    {
                        "PolicyName": "personal",
                        "PolicyDocument": self.policy_document(rng.randrange(10**6)),
                    }
                )
            user: dict[str, Any] = {
                "Path": "/staff/",
                "UserName": name,
                "UserId": f"AIDA{i:017d}",
                "Arn": arn("user", name, "/staff/"),
                "CreateDate": CREATED,
                "UserPolicyList": inline,
                "GroupList": in_groups,
                "AttachedManagedPolicies": [self._attachment(p) for p in attached],
                "Tags": [{"Key": "employee_id", "Value": f"E{i:05d}"}],
            }
            if rng.random() < 0.10:
                user["PermissionsBoundary"] = {
                    "PermissionsBoundaryType": "Policy",
                    "PermissionsBoundaryArn": rng.choice(boundaries),
                }
            users.append(user)

        roles = []
        for i, name in enumerate(self.role_names):
            attached = rng.sample(customer, rng.randint(1, 4))
            admin = name.startswith("admin-") and i % 5 == 4
            if admin:
                attached.append("arn:aws:iam::aws:policy/AdministratorAccess")
            inline = []
            if rng.random() < 0.3:
                inline.append(
                    {
                        "PolicyName": "inline",
                        "PolicyDocument": self.policy_document(rng.randrange(10**6)),
                    }
                )
            role: dict[str, Any] = {
                "Path": "/",
                "RoleName": name,
                "RoleId": f"AROA{i:017d}",
                "Arn": arn("role", name),
                "CreateDate": CREATED,
                "AssumeRolePolicyDocument": self.trust(i, admin),
                "InstanceProfileList": [],
                "RolePolicyList": inline,
                "AttachedManagedPolicies": [self._attachment(p) for p in attached],
                "Tags": [],
                "RoleLastUsed": {},
            }
            if rng.random() < 0.10:
                role["PermissionsBoundary"] = {
                    "PermissionsBoundaryType": "Policy",
                    "PermissionsBoundaryArn": rng.choice(boundaries),
                }
            roles.append(role)
        return {
            "UserDetailList": users,
            "GroupDetailList": groups,
            "RoleDetailList": roles,
            "Policies": policies,
        }

    def trust(self, i: int, admin: bool = False) -> dict[str, Any]:
        rng = self.rng
        kind = rng.random()
        if admin:  # administrators: a few named people, or the account with MFA
            kind = 0.6 if kind < 0.7 else 0.85
        principal: dict[str, Any]
        condition: dict[str, Any] | None = None
        if kind < 0.55:
            principal = {"Service": rng.choice(TRUSTED_SERVICES)}
        elif kind < 0.80:
            named = [arn("user", rng.choice(self.user_names), "/staff/") for _ in range(3)]
            named.append(arn("role", rng.choice(self.role_names)))
            principal = {"AWS": named}
        elif kind < 0.95:
            principal = {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
            if admin or rng.random() < 0.5:
                condition = MFA
        else:
            principal = {"Federated": f"arn:aws:iam::{ACCOUNT}:saml-provider/okta"}
        statement: dict[str, Any] = {
            "Effect": "Allow",
            "Principal": principal,
            "Action": "sts:AssumeRoleWithSAML" if "Federated" in principal else "sts:AssumeRole",
        }
        if condition:
            statement["Condition"] = condition
        return doc(statement)

    @staticmethod
    def _managed(policy_arn: str, name: str, document: dict[str, Any]) -> dict[str, Any]:
        return {
            "PolicyName": name,
            "PolicyId": "ANPA" + str(abs(hash(policy_arn)))[:17],
            "Arn": policy_arn,
            "Path": policy_arn.split(":policy", 1)[1].rsplit("/", 1)[0] + "/",
            "DefaultVersionId": "v1",
            "AttachmentCount": 1,
            "PermissionsBoundaryUsageCount": 0,
            "IsAttachable": True,
            "CreateDate": CREATED,
            "UpdateDate": CREATED,
            "PolicyVersionList": [
                {
                    "Document": document,
                    "VersionId": "v1",
                    "IsDefaultVersion": True,
                    "CreateDate": CREATED,
                }
            ],
        }

    @staticmethod
    def _attachment(policy_arn: str) -> dict[str, str]:
        return {"PolicyName": policy_arn.rsplit("/", 1)[-1], "PolicyArn": policy_arn}


def credential_report(details: dict[str, Any]) -> dict[str, Any]:
    from iam_gov.samplegen.files import REPORT_COLUMNS

    header = REPORT_COLUMNS
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    # IAM always writes the root user first; without it the snapshot is incomplete.
    root = dict.fromkeys(header, "N/A")
    root.update(
        {
            "user": "<root_account>",
            "arn": f"arn:aws:iam::{ACCOUNT}:root",
            "user_creation_time": CREATED,
            "password_enabled": "not_supported",
            "password_last_used": "2026-01-10T08:00:00+00:00",
            "password_last_changed": "not_supported",
            "password_next_rotation": "not_supported",
            "mfa_active": "true",
        }
    )
    root.update({c: "false" for c in header if c.endswith("_active") and c != "mfa_active"})
    writer.writerow([root[column] for column in header])
    for i, user in enumerate(details["UserDetailList"]):
        console = i % 3 != 0
        row = {
            "user": user["UserName"],
            "arn": user["Arn"],
            "user_creation_time": CREATED,
            "password_enabled": "true" if console else "false",
            "password_last_used": "2026-02-01T09:00:00+00:00" if console else "N/A",
            "password_last_changed": CREATED if console else "N/A",
            "password_next_rotation": "N/A",
            "mfa_active": "true" if i % 4 else "false",
        }
        for n in (1, 2):
            row.update(
                {
                    f"access_key_{n}_active": "false",
                    f"access_key_{n}_last_rotated": "N/A",
                    f"access_key_{n}_last_used_date": "N/A",
                    f"access_key_{n}_last_used_region": "N/A",
                    f"access_key_{n}_last_used_service": "N/A",
                    f"cert_{n}_active": "false",
                    f"cert_{n}_last_rotated": "N/A",
                }
            )
        writer.writerow([row[column] for column in header])
    return {
        "Content": base64.b64encode(out.getvalue().encode()).decode("ascii"),
        "ReportFormat": "text/csv",
        "GeneratedTime": "2026-03-01T12:00:00+00:00",
    }


def run_ours(folder: Path, *, preload: bool = True) -> tuple[float, dict[str, int]]:
    """Read, index and analyse every principal in this process; the time excludes imports
    and (with ``preload``) the action catalogue's load."""
    from iam_gov.aws_policy import AwsAccount
    from iam_gov.aws_policy.catalog import default_catalog
    from iam_gov.connectors.aws.connector import AWSConnector, AWSOptions
    from iam_gov.engine.state import view_of_snapshot
    from iam_gov.gcpause import collector_paused

    if preload:
        default_catalog()  # the action list, loaded once per process
    started = time.perf_counter()
    options = AWSOptions(
        type="aws",
        mode="export",
        authorization_details=folder / "authorization-details.json",
        credential_report=folder / "credential-report.json",
    )
    snapshot = AWSConnector("aws-bench", options).collect()
    view = view_of_snapshot(snapshot)
    account = AwsAccount.from_view(view)
    counts: Counter[str] = Counter()
    # As the AWS rules run it: Python's cyclic collector paused (the analysis makes no cycles).
    with collector_paused():
        for principal in account.principals.values():
            account.effective_permissions(principal)
            if account.is_admin_equivalent(principal) is not None:
                counts["admin-equivalent"] += 1
            paths = account.escalation_paths(principal)
            if paths:
                counts["principals with an escalation path"] += 1
            for path in paths:
                counts[f"  {path.certainty.value}"] += 1
            counts["principals analysed"] += 1
    return time.perf_counter() - started, dict(counts)


def child_env(work: Path) -> dict[str, str]:
    """The environment every timed process runs in (ours and cloudsplaining alike): Python's
    bytecode cached (in ``work``, not beside the sources), as an installed package has it
    even where the shell says ``PYTHONDONTWRITEBYTECODE``; iam-gov's catalogue cache in
    ``work``."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    env["IAM_GOV_CACHE_DIR"] = str(work / "cache")
    return env


def run_ours_process(folder: Path, env: dict[str, str]) -> tuple[float, float, dict[str, int]]:
    """The same work as ``run_ours`` in a new process, timed from its start (interpreter,
    imports, catalogue included), as cloudsplaining is timed. Returns the process's wall
    time, the in-process analysis time and the counts."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, __file__, "--child-ours", str(folder)],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    wall = time.perf_counter() - started
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return wall, float(result["seconds"]), dict(result["counts"])


def run_cloudsplaining(details: Path, out: Path, env: dict[str, str] | None = None) -> float:
    executable = Path(sys.executable).parent / "cloudsplaining"
    if not executable.exists():
        found = shutil.which("cloudsplaining")
        if found is None:
            raise SystemExit("cloudsplaining is not installed: pip install -e '.[bench]'")
        executable = Path(found)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    subprocess.run(
        [str(executable), "scan", "--input-file", str(details), "--output", str(out), "-s"],
        check=True,
        stdout=subprocess.DEVNULL,
        env=env,
    )
    return time.perf_counter() - started


# --- a lab-sized account, the whole command ---------------------------------------------------

LAB = {"users": 60, "roles": 40, "policies": 660}
"""About 100 principals and 0.8 MB of authorization details, like a lab account built to hold
the published escalation paths."""

HR_HEADER = (
    "Employee_ID,Legal_Name,Email_Address,Supervisory_Organization,Business_Title,"
    "Manager_Employee_ID,Worker_Type,Worker_Status,Hire_Date,Termination_Date,Location,"
    "Cost_Center\n"
)


def write_lab(folder: Path, seed: int) -> Path:
    """A configuration with one AWS system (export mode) and a small HR file; returns the
    configuration file."""
    details = Generator(LAB["users"], LAB["roles"], LAB["policies"], seed).build()
    (folder / "aws").mkdir(parents=True, exist_ok=True)
    (folder / "hr").mkdir(exist_ok=True)
    (folder / "aws" / "authorization-details.json").write_text(json.dumps(details, indent=1))
    (folder / "aws" / "credential-report.json").write_text(json.dumps(credential_report(details)))
    rows = []
    for i in range(LAB["users"]):
        left = i % 10 == 9
        rows.append(
            f"E{i:05d},Person {i},user{i:05d}@example.com,Engineering,Engineer,,Employee,"
            f"{'Terminated' if left else 'Active'},2021-01-01,{'2026-01-01' if left else ''},"
            "Berlin,CC-1\n"
        )
    (folder / "hr" / "workers.csv").write_text(HR_HEADER + "".join(rows))
    (folder / "policy.yaml").write_text("version: 1\n")
    config = folder / "iam-gov.toml"
    config.write_text(
        "\n".join(
            [
                "[store]",
                'url = "sqlite:///store.db"',
                "[policy]",
                'path = "policy.yaml"',
                "[drift]",
                'reports_folder = "reports"',
                "[systems.hr]",
                'type = "hr"',
                'path = "hr/workers.csv"',
                'preset = "workday"',
                'exported_at = "2026-11-27T09:00:00Z"',
                "[systems.aws]",
                'type = "aws"',
                'mode = "export"',
                'authorization_details = "aws/authorization-details.json"',
                'credential_report = "aws/credential-report.json"',
                "",
            ]
        )
    )
    return config


def time_command(argv: list[str], env: dict[str, str], runs: int) -> list[float]:
    """Wall times of ``runs`` runs of a command; exit codes 0, 1 (new findings) and 4
    (incomplete) are its answers, anything else a failure."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        times.append(time.perf_counter() - started)
        if done.returncode not in (0, 1, 4):
            raise SystemExit(f"{' '.join(argv)}: exit {done.returncode}\n{done.stderr.decode()}")
    return times


def lab_case(work: Path, env: dict[str, str], seed: int, runs: int) -> float:
    folder = work / "lab"
    folder.mkdir(parents=True, exist_ok=True)
    config = write_lab(folder, seed)
    size = (folder / "aws" / "authorization-details.json").stat().st_size / 1e6
    command = [sys.executable, "-m", "iam_gov", "--config", str(config), "run"]
    first = time_command(command, env, 1)[0]  # creates the store, caches bytecode and catalogue
    times = time_command(command, env, runs)
    best = min(times)
    print(
        f"lab account: {LAB['users']} users, {LAB['roles']} roles, {LAB['policies']} customer "
        f"policies ({size:.2f} MB); `iam-gov run` (collect, evaluate, drift report) with HR"
    )
    print(
        f"    whole command: best of {runs} {best:.2f} s, median "
        f"{sorted(times)[len(times) // 2]:.2f} s (first run, creating the store: {first:.2f} s)"
    )
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--roles", type=int, default=500)
    parser.add_argument("--policies", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--runs", type=int, default=5, help="runs of the lab command")
    parser.add_argument("--skip-cloudsplaining", action="store_true")
    parser.add_argument("--lab-only", action="store_true", help="only the lab-sized command")
    parser.add_argument("--skip-lab", action="store_true")
    parser.add_argument("--keep", type=Path, help="write the generated files here and keep them")
    parser.add_argument("--child-ours", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_ours is not None:
        seconds, counts = run_ours(args.child_ours, preload=False)
        print(json.dumps({"seconds": seconds, "counts": counts}))
        return

    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        env = child_env(Path(tmp))
        if not args.skip_lab:
            lab_case(folder, env, args.seed, args.runs)
        if args.lab_only:
            return
        details = Generator(args.users, args.roles, args.policies, args.seed).build()
        details_path = folder / "authorization-details.json"
        details_path.write_text(json.dumps(details, indent=1))
        (folder / "credential-report.json").write_text(json.dumps(credential_report(details)))
        size = details_path.stat().st_size / 1e6
        print(
            f"account: {args.users:,} users, {args.roles:,} roles, {args.policies:,} customer "
            f"policies, {len(details['GroupDetailList'])} groups ({size:.0f} MB)"
        )

        wall, inside, counts = run_ours_process(folder, env)
        print(f"iam-gov:        {wall:8.2f} s  one process from its start: imports, action")
        print("                             catalogue, read, index, effective permissions,")
        print("                             escalation paths and admin-equivalence for every")
        print(f"                             principal ({inside:.2f} s of it after the imports)")
        for what, n in counts.items():
            print(f"    {what:<40} {n:8,}")
        if args.skip_cloudsplaining:
            return
        theirs = run_cloudsplaining(details_path, folder / "cloudsplaining", env)
        print(f"cloudsplaining: {theirs:8.2f} s  (cloudsplaining scan on the same file)")
        print(f"ratio:          {theirs / wall:8.1f} x faster, both timed as whole processes")


if __name__ == "__main__":
    main()
