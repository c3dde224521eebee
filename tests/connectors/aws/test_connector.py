"""AWS connector collection against a moto server: live and export give the same model."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import boto3
import pytest
from pydantic import ValidationError

from iam_gov.connectors import connector_class
from iam_gov.connectors.aws.connector import AWSConnector, AWSOptions
from iam_gov.model import (
    AccountKind,
    AccountStatus,
    Credential,
    CredentialKind,
    SystemSnapshot,
)

from .access_advisor import AccessAdvisor, Used, export_last_accessed
from .conftest import (
    ACCOUNT_ID,
    ADMIN_ALL,
    EC2_DESCRIBE,
    NOW,
    TRUST_EC2,
    MotoAccount,
    _shared_session,
    arn,
)

ALICE = arn("user", "alice", "/staff/")
BOB = arn("user", "bob", "/staff/")
CAROL = arn("user", "carol", "/staff/")
SVC = arn("user", "svc-ci", "/service/")
DEPLOY = arn("role", "deploy", "/automation/")
ADMINS = arn("group", "admins")
DEVELOPERS = arn("group", "developers")
IAM_OPERATORS = arn("group", "iam-operators")
ADMIN_ALL_ARN = arn("policy", "AdminAll")
S3_READ_ARN = arn("policy", "S3Read")
BOUNDARY_ARN = arn("policy", "DeveloperBoundary", "/boundaries/")


USAGE = {
    ALICE: [
        Used("s3", "Amazon S3", datetime(2026, 2, 27, 10, 0, tzinfo=UTC)),
        Used("ec2", "Amazon EC2"),
    ],
    DEPLOY: [Used("s3", "Amazon S3", datetime(2025, 11, 2, 4, 0, tzinfo=UTC))],
}


@pytest.fixture(autouse=True)
def advisor() -> Iterator[AccessAdvisor]:
    """IAM Access Advisor, which moto lacks, on the session the tests' connectors share."""
    fake = AccessAdvisor(USAGE)
    fake.install(_shared_session())
    try:
        yield fake
    finally:
        fake.uninstall(_shared_session())


def _comparable(snapshot: SystemSnapshot) -> dict[str, Any]:
    return snapshot.model_dump(exclude={"source", "collected_at"})


def _account(snapshot: SystemSnapshot, native_id: str) -> Any:
    return next(a for a in snapshot.accounts if a.native_id == native_id)


def _credentials(snapshot: SystemSnapshot, account_id: str) -> dict[str, Credential]:
    return {
        c.credential_id.rsplit("#", 1)[1]: c
        for c in snapshot.credentials
        if c.account_id == account_id
    }


def _grants(snapshot: SystemSnapshot, account_id: str) -> set[tuple[str, str | None]]:
    return {(g.entitlement_id, g.via) for g in snapshot.grants if g.account_id == account_id}


def test_registered_under_its_type_name() -> None:
    assert connector_class("aws") is AWSConnector


@pytest.mark.parametrize("report", ["json", "csv"])
def test_export_gives_the_same_model_as_live(
    aws_shared: MotoAccount,
    tmp_path: Path,
    report: Literal["json", "csv"],
    advisor: AccessAdvisor,
) -> None:
    # A session of its own, as the connector makes in use; Access Advisor answered on it.
    live = aws_shared.live(session=advisor.install(boto3.Session())).collect()
    principals = [a.native_id for a in live.accounts if a.login != "root"]
    folder = export_last_accessed(advisor, aws_shared, tmp_path / "last-accessed", principals)
    extra: dict[str, Any] = {"service_last_accessed": folder}
    if report == "csv":
        extra["exported_at"] = "2026-02-28T09:00:00Z"
    exported = aws_shared.export(tmp_path, report=report, **extra).collect()

    assert live.complete and exported.complete, (live.errors, exported.errors)
    assert _comparable(exported) == _comparable(live)
    assert live.source == "live" and live.collected_at == NOW
    assert exported.source == (
        f"export:authorization-details.json,credential-report.{report},password-policy.json,"
        "last-accessed/"
    )
    # four users, a role and the root user
    assert len(live.accounts) == 6 and live.errors == ()
    kept = {d.document_id for d in live.documents if d.kind == "service-last-accessed"}
    assert kept == {f"{p}#service-last-accessed" for p in principals}


