"""Launching a campaign on the demo company: the frozen population, its order, its reviewers."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text, update

from iam_gov.campaigns import launch as launch_module
from iam_gov.campaigns.definition import CampaignDefinition, CampaignError
from iam_gov.campaigns.launch import create_campaign, launch_campaign, population_hash
from iam_gov.collect import collect
from iam_gov.config import ReviewSettings
from iam_gov.policy import load_policy
from iam_gov.rules import all_rules
from iam_gov.store.schema import campaign_history, campaign_items, campaigns, snapshots
from iam_gov.store.snapshots import latest_snapshots, load_snapshot
from tests.campaigns.conftest import DEMO, DEMO_NOW, Demo

FALLBACK = "grc@example.com"


def launch(demo: Demo, **definition: Any) -> int:
    definition.setdefault("name", "Q4 access review")
    definition.setdefault("reviewers", {"rule": "manager", "fallback": FALLBACK})
    campaign_id = create_campaign(demo.store, CampaignDefinition(**definition), actor="grc")
    launch_campaign(demo.store, demo.config, demo.policy, campaign_id, actor="grc", now=DEMO_NOW)
    return campaign_id


def items(demo: Demo, campaign_id: int) -> list[dict[str, Any]]:
    with demo.store.reading() as conn:
        rows = conn.execute(
            select(campaign_items)
            .where(campaign_items.c.campaign_id == campaign_id)
            .order_by(campaign_items.c.item_id)
        )
        return [dict(r._mapping) for r in rows]


def test_one_item_per_account_and_entitlement_of_every_system(demo: Demo) -> None:
    campaign_id = launch(demo)
    got = {(i["system"], i["account_id"], i["entitlement_id"]) for i in items(demo, campaign_id)}

    expected = set()
    with demo.store.reading() as conn:
        for name, info in latest_snapshots(conn).items():
            if name != demo.config.hr_system:
                snapshot = load_snapshot(conn, info.id, documents=False)
                expected |= {(name, g.account_id, g.entitlement_id) for g in snapshot.grants}
    assert got == expected
    assert len(items(demo, campaign_id)) == len(expected)  # each once, though held two ways


def test_leavers_first_then_by_risk_and_leavers_are_recommended_for_revocation(
    demo: Demo,
) -> None:
    rows = items(demo, launch(demo))

    leavers = [r["leaver"] for r in rows]
    assert any(leavers) and not all(leavers)
    assert leavers == sorted(leavers, reverse=True)
    first_non_leaver = leavers.index(False)
    for group in (rows[:first_non_leaver], rows[first_non_leaver:]):
        risks = [r["risk"] for r in group]
        assert risks == sorted(risks, reverse=True)
    erik = [r for r in rows if r["person_email"] == "erik.reyes@example.com"]
    assert erik and all(r["leaver"] and r["recommendation"] == "revoke" for r in erik)
    assert any("leaver-active-access" in r["finding_rules"] for r in erik)


def test_a_leaver_never_reviews_and_nobody_reviews_their_own_access(demo: Demo) -> None:
    rows = items(demo, launch(demo))

    # Erik's manager Søren has left too: his items go up the chain to someone still here.
    erik = [r for r in rows if r["person_email"] == "erik.reyes@example.com"]
    assert {r["reviewer"] for r in erik} == {"diego.dubois@example.com"}
    assert all(r["reviewer"] != r["person_email"] for r in rows)


def test_a_named_reviewers_own_access_goes_to_their_manager_or_the_fallback(
    demo: Demo,
) -> None:
    ceo, head_of_it = "diego.dubois@example.com", "arjun.laine@example.com"
    for named, expected in ((head_of_it, ceo), (ceo, FALLBACK)):
        reviewers = {"rule": "named", "named": named, "fallback": FALLBACK}
        rows = items(demo, launch(demo, reviewers=reviewers))
        assert {r["reviewer"] for r in rows if r["person_email"] != named} == {named}
        own = [r for r in rows if r["person_email"] == named]
        assert own and {r["reviewer"] for r in own} == {expected}
        assert {r["reviewer_rule"] for r in own} == {
            "self-review: manager" if expected == ceo else "self-review: fallback"
        }


def test_the_ceo_reviewing_everything_without_a_fallback_is_refused(demo: Demo) -> None:
    reviewers = {"rule": "named", "named": "diego.dubois@example.com"}
    campaign_id = create_campaign(
        demo.store, CampaignDefinition(name="q4", reviewers=reviewers), actor="grc"
    )
    without_fallback = demo.config.model_copy(update={"review": ReviewSettings()})
    with pytest.raises(CampaignError, match=r"item\(s\) have no reviewer \(e.g. .*diego"):
        launch_campaign(demo.store, without_fallback, demo.policy, campaign_id, actor="grc")


def test_without_anybody_to_review_some_items_the_launch_is_refused_and_nothing_written(
    demo: Demo,
) -> None:
    definition = CampaignDefinition(name="owners", reviewers={"rule": "owner"})
    campaign_id = create_campaign(demo.store, definition, actor="grc")

    with pytest.raises(CampaignError, match=r"have no reviewer.*fallback"):
        launch_campaign(demo.store, demo.config, demo.policy, campaign_id, actor="grc")
    with demo.store.reading() as conn:
        status = conn.execute(select(campaigns.c.status).where(campaigns.c.id == campaign_id))
        assert status.scalar_one() == "draft"
        assert not conn.execute(select(campaign_items.c.item_id)).first()


def test_entitlement_owners_from_the_policy_review_their_entitlements(
    demo: Demo, tmp_path: Path
) -> None:
    folder = tmp_path / "policy"
    folder.mkdir()
    shutil.copy(DEMO / "policy.yaml", folder / "policy.yaml")
    (folder / "owners.yaml").write_text(
        "version: 1\nowners:\n  aws:\n"
        "    - {entitlement: 'group:Developers', owner: Dev.Lead@example.com}\n"
    )
    policy = load_policy(folder, rules=all_rules())
    definition = CampaignDefinition(
        name="owners", reviewers={"rule": "owner", "fallback": FALLBACK}
    )
    campaign_id = create_campaign(demo.store, definition, actor="grc")
    launch_campaign(demo.store, demo.config, policy, campaign_id, actor="grc", now=DEMO_NOW)

    rows = items(demo, campaign_id)
    developers = [r for r in rows if r["system"] == "aws" and r["entitlement_name"] == "Developers"]
    assert developers and {r["reviewer"] for r in developers} == {"dev.lead@example.com"}
    assert {r["reviewer_rule"] for r in developers} == {"owner"}
    others = [r for r in rows if r not in developers]
    assert {r["reviewer"] for r in others} == {FALLBACK}


def test_an_incomplete_snapshot_is_refused_naming_the_system(demo: Demo) -> None:
    with demo.store.writing() as conn:
        newest = latest_snapshots(conn)["okta"].id
        conn.execute(update(snapshots).where(snapshots.c.id == newest).values(complete=False))
    campaign_id = create_campaign(demo.store, CampaignDefinition(name="q4"), actor="grc")

    with pytest.raises(CampaignError, match=r"okta: the latest snapshot .* is incomplete"):
        launch_campaign(demo.store, demo.config, demo.policy, campaign_id, actor="grc")
    # a scope without okta does not need it
    launch(demo, scope={"systems": ["aws"]})


def test_snapshots_not_yet_evaluated_are_refused(demo: Demo) -> None:
    collect(demo.config, demo.store, ["aws"])
    campaign_id = create_campaign(demo.store, CampaignDefinition(name="q4"), actor="grc")

    with pytest.raises(CampaignError, match=r"aws have not been evaluated"):
        launch_campaign(demo.store, demo.config, demo.policy, campaign_id, actor="grc")


def test_the_population_hash_is_recorded_repeatable_and_shows_any_change(demo: Demo) -> None:
    first, second = launch(demo), launch(demo)
    with demo.store.writing() as conn:
        recorded = dict(conn.execute(select(campaigns.c.id, campaigns.c.population_hash)).all())
        assert recorded[first] == recorded[second] == population_hash(conn, first)
        conn.execute(
            update(campaign_items)
            .where(campaign_items.c.campaign_id == first, campaign_items.c.item_id == 5)
            .values(entitlement_id="something-else")
        )
        assert population_hash(conn, first) != recorded[first]
        log = conn.execute(text("SELECT details FROM audit_log WHERE action = 'campaign.launch'"))
        details = [json.loads(d) if isinstance(d, str) else d for (d,) in log]
        assert [d["population_hash"] for d in details] == [recorded[first], recorded[second]]


def test_the_population_hash_is_the_documented_lines(
    demo: Demo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Anyone can recompute it from the evidence: one line per item in review order (the
    database writes the lines 100 items at a time here, to go through several chunks)."""
    monkeypatch.setattr(launch_module, "HASH_CHUNK", 100)
    rows = items(demo, launch(demo))
    lines = "".join(
        f"{r['item_id']}\t{r['system']}\t{r['account_id']}\t{r['entitlement_id']}\t"
        f"{int(bool(r['direct']))}\t{r['via_ids']}\n"
        for r in rows
    )
    assert len(rows) > 300 and any(r["via_ids"] for r in rows)
    with demo.store.reading() as conn:
        recorded = conn.execute(select(campaigns.c.population_hash)).scalar_one()
    assert recorded == hashlib.sha256(lines.encode()).hexdigest()


