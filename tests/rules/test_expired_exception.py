"""expired-exception: an exception that has expired (or soon will) while its access is held."""

from __future__ import annotations

from datetime import date

from iam_gov.model import AccountStatus, EmploymentStatus, Severity
from tests.support.world import World, account, arn, grant, group, managed_policy, person

RULE = "expired-exception"

ROLES = """\
version: 1
roles:
  - name: engineer
    match: {department: Engineering}
    grants:
      aws: ["group:Developers"]
"""

DEVELOPERS = group("Developers")
BILLING = group("Billing")
READ_ONLY = managed_policy("ReadOnlyAccess")


def exception(
    expires: str, entitlement: str = "group:Billing", who: str = "person: E1", **extra: str
) -> str:
    lines = [
        f"  - {who}",
        "    system: aws",
        f"    entitlement: {entitlement}",
        "    approver: cfo@example.com",
        "    reason: quarter-end close",
        f"    expires: {expires}",
        *(f"    {k}: {v}" for k, v in extra.items()),
    ]
    return "\n".join(lines) + "\n"


def jane(*exceptions: str, roles: str = ROLES, holds: tuple[object, ...] = (BILLING,)) -> World:
    jane = account("jane.doe")
    return World(
        policy_yaml=roles + "exceptions:\n" + "".join(exceptions),
        people=[person("E1", "Jane Doe")],
        accounts=[jane],
        entitlements=[DEVELOPERS, BILLING, READ_ONLY],
        grants=[grant(jane, e) for e in holds],  # type: ignore[arg-type]
    )


def test_an_expired_exception_for_access_still_held_is_reported() -> None:
    world = jane(exception("2026-11-01", ticket="SEC-42"))

    [finding] = world.findings(RULE)

    assert finding.severity is Severity.MEDIUM
    assert finding.subject == f"aws:{arn('jane.doe')}:exception:group:Billing:2026-11-01"
    assert finding.person_id == "E1"
    assert finding.message.startswith(
        "The exception approved by cfo@example.com for Jane Doe's aws account jane.doe to hold "
        "group:Billing expired on 2026-11-01 (26 days ago), and the access is still held "
        "(group:Billing; "
    )
    evidence = finding.evidence
    assert evidence["where"].endswith("policy.yaml:8")
    assert (evidence["approver"], evidence["reason"], evidence["ticket"]) == (
        "cfo@example.com",
        "quarter-end close",
        "SEC-42",
    )
    assert evidence["expires"] == "2026-11-01" and evidence["days_past"] == 26
    assert evidence["held"] == ["group:Billing"]


def test_an_exception_ending_soon_is_info() -> None:
    [finding] = jane(exception("2026-12-05")).findings(RULE)

    assert finding.severity is Severity.INFO
    assert finding.evidence["days_past"] == -8
    assert "ends on 2026-12-05, in 8 days" in finding.message
    assert finding.message.endswith(": renew it or plan the removal.")


def test_exceptions_far_from_their_end_are_quiet_until_warn_days() -> None:
    world = jane(exception("2026-12-27"))
    assert world.findings(RULE) == []

    world.policy_yaml += "rules:\n  expired-exception: {warn_days: 30}\n"
    [finding] = world.findings(RULE)
    assert finding.severity is Severity.INFO


def test_a_renewal_or_a_role_approves_the_access_instead() -> None:
    renewed = jane(exception("2026-11-01"), exception("2027-06-30"))
    assert renewed.findings(RULE) == []  # the renewal runs: nothing to do for either

    renewed_soon = jane(exception("2026-12-01"), exception("2027-06-30"))
    assert renewed_soon.findings(RULE) == []

    role_now = jane(exception("2026-11-01", "group:Developers"), holds=(DEVELOPERS,))
    assert role_now.findings(RULE) == []


def test_access_no_longer_held_needs_nothing() -> None:
    assert jane(exception("2026-11-01"), holds=(DEVELOPERS,)).findings(RULE) == []


def test_access_through_a_group_counts_unless_the_membership_is_approved() -> None:
    world = jane(exception("2026-11-01", "policy:ReadOnlyAccess"))
    [account_] = world.accounts
    world.grants.append(grant(account_, READ_ONLY, via=BILLING))

    [finding] = world.findings(RULE)
    assert finding.evidence["held"] == ["policy:ReadOnlyAccess through group:Billing"]

    # Through Developers, which the engineer role brings: approved by the role.
    world.grants = [grant(account_, DEVELOPERS), grant(account_, READ_ONLY, via=DEVELOPERS)]
    assert world.findings(RULE) == []


def test_an_exception_for_an_account() -> None:
    svc = account("svc-report")
    world = World(
        policy_yaml=(
            "version: 1\naccounts:\n"
            "  - {system: aws, login: svc-report, kind: service, owner: finance, "
            "entitlements: ['group:Reports']}\n"
            "exceptions:\n" + exception("2026-10-31", who="account: svc-report")
        ),
        accounts=[svc],
        entitlements=[BILLING],
        grants=[grant(svc, BILLING)],
    )

    [finding] = world.findings(RULE)

    assert finding.person_id is None
    assert "for aws account svc-report to hold group:Billing expired on 2026-10-31" in (
        finding.message
    )


def test_leavers_and_disabled_accounts_are_left_to_other_rules() -> None:
    world = jane(exception("2026-11-01"))
    world.people = [
        person("E1", "Jane Doe", status=EmploymentStatus.TERMINATED, end_date=date(2026, 10, 1))
    ]
    assert world.findings(RULE) == []

    world = jane(exception("2026-11-01"))
    world.accounts = [
        a.model_copy(update={"status": AccountStatus.DISABLED}) for a in world.accounts
    ]
    assert world.findings(RULE) == []
