"""dormant-account: an active account nobody has used for a long time."""

from __future__ import annotations

from iam_gov.model import AccountStatus, EmploymentStatus, Severity
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

RULE = "dormant-account"


def jane(**account_extra: object) -> World:
    return World(
        people=[person("E1", "Jane Doe")],
        accounts=[account("jane.doe", **account_extra)],  # type: ignore[arg-type]
    )


def test_account_unused_for_longer_than_the_threshold_is_reported() -> None:
    [finding] = jane(last_login_at=days_ago(120)).findings(RULE)

    assert finding.severity is Severity.MEDIUM
    assert finding.subject == f"aws:{arn('jane.doe')}"
    assert finding.person_id == "E1"
    assert finding.message == (
        "aws account jane.doe (Jane Doe) has not been used for 120 days (last on 2026-07-30)."
    )
    assert finding.evidence["idle_days"] == 120
    assert finding.evidence["threshold_days"] == 90
    assert finding.evidence["kind"] == "human"
    assert finding.evidence["last_activity"] == "2026-07-30T09:00:00Z"


def test_account_used_recently_is_not_dormant() -> None:
    assert jane(last_login_at=days_ago(89)).findings(RULE) == []


def test_threshold_day_itself_counts_as_dormant() -> None:
    [finding] = jane(last_login_at=days_ago(90)).findings(RULE)

    assert finding.evidence["idle_days"] == 90


def test_credential_use_counts_as_activity() -> None:
    world = jane(last_login_at=days_ago(300))
    world.credentials.append(
        access_key(world.accounts[0], created=days_ago(300), last_used=days_ago(2))
    )
    assert world.findings(RULE) == []

    world = jane(last_login_at=None)
    world.credentials.append(password(world.accounts[0], last_used=days_ago(5)))
    assert world.findings(RULE) == []


def test_never_used_account_is_measured_from_its_creation() -> None:
    [finding] = jane(created_at=days_ago(200), last_login_at=None).findings(RULE)

    assert finding.evidence["idle_days"] == 200
    assert finding.evidence["last_activity"] is None
    assert finding.evidence["created_at"] == "2026-05-11T09:00:00Z"
    assert "was never used in the 200 days since it was created" in finding.message

    assert jane(created_at=days_ago(30), last_login_at=None).findings(RULE) == []


def test_threshold_per_system() -> None:
    people = [person("E1", "Jane Doe")]
    accounts = [
        account("jane.doe", last_login_at=days_ago(60)),
        account("jane.doe", system="okta", last_login_at=days_ago(60)),
    ]
    world = World(
        policy_yaml="version: 1\nrules:\n  dormant-account:\n    days_by_system: {aws: 45}\n",
        people=people,
        accounts=accounts,
    )

    [finding] = world.findings(RULE)

    assert finding.system == "aws"
    assert finding.evidence["threshold_days"] == 45


def test_days_setting_changes_the_threshold() -> None:
    world = jane(last_login_at=days_ago(40))
    assert world.findings(RULE) == []

    world.policy_yaml = "version: 1\nrules:\n  dormant-account: {days: 30}\n"
    [finding] = world.findings(RULE)
    assert finding.evidence["threshold_days"] == 30


def test_privileged_dormant_account_is_high() -> None:
    world = jane(last_login_at=days_ago(120))
    admins = group("Admins", privileged=True)
    world.entitlements.append(admins)
    world.grants.append(grant(world.accounts[0], admins))

    [finding] = world.findings(RULE)

    assert finding.severity is Severity.HIGH
    assert finding.evidence["privileged_entitlements"] == ["group:Admins"]
    assert "it holds privileged access (group:Admins)" in finding.message


def test_break_glass_accounts_are_meant_to_sit_unused() -> None:
    world = World(
        policy_yaml=(
            "version: 1\naccounts:\n"
            "  - {system: aws, login: breakglass, kind: break-glass, owner: ciso}\n"
        ),
        accounts=[account("breakglass", last_login_at=days_ago(400))],
    )

    assert world.findings(RULE) == []


def test_service_accounts_and_orphans_are_still_judged() -> None:
    world = World(
        policy_yaml=(
            "version: 1\naccounts:\n"
            "  - {system: aws, login: svc-backup, kind: service, owner: platform}\n"
        ),
        accounts=[
            account("svc-backup", last_login_at=days_ago(400)),
            account("ghost", last_login_at=days_ago(400)),
        ],
    )

    found = {f.evidence["account_login"]: f for f in world.findings(RULE)}

    assert set(found) == {"svc-backup", "ghost"}
    assert found["svc-backup"].evidence["kind"] == "service"
    assert found["ghost"].person_id is None


def test_leavers_are_left_to_the_leaver_rule() -> None:
    world = World(
        people=[person("E1", "Jane Doe", status=EmploymentStatus.TERMINATED)],
        accounts=[account("jane.doe", last_login_at=days_ago(400))],
    )

    assert world.findings(RULE) == []
    assert [f.rule_id for f in world.findings()] == ["leaver-active-access"]


def test_disabled_accounts_are_not_dormant() -> None:
    assert jane(last_login_at=days_ago(400), status=AccountStatus.DISABLED).findings(RULE) == []


def test_sampled_sign_ins_count_never_seen_from_when_watching_began() -> None:
    from tests.support.world import World, account, days_ago, person

    vpn_user = account("jane.doe", system="vpn", employee_id="E1", created_at=days_ago(400))
    world = World(
        people=[person("E1", "Jane Doe")],
        accounts=[vpn_user],
        observed_since={"vpn": days_ago(30)},
    )
    assert world.findings("dormant-account") == []  # 30 days of watching prove nothing yet
    world.observed_since = {"vpn": days_ago(120)}
    [finding] = world.findings("dormant-account")
    assert "was not seen in the 120 days iam-gov has been watching" in finding.message
    assert finding.evidence["idle_days"] == 120
