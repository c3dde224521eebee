"""A live collect of an AWS Organization from moto's server: every account read (the
management account with the credential, the members through their read-only role and external
id), the OU tree, the service control policies and their targets; one account that refuses
the role is uncollected, said so, while the others are read; ``iam-gov export`` of it reads
back into the same snapshot."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from iam_gov.connectors.aws.connector import AWSConnector, AWSOptions
from iam_gov.model import SystemSnapshot
from tests.support.moto_identity_center import (
    build_identity_center,
    faithful_identity_center,
)
from tests.support.moto_org import (
    EXTERNAL_ID,
    MANAGEMENT,
    MEMBER_ROLE,
    REGION,
    MotoOrganization,
    build_organization,
    faithful_assume_role,
    member_trust,
)

from .conftest import NOW, _reset

# moto's serializer warns that STS's model has no AccessDenied shape (a common error AWS
# answers for every service); the answer botocore gets is AWS's all the same.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Exception\\(STSClientError\\) with code AccessDenied:UserWarning"
)


@pytest.fixture(scope="module")
def org(moto_server: str, aws_env: None) -> Iterator[MotoOrganization]:
    """The organization, built once: tests that change it put it back."""
    _reset(moto_server)
    built = build_organization(moto_server)
    with faithful_assume_role(), faithful_identity_center():
        build_identity_center(boto3.Session(), moto_server, REGION)
        yield built


@pytest.fixture(scope="module")
def session(aws_env: None) -> boto3.Session:
    return boto3.Session()


def connector(org: MotoOrganization, session: boto3.Session, **extra: Any) -> AWSConnector:
    options = AWSOptions.model_validate(
        {
            "type": "aws",
            "mode": "live",
            "endpoint_url": org.endpoint,
            "organization": True,
            "external_id": EXTERNAL_ID,
            "identity_center": False,
            "access_advisor": False,
            **extra,
        }
    )
    return AWSConnector("aws-org", options, clock=lambda: NOW, session=session)


@pytest.fixture(scope="module")
def snapshot(org: MotoOrganization, session: boto3.Session) -> SystemSnapshot:
    return connector(org, session).collect()


def by_account(snapshot: SystemSnapshot) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for account in snapshot.accounts:
        if account.native_id.startswith("arn:"):  # IAM principals, not Identity Store users
            found.setdefault(account.attributes["aws_account_id"], set()).add(account.login)
    return found


def test_every_account_is_read_and_each_principal_names_its_account(
    org: MotoOrganization, snapshot: SystemSnapshot
) -> None:
    """Users, roles and root of all four accounts are in one snapshot, each principal with
    the account id of its ARN and the account's name in Organizations."""
    assert snapshot.complete, snapshot.errors
    logins = by_account(snapshot)
    assert set(logins) == set(org.accounts.values())
    for name, account_id in org.accounts.items():
        prefix = "mgmt" if account_id == MANAGEMENT else name
        assert {f"{prefix}-alice", f"{prefix}-admin", f"{prefix}-deploy", "root"} <= logins[
            account_id
        ]
    for account in snapshot.accounts:
        account_id = account.attributes["aws_account_id"]
        assert account.native_id.split(":")[4] == account_id
        expected = "master" if account_id == MANAGEMENT else None
        name = account.attributes["aws_account_name"]
        assert name == (expected or next(n for n, i in org.accounts.items() if i == account_id))
    # the member role exists in members only; the management account is read without it
    assert MEMBER_ROLE in logins[org.accounts["prod"]]
    assert MEMBER_ROLE not in logins[MANAGEMENT]


def test_customer_managed_policies_of_the_same_name_stay_one_per_account(
    org: MotoOrganization, snapshot: SystemSnapshot
) -> None:
    """Every account has its own ``admin-all``: four entitlements (their ARNs carry the
    account), each held only by that account's admin, each privileged."""
    admins = [e for e in snapshot.entitlements if e.name == "admin-all"]
    assert {e.entitlement_id.split(":")[4] for e in admins} == set(org.accounts.values())
    assert all(e.privileged for e in admins)
    for entitlement in admins:
        holders = {
            g.account_id for g in snapshot.grants if g.entitlement_id == entitlement.entitlement_id
        }
        account_id = entitlement.entitlement_id.split(":")[4]
        assert [h.split(":")[4] for h in holders] == [account_id]


