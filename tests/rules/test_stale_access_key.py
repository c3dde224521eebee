"""stale-access-key: an active access key that is too old, or that nobody uses."""

from __future__ import annotations

from iam_gov.model import AccountStatus, Severity
from tests.support.world import World, access_key, account, days_ago, password, person

RULE = "stale-access-key"


def jane_with_key(status: AccountStatus = AccountStatus.ACTIVE, **key: object) -> World:
    jane = account("jane.doe", status=status)
    return World(
        people=[person("E1", "Jane Doe")],
        accounts=[jane],
        credentials=[access_key(jane, **key)],  # type: ignore[arg-type]
    )


def test_old_key_is_reported() -> None:
    world = jane_with_key(created=days_ago(200), last_used=days_ago(1))

    [finding] = world.findings(RULE)

    key = world.credentials[0]
    assert finding.severity is Severity.MEDIUM
    assert finding.subject == f"aws:{key.credential_id}"
    assert finding.person_id == "E1"
    assert finding.message == (
        "aws account jane.doe's access key 1 is 200 days old (rotate every 90 days)."
    )
    assert finding.evidence["credential_id"] == key.credential_id
    assert finding.evidence["age_days"] == 200
    assert finding.evidence["unused_days"] == 1
    assert finding.evidence["reasons"] == ["is 200 days old (rotate every 90 days)"]


def test_never_used_key_is_reported_with_both_reasons() -> None:
    [finding] = jane_with_key(created=days_ago(100)).findings(RULE)

    assert finding.evidence["last_used_at"] is None
    assert finding.evidence["unused_days"] == 100
    assert finding.evidence["reasons"] == [
        "is 100 days old (rotate every 90 days)",
        "was never used in 100 days",
    ]
    assert "is 100 days old (rotate every 90 days) and was never used in 100 days." in (
        finding.message
    )


def test_unused_key_is_reported_even_when_young_enough() -> None:
    world = jane_with_key(created=days_ago(200), last_used=days_ago(120))
    world.policy_yaml = "version: 1\nrules:\n  stale-access-key: {max_age_days: 365}\n"

    [finding] = world.findings(RULE)

    assert finding.evidence["reasons"] == ["has not been used for 120 days"]
    assert finding.evidence["unused_days"] == 120


def test_recent_key_in_use_is_fine() -> None:
    assert jane_with_key(created=days_ago(80), last_used=days_ago(1)).findings(RULE) == []


def test_thresholds_come_from_the_policy() -> None:
    world = jane_with_key(created=days_ago(50), last_used=days_ago(40))
    assert world.findings(RULE) == []

    world.policy_yaml = (
        "version: 1\nrules:\n  stale-access-key: {max_age_days: 45, unused_days: 30}\n"
    )
    [finding] = world.findings(RULE)
    assert finding.evidence["reasons"] == [
        "is 50 days old (rotate every 45 days)",
        "has not been used for 40 days",
    ]


def test_inactive_key_is_ignored() -> None:
    assert jane_with_key(active=False, created=days_ago(400)).findings(RULE) == []


def test_keys_of_a_disabled_account_are_ignored() -> None:
    world = jane_with_key(AccountStatus.DISABLED, created=days_ago(400))

    assert world.findings(RULE) == []


def test_passwords_are_not_access_keys() -> None:
    jane = account("jane.doe")
    world = World(people=[person("E1", "Jane Doe")], accounts=[jane], credentials=[password(jane)])

    assert world.findings(RULE) == []


def test_each_stale_key_is_its_own_finding() -> None:
    jane = account("jane.doe")
    world = World(
        accounts=[jane],
        credentials=[
            access_key(jane, 1, created=days_ago(300), last_used=days_ago(1)),
            access_key(jane, 2, created=days_ago(200), last_used=days_ago(1)),
        ],
    )

    found = world.findings(RULE)

    assert sorted(f.evidence["age_days"] for f in found) == [200, 300]
    assert len({f.finding_id for f in found}) == 2
    assert all(f.person_id is None for f in found)
