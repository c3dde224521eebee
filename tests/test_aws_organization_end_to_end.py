"""An AWS Organization end to end, as a user runs it: moto's server holds an organization
(accounts, OUs, SCPs, IAM Identity Center; ``tests/support/moto_org_scenario.py``), and the
real ``iam-gov`` command collects it live, evaluates it with an HR file, exports it, and
evaluates the export again; a member account that refuses iam-gov's role leaves the run
incomplete without resolving what was found in that account before."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.connectors.aws.conftest import _reset, aws_env, moto_server
from tests.support.aws_account import allow, document
from tests.support.aws_org import ADMIN_POLICY, DEV, PROD, Org
from tests.support.moto_identity_center import faithful_identity_center
from tests.support.moto_org import EXTERNAL_ID, MEMBER_ROLE, faithful_assume_role, member_trust
from tests.support.moto_org_scenario import HR_CSV, OUTSIDE, Scenario, build_scenario

__all__ = ["aws_env", "moto_server"]  # the AWS connector tests' fixtures, used here too

pytestmark = pytest.mark.filterwarnings(
    "ignore:Exception\\(STSClientError\\) with code AccessDenied:UserWarning"
)

EXIT_FINDINGS, EXIT_INCOMPLETE = 1, 4
Finding = dict[str, Any]


def iam_gov(*args: str, config: Path) -> subprocess.CompletedProcess[str]:
    """The installed command, as a user runs it (the store is the config's)."""
    env = {**os.environ, "COLUMNS": "400"}
    for name in ("IAM_GOV_CONFIG", "IAM_GOV_DATABASE_URL"):
        env.pop(name, None)
    return subprocess.run(
        [sys.executable, "-m", "iam_gov", "--config", str(config), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )


def write_config(folder: Path, aws: str) -> Path:
    """iam-gov.toml in ``folder``: the HR file, an empty policy, the store beside it and the
    AWS system's table ``aws``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "hr.csv").write_text(HR_CSV, encoding="utf-8")
    (folder / "policy.yaml").write_text("version: 1\n", encoding="utf-8")
    config = folder / "iam-gov.toml"
    config.write_text(
        f'[store]\nurl = "sqlite:///{folder}/iam-gov.db"\n\n'
        '[policy]\npath = "policy.yaml"\n\n'
        f'[drift]\nreports_folder = "reports"\n\n'
        '[systems.hr]\ntype = "hr"\npath = "hr.csv"\n\n'
        f"[systems.aws]\n{aws}",
        encoding="utf-8",
    )
    return config


def live_table(endpoint: str) -> str:
    return (
        'type = "aws"\nmode = "live"\norganization = true\n'
        f'endpoint_url = "{endpoint}"\nexternal_id = "{EXTERNAL_ID}"\naccess_advisor = false\n'
    )


def findings_of(config: Path) -> list[Finding]:
    result = iam_gov("findings", "--format", "json", config=config)
    assert result.returncode == 0, result.stderr
    found: list[Finding] = json.loads(result.stdout)
    return found


@dataclass
class Runs:
    scenario: Scenario
    live: Path
    """The live configuration, run once."""
    live_run: subprocess.CompletedProcess[str]
    live_findings: list[Finding]
    offline: Path
    """The configuration reading the export of the live system, run once."""
    offline_run: subprocess.CompletedProcess[str]
    offline_findings: list[Finding]


@pytest.fixture(scope="module")
def scenario(moto_server: str, aws_env: None) -> Iterator[Scenario]:
    """The organization, built once (tests that change it put it back)."""
    _reset(moto_server)
    with faithful_assume_role(), faithful_identity_center():
        yield build_scenario(moto_server, boto3.Session())


@pytest.fixture(scope="module")
def runs(scenario: Scenario, tmp_path_factory: pytest.TempPathFactory) -> Runs:
    """`iam-gov run` live; `iam-gov export aws`; `iam-gov run` on the export (its own store)."""
    live = write_config(tmp_path_factory.mktemp("live"), live_table(scenario.org.endpoint))
    live_run = iam_gov("run", config=live)
    export = tmp_path_factory.mktemp("export") / "aws"
    exported = iam_gov("export", "aws", "--out", str(export), config=live)
    assert exported.returncode == 0, exported.stdout + exported.stderr
    # the table the export wrote (its folder relative to it), pointed at the folder
    (table,) = tomllib.loads((export / "iam-gov-export.toml").read_text())["systems"].values()
    assert table["organization_folder"] == "."
    table["organization_folder"] = str(export)
    lines = "".join(f"{key} = {json.dumps(value)}\n" for key, value in table.items())
    offline = write_config(tmp_path_factory.mktemp("offline"), lines)
    offline_run = iam_gov("run", config=offline)
    return Runs(
        scenario,
        live,
        live_run,
        findings_of(live),
        offline,
        offline_run,
        findings_of(offline),
    )


def _about(findings: list[Finding], rule: str, arn: str) -> list[Finding]:
    """The findings of ``rule`` that list the principal ``arn``."""
    return [
        f
        for f in findings
        if f["rule_id"] == rule
        and (
            f["evidence"].get("principal_arn") == arn
            or arn in {p["arn"] for p in f["evidence"].get("principals", [])}
            or f["evidence"].get("role") == arn
        )
    ]


def test_a_user_of_dev_is_admin_in_prod_through_a_role_that_trusts_her(runs: Runs) -> None:
    """dev's ci can assume prod's admin role deployer: one admin-equivalent finding, placed
    in prod (where the role is fixed), naming ci's own account and the chain dev → prod."""
    s = runs.scenario
    assert runs.live_run.returncode == EXIT_FINDINGS, runs.live_run.stderr
    [found] = _about(runs.live_findings, "aws-admin-equivalent", s.ci)
    evidence = found["evidence"]
    assert evidence["method"] == "sts-assume-role"
    assert (evidence["aws_account_id"], evidence["aws_account_name"]) == (s.prod, "prod")
    [who] = evidence["principals"]
    assert who["chain"] == [s.ci, s.deployer]
    assert found["message"].startswith(f"aws user ci in account dev ({s.dev}) ")
    assert f"role/deployer is in account prod ({s.prod})" in found["message"]
    # the role itself is admin, in prod
    [role] = _about(runs.live_findings, "aws-admin-equivalent", s.deployer)
    assert role["evidence"]["aws_account_id"] == s.prod
    assert f"in account prod ({s.prod})" in role["message"]


def test_an_scp_fences_the_sandbox_admin_but_not_the_management_one(runs: Runs) -> None:
    """The same admin policy in sandbox (only S3 allowed by SCP) and in the management
    account (exempt): only the latter is admin-equivalent; both are active users (each is an
    orphan finding), so the difference is the SCP's."""
    s = runs.scenario
    assert _about(runs.live_findings, "aws-admin-equivalent", s.sandbox_admin) == []
    [admin] = _about(runs.live_findings, "aws-admin-equivalent", s.management_admin)
    assert admin["evidence"]["aws_account_id"] == s.org.accounts["management"]
    orphans = {f["subject"] for f in runs.live_findings if f["rule_id"] == "orphan-account"}
    assert {f"aws:{s.sandbox_admin}", f"aws:{s.management_admin}"} <= orphans


def test_a_role_trusting_an_outside_account_is_external_access(runs: Runs) -> None:
    """prod's vendor-audit trusts 999999999999, outside the organization: one finding naming
    the role's account and the outside account; no role trusting only accounts of the
    organization (the member roles trust the management account) is reported."""
    s = runs.scenario
    external = [f for f in runs.live_findings if f["rule_id"] == "aws-external-access"]
    [found] = external
    assert found["evidence"]["role"] == s.vendor_role
    assert (found["evidence"]["aws_account_id"], found["evidence"]["aws_account_name"]) == (
        s.prod,
        "prod",
    )
    assert OUTSIDE in found["message"] and f"in account prod ({s.prod})" in found["message"]


def test_a_leaver_in_a_group_with_an_admin_permission_set(runs: Runs) -> None:
    """Lena left but is still in Platform, which holds permission set Admin in prod: a
    leaver finding naming the permission set and the account; `explain` says what she can
    act as, where, through which group and permission set. Sam, who stays, has none."""
    s = runs.scenario
    [leaver] = [f for f in runs.live_findings if f["rule_id"] == "leaver-active-access"]
    assert leaver["person_id"] == "E1"
    assert f"permission set Admin in prod ({s.prod})" in leaver["message"]
    assert leaver["evidence"]["permission_sets"] == [f"Admin in prod ({s.prod})"]
    explained = iam_gov("explain", "E1", config=runs.live)
    assert explained.returncode == 0, explained.stderr
    text = " ".join(explained.stdout.split())
    assert (
        f"can act as AdministratorAccess in account prod ({s.prod}) via group Platform → "
        "permission set Admin (admin-equivalent)"
    ) in text


def _comparable(findings: list[Finding]) -> list[tuple[str, str, str, str, str]]:
    return sorted(
        (f["rule_id"], f["subject"], f["severity"], f["message"], json.dumps(f["evidence"]))
        for f in findings
    )


def test_the_export_of_the_organization_gives_the_same_findings(runs: Runs) -> None:
    """`iam-gov export aws` then `run` on a config reading the folder: the same findings
    (rule, subject, severity, message, evidence) and the same exit code as live."""
    assert runs.offline_run.returncode == runs.live_run.returncode, runs.offline_run.stderr
    assert len(runs.live_findings) >= 10
    offline, live = _comparable(runs.offline_findings), _comparable(runs.live_findings)
    assert offline == live, (set(offline) - set(live), set(live) - set(offline))


def test_an_account_refusing_the_role_leaves_the_run_incomplete_and_its_findings_open(
    runs: Runs, tmp_path: Path
) -> None:
    """The run after the first, with prod's member role asking for another external id: exit
    4 (incomplete), the account named; the first run's findings in prod stay open, not
    resolved, while the other accounts are still read."""
    s = runs.scenario
    folder = tmp_path / "again"
    shutil.copytree(runs.live.parent, folder)
    config = write_config(folder, live_table(s.org.endpoint))
    before = {f["finding_id"]: f for f in findings_of(config)}
    in_prod = {i for i, f in before.items() if f["evidence"].get("aws_account_id") == s.prod}
    assert len(in_prod) >= 3  # deployer admin, ci's chain to it, vendor-audit
    iam = s.org.iam(s.prod)
    iam.update_assume_role_policy(
        RoleName=MEMBER_ROLE, PolicyDocument=json.dumps(member_trust("another-external-id"))
    )
    try:
        again = iam_gov("run", config=config)
    finally:
        iam.update_assume_role_policy(
            RoleName=MEMBER_ROLE, PolicyDocument=json.dumps(member_trust(EXTERNAL_ID))
        )
    assert again.returncode == EXIT_INCOMPLETE, again.stdout + again.stderr
    said = " ".join((again.stdout + again.stderr).split())
    assert f"account {s.prod} (prod)" in said
    after = {f["finding_id"]: f for f in findings_of(config)}
    assert in_prod <= after.keys()
    assert all(after[i]["resolved_at"] is None for i in in_prod)
    # the management account was read again: its admin is still found
    assert _about(list(after.values()), "aws-admin-equivalent", s.management_admin)


def test_granting_to_others_reaches_only_the_grantors_own_account() -> None:
    """IAM writes cannot cross accounts: a helpdesk in dev allowed iam:AttachUserPolicy on
    every account's ``boss`` can make dev's boss an admin, and the finding names only that
    one, never prod's (an account it cannot write to)."""
    org = Org()
    dev_boss = org.user(DEV, "boss", policies=[ADMIN_POLICY]).native_id
    prod_boss = org.user(PROD, "boss", policies=[ADMIN_POLICY]).native_id
    helpdesk = org.managed(
        f"arn:aws:iam::{DEV}:policy/helpdesk",
        document(allow("iam:AttachUserPolicy", Resource="arn:aws:iam::*:user/boss")),
    )
    org.user(DEV, "helpdesk", policies=[helpdesk])
    [found] = org.world().findings("aws-grant-to-others")
    assert found.evidence["admin_targets"] == [dev_boss]
    assert prod_boss not in str(found.evidence)
