"""What rules see: the evaluated state's indexes, asked as the rules ask them."""

from __future__ import annotations

import pytest

from iam_gov.model import EmploymentStatus
from tests.support.world import (
    World,
    account,
    days_ago,
    grant,
    group,
    password,
    person,
)


def held_twice(**person_extra: object) -> World:
    """Jane holds Admins directly and through the Platform group (nested membership)."""
    admins = group("Admins", privileged=True)
    platform = group("Platform")
    jane = account("jane.doe", last_login_at=days_ago(200), mfa_factors=())
    return World(
        people=[person("E1", "Jane Doe", **person_extra)],  # type: ignore[arg-type]
        accounts=[jane],
        entitlements=[admins, platform],
        grants=[grant(jane, platform), grant(jane, admins), grant(jane, admins, via=platform)],
        credentials=[password(jane)],
    )


def test_a_privileged_entitlement_held_two_ways_is_listed_once() -> None:
    state = held_twice().state()
    view = state.systems["aws"]

    held = state.privileged_grants(view, view.accounts[next(iter(view.accounts))])

    assert [e.ref for e in held] == ["group:Admins"]


@pytest.mark.parametrize(
    ("rule_id", "person_extra"),
    [
        ("dormant-account", {}),
        ("mfa-missing", {}),
        (
            "leaver-active-access",
            {"status": EmploymentStatus.TERMINATED, "end_date": days_ago(30).date()},
        ),
    ],
)
def test_every_message_mentions_it_once(rule_id: str, person_extra: dict[str, object]) -> None:
    [finding] = held_twice(**person_extra).findings(rule_id)

    assert "privileged access (group:Admins)" in finding.message
    assert finding.message.count("group:Admins") == 1
