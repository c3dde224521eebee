"""mfa-missing: an account that signs in with a password and has no second factor."""

from __future__ import annotations

from iam_gov.model import AccountStatus, Severity
from tests.support.world import (
    World,
    access_key,
    account,
    arn,
    days_ago,
    grant,
    group,
    password,
    person,
)

RULE = "mfa-missing"


def jane(
    mfa: tuple[str, ...] | None = (),
    *,
    with_password: bool = True,
    password_active: bool = True,
    status: AccountStatus = AccountStatus.ACTIVE,
) -> World:
    acct = account("jane.doe", mfa_factors=mfa, status=status)
    credentials = [access_key(acct)]
    if with_password:
        credentials.append(password(acct, active=password_active, last_used=days_ago(2)))
    return World(people=[person("E1", "Jane Doe")], accounts=[acct], credentials=credentials)


def test_password_without_mfa_is_reported() -> None:
    [finding] = jane().findings(RULE)

    assert finding.severity is Severity.HIGH
    assert finding.subject == f"aws:{arn('jane.doe')}"
    assert finding.person_id == "E1"
    assert finding.message == (
        "aws account jane.doe (Jane Doe) can sign in with a password and has no MFA."
    )
    assert finding.evidence["account_login"] == "jane.doe"
    assert finding.evidence["kind"] == "human"
    assert finding.evidence["password_last_used"] == "2026-11-25T09:00:00Z"
    assert finding.evidence["privileged_entitlements"] == []


def test_privileged_account_without_mfa_is_critical() -> None:
    world = jane()
    admins = group("Admins", privileged=True)
    world.entitlements.append(admins)
    world.grants.append(grant(world.accounts[0], admins))

    [finding] = world.findings(RULE)

    assert finding.severity is Severity.CRITICAL
    assert finding.evidence["privileged_entitlements"] == ["group:Admins"]
    assert "it holds privileged access (group:Admins)" in finding.message


def test_enrolled_factor_is_enough() -> None:
    assert jane(("virtual",)).findings(RULE) == []


def test_unknown_factors_are_not_judged() -> None:
    assert jane(None).findings(RULE) == []


def test_no_password_means_no_interactive_sign_in() -> None:
    assert jane(with_password=False).findings(RULE) == []
    assert jane(password_active=False).findings(RULE) == []


def test_disabled_account_is_not_judged() -> None:
    assert jane(status=AccountStatus.DISABLED).findings(RULE) == []


def test_unowned_account_is_judged_too() -> None:
    ghost = account("ghost", mfa_factors=())
    world = World(accounts=[ghost], credentials=[password(ghost)])

    [finding] = world.findings(RULE)

    assert finding.person_id is None
    assert finding.message == "aws account ghost can sign in with a password and has no MFA."
