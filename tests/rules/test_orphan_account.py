"""orphan-account: an active account that belongs to nobody in HR and is not declared."""

from __future__ import annotations

from iam_gov.model import AccountKind, AccountStatus, Severity
from tests.support.world import World, account, arn, days_ago, grant, group, person

RULE = "orphan-account"

DECLARED = """\
version: 1
accounts:
  - system: aws
    login: svc-*
    kind: service
    owner: platform-team
  - system: aws
    login: breakglass
    kind: break-glass
    owner: ciso
"""


def test_account_nobody_owns_is_reported() -> None:
    world = World(
        people=[person("E1", "Jane Doe")],
        accounts=[account("ghost", display_name="Ghost Writer", last_login_at=days_ago(4))],
    )

    [finding] = world.findings(RULE)

    assert finding.severity is Severity.HIGH
    assert finding.subject == f"aws:{arn('ghost')}"
    assert finding.person_id is None
    assert finding.message.startswith(
        "aws account ghost belongs to nobody in HR and is not declared as a service or "
        "break-glass account"
    )
    assert finding.evidence["status"] == "active"
    assert finding.evidence["display_name"] == "Ghost Writer"
    assert finding.evidence["last_activity"] == days_ago(4).isoformat().replace("+00:00", "Z")


def test_the_correlation_note_is_in_the_message() -> None:
    world = World(
        people=[person("E1", "Jane Doe")], accounts=[account("ghost", employee_id="E999")]
    )

    [finding] = world.findings(RULE)

    assert "carries employee id E999, which HR does not know" in finding.message
    assert "E999" in finding.evidence["correlation_note"]


def test_privileged_orphan_is_critical() -> None:
    ghost = account("ghost")
    admins = group("Admins", privileged=True)
    world = World(
        people=[person("E1")],
        accounts=[ghost],
        entitlements=[admins],
        grants=[grant(ghost, admins)],
    )

    [finding] = world.findings(RULE)

    assert finding.severity is Severity.CRITICAL
    assert finding.evidence["privileged_entitlements"] == ["group:Admins"]
    assert "privileged access (group:Admins)" in finding.message


def test_linked_account_is_not_an_orphan() -> None:
    world = World(people=[person("E1", "Jane Doe")], accounts=[account("jane.doe")])

    assert world.findings(RULE) == []


def test_declared_service_and_break_glass_accounts_are_not_orphans() -> None:
    world = World(
        policy_yaml=DECLARED,
        people=[person("E1")],
        accounts=[account("svc-backup"), account("breakglass"), account("ghost")],
    )

    assert [f.subject for f in world.findings(RULE)] == [f"aws:{arn('ghost')}"]


def test_account_the_system_marks_as_service_is_not_an_orphan() -> None:
    world = World(people=[person("E1")], accounts=[account("deploy", kind=AccountKind.SERVICE)])

    assert world.findings(RULE) == []


def test_disabled_orphans_only_when_asked() -> None:
    world = World(people=[person("E1")], accounts=[account("ghost", status=AccountStatus.DISABLED)])
    assert world.findings(RULE) == []

    world.policy_yaml = "version: 1\nrules:\n  orphan-account:\n    include_disabled: true\n"
    [finding] = world.findings(RULE)
    assert finding.evidence["status"] == "disabled"


def test_does_not_run_on_incomplete_hr_data() -> None:
    world = World(
        people=[person("E1")],
        accounts=[account("ghost", mfa_factors=())],
        hr_complete=False,
    )

    findings, skipped = world.run()

    assert RULE in skipped
    assert "HR data is incomplete (1 bad record(s))" in skipped[RULE]
    rules_that_ran = {f.rule_id for f in findings}
    assert RULE not in rules_that_ran
    assert "dormant-account" in rules_that_ran  # other rules still run on the same data
    world.hr_complete = True
    assert RULE in {f.rule_id for f in world.findings()}