def test_the_ou_tree_and_service_control_policies_are_in_the_settings(
    org: MotoOrganization, snapshot: SystemSnapshot
) -> None:
    """Each account's parents from nearest to the root, the OUs, the SCPs as documents and
    where each is attached."""
    settings = snapshot.settings["organization"]
    assert settings["id"] == org.organization_id == snapshot.settings["organization_id"]
    assert settings["management_account_id"] == MANAGEMENT == snapshot.settings["account_id"]
    assert settings["root_id"] == org.root_id and settings["scp_enabled"] is True
    units, accounts = org.units, settings["accounts"]
    assert accounts[org.accounts["prod"]]["parents"] == [
        units["Production"],
        units["Workloads"],
        org.root_id,
    ]
    assert accounts[org.accounts["dev"]]["parents"] == [units["Workloads"], org.root_id]
    assert accounts[MANAGEMENT]["parents"] == [org.root_id]
    assert accounts[org.accounts["sandbox"]]["name"] == "sandbox"
    assert all(a["collected"] is True for a in accounts.values())
    assert settings["units"][units["Production"]] == {
        "name": "Production",
        "parent": units["Workloads"],
    }
    targets = settings["scp_targets"]
    assert org.scps["DenyLeave"] in targets[org.root_id]
    assert org.scps["DenyIamUsers"] in targets[units["Workloads"]]
    assert org.scps["DenyIamUsers"] not in targets.get(units["Sandbox"], [])
    assert org.scps["OnlyS3"] in targets[org.accounts["sandbox"]]
    scps = {d.document_id: d for d in snapshot.documents if d.kind == "scp"}
    assert set(org.scps.values()) <= set(scps)
    assert scps[org.scps["OnlyS3"]].document["Statement"][0]["Action"] == "s3:*"
    assert scps[org.scps["OnlyS3"]].name == "OnlyS3"
    assert set(snapshot.settings["password_policies"]) == set(org.accounts.values())


def test_an_account_whose_role_refuses_the_external_id_is_uncollected_and_the_others_read(
    org: MotoOrganization, session: boto3.Session
) -> None:
    """The sandbox role asks for another external id: its account is unknown (an error
    naming it, ``collected`` false), the snapshot incomplete, every other account read."""
    sandbox = org.accounts["sandbox"]
    iam = org.iam(sandbox)
    iam.update_assume_role_policy(
        RoleName=MEMBER_ROLE, PolicyDocument=json.dumps(member_trust("another-external-id"))
    )
    try:
        snapshot = connector(org, session, max_concurrent_accounts=1).collect()
    finally:
        iam.update_assume_role_policy(
            RoleName=MEMBER_ROLE, PolicyDocument=json.dumps(member_trust(EXTERNAL_ID))
        )
    assert not snapshot.complete
    [error] = [e for e in snapshot.errors if sandbox in e.source]
    assert error.source == f"account {sandbox} (sandbox)"
    assert "sts:AssumeRole" in error.message and "AccessDenied" in error.message
    assert error.consequence and "unknown" in error.consequence
    logins = by_account(snapshot)
    assert sandbox not in logins
    assert set(logins) == set(org.accounts.values()) - {sandbox}
    assert snapshot.settings["organization"]["accounts"][sandbox]["collected"] is False
    assert snapshot.settings["organization"]["accounts"][org.accounts["prod"]]["collected"]


def test_a_member_role_name_no_account_has_leaves_only_the_management_account(
    org: MotoOrganization, session: boto3.Session
) -> None:
    """A wrong member_role_name: each member account is its own error; the management
    account, read with the credential itself, is still there."""
    snapshot = connector(org, session, member_role_name="no-such-role").collect()
    assert set(by_account(snapshot)) == {MANAGEMENT}
    failed = sorted(e.source for e in snapshot.errors)
    assert failed == sorted(
        f"account {i} ({n})" for n, i in org.accounts.items() if i != MANAGEMENT
    )