def test_users_and_roles_become_accounts(aws_shared: MotoAccount) -> None:
    snapshot = aws_shared.live().collect()

    alice = _account(snapshot, ALICE)
    assert (alice.login, alice.email, alice.employee_id, alice.display_name) == (
        "alice",
        "alice@example.com",
        "E001",
        "Alice Archer",
    )
    assert alice.status is AccountStatus.ACTIVE and alice.kind is AccountKind.HUMAN
    assert alice.mfa_factors == ("mfa",)
    assert alice.created_at is not None and alice.last_login_at is None
    assert alice.attributes["principal_type"] == "user"
    assert alice.attributes["path"] == "/staff/"
    assert alice.attributes["user_id"]

    assert _account(snapshot, BOB).mfa_factors == ()
    assert _account(snapshot, SVC).employee_id is None

    deploy = _account(snapshot, DEPLOY)
    assert deploy.kind is AccountKind.SERVICE and deploy.status is AccountStatus.ACTIVE
    assert deploy.login == "deploy"
    assert deploy.attributes["principal_type"] == "role"
    assert deploy.attributes["permissions_boundary"] == BOUNDARY_ARN
    assert snapshot.settings == {
        "account_id": ACCOUNT_ID,
        "password_policy": aws_shared.iam.get_account_password_policy()["PasswordPolicy"],
    }


def test_a_user_without_password_or_active_key_is_disabled(aws_shared: MotoAccount) -> None:
    snapshot = aws_shared.live().collect()

    assert _account(snapshot, CAROL).status is AccountStatus.DISABLED
    assert not any(c.active for c in _credentials(snapshot, CAROL).values())
    # Keys alone keep an account usable.
    assert _account(snapshot, SVC).status is AccountStatus.ACTIVE


def test_credentials_from_the_report(aws_shared: MotoAccount) -> None:
    snapshot = aws_shared.live().collect()

    bob = _credentials(snapshot, BOB)
    assert set(bob) == {"password", "access_key_1", "access_key_2"}
    assert bob["password"].kind is CredentialKind.PASSWORD and bob["password"].active
    assert bob["access_key_1"].kind is CredentialKind.ACCESS_KEY and bob["access_key_1"].active
    assert not bob["access_key_2"].active
    assert bob["access_key_1"].created_at is not None
    assert bob["access_key_1"].last_used_at is None  # never used: N/A is not a date
    svc = _credentials(snapshot, SVC)
    assert svc["access_key_1"].active and svc["access_key_2"].active
    # moto fills password_last_changed for every user, so a never-set password shows as an
    # inactive one; AWS says N/A and there is no password credential at all.
    assert "password" not in svc or not svc["password"].active


def test_admin_policy_makes_its_group_privileged(aws_shared: MotoAccount) -> None:
    snapshot = aws_shared.live().collect()
    entitlements = {e.entitlement_id: e for e in snapshot.entitlements}

    assert entitlements[ADMIN_ALL_ARN].privileged and entitlements[ADMIN_ALL_ARN].kind == "policy"
    assert entitlements[ADMINS].privileged and entitlements[ADMINS].kind == "group"
    # iam:* in an inline policy is enough.
    assert entitlements[IAM_OPERATORS].privileged
    assert entitlements[f"{IAM_OPERATORS}#inline/iam-all"].privileged
    # S3Read has an admin version, but not as its default.
    assert not entitlements[S3_READ_ARN].privileged
    assert not entitlements[DEVELOPERS].privileged
    assert not entitlements[BOUNDARY_ARN].privileged


def test_grants_direct_inline_and_through_groups(aws_shared: MotoAccount) -> None:
    snapshot = aws_shared.live().collect()

    assert _grants(snapshot, BOB) == {
        (DEVELOPERS, None),
        (S3_READ_ARN, DEVELOPERS),
        (f"{DEVELOPERS}#inline/describe-ec2", DEVELOPERS),
        (IAM_OPERATORS, None),
        (f"{IAM_OPERATORS}#inline/iam-all", IAM_OPERATORS),
        (ADMIN_ALL_ARN, None),
        (f"{BOB}#inline/bob-notes", None),
    }
    assert _grants(snapshot, DEPLOY) == {
        (ADMIN_ALL_ARN, None),
        (f"{DEPLOY}#inline/deploy-extra", None),
    }
    # The boundary limits the role; it grants nothing.
    assert not any(g.entitlement_id == BOUNDARY_ARN for g in snapshot.grants)
    assert all(g.granted_at is None for g in snapshot.grants)
    inline = next(e for e in snapshot.entitlements if e.entitlement_id == f"{BOB}#inline/bob-notes")
    assert (inline.kind, inline.name, inline.privileged) == ("inline-policy", "bob-notes", False)


