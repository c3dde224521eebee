"""A closed review's revocations carried out by the deprovisioning executor: the plan comes
from the campaign, with the same guards; a VPN grant is removed by removing the peer."""

from __future__ import annotations

from sqlalchemy import select

from iam_gov.campaigns.close import close_campaign
from iam_gov.campaigns.decisions import decide
from iam_gov.campaigns.definition import CampaignDefinition
from iam_gov.campaigns.launch import create_campaign, launch_campaign
from iam_gov.campaigns.plan import build_plan
from iam_gov.campaigns.reviewer import Reviewer
from iam_gov.deprovision.executor import Executor
from iam_gov.deprovision.planner import plan_from_actions
from iam_gov.model import ActionKind
from iam_gov.store.schema import campaign_items
from tests.deprovision.conftest import DEMO_NOW, Company

HANA_PEER = "# iam-gov: login=hana.sato email=hana.sato@example.com employee_id=E1027"
GRC = Reviewer(email="grc@example.com", actor="grc@example.com", os_user="grc", admin=False)


def test_a_revoked_vpn_grant_is_removed_by_the_executor(company: Company) -> None:
    definition = CampaignDefinition(
        name="VPN review",
        scope={"systems": ["wireguard"], "people": ["hana.sato@example.com"]},
        reviewers={"rule": "named", "named": "grc@example.com"},
        comment_required=[],
    )
    campaign = create_campaign(company.store, definition, actor="grc@example.com", now=DEMO_NOW)
    launch_campaign(
        company.store, company.config, company.policy, campaign, actor="grc", now=DEMO_NOW
    )
    with company.store.reading() as conn:
        items = (
            conn.execute(
                select(campaign_items.c.item_id).where(campaign_items.c.campaign_id == campaign)
            )
            .scalars()
            .all()
        )
    assert len(items) == 1
    decide(company.store, campaign, items, "revoke", GRC, now=DEMO_NOW)
    close_campaign(
        company.store, campaign, actor="grc@example.com", now=DEMO_NOW, force_before_due=True
    )
    with company.store.reading() as conn:
        remediation = build_plan(conn, campaign, generated_at=DEMO_NOW)
    assert [a.kind for a in remediation.actions] == [ActionKind.REMOVE_GRANT]

    plan = plan_from_actions(
        company.store,
        company.config,
        company.policy,
        remediation.actions,
        reason="revoked in review",
        actor="grc@example.com",
        campaign_id=campaign,
        now=DEMO_NOW,
    )
    assert plan.kind == "remediation" and plan.campaign_id == campaign
    [step] = plan.steps
    assert step.action.kind is ActionKind.DISABLE_ACCOUNT and step.skip is None
    assert "the VPN is all this account gives" in step.action.reason

    run = Executor(company.store, company.config, actor="grc@example.com").apply(plan)

    assert run.status == "done" and [r.outcome for r in run.results] == ["done"]
    assert HANA_PEER not in company.wg_conf.read_text()
    assert "# iam-gov: login=erik.reyes" in company.wg_conf.read_text()  # nobody else