def _unused_member_role(snapshot: SystemSnapshot) -> list[Any]:
    """The accounts, the member role's last use left out: each read assumes it anew."""
    return [
        a.model_copy(update={"last_login_at": None}) if a.login == MEMBER_ROLE else a
        for a in snapshot.accounts
    ]


@pytest.mark.parametrize("identity_center", [False, True])
def test_export_then_offline_collect_gives_the_same_snapshot(
    org: MotoOrganization, session: boto3.Session, tmp_path: Path, identity_center: bool
) -> None:
    """``iam-gov export`` writes the contract's folder layout; ``mode = "export"`` with
    ``organization_folder`` reads back the snapshot the live collect made, Identity Center's
    people, groups and permission sets included when it is read."""
    snapshot = connector(org, session, identity_center=identity_center).collect()
    written = connector(org, session, identity_center=identity_center).write_export(tmp_path)
    assert not written.problems
    names = {str(p) for p in written.files}
    assert "organizations/list-accounts.json" in names
    assert ("identity-center/list-instances.json" in names) is identity_center
    assert any(a.attributes.get("principal_type") == "sso-user" for a in snapshot.accounts) is (
        identity_center
    )
    assert ("identity_center" in snapshot.settings) is identity_center
    assert f"accounts/{org.accounts['prod']}/authorization-details.json" in names
    assert f"organizations/children/{org.units['Workloads']}.json" in names
    table = dict(written.options)
    assert table["organization_folder"] == "."
    table["organization_folder"] = tmp_path
    offline = AWSConnector("aws-org", AWSOptions.model_validate(table), clock=lambda: NOW)
    again = offline.collect()
    assert again.complete, again.errors
    assert _unused_member_role(again) == _unused_member_role(snapshot)
    assert len(again.accounts) > 20
    assert again.credentials == snapshot.credentials
    assert again.entitlements == snapshot.entitlements
    assert again.grants == snapshot.grants
    assert again.documents == snapshot.documents
    assert again.settings == snapshot.settings


def test_options_check_the_organization_settings() -> None:
    """organization_folder excludes the single-account files; member accounts at once are
    1..16; organization options are live only."""
    base = {"type": "aws", "mode": "export", "organization_folder": "org"}
    AWSOptions.model_validate(base)
    with pytest.raises(ValueError, match="organization_folder excludes authorization_details"):
        AWSOptions.model_validate({**base, "authorization_details": "a.json"})
    with pytest.raises(ValueError, match="only apply to mode"):
        AWSOptions.model_validate({**base, "organization": True})
    live = {"type": "aws", "mode": "live", "organization": True}
    for bad in (0, 17):
        with pytest.raises(ValueError):
            AWSOptions.model_validate({**live, "max_concurrent_accounts": bad})
    with pytest.raises(ValueError, match="organization_folder"):
        AWSOptions.model_validate({"type": "aws", "mode": "export"})


README_EXAMPLE = """
[systems.aws-org]
type = "aws"
mode = "live"
profile = "org-management-audit"
organization = true
member_role_name = "iam-gov-read"
external_id = "choose-a-long-random-string"
"""


def test_the_readme_example_is_as_written_and_collects(
    org: MotoOrganization, session: boto3.Session
) -> None:
    """The README's organization example loads as written and, pointed at moto (its
    endpoint, the profile's session, moto's external id), collects every account."""
    readme = (Path(__file__).parents[3] / "README.md").read_text(encoding="utf-8")
    assert README_EXAMPLE.strip() in readme
    (raw,) = tomllib.loads(README_EXAMPLE)["systems"].values()
    options = AWSOptions.model_validate(
        {**raw, "endpoint_url": org.endpoint, "external_id": EXTERNAL_ID, "access_advisor": False}
    )
    assert options.organization and options.max_concurrent_accounts == 4
    snapshot = AWSConnector("aws-org", options, clock=lambda: NOW, session=session).collect()
    assert set(by_account(snapshot)) == set(org.accounts.values())
