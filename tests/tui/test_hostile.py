"""Names, titles, groups, comments and campaign names are data: shown literally, never run.

A directory or an HR file can hold ``[@click=app.quit]``, Rich and Textual markup, links and
terminal escape sequences; every one of them must reach the screen as the characters typed,
and clicking on them must do nothing but what a click on any text does.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from rich.text import Text
from sqlalchemy import insert
from textual.widgets import Input

from iam_gov.campaigns.definition import CampaignDefinition
from iam_gov.store import Store
from iam_gov.store.schema import evaluations, findings
from iam_gov.tui.screens.admin import AdminScreen
from iam_gov.tui.screens.campaign import CampaignScreen
from iam_gov.tui.screens.campaigns import CampaignsScreen
from iam_gov.tui.screens.comment import CommentScreen
from iam_gov.tui.widgets.item_detail import ItemDetail
from iam_gov.tui.widgets.item_list import ItemList
from tests.campaigns.seed import seed_campaign
from tests.tui.conftest import ADA, NOW, RITA, SIZE, make_app, screen_text

pytestmark = pytest.mark.anyio

CLICK = "[@click=app.quit]"
NAME = f"[bold]Mallory[/bold]{CLICK}me[/]"
TITLE = "[link=https://evil.example]Boss[/link]"
ESCAPES = "\x1b[31mRED\x1b[0m\x1b]0;pwned\x07\u202eevil"
GROUP = f"{CLICK}Admins[/]"
CAMPAIGN = f"{CLICK}Q1[/] \x1b[2J"
COMMENT = f"ok {CLICK}[/] [red]x[/red]"
EMAIL = "[@click=app.quit]@evil.example"

RAW_CONTROLS = ("\x1b", "\x07", "\u202e")


def hostile_items() -> list[dict[str, object]]:
    return [
        dict(
            person_name=NAME + ESCAPES,
            title=TITLE,
            department=f"[blink]Ops[/blink]{ESCAPES}",
            entitlement_name=GROUP,
            entitlement_id=f"group:{GROUP}",
            account_login=f"{CLICK}login",
            via=f"[red]Eng[/red],{GROUP}",
            direct=False,
            explanation=f"role {CLICK}Engineer[/] grants it",
            comment=COMMENT + "\x1b[2J",
            leaver=True,
            recommendation="revoke",
        ),
        dict(person_name="Plain Person"),
    ]


@pytest.fixture
def hostile(sqlite_store: Store) -> int:
    return seed_campaign(
        sqlite_store,
        hostile_items(),
        CampaignDefinition(name=CAMPAIGN, comment_required=()),
    )


def assert_clean(text: str) -> None:
    for control in RAW_CONTROLS:
        assert control not in text


async def test_hostile_strings_are_shown_literally_and_clicks_do_nothing(
    sqlite_store: Store, hostile: int
) -> None:
    app = make_app(sqlite_store)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, CampaignsScreen)
        text = screen_text(app)
        assert f"{CLICK}Q1[/] \\x1b[2J" in text
        assert_clean(text)
        await pilot.click("#campaigns", offset=(10, 1))  # on the campaign's name: opens it
        await pilot.pause()
        assert app.is_running
        if not isinstance(app.screen, CampaignScreen):
            await pilot.press("enter")
            await pilot.pause()
        assert isinstance(app.screen, CampaignScreen)

        text = screen_text(app)
        assert_clean(text)
        header, row = text.splitlines()[0], text.splitlines()[3]
        assert CLICK in header and "Q1[/]" in header
        assert "[bold]Mallory[/bold][@cl…" in row  # cut to the column's width
        assert "[@click=app.quit]Admins…" in row
        detail = app.screen.query_one(ItemDetail).text.plain
        for literal in (
            NAME + "\\x1b[31mRED\\x1b[0m\\x1b]0;pwned\\x07\\u202eevil",
            TITLE,
            "[blink]Ops[/blink]",
            f"group {GROUP}",
            "group [red]Eng[/red]",
            f"role {CLICK}Engineer[/] grants it",
            COMMENT + "\\x1b[2J",
            f"{CLICK}login",
        ):
            assert literal in detail, literal
        assert_clean(detail)

        # Click on every hostile string on screen: the person, the entitlement, the detail.
        for widget, offset in (
            (ItemList, (16, 1)),
            (ItemList, (20, 1)),
            (ItemList, (60, 1)),
            (ItemDetail, (10, 0)),
            (ItemDetail, (20, 1)),
            (ItemDetail, (20, 5)),
        ):
            await pilot.click(widget, offset=offset)
            await pilot.pause()
            assert app.is_running and isinstance(app.screen, CampaignScreen)

        # The tooltip of a hovered row is plain Text too.
        await pilot.hover(ItemList, offset=(20, 1))
        await pilot.pause()
        tooltip = app.screen.query_one(ItemList).tooltip
        assert isinstance(tooltip, Text)
        assert NAME in tooltip.plain and GROUP in tooltip.plain
        assert_clean(tooltip.plain)

        # The comment dialog shows the old comment as typed, control characters escaped.
        await pilot.press("c")
        await pilot.pause()
        assert isinstance(app.screen, CommentScreen)
        assert app.screen.query_one(Input).value == COMMENT + "\\x1b[2J"
        await pilot.press("escape")
        await pilot.pause()

        # A notification that repeats a hostile string (a delegate's address) shows it as is,
        # and clicking on it only dismisses it.
        await pilot.press("d")
        await pilot.pause()
        await pilot.press(*EMAIL, "enter", "enter")
        await pilot.pause()
        assert app.is_running and isinstance(app.screen, CampaignScreen)
        text = screen_text(app)
        assert f"delegate to: '{EMAIL}' is not an" in text  # the core's refusal, literally
        toast = app.screen.query("Toast").first()
        await pilot.click(toast)
        await pilot.pause()
        assert app.is_running and isinstance(app.screen, CampaignScreen)


async def test_the_admin_view_shows_hostile_strings_literally(
    sqlite_store: Store, hostile: int
) -> None:
    with sqlite_store.writing() as conn:
        evaluation = conn.execute(
            insert(evaluations).values(
                started_at=NOW,
                finished_at=NOW,
                snapshot_ids={},
                policy_digest="0" * 64,
                summary={},
            )
        ).inserted_primary_key[0]
        conn.execute(
            insert(findings).values(
                finding_id="f1",
                rule_id="leaver-active-access",
                severity="high",
                system="okta",
                subject=f"okta:{CLICK}",
                person_id="E1",
                message=f"{NAME} left",
                evidence={
                    "person_name": NAME + ESCAPES,
                    "account_login": f"{CLICK}login",
                    "end_date": "2024-12-31",
                },
                first_seen=NOW - timedelta(days=3),
                last_seen=NOW,
                last_evaluation_id=evaluation,
            )
        )
    app = make_app(sqlite_store, ADA, now=NOW + timedelta(days=30))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("A")
        await pilot.pause()
        assert isinstance(app.screen, AdminScreen)
        text = screen_text(app)
        assert_clean(text)
        assert f"{CLICK}Q1[/]" in text
        assert "[bold]Mallory[/bold]" in text
        assert f"{CLICK}login" in text
        assert "leaver-active-access" in text
        for selector in ("#admin-campaigns", "#admin-overdue", "#admin-leavers"):
            for x in (5, 15, 30):
                await pilot.click(selector, offset=(x, 1))
                await pilot.pause()
                assert app.is_running and isinstance(app.screen, AdminScreen)


async def test_a_reviewer_acting_for_a_hostile_address_is_shown_literally(
    sqlite_store: Store, hostile: int
) -> None:
    app = make_app(sqlite_store, RITA, campaign_id=hostile)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert_clean(screen_text(app))
        assert app.is_running
