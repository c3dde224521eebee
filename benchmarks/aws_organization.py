"""Scale run for an AWS Organization: many accounts, read offline, analysed, every rule run.

    .venv/bin/python benchmarks/aws_organization.py                     # 50 accounts x 1,000
    .venv/bin/python benchmarks/aws_organization.py --accounts 5 --principals 200
    .venv/bin/python benchmarks/aws_organization.py --keep .bench/org   # keep the folder

Generates an organization in the offline layout the AWS connector reads (``mode = "export"``,
``organization_folder``: the AWS CLI's own outputs, see the README): Organizations (root, OUs,
accounts, service control policies and their targets) and, per account,
``get-account-authorization-details`` and a credential report. Each account is built like
``benchmarks/aws_analysis.py`` builds one (users in groups, roles trusted by services, people
and the account, customer-managed policies with wildcards, NotAction, conditions, boundaries,
Denies, planted escalation paths), with its own ids, plus ``OrganizationAccountAccessRole``
(AdministratorAccess, trusted by the management account) as Organizations creates it.

Then, in a child process from its start (imports and the action catalogue included): collect
the folder through the connector, load the snapshot as the engine does, and run every rule.
Prints the wall time, the peak RSS of that process, and the findings per rule. Targets: 50 x
1,000 in at most 60 s and 2 GB.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from aws_analysis import ACCOUNT as TEMPLATE_ACCOUNT  # noqa: E402
from aws_analysis import Generator, credential_report  # noqa: E402

ORG_ID = "o-bench12345"
ROOT_ID = "r-ben1"
MANAGEMENT = "100000000000"
FULL_ACCESS = "p-FullAWSAccess"
OUS = {  # id: (name, parent)
    "ou-ben1-workload": ("Workloads", ROOT_ID),
    "ou-ben1-prodxxxx": ("Production", "ou-ben1-workload"),
    "ou-ben1-stagingx": ("Staging", "ou-ben1-workload"),
    "ou-ben1-sandboxx": ("Sandbox", ROOT_ID),
    "ou-ben1-security": ("Security", ROOT_ID),
}
LEAVES = ("ou-ben1-prodxxxx", "ou-ben1-stagingx", "ou-ben1-sandboxx", "ou-ben1-security")
TEMPLATES = 4
"""Distinct generated accounts; the others are copies with their own account id (each still
analysed on its own: nothing is shared between accounts but AWS-managed policies)."""


def account_id(i: int) -> str:
    return f"{200000000000 + i:012d}"


def policy_arn(policy_id: str) -> str:
    kind = "aws" if policy_id == FULL_ACCESS else MANAGEMENT
    return f"arn:aws:organizations::{kind}:policy/{ORG_ID}/service_control_policy/{policy_id}"


def scps() -> dict[str, tuple[str, dict[str, Any], list[str]]]:
    """Policy id -> (name, document, targets): FullAWSAccess everywhere (as Organizations
    attaches it), and the guard rails companies add."""
    everywhere = [ROOT_ID, *OUS]
    return {
        FULL_ACCESS: (
            "FullAWSAccess",
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
            },
            everywhere,
        ),
        "p-denyleaveorg": (
            "DenyLeaveOrganization",
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Deny", "Action": "organizations:LeaveOrganization", "Resource": "*"}
                ],
            },
            [ROOT_ID],
        ),
        "p-sandboxguard": (
            "SandboxGuardRails",
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Deny",
                        "Action": [
                            "iam:CreateUser",
                            "iam:CreateAccessKey",
                            "iam:CreateLoginProfile",
                        ],
                        "Resource": "*",
                    },
                    {
                        "Effect": "Deny",
                        "NotAction": ["iam:*", "sts:*", "s3:*", "ec2:*", "lambda:*", "logs:*"],
                        "Resource": "*",
                        "Condition": {"StringNotEquals": {"aws:RequestedRegion": "eu-west-1"}},
                    },
                ],
            },
            ["ou-ben1-sandboxx"],
        ),
        "p-protectsec": (
            "ProtectSecurityTooling",
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Deny",
                        "Action": [
                            "cloudtrail:StopLogging",
                            "cloudtrail:DeleteTrail",
                            "guardduty:DeleteDetector",
                            "config:DeleteConfigurationRecorder",
                        ],
                        "Resource": "*",
                    }
                ],
            },
            ["ou-ben1-workload", "ou-ben1-security"],
        ),
    }


def write_json(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=1))


def organization_access_role(member: str) -> dict[str, Any]:
    """The role Organizations creates in every account it creates."""
    return {
        "Path": "/",
        "RoleName": "OrganizationAccountAccessRole",
        "RoleId": f"AROAORG{member}",
        "Arn": f"arn:aws:iam::{member}:role/OrganizationAccountAccessRole",
        "CreateDate": "2025-01-15T10:00:00+00:00",
        "AssumeRolePolicyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{MANAGEMENT}:root"},
                    "Action": "sts:AssumeRole",
                }
            ],
        },
        "InstanceProfileList": [],
        "RolePolicyList": [],
        "AttachedManagedPolicies": [
            {
                "PolicyName": "AdministratorAccess",
                "PolicyArn": "arn:aws:iam::aws:policy/AdministratorAccess",
            }
        ],
        "Tags": [],
        "RoleLastUsed": {},
    }


def generate(folder: Path, accounts: int, principals: int, seed: int) -> dict[str, int]:
    """Write the organization folder; returns what was written."""
    users = max(1, principals * 4 // 5)
    roles = max(1, principals - users)
    policies = max(10, principals * 2 // 5)
    templates: list[tuple[str, str]] = []
    for t in range(min(TEMPLATES, accounts)):
        details = Generator(users, roles, policies, seed + t).build()
        report = credential_report(details)
        templates.append((json.dumps(details, indent=1), json.dumps(report)))

    ids = [MANAGEMENT] + [account_id(i) for i in range(1, accounts)]
    names = {MANAGEMENT: "management"}
    parent_of = {MANAGEMENT: ROOT_ID}
    for i, member in enumerate(ids[1:]):
        leaf = LEAVES[i % len(LEAVES)]
        names[member] = f"{OUS[leaf][0].lower()}-{i:03d}"
        parent_of[member] = leaf

    org = folder / "organizations"
    write_json(
        org / "describe-organization.json",
        {
            "Organization": {
                "Id": ORG_ID,
                "Arn": f"arn:aws:organizations::{MANAGEMENT}:organization/{ORG_ID}",
                "FeatureSet": "ALL",
                "MasterAccountArn": (
                    f"arn:aws:organizations::{MANAGEMENT}:account/{ORG_ID}/{MANAGEMENT}"
                ),
                "MasterAccountId": MANAGEMENT,
                "MasterAccountEmail": "aws-management@example.com",
            }
        },
    )
    write_json(
        org / "list-roots.json",
        {
            "Roots": [
                {
                    "Id": ROOT_ID,
                    "Arn": f"arn:aws:organizations::{MANAGEMENT}:root/{ORG_ID}/{ROOT_ID}",
                    "Name": "Root",
                    "PolicyTypes": [{"Type": "SERVICE_CONTROL_POLICY", "Status": "ENABLED"}],
                }
            ]
        },
    )
    listed = [
        {
            "Id": member,
            "Arn": f"arn:aws:organizations::{MANAGEMENT}:account/{ORG_ID}/{member}",
            "Email": f"aws+{names[member]}@example.com",
            "Name": names[member],
            "Status": "ACTIVE",
            "JoinedMethod": "CREATED",
            "JoinedTimestamp": "2024-03-01T09:00:00+00:00",
        }
        for member in ids
    ]
    write_json(org / "list-accounts.json", {"Accounts": listed})
    by_id = {a["Id"]: a for a in listed}
    for parent in [ROOT_ID, *OUS]:
        units = [
            {"Id": ou, "Arn": f"arn:aws:organizations::{MANAGEMENT}:ou/{ORG_ID}/{ou}", "Name": name}
            for ou, (name, up) in OUS.items()
            if up == parent
        ]
        members = [by_id[m] for m in ids if parent_of[m] == parent]
        write_json(
            org / "children" / f"{parent}.json",
            {"OrganizationalUnits": units, "Accounts": members},
        )
    policies_listed = []
    for policy_id, (name, document, targets) in scps().items():
        summary = {
            "Id": policy_id,
            "Arn": policy_arn(policy_id),
            "Name": name,
            "Description": name,
            "Type": "SERVICE_CONTROL_POLICY",
            "AwsManaged": policy_id == FULL_ACCESS,
        }
        policies_listed.append(summary)
        write_json(
            org / "policies" / f"{policy_id}.json",
            {"Policy": {"PolicySummary": summary, "Content": json.dumps(document)}},
        )
        # FullAWSAccess is attached to every account too, as Organizations does.
        all_targets = targets + (ids if policy_id == FULL_ACCESS else [])
        write_json(
            org / "targets" / f"{policy_id}.json",
            {
                "Targets": [
                    {
                        "TargetId": target,
                        "Arn": f"arn:aws:organizations::{MANAGEMENT}:target/{target}",
                        "Name": names.get(target) or OUS.get(target, ("Root",))[0],
                        "Type": "ACCOUNT"
                        if target.isdigit()
                        else "ROOT"
                        if target == ROOT_ID
                        else "ORGANIZATIONAL_UNIT",
                    }
                    for target in all_targets
                ]
            },
        )
    write_json(org / "list-policies-scp.json", {"Policies": policies_listed})

    size = 0
    for i, member in enumerate(ids):
        details_text, report_text = templates[i % len(templates)]
        details = json.loads(details_text.replace(TEMPLATE_ACCOUNT, member))
        if member != MANAGEMENT:
            details["RoleDetailList"].append(organization_access_role(member))
        where = folder / "accounts" / member
        write_json(where / "authorization-details.json", details)
        report = json.loads(report_text)
        content = base64.b64decode(report["Content"]).decode("utf-8")
        report["Content"] = base64.b64encode(
            content.replace(TEMPLATE_ACCOUNT, member).encode("utf-8")
        ).decode("ascii")
        write_json(where / "credential-report.json", report)
        size += (where / "authorization-details.json").stat().st_size
    return {
        "accounts": accounts,
        "principals per account": users + roles + (1 if accounts > 1 else 0),
        "customer policies per account": policies + 20,
        "MB of authorization details": size // 1_000_000,
    }


# --- the measured run (a child process) -----------------------------------------------------


def analyse(folder: Path) -> dict[str, Any]:
    """Collect the folder through the connector, index it as the engine does, run every rule."""
    from iam_gov.connectors.aws.connector import AWSConnector, AWSOptions
    from iam_gov.engine.state import view_of_snapshot
    from iam_gov.evaluation import run_rules
    from iam_gov.rules import all_rules

    started = time.perf_counter()
    options = AWSOptions(type="aws", mode="export", organization_folder=folder)
    snapshot = AWSConnector("aws-org", options).collect()
    collected = time.perf_counter()
    read = {
        "accounts in the snapshot": len(
            snapshot.settings.get("organization", {}).get("accounts", {})
        ),
        "principals": len(snapshot.accounts),
        "complete": snapshot.complete,
    }
    view = view_of_snapshot(snapshot)
    # The snapshot as collected is let go, as ``iam-gov run`` does once it is stored: the
    # evaluation works on the view.
    del snapshot
    state = _state(view, folder)
    findings, _skipped = run_rules(state, all_rules())
    done = time.perf_counter()
    per_rule = Counter(f.rule_id for f in findings)
    return {
        **read,
        "collect s": round(collected - started, 2),
        "analysis and rules s": round(done - collected, 2),
        "findings": dict(sorted(per_rule.items())),
    }


def _state(view: Any, folder: Path) -> Any:
    """The evaluation state of this one system, as the engine builds it: an empty policy
    (every rule on, its defaults), correlation against an HR snapshot of nobody."""
    from iam_gov.config import CorrelationSettings
    from iam_gov.correlate import Overrides, correlate
    from iam_gov.engine.state import EvaluationState
    from iam_gov.policy import load_policy
    from iam_gov.rules import all_rules
    from iam_gov.store.snapshots import SnapshotInfo

    policy_path = folder.parent / "policy.yaml"
    policy_path.write_text("version: 1\n", encoding="utf-8")
    policy = load_policy(policy_path, rules=all_rules())
    links = correlate([], view.accounts.values(), CorrelationSettings(), policy, Overrides.empty())
    hr = SnapshotInfo(
        id=0,
        system="hr",
        connector="hr",
        source="none",
        collected_at=view.info.collected_at,
        stored_at=view.info.collected_at,
        complete=True,
        errors=(),
        counts={"people": 0},
    )
    return EvaluationState(
        policy=policy,
        hr=hr,
        people={},
        systems={view.name: view},
        links=links,
        evaluated_at=view.info.collected_at,
    )


def child(folder: Path) -> None:
    from iam_gov.cli import _collector_for_a_command

    with _collector_for_a_command():  # the garbage collector as the CLI sets it
        result = analyse(folder)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result["peak RSS MB"] = peak_kb // 1024
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=50)
    parser.add_argument("--principals", type=int, default=1000, help="per account")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="write the folder here and keep it")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child)
        return
    if args.accounts < 1 or args.principals < 2:
        parser.error("at least one account of two principals")

    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp) / "organization"
        folder.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        written = generate(folder, args.accounts, args.principals, args.seed)
        print(
            f"generated in {time.perf_counter() - started:.1f} s: "
            + ", ".join(f"{v:,} {k}" for k, v in written.items())
        )
        env = dict(os.environ)
        env.setdefault("IAM_GOV_CACHE_DIR", str(Path(tmp) / "cache"))
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, __file__, "--child", str(folder)],
            check=True,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        wall = time.perf_counter() - started
        peak_children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024
        result = json.loads(done.stdout.strip().splitlines()[-1])
    findings = result.pop("findings")
    print(
        f"iam-gov, one process from its start (collect, index, every rule): {wall:.1f} s wall, "
        f"peak RSS {peak_children:,} MB (target: 60 s, 2,048 MB)"
    )
    for what, value in result.items():
        print(f"    {what:<40} {value}")
    print("findings per rule:")
    for rule_id, n in findings.items():
        print(f"    {rule_id:<40} {n:8,}")


if __name__ == "__main__":
    main()