def test_items_a_role_fully_explains_are_precertified_and_the_evidence_says_so(
    demo: Demo,
) -> None:
    rows = items(demo, launch(demo, precertify="role-explained"))
    pre = [r for r in rows if r["precertified"]]
    assert pre and len(pre) < len(rows)
    for r in pre:
        assert r["decision"] == "approve" and r["in_role"] and not r["privileged"]
        assert not r["leaver"] and not r["finding_rules"]
        assert r["precertified"] == "role-explained"
        assert r["explanation"].startswith("role ") or ", which role " in r["explanation"]
    # held through a group a role brings: explained by that role too
    assert any(not r["direct"] and ", which role " in r["explanation"] for r in pre)
    with demo.store.reading() as conn:
        history = conn.execute(
            select(campaign_history.c.details).where(campaign_history.c.action == "precertify")
        )
        assert [d["items"] for d in history.scalars()] == [len(pre)]
    assert not any(r["decision"] for r in items(demo, launch(demo)))


def test_scope_narrows_the_population(demo: Demo) -> None:
    everything = items(demo, launch(demo))
    privileged = items(demo, launch(demo, scope={"privileged_only": True}))
    assert privileged and all(r["privileged"] for r in privileged)
    assert len(privileged) == sum(1 for r in everything if r["privileged"])

    aws_engineering = items(
        demo, launch(demo, scope={"systems": ["aws"], "departments": ["engineer*"]})
    )
    assert aws_engineering
    assert {r["system"] for r in aws_engineering} == {"aws"}
    assert {r["department"] for r in aws_engineering} == {"Engineering"}

    one = everything[3]
    grant = {k: one[k] for k in ("system", "account_id", "entitlement_id")}
    exact = items(demo, launch(demo, scope={"grants": [grant]}))
    assert [(r["system"], r["account_id"], r["entitlement_id"]) for r in exact] == [
        tuple(grant.values())
    ]


