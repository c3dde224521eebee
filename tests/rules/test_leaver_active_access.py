"""leaver-active-access: a person HR says has left still has an active account."""

from __future__ import annotations

from typing import Any

from iam_gov.model import AccountStatus, EmploymentStatus, Severity
from tests.support.world import (
    World,
    access_key,
    account,
    arn,
    days_ago,
    grant,
    group,
    person,
)

RULE = "leaver-active-access"
TERMINATED = EmploymentStatus.TERMINATED


def leaver(days_since_end: int | None = 10, **extra: Any) -> World:
    end = days_ago(days_since_end).date() if days_since_end is not None else None
    return World(
        people=[person("E1", "Jane Doe", status=TERMINATED, end_date=end)],
        accounts=[account("jane.doe", **extra)],
    )


def test_active_account_of_a_leaver_is_reported() -> None:
    [finding] = leaver(10).findings(RULE)

    assert finding.severity is Severity.HIGH
    assert finding.subject == f"aws:{arn('jane.doe')}"
    assert finding.person_id == "E1"
    assert finding.system == "aws"
    assert "Jane Doe (E1) left on 2026-11-17 (10 days before this aws data)" in finding.message
    assert "aws account jane.doe is still active" in finding.message
    assert "used on" not in finding.message
    assert finding.evidence["end_date"] == "2026-11-17"
    assert finding.evidence["days_since_end"] == 10
    assert finding.evidence["used_after_end"] is False
    assert finding.evidence["account_login"] == "jane.doe"
    assert finding.evidence["privileged_entitlements"] == []


def test_use_after_the_end_date_is_critical() -> None:
    world = leaver(10, last_login_at=days_ago(3))

    [finding] = world.findings(RULE)

    assert finding.severity is Severity.CRITICAL
    assert finding.evidence["used_after_end"] is True
    assert "was used on 2026-11-24 after they left" in finding.message


def test_use_before_the_end_date_is_not_use_after_it() -> None:
    world = leaver(10, last_login_at=days_ago(12))

    [finding] = world.findings(RULE)

    assert finding.severity is Severity.HIGH
    assert finding.evidence["used_after_end"] is False


def test_use_on_the_last_working_day_is_not_use_after_it() -> None:
    world = leaver(10, last_login_at=days_ago(10))

    [finding] = world.findings(RULE)

    assert finding.severity is Severity.HIGH
    assert finding.evidence["used_after_end"] is False


def test_credential_use_after_the_end_date_counts_as_use() -> None:
    world = leaver(10)
    world.credentials.append(
        access_key(world.accounts[0], created=days_ago(50), last_used=days_ago(1))
    )

    [finding] = world.findings(RULE)

    assert finding.severity is Severity.CRITICAL
    assert finding.evidence["used_after_end"] is True
    assert finding.evidence["active_credentials"] == ["access_key_1"]


def test_only_active_credentials_are_listed() -> None:
    world = leaver(10)
    acct = world.accounts[0]
    world.credentials += [access_key(acct, 1, active=False), access_key(acct, 2)]

    [finding] = world.findings(RULE)

    assert finding.evidence["active_credentials"] == ["access_key_2"]


def test_privileged_access_is_critical() -> None:
    world = leaver(10)
    admins = group("Admins", privileged=True)
    world.entitlements.append(admins)
    world.grants.append(grant(world.accounts[0], admins))

    [finding] = world.findings(RULE)

    assert finding.severity is Severity.CRITICAL
    assert finding.evidence["privileged_entitlements"] == ["group:Admins"]
    assert "privileged access (group:Admins)" in finding.message


def test_privileged_by_policy_is_critical_too() -> None:
    world = leaver(10)
    world.policy_yaml = "version: 1\nprivileged:\n  aws: ['group:Ops*']\n"
    ops = group("OpsAdmins")
    world.entitlements.append(ops)
    world.grants.append(grant(world.accounts[0], ops))

    [finding] = world.findings(RULE)

    assert finding.severity is Severity.CRITICAL
    assert finding.evidence["privileged_entitlements"] == ["group:OpsAdmins"]


def test_terminated_without_end_date_is_reported() -> None:
    [finding] = leaver(None).findings(RULE)

    assert "Jane Doe (E1) is marked terminated in HR" in finding.message
    assert finding.evidence["end_date"] is None
    assert finding.evidence["days_since_end"] is None


def test_disabled_account_of_a_leaver_is_fine() -> None:
    assert leaver(10, status=AccountStatus.DISABLED).findings(RULE) == []


def test_current_employee_is_not_a_leaver() -> None:
    world = World(people=[person("E1", "Jane Doe")], accounts=[account("jane.doe")])

    assert world.findings(RULE) == []


def test_end_date_still_ahead_is_not_reported() -> None:
    # HR already marks the person as leaving; their last day is next week.
    assert leaver(-7).findings(RULE) == []


def test_account_nobody_owns_is_not_a_leaver() -> None:
    world = leaver(10)
    world.accounts = [account("ghost")]

    assert world.findings(RULE) == []


def test_grace_days_are_respected() -> None:
    policy = "version: 1\nrules:\n  leaver-active-access:\n    grace_days: {}\n"
    two_days = leaver(2)

    two_days.policy_yaml = policy.format(3)
    assert two_days.findings(RULE) == []

    two_days.policy_yaml = policy.format(1)
    [finding] = two_days.findings(RULE)
    assert finding.evidence["days_since_end"] == 2


def test_the_last_working_day_is_not_a_leaver_s_day_and_grace_counts_from_the_day_after() -> None:
    last_day, day_after, two_days_after = leaver(0), leaver(1), leaver(2)
    assert last_day.findings(RULE) == []  # the end date is the last working day
    assert len(day_after.findings(RULE)) == 1

    # The documented example: ``grace_days: 1`` tolerates access on the day after.
    policy = "version: 1\nrules:\n  leaver-active-access:\n    grace_days: 1\n"
    day_after.policy_yaml = two_days_after.policy_yaml = policy
    assert day_after.findings(RULE) == []
    assert len(two_days_after.findings(RULE)) == 1


def test_an_end_date_that_passed_after_the_hr_export_counts_as_leaving() -> None:
    # HR still says active (the export predates the end date), but the date has passed.
    world = leaver(5)
    world.people = [person("E1", "Jane Doe", end_date=days_ago(5).date())]
    [finding] = world.findings(RULE)
    assert finding.evidence["days_since_end"] == 5
    assert "left on 2026-11-22" in finding.message


def test_grace_in_hours_counts_from_midnight_after_the_last_day() -> None:
    # Last day 2026-11-26; access should end at 2026-11-27 00:00 UTC; the data is from 09:00.
    policy = "version: 1\nrules:\n  leaver-active-access:\n    grace_hours: {}\n"
    world = leaver(1)

    world.policy_yaml = policy.format(9)
    assert world.findings(RULE) == []

    world.policy_yaml = policy.format(8)
    [finding] = world.findings(RULE)
    assert finding.evidence["hours_since_end"] == 9
    assert finding.evidence["grace_hours"] == 8
    assert "9 hours after their last day, past the 8-hour grace" in finding.message


def test_hours_since_the_end_are_evidence_even_without_grace() -> None:
    [finding] = leaver(10).findings(RULE)
    assert finding.evidence["hours_since_end"] == 9 * 24 + 9
    assert finding.evidence["grace_hours"] == 0
