"""A manager reviews the demo company's launched campaign in the TUI: the items the launch made
(not seeded rows), the flags and reasons it worked out, decisions written to the store."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from iam_gov.campaigns.definition import CampaignDefinition
from iam_gov.campaigns.launch import create_campaign, launch_campaign
from iam_gov.campaigns.reviewer import Reviewer
from iam_gov.collect import collect
from iam_gov.config import load_config
from iam_gov.evaluation import evaluate
from iam_gov.policy import load_policy
from iam_gov.rules import all_rules
from iam_gov.store import Store
from iam_gov.store.schema import campaign_items
from tests.campaigns.conftest import DEMO, DEMO_NOW
from tests.tui.conftest import SIZE, cursor_item, make_app, screen_text

pytestmark = pytest.mark.anyio

MIRA = Reviewer(
    email="mira.bauer@example.com", actor="mira.bauer@example.com", os_user="mira", admin=False
)


@pytest.fixture
def demo_campaign(tmp_path: Path) -> tuple[Store, int]:
    store = Store.open(f"sqlite:///{tmp_path}/iam-gov.db")
    config = load_config(DEMO / "iam-gov.toml")
    policy = load_policy(config.policy.path, rules=all_rules())
    collect(config, store)
    evaluate(store, config, policy, now=DEMO_NOW)
    definition = CampaignDefinition(
        name="Q4 access review",
        reviewers={"rule": "manager"},
        precertify="role-explained",
        comment_required=("revoke",),
    )
    campaign_id = create_campaign(store, definition, actor="grc")
    launch_campaign(store, config, policy, campaign_id, actor="grc", now=DEMO_NOW)
    return store, campaign_id


async def test_a_manager_reviews_the_launched_demo_campaign(
    demo_campaign: tuple[Store, int],
) -> None:
    store, campaign_id = demo_campaign
    with store.reading() as conn:
        mine = conn.execute(
            select(campaign_items)
            .where(campaign_items.c.campaign_id == campaign_id)
            .where(campaign_items.c.reviewer == MIRA.email)
            .order_by(campaign_items.c.item_id)
        ).all()
    undecided = [r for r in mine if r.decision is None]
    assert undecided and len(undecided) < len(mine)  # some were pre-certified
    first = undecided[0]

    app = make_app(store, MIRA, campaign_id=campaign_id, now=DEMO_NOW)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.pause()
        shown = screen_text(app)
        decided = len(mine) - len(undecided)
        assert f"{decided} of {len(mine)} decided" in shown
        assert "PRECERT" in shown.upper() or "precert" in shown
        if cursor_item(app) != first.item_id:  # on a pre-certified item: to the next to do
            await pilot.press("n")
            await pilot.pause()
        assert cursor_item(app) == first.item_id
        assert first.person_name in screen_text(app)
        assert first.entitlement_name in screen_text(app)
        await pilot.press("r")  # revoking needs a comment: the dialog asks for it
        await pilot.pause()
        await pilot.press(*"no longer needed in Sales", "enter")
        await pilot.pause()

    with store.reading() as conn:
        row = conn.execute(
            select(campaign_items.c.decision, campaign_items.c.comment, campaign_items.c.decided_by)
            .where(campaign_items.c.campaign_id == campaign_id)
            .where(campaign_items.c.item_id == first.item_id)
        ).one()
    assert tuple(row) == ("revoke", "no longer needed in Sales", MIRA.email)
    store.close()
