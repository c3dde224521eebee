"""mover-access: the previous role's access still held after a move."""

from __future__ import annotations

from iam_gov.model import Severity
from tests.support.world import World, account, grant, group, moved, person

RULE = "mover-access"
POLICY = """\
version: 1
roles:
  - name: engineer
    match: {department: Engineering}
    grants: {aws: ["group:Developers", "group:Admins"]}
  - name: sales
    match: {department: Sales}
    grants: {aws: ["group:CRM"]}
privileged:
  aws: ["group:Admins"]
"""


def mover(days_since_move: float, *held: str) -> World:
    jane = account("jane.doe", employee_id="E1")
    groups = {name: group(name) for name in ("Developers", "Admins", "CRM", "Finance")}
    return World(
        policy_yaml=POLICY,
        people=[person("E1", "Jane Doe", department="Sales", title="Account Executive")],
        accounts=[jane],
        entitlements=list(groups.values()),
        grants=[grant(jane, groups[name]) for name in held],
        moves=moved("E1", days_since_move, department=("Engineering", "Sales")),
    )


def test_the_old_role_s_access_after_the_grace_period_is_reported() -> None:
    findings = mover(45, "Developers", "CRM").findings(RULE)
    [finding] = findings
    assert finding.severity is Severity.MEDIUM
    assert finding.person_id == "E1"
    assert "Jane Doe changed role on 2026-10-13 (department Engineering → Sales)" in finding.message
    assert "still holds group:Developers, which came with their previous role engineer" in (
        finding.message
    )
    assert finding.evidence["previous_roles"] == ["engineer"]
    assert finding.evidence["current_roles"] == ["sales"]
    assert finding.evidence["days_since_change"] == 45


def test_privileged_leftovers_are_high() -> None:
    [finding] = mover(45, "Admins").findings(RULE)
    assert finding.severity is Severity.HIGH


def test_within_the_grace_period_nothing_is_reported() -> None:
    assert mover(20, "Developers").findings(RULE) == []
    world = mover(20, "Developers")
    world.policy_yaml = POLICY + "rules:\n  mover-access: {grace_days: 7}\n"
    assert len(world.findings(RULE)) == 1


def test_leftovers_are_not_reported_twice_as_excess() -> None:
    world = mover(45, "Developers", "Finance")
    assert [f.evidence["entitlement"] for f in world.findings("excess-access")] == [
        "group:Finance"  # not explained by any role, old or new
    ]


def test_access_the_new_role_also_brings_is_fine() -> None:
    world = mover(45, "CRM")
    assert world.findings(RULE) == []


def test_someone_who_never_moved_is_judged_by_excess_only() -> None:
    world = mover(45, "Developers")
    world.moves = {}
    assert world.findings(RULE) == []
    assert len(world.findings("excess-access")) == 1
