"""duplicate-accounts: one person holding more than one active account in the same system."""

from __future__ import annotations

from datetime import date

from iam_gov.model import AccountStatus, EmploymentStatus, Severity
from tests.support.world import World, account, days_ago, grant, group, person

RULE = "duplicate-accounts"


def jane(*accounts: object, **person_extra: object) -> World:
    return World(
        people=[person("E1", "Jane Doe", **person_extra), person("E2", "Omar Haddad")],  # type: ignore[arg-type]
        accounts=list(accounts),  # type: ignore[arg-type]
    )


def test_two_everyday_accounts_are_reported() -> None:
    world = jane(
        account("jane.doe", last_login_at=days_ago(3)),
        account("jdoe2", display_name="Jane Doe"),
        account("omar.haddad"),
    )

    [finding] = world.findings(RULE)

    assert finding.severity is Severity.LOW
    assert finding.subject == "aws:E1:accounts"
    assert finding.person_id == "E1"
    assert finding.message == (
        "Jane Doe (E1) holds 2 active aws accounts: jane.doe (login), jdoe2 (name); one "
        "account per person is expected."
    )
    held = {a["login"]: a for a in finding.evidence["accounts"]}
    assert held["jane.doe"]["linked_by"] == "login"
    assert held["jane.doe"]["last_activity"] == days_ago(3).isoformat().replace("+00:00", "Z")
    assert held["jdoe2"]["linked_by"] == "name"
    assert finding.evidence["admin_accounts"] == []


def test_separate_admin_accounts_do_not_count() -> None:
    world = jane(
        account("jane.doe"),
        account("jane.doe-admin", employee_id="E1"),
        account("adm-jdoe", employee_id="E1"),
    )
    assert world.findings(RULE) == []

    world.accounts.append(account("jdoe", employee_id="E1"))
    [finding] = world.findings(RULE)
    assert [a["login"] for a in finding.evidence["accounts"]] == ["jane.doe", "jdoe"]
    assert finding.evidence["admin_accounts"] == ["adm-jdoe", "jane.doe-admin"]


def test_admin_patterns_come_from_the_policy() -> None:
    world = jane(account("jane.doe"), account("a-jdoe", employee_id="E1"))
    assert len(world.findings(RULE)) == 1

    world.policy_yaml = "version: 1\nrules:\n  duplicate-accounts: {admin_patterns: ['a-*']}\n"
    assert world.findings(RULE) == []


def test_a_privileged_duplicate_is_medium() -> None:
    admins = group("Admins", privileged=True)
    second = account("jdoe", employee_id="E1")
    world = jane(account("jane.doe"), second)
    world.entitlements, world.grants = [admins], [grant(second, admins)]

    [finding] = world.findings(RULE)

    assert finding.severity is Severity.MEDIUM
    assert finding.message.endswith(", and one of them holds privileged access.")


def test_disabled_leavers_other_systems_and_vpns_do_not_count() -> None:
    world = jane(
        account("jane.doe"), account("jdoe", employee_id="E1", status=AccountStatus.DISABLED)
    )
    assert world.findings(RULE) == []

    world = jane(account("jane.doe"), account("jane.doe", system="okta"))
    assert world.findings(RULE) == []

    leaver = jane(
        account("jane.doe"),
        account("jdoe", employee_id="E1"),
        status=EmploymentStatus.TERMINATED,
        end_date=date(2026, 10, 1),
    )
    assert leaver.findings(RULE) == []

    # A VPN identity per device is usual; multiple-valid-certificates watches those.
    vpn = jane(
        account("jane.doe", system="vpn"), account("jdoe-phone", system="vpn", employee_id="E1")
    )
    vpn.settings = {"vpn": {"vpn": {"kind": "openvpn"}}}
    assert vpn.findings(RULE) == []
    vpn.policy_yaml = "version: 1\nrules:\n  duplicate-accounts: {include_vpn: true}\n"
    assert len(vpn.findings(RULE)) == 1


def test_service_accounts_are_nobodys() -> None:
    world = jane(account("jane.doe"), account("svc-jane", employee_id="E1"))
    world.policy_yaml = (
        "version: 1\naccounts:\n  - {system: aws, login: svc-*, kind: service, owner: platform}\n"
    )

    assert world.findings(RULE) == []
