"""A finding about a shared cause (an AWS group, a policy, identical inline copies) is on the
items of every account it lists, however its subject is spelled, and on no other account."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from iam_gov.campaigns.definition import CampaignDefinition
from iam_gov.campaigns.launch import create_campaign, launch_campaign
from iam_gov.store.affected import listed_principals
from iam_gov.store.findings import list_findings
from iam_gov.store.schema import campaign_items
from tests.campaigns.conftest import DEMO_NOW, Demo

SHARED_RULES = ("aws-admin-equivalent", "aws-privilege-escalation")
ADMINS = "arn:aws:iam::210987654321:group/Admins"


def launched_items(demo: Demo) -> list[dict[str, Any]]:
    definition = CampaignDefinition(
        name="Q4 access review",
        reviewers={"rule": "manager", "fallback": "grc@example.com"},
        precertify="role-explained",
    )
    campaign_id = create_campaign(demo.store, definition, actor="grc")
    launch_campaign(demo.store, demo.config, demo.policy, campaign_id, actor="grc", now=DEMO_NOW)
    with demo.store.reading() as conn:
        rows = conn.execute(
            select(campaign_items).where(campaign_items.c.campaign_id == campaign_id)
        )
        return [dict(r._mapping) for r in rows]


def rules_of(item: dict[str, Any]) -> set[str]:
    return set((item["finding_rules"] or "").split(",")) - {""}


def test_every_account_a_shared_finding_lists_has_it_on_each_item(demo: Demo) -> None:
    with demo.store.reading() as conn:
        shared = [f for f in list_findings(conn) if f.rule_id in SHARED_RULES]
    expected: dict[str, set[str]] = {}
    for finding in shared:
        for principal in listed_principals(finding.evidence):
            expected.setdefault(principal.account_id, set()).add(finding.rule_id)
    # what the demo plants: one group finding listing a person's user and the break-glass
    # user (so nobody's in person_id), its subject the group, not either account
    [admins] = [f for f in shared if f.subject == f"aws:{ADMINS}"]
    assert len(listed_principals(admins.evidence)) == 2
    assert {p.login for p in listed_principals(admins.evidence)} == {
        "jakub.novotna",
        "breakglass-admin",
    }

    items = launched_items(demo)

    aws = [i for i in items if i["system"] == "aws"]
    got: dict[str, set[str]] = {}
    for item in aws:
        if rules := rules_of(item) & set(SHARED_RULES):
            got.setdefault(item["account_id"], set()).update(rules)
    # the principals that hold grants, each with exactly the rules that list it: no account
    # is missed, and no subject's account (a target, a role behind a trust policy) is added
    holders = {i["account_id"] for i in aws}
    assert got == {a: r for a, r in expected.items() if a in holders}
    assert {"jakub.novotna", "breakglass-admin"} <= {
        i["account_login"] for i in aws if i["account_id"] in got
    }
    for item in aws:
        if item["account_id"] in got:
            assert item["precertified"] is None, item  # an open finding is not certified clean


def test_each_account_carries_its_own_severity_from_a_shared_finding(demo: Demo) -> None:
    items = launched_items(demo)

    breakglass = [i for i in items if i["account_login"] == "breakglass-admin"]
    # the group makes a person's user admin (high), and the declared break-glass account:
    # expected of it, low, as it was when each account had its own finding
    assert breakglass and all(rules_of(i) == {"aws-admin-equivalent"} for i in breakglass)
    assert {i["finding_severity"] for i in breakglass} == {"low"}
    jakub = [i for i in items if i["account_login"] == "jakub.novotna" and i["system"] == "aws"]
    assert jakub and all(i["finding_severity"] == "high" for i in jakub)
