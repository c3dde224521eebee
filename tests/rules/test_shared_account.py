"""shared-account: a login or name that says role, team or test, not a person."""

from __future__ import annotations

import pytest

from iam_gov.model import AccountKind, AccountStatus, Severity
from tests.support.world import World, account, arn, grant, group, person

RULE = "shared-account"


@pytest.mark.parametrize(
    ("login", "display_name", "why"),
    [
        ("admin", None, "login admin matches 'admin'"),
        ("Administrator", None, "login Administrator matches 'administrator'"),
        ("test-01", None, "login test-01 matches 'test[-_.]*'"),
        ("temp-contractor-2024", None, "login temp-contractor-2024 matches 'temp[-_.]*'"),
        ("support-team@example.com", None, "login support-team@example.com matches '*[-_.]team'"),
        ("user1", None, "login user1 matches 'user[0-9]*'"),
        ("qa01", "Test User", "display name Test User matches 'test[-_.]*'"),
        ("kiosk", "Training Room 2", "display name Training Room 2 matches 'training[-_.]*'"),
    ],
)
def test_generic_names_are_reported(login: str, display_name: str | None, why: str) -> None:
    world = World(accounts=[account(login, display_name=display_name)])

    [finding] = world.findings(RULE)

    assert finding.severity is Severity.MEDIUM
    assert finding.subject == f"aws:{arn(login)}"
    assert finding.person_id is None
    assert finding.evidence["matched"] == [why]
    assert finding.message == (
        f"aws account {login} looks like a shared or generic account ({why}) and is not "
        "declared as a service or break-glass account."
    )


@pytest.mark.parametrize(
    "login",
    ["jane.doe", "jdoe-admin", "chris.testa", "tempest", "adminton", "steam.j", "rootsman"],
)
def test_personal_names_are_not_generic(login: str) -> None:
    assert World(accounts=[account(login, display_name="Jane Doe")]).findings(RULE) == []


def test_a_generic_account_linked_to_a_person_still_is_one() -> None:
    world = World(
        people=[person("E1", "Jane Doe")],
        accounts=[account("admin", email="jane.doe@example.com")],
    )

    [finding] = world.findings(RULE)

    assert finding.person_id == "E1"
    assert finding.evidence["link_method"] == "email"
    assert finding.message.endswith("; it is linked to Jane Doe (E1) by email.")


def test_privileged_generic_account_is_high() -> None:
    admins = group("Admins", privileged=True)
    shared = account("shared-ops")
    world = World(accounts=[shared], entitlements=[admins], grants=[grant(shared, admins)])

    [finding] = world.findings(RULE)

    assert finding.severity is Severity.HIGH
    assert finding.evidence["privileged_entitlements"] == ["group:Admins"]
    assert finding.message.endswith("; it holds privileged access (group:Admins).")


def test_a_team_login_tied_to_a_person_by_name_only() -> None:
    # Okta's "finance@" with Jane's name on it: matched to her by display name alone.
    finance = account("finance@example.com", system="okta", display_name="Jane Doe")
    world = World(people=[person("E1", "Jane Doe", department="Finance")], accounts=[finance])

    [finding] = world.findings(RULE)

    assert finding.person_id == "E1"
    assert finding.evidence["matched"] == ["login finance@example.com names the team Finance"]
    assert finding.message == (
        "okta account finance@example.com looks like a shared or generic account (its login "
        "names the team Finance), yet it is linked to Jane Doe (E1) only by display name."
    )


def test_a_team_login_with_a_strong_link_is_that_persons() -> None:
    finance = account("finance", employee_id="E1", display_name="Jane Doe")
    world = World(people=[person("E1", "Jane Doe", department="Finance")], accounts=[finance])

    assert world.findings(RULE) == []


def test_role_names_in_the_policy_are_team_names_too() -> None:
    world = World(
        policy_yaml="version: 1\nroles:\n  - name: customer-success\n",
        people=[person("E1", "Jane Doe")],
        accounts=[account("customer_success", display_name="Jane Doe")],
    )

    [finding] = world.findings(RULE)

    assert "names the team customer-success" in finding.message


def test_declared_break_glass_disabled_and_root_are_not_reported() -> None:
    world = World(
        policy_yaml=(
            "version: 1\naccounts:\n"
            "  - {system: aws, login: test-runner, kind: service, owner: qa-team}\n"
        ),
        accounts=[
            account("test-runner"),
            account("root", kind=AccountKind.BREAK_GLASS),  # AWS root: break-glass by nature
            account("admin", status=AccountStatus.DISABLED),
        ],
    )

    assert world.findings(RULE) == []


def test_patterns_come_from_the_policy() -> None:
    world = World(accounts=[account("kiosk-3"), account("admin")])
    assert [f.evidence["account_login"] for f in world.findings(RULE)] == ["admin"]

    world.policy_yaml = "version: 1\nrules:\n  shared-account: {extra_patterns: ['kiosk-*']}\n"
    assert {f.evidence["account_login"] for f in world.findings(RULE)} == {"admin", "kiosk-3"}

    world.policy_yaml = "version: 1\nrules:\n  shared-account: {patterns: ['kiosk-*']}\n"
    assert [f.evidence["account_login"] for f in world.findings(RULE)] == ["kiosk-3"]