def test_policy_documents_are_kept(aws_shared: MotoAccount) -> None:
    snapshot = aws_shared.live().collect()
    documents = {d.document_id: d for d in snapshot.documents}

    assert documents[ADMIN_ALL_ARN].kind == "managed-policy"
    assert documents[ADMIN_ALL_ARN].document == ADMIN_ALL
    assert documents[f"{BOB}#inline/bob-notes"].kind == "inline-policy"
    assert documents[f"{BOB}#inline/bob-notes"].document == EC2_DESCRIBE
    assert documents[f"{DEPLOY}#trust"].kind == "trust-policy"
    assert documents[f"{DEPLOY}#trust"].document == TRUST_EC2
    # Each group's own record of its policies, members or not.
    assert documents[f"{ADMINS}#group-policies"].kind == "group-policies"
    assert documents[f"{ADMINS}#group-policies"].document == {
        "AttachedManagedPolicies": [ADMIN_ALL_ARN],
        "InlinePolicies": [],
    }
    assert documents[f"{IAM_OPERATORS}#group-policies"].document == {
        "AttachedManagedPolicies": [],
        "InlinePolicies": [f"{IAM_OPERATORS}#inline/iam-all"],
    }


def test_snapshot_is_sorted_and_repeatable(aws_shared: MotoAccount) -> None:
    first, second = aws_shared.live().collect(), aws_shared.live().collect()

    assert first == second
    assert [a.native_id for a in first.accounts] == sorted(a.native_id for a in first.accounts)
    assert [g for g in first.grants] == sorted(
        first.grants, key=lambda g: (g.account_id, g.entitlement_id, g.via or "")
    )


def test_no_password_policy_is_a_fact(small: MotoAccount, tmp_path: Path) -> None:
    live = small.live().collect()
    exported = small.export(tmp_path).collect()

    assert live.complete and live.settings["password_policy"] is None
    assert exported.settings["password_policy"] is None


# --- options ----------------------------------------------------------------------------------


def test_export_mode_needs_both_files() -> None:
    with pytest.raises(ValidationError, match='mode = "export" needs authorization_details'):
        AWSOptions.model_validate({"type": "aws", "mode": "export", "credential_report": "r.csv"})


def test_export_files_are_refused_in_live_mode() -> None:
    with pytest.raises(ValidationError, match='credential_report only apply to mode = "export"'):
        AWSOptions.model_validate({"type": "aws", "mode": "live", "credential_report": "r.csv"})


def test_live_settings_are_refused_in_export_mode() -> None:
    with pytest.raises(ValidationError, match='profile, region only apply to mode = "live"'):
        AWSOptions.model_validate(
            {
                "type": "aws",
                "mode": "export",
                "authorization_details": "d.json",
                "credential_report": "r.csv",
                "profile": "prod",
                "region": "eu-west-1",
            }
        )


def test_secrets_have_no_place_in_options() -> None:
    with pytest.raises(ValidationError, match="aws_secret_access_key"):
        AWSOptions.model_validate({"type": "aws", "mode": "live", "aws_secret_access_key": "x"})


def test_export_paths_are_relative_to_the_config_file(tmp_path: Path) -> None:
    options = AWSOptions.model_validate(
        {
            "type": "aws",
            "mode": "export",
            "authorization_details": "d.json",
            "credential_report": "r.csv",
        },
        context={"base_dir": tmp_path},
    )

    assert options.authorization_details == tmp_path / "d.json"


def test_importing_the_connector_loads_no_aws_sdk() -> None:
    code = (
        "import sys, iam_gov.connectors.aws.connector; "
        "sdk = [m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore')]; "
        "print(*sdk); sys.exit(1 if sdk else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)

    assert done.returncode == 0, done.stdout