def test_peers_are_people_with_the_same_roles_not_their_accounts(demo: Demo) -> None:
    rows = items(demo, launch(demo))
    assert all(r["peers_holding"] <= r["peers_total"] for r in rows)
    # Aarav holds All Staff in AD through two accounts: he is one of the peers, once.
    aarav = [
        r
        for r in rows
        if r["person_email"] == "aarav.petrov@example.com"
        and r["system"] == "ad"
        and r["entitlement_name"] == "All Staff"
    ]
    assert len(aarav) == 2 and aarav[0]["peers_holding"] == aarav[0]["peers_total"]


def test_exceptions_and_declared_accounts_explain_items_and_name_owners(demo: Demo) -> None:
    rows = items(demo, launch(demo))

    by_id = [r for r in rows if r["person_id"] == "E1042" and r["system"] == "aws"]
    analysts = [r for r in by_id if r["entitlement_name"] == "Data-Analysts"]
    assert len(analysts) == 1 and analysts[0]["in_role"]
    assert analysts[0]["explanation"].startswith("exception approved by head.of.data@")
    expired = [
        r
        for r in rows
        if r["person_email"] == "lucas.dubois@example.com"
        and r["entitlement_name"] == "Data-Analysts"
    ]
    assert expired and not expired[0]["explanation"].startswith("exception")  # it ended

    ci = [r for r in rows if r["system"] == "aws" and r["account_login"] == "ci-deployer"]
    assert ci and {r["reviewer"] for r in ci} == {"platform@example.com"}
    assert all(r["explanation"].startswith("declared service account") for r in ci if r["direct"])
