"""`explain PERSON` and findings about a shared cause: a finding that lists several people's
accounts (one AWS group making them admin) is shown on each listed account of each person."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from iam_gov.explain import PersonExplanation, explain_person, shared_cause
from iam_gov.model import Finding
from iam_gov.reports.explain import explanation_view
from tests.support.aws_account import ADMINISTRATOR_ACCESS, AwsWorld, ExportedAccount, arn
from tests.support.world import person

RULE = "aws-admin-equivalent"
ADMINS = arn("group", "admins")
PEOPLE = [person("E1", "Alice Archer"), person("E2", "Bob Baker"), person("E3", "Carol Cole")]


@pytest.fixture
def aws(tmp_path: Path) -> ExportedAccount:
    return ExportedAccount(tmp_path / "export")


def admins_group(aws: ExportedAccount) -> str:
    return aws.group(
        "admins", policies=[aws.aws_managed("AdministratorAccess", ADMINISTRATOR_ACCESS)]
    )


def explained(world: AwsWorld, employee_id: str) -> tuple[PersonExplanation, Finding]:
    [finding] = world.findings(RULE)
    state = world.state()
    return explain_person(state, state.people[employee_id], world.findings()), finding


def where(x: PersonExplanation, finding: Finding) -> list[str]:
    """The logins of the account lines that show the finding; "grant" or "person" when a
    grant line or the person's own section shows it."""
    places = [line.account.login for line in x.accounts if finding in line.findings]
    places += ["grant" for line in x.accounts for g in line.grants if finding in g.findings]
    return places + (["person"] if finding in x.other_findings else [])


def rendered(x: PersonExplanation) -> str:
    console = Console(width=400, record=True, color_system=None)
    console.print(explanation_view(x))
    return console.export_text()


def test_a_shared_finding_is_on_the_account_of_each_person_it_lists(aws: ExportedAccount) -> None:
    admins = admins_group(aws)
    aws.user("alice", employee_id="E1", groups=[admins])
    aws.user("bob", employee_id="E2", groups=[admins])
    aws.user("carol", employee_id="E3")
    world = aws.world(people=PEOPLE)

    alice, finding = explained(world, "E1")
    bob, _ = explained(world, "E2")
    carol, _ = explained(world, "E3")

    assert finding.person_id is None and finding.subject == f"aws:{ADMINS}"
    assert where(alice, finding) == ["alice"]
    assert where(bob, finding) == ["bob"]
    assert where(carol, finding) == []
    assert shared_cause(finding) == f"one of 2 principals; cause: {ADMINS}"
    text = rendered(alice)
    assert f"{RULE} (one of 2 principals; cause: {ADMINS}): " in text
    assert "About the person" not in text
    assert RULE not in rendered(carol)


def test_a_shared_finding_that_lists_one_account_is_on_that_account(
    aws: ExportedAccount,
) -> None:
    """Its subject is the group, not the account: it is still about the account."""
    aws.user("alice", employee_id="E1", groups=[admins_group(aws)])
    world = aws.world(people=PEOPLE)

    alice, finding = explained(world, "E1")

    assert finding.person_id == "E1" and finding.subject == f"aws:{ADMINS}"
    assert where(alice, finding) == ["alice"]
    assert shared_cause(finding) is None  # its message names the account already
    assert f"{RULE}: " in rendered(alice)


def test_each_of_a_persons_listed_accounts_shows_the_finding(aws: ExportedAccount) -> None:
    admins = admins_group(aws)
    aws.user("alice", employee_id="E1", groups=[admins])
    aws.user("alice-admin", employee_id="E1", groups=[admins])
    aws.user("bob", employee_id="E2", groups=[admins])
    world = aws.world(people=PEOPLE)

    alice, finding = explained(world, "E1")

    assert sorted(where(alice, finding)) == ["alice", "alice-admin"]
    assert shared_cause(finding) == f"one of 3 principals; cause: {ADMINS}"


def test_explain_says_at_the_top_and_on_the_system_when_its_data_is_incomplete() -> None:
    from tests.support.world import World, account, grant, group

    jane = account("jane.doe", employee_id="E1", system="okta")
    staff = group("Staff", system="okta")
    whole = World(
        people=[person("E1", "Jane Doe")],
        accounts=[jane],
        entitlements=[staff],
        grants=[grant(jane, staff)],
    )
    partial = World(
        people=[person("E1", "Jane Doe")],
        accounts=[jane],
        entitlements=[staff],
        grants=[grant(jane, staff)],
        incomplete_systems={"okta"},
    )

    def shown(world: World) -> tuple[PersonExplanation, str]:
        state = world.state()
        x = explain_person(state, state.people["E1"], [])
        console = Console(width=200, record=True)
        console.print(explanation_view(x))
        return x, console.export_text()

    x, text = shown(partial)
    assert list(x.incomplete) == ["okta"]
    assert "INCOMPLETE DATA: okta — access missing below may exist" in text
    assert "okta (INCOMPLETE DATA) · jane.doe" in text
    assert "a bad record" in text  # no consequence stated: the problem itself

    x, text = shown(whole)
    assert x.incomplete == {} and "INCOMPLETE" not in text
