"""missing-birthright: what a person's role brings that they do not have."""

from __future__ import annotations

from datetime import date

from iam_gov.model import EmploymentStatus
from tests.support.world import World, account, grant, group, person

RULE = "missing-birthright"
POLICY = """\
version: 1
roles:
  - name: engineer
    match: {department: Engineering}
    grants: {aws: ["group:Developers", "group:ReadOnly", "group:Team-*"]}
"""


def engineer(*held: str, **person_kw: object) -> World:
    jane = account("jane.doe", employee_id="E1")
    groups = {n: group(n) for n in ("Developers", "ReadOnly", "Team-Web")}
    return World(
        policy_yaml=POLICY,
        people=[person("E1", "Jane Doe", **person_kw)],  # type: ignore[arg-type]
        accounts=[jane],
        entitlements=list(groups.values()),
        grants=[grant(jane, groups[n]) for n in held],
    )


def test_a_missing_birthright_group_is_reported_but_not_a_wildcard() -> None:
    [finding] = engineer("Developers").findings(RULE)
    assert finding.message == (
        "Jane Doe's aws account jane.doe lacks group:ReadOnly, which their role brings."
    )
    assert finding.evidence["missing"] == ["group:ReadOnly"]


def test_everything_held_is_fine() -> None:
    assert engineer("Developers", "ReadOnly").findings(RULE) == []


def test_no_account_at_all_is_reported() -> None:
    world = engineer()
    world.accounts = []
    world.grants = []
    [finding] = world.findings(RULE)
    assert "has no aws account, though their role brings group:Developers, group:ReadOnly" in (
        finding.message
    )


def test_incomplete_data_never_counts_as_missing() -> None:
    world = engineer("Developers")
    world.incomplete_systems = {"aws"}
    assert world.findings(RULE) == []


def test_new_joiners_and_people_on_leave_are_not_judged() -> None:
    assert engineer("Developers", start_date=date(2026, 11, 25)).findings(RULE) == []
    assert engineer("Developers", status=EmploymentStatus.LEAVE).findings(RULE) == []
