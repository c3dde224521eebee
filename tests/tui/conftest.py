"""The reviewer TUI driven through Textual's pilot, on a SQLite store seeded with a campaign."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from textual.app import App

from iam_gov.campaigns.definition import CampaignDefinition
from iam_gov.campaigns.reviewer import Reviewer
from iam_gov.store import Store
from iam_gov.tui.app import ReviewApp
from iam_gov.tui.screens.campaign import CampaignScreen
from iam_gov.tui.widgets.item_list import ItemList
from tests.campaigns.seed import REVIEWER, SEEDED_AT, seed_campaign

NOW = datetime(2025, 1, 10, 9, 0, tzinfo=UTC)
"""Four days after the seeded campaign launched, ten before it is due (2025-01-20)."""
SIZE = (120, 36)
OTHER = "oscar.other@example.com"
ADMIN = "ada.admin@example.com"

RITA = Reviewer(email=REVIEWER, actor=REVIEWER, os_user="rita", admin=False)
ADA = Reviewer(email=ADMIN, actor=ADMIN, os_user="ada", admin=True)
ADA_FOR_RITA = Reviewer(email=REVIEWER, actor=ADMIN, os_user="ada", admin=True)


def review_items() -> list[dict[str, Any]]:
    """Twelve items for Rita in review order (leavers and high risk first) and two for Oscar."""
    used = SEEDED_AT - timedelta(days=10)
    stale = SEEDED_AT - timedelta(days=200)
    return [
        dict(
            person_name="Lena Leaver",
            leaver=True,
            recommendation="revoke",
            risk=100,
            privileged=True,
            entitlement_name="Domain Admins",
            system="ldap",
            finding_rules="leaver-active-access",
            finding_severity="critical",
            last_used_at=stale,
        ),
        dict(
            person_name="Leo Left",
            leaver=True,
            recommendation="revoke",
            risk=90,
            entitlement_name="VPN-Users",
            system="openvpn",
        ),
        dict(
            person_name="Priya Priv",
            privileged=True,
            risk=60,
            entitlement_name="AdministratorAccess",
            system="aws",
            last_used_at=used,
            peers_holding=1,
            peers_total=8,
        ),
        dict(
            person_name="Uma Unused",
            recommendation="revoke",
            risk=40,
            entitlement_name="Finance-Reports",
            last_used_at=stale,
            finding_rules="dormant-account",
            finding_severity="medium",
        ),
        dict(person_name="Mo Mover", mover=True, in_role=False, risk=30, entitlement_name="Sales"),
        dict(
            person_name="Rita Reviewer",
            person_email=REVIEWER,
            risk=20,
            entitlement_name="Managers",
        ),
        *[
            dict(
                person_name=f"Person {n}",
                entitlement_name=f"app-{n}",
                last_used_at=used,
                via="Engineering",
                direct=False,
                peers_holding=7,
                peers_total=8,
                explanation="role Engineer grants group Engineering, which holds app",
            )
            for n in range(7, 13)
        ],
        dict(person_name="Olga Other", reviewer=OTHER),
        dict(person_name="Otto Other", reviewer=OTHER),
    ]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    """The TUI reads the store as any client does; SQLite is enough to drive it."""
    with Store.open(f"sqlite:///{tmp_path}/iam-gov.db") as store:
        yield store


@pytest.fixture
def campaign(sqlite_store: Store) -> int:
    return seed_campaign(
        sqlite_store,
        review_items(),
        CampaignDefinition(name="Q1 access review", comment_required=()),
    )


def make_app(
    store: Store,
    reviewer: Reviewer = RITA,
    campaign_id: int | None = None,
    now: datetime = NOW,
) -> App[None]:
    return ReviewApp(store, reviewer, campaign_id=campaign_id, now=now)


def screen_text(app: App[Any]) -> str:
    """What the terminal shows now, line by line (what a screenshot would show)."""
    strips = app.screen._compositor.render_strips()
    return "\n".join("".join(segment.text for segment in strip) for strip in strips)


def items_of(app: ReviewApp) -> ItemList:
    screen = app.screen
    assert isinstance(screen, CampaignScreen)
    return screen.items


def cursor_item(app: ReviewApp) -> int:
    current = items_of(app).current
    assert current is not None
    return current.item_id
