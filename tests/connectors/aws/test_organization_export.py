"""An AWS Organization read offline from the folder of the AWS CLI's outputs (written here
by ``iam-gov export`` of moto's organization): an account listed without its folder is
uncollected, never empty; a damaged or missing file stops the collect naming it (the CLI's
exit 5, the previous snapshot kept); AWS managed policies are one entitlement for every
account; a single account still names its account."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from iam_gov.connectors.aws.connector import AWSConnector, AWSOptions
from iam_gov.errors import SourceError
from iam_gov.model import SystemSnapshot
from tests.support.moto_org import (
    EXTERNAL_ID,
    MotoOrganization,
    build_organization,
    faithful_assume_role,
)
from tests.support.unavailable import unavailable

from .conftest import NOW, _reset

READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"


@pytest.fixture(scope="module")
def exported(
    moto_server: str, aws_env: None, tmp_path_factory: pytest.TempPathFactory
) -> tuple[MotoOrganization, Path]:
    """moto's organization, exported once; each test works on its own copy."""
    _reset(moto_server)
    org = build_organization(moto_server)
    out = tmp_path_factory.mktemp("org-export")
    options = AWSOptions.model_validate(
        {
            "type": "aws",
            "mode": "live",
            "endpoint_url": moto_server,
            "organization": True,
            "external_id": EXTERNAL_ID,
            "identity_center": False,
            "access_advisor": False,
        }
    )
    with faithful_assume_role():
        written = AWSConnector(
            "aws-org", options, clock=lambda: NOW, session=boto3.Session()
        ).write_export(out)
    assert not written.problems
    return org, out


@pytest.fixture
def folder(exported: tuple[MotoOrganization, Path], tmp_path: Path) -> Path:
    copy = tmp_path / "org"
    shutil.copytree(exported[1], copy)
    return copy


def collect(folder: Path) -> SystemSnapshot:
    options = AWSOptions.model_validate(
        {"type": "aws", "mode": "export", "organization_folder": folder}
    )
    return AWSConnector("aws-org", options, clock=lambda: NOW).collect()


def account_ids(snapshot: SystemSnapshot) -> set[str]:
    return {a.attributes["aws_account_id"] for a in snapshot.accounts}


def test_an_account_without_its_folder_is_uncollected_not_empty(
    exported: tuple[MotoOrganization, Path], folder: Path
) -> None:
    """dev's folder is gone: one error naming the account and the missing file, collected
    false, the snapshot incomplete; the three other accounts are read."""
    org = exported[0]
    dev = org.accounts["dev"]
    shutil.rmtree(folder / "accounts" / dev)
    snapshot = collect(folder)
    assert not snapshot.complete
    [error] = snapshot.errors
    assert error.source == f"account {dev} (dev)"
    assert "authorization-details.json is missing" in error.message
    assert error.consequence and "unknown" in error.consequence
    assert account_ids(snapshot) == set(org.accounts.values()) - {dev}
    accounts = snapshot.settings["organization"]["accounts"]
    assert accounts[dev]["collected"] is False
    assert accounts[dev]["parents"] == [org.units["Workloads"], org.root_id]
    assert dev not in snapshot.settings["password_policies"]


@pytest.mark.parametrize(
    "damage",
    ["account details", "list-accounts", "scp content", "children", "targets"],
)
def test_a_damaged_or_missing_file_is_a_source_error_naming_it(
    exported: tuple[MotoOrganization, Path], folder: Path, damage: str
) -> None:
    """Cut JSON, a policy whose Content is not JSON, an OU listing or a targets file gone:
    the collect stops, and the message names the file."""
    org = exported[0]
    scp_id = org.scps["OnlyS3"].rsplit("/", 1)[-1]
    if damage == "account details":
        path = folder / "accounts" / org.accounts["prod"] / "authorization-details.json"
        path.write_text(path.read_text()[:200])
    elif damage == "list-accounts":
        path = folder / "organizations" / "list-accounts.json"
        path.write_text('{"Accounts": [')
    elif damage == "scp content":
        path = folder / "organizations" / "policies" / f"{scp_id}.json"
        described = json.loads(path.read_text())
        described["Policy"]["Content"] = '{"Statement": ['
        path.write_text(json.dumps(described))
    elif damage == "children":
        path = folder / "organizations" / "children" / f"{org.units['Production']}.json"
        path.unlink()
    else:
        path = folder / "organizations" / "targets" / f"{scp_id}.json"
        path.unlink()
    with pytest.raises(SourceError) as caught:
        collect(folder)
    assert str(path) in str(caught.value)


def test_aws_managed_policies_are_one_entitlement_for_every_account(
    exported: tuple[MotoOrganization, Path], folder: Path
) -> None:
    """ReadOnlyAccess attached in two accounts (each export listing it, as IAM does): one
    entitlement and one document, held by a principal of each account."""
    org = exported[0]
    holders = []
    for name in ("prod", "sandbox"):
        path = folder / "accounts" / org.accounts[name] / "authorization-details.json"
        details = json.loads(path.read_text())
        user = next(u for u in details["UserDetailList"] if u["UserName"] == f"{name}-alice")
        user["AttachedManagedPolicies"].append(
            {"PolicyName": "ReadOnlyAccess", "PolicyArn": READ_ONLY}
        )
        details["Policies"].append(
            {
                "PolicyName": "ReadOnlyAccess",
                "Arn": READ_ONLY,
                "DefaultVersionId": "v1",
                "PolicyVersionList": [
                    {
                        "VersionId": "v1",
                        "IsDefaultVersion": True,
                        "Document": {
                            "Version": "2012-10-17",
                            "Statement": [
                                {"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}
                            ],
                        },
                    }
                ],
            }
        )
        path.write_text(json.dumps(details))
        holders.append(user["Arn"])
    snapshot = collect(folder)
    assert [e.entitlement_id for e in snapshot.entitlements].count(READ_ONLY) == 1
    assert [d.document_id for d in snapshot.documents].count(READ_ONLY) == 1
    got = sorted(g.account_id for g in snapshot.grants if g.entitlement_id == READ_ONLY)
    assert got == sorted(holders)


def test_a_single_account_export_names_its_account_by_id(tmp_path: Path) -> None:
    """Without an organization, principals carry the account id from their ARN, and the id
    again as the account's name; settings stay a single account's."""
    details = {
        "UserDetailList": [
            {"UserName": "solo", "UserId": "AIDA1", "Arn": "arn:aws:iam::444455556666:user/solo"}
        ],
        "RoleDetailList": [],
        "GroupDetailList": [],
        "Policies": [],
    }
    (tmp_path / "details.json").write_text(json.dumps(details))
    options = AWSOptions.model_validate(
        {
            "type": "aws",
            "mode": "export",
            "authorization_details": tmp_path / "details.json",
            "exported_at": NOW.isoformat(),
        }
    )
    snapshot = AWSConnector("aws", options, clock=lambda: NOW).collect()
    [solo] = snapshot.accounts
    assert solo.attributes["aws_account_id"] == "444455556666"
    assert solo.attributes["aws_account_name"] == "444455556666"
    assert "organization" not in snapshot.settings
    assert snapshot.settings["account_id"] == "444455556666"


def test_the_cli_exits_5_naming_the_damaged_file(
    exported: tuple[MotoOrganization, Path], folder: Path, tmp_path: Path
) -> None:
    """``iam-gov collect`` of a damaged organization folder: exit 5 (a system not
    collected), one line naming the file, no traceback."""
    path = folder / "organizations" / "describe-organization.json"
    path.write_text("{not json")
    (tmp_path / "policy.yaml").write_text("roles: []\n")
    config = tmp_path / "iam-gov.toml"
    config.write_text(
        '[policy]\npath = "policy.yaml"\n\n[systems.aws-org]\ntype = "aws"\nmode = "export"\n'
        f"organization_folder = {json.dumps(str(folder))}\n"
    )
    env = {**os.environ, "IAM_GOV_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}"}
    env.pop("IAM_GOV_CONFIG", None)
    result = subprocess.run(
        [sys.executable, "-m", "iam_gov", "--config", str(config), "collect"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 5, result.stderr
    assert "Traceback" not in result.stderr
    assert "describe-organization.json" in result.stderr


@pytest.mark.slow
def test_the_sample_script_writes_what_a_live_collect_reads(
    exported: tuple[MotoOrganization, Path], tmp_path: Path
) -> None:
    """``samples/aws-org-export.sh`` run with the real AWS CLI against moto: its folder reads
    back into the organization ``iam-gov export`` wrote (principals, grants, SCPs, tree)."""
    aws = shutil.which("aws")
    if aws is None:
        unavailable("the AWS CLI (aws) is not installed")
    org, ours = exported
    script = Path(__file__).parents[3] / "samples" / "aws-org-export.sh"
    env = {**os.environ, "AWS_ENDPOINT_URL": org.endpoint, "AWS_PAGER": ""}
    with faithful_assume_role():
        result = subprocess.run(
            ["bash", str(script), str(tmp_path / "cli"), "iam-gov-read", EXTERNAL_ID],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
            check=False,
        )
    assert result.returncode == 0, result.stderr[-2000:]
    by_cli, by_us = collect(tmp_path / "cli"), collect(ours)
    assert by_cli.complete, by_cli.errors
    assert {a.native_id for a in by_cli.accounts} == {a.native_id for a in by_us.accounts}
    assert by_cli.grants == by_us.grants
    assert [d for d in by_cli.documents if d.kind == "scp"] == [
        d for d in by_us.documents if d.kind == "scp"
    ]
    assert by_cli.settings["organization"] == by_us.settings["organization"]
