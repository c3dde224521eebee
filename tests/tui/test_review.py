"""A reviewer's session driven with keys and the mouse; the store shows every decision."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from textual.widgets import DataTable, Input
from textual.widgets._footer import FooterKey

from iam_gov.campaigns.decisions import decide
from iam_gov.campaigns.definition import CampaignDefinition, CommentWhen
from iam_gov.campaigns.items import ItemFilter, get_item
from iam_gov.store import Store
from iam_gov.store.schema import audit_log, campaign_items, campaign_signoffs
from iam_gov.tui.app import ReviewApp
from iam_gov.tui.screens.admin import AdminScreen
from iam_gov.tui.screens.campaign import CampaignScreen
from iam_gov.tui.screens.campaigns import CampaignsScreen
from iam_gov.tui.screens.comment import CommentScreen
from iam_gov.tui.screens.confirm import ConfirmScreen
from iam_gov.tui.screens.delegate import DelegateScreen
from iam_gov.tui.screens.filter import FilterScreen
from iam_gov.tui.screens.help import HelpScreen
from iam_gov.tui.widgets.item_list import ItemList
from tests.campaigns.seed import REVIEWER, seed_campaign
from tests.tui.conftest import (
    ADA,
    ADA_FOR_RITA,
    NOW,
    OTHER,
    RITA,
    SIZE,
    cursor_item,
    items_of,
    make_app,
    review_items,
    screen_text,
)

pytestmark = pytest.mark.anyio


def decisions(store: Store, campaign_id: int) -> dict[int, tuple[Any, ...]]:
    """item id -> (decision, comment, decided_by, acting_for, reviewer)."""
    c = campaign_items.c
    with store.reading() as conn:
        rows = conn.execute(
            select(c.item_id, c.decision, c.comment, c.decided_by, c.acting_for, c.reviewer)
            .where(c.campaign_id == campaign_id)
            .order_by(c.item_id)
        )
        return {row.item_id: tuple(row)[1:] for row in rows}


def footer_keys(app: ReviewApp) -> dict[str, FooterKey]:
    """The keys the footer shows, by key (the screen's own first)."""
    found: dict[str, FooterKey] = {}
    for key in app.screen.query(FooterKey):
        if key.region.width and key.key not in found:
            found[key.key] = key
    return found


async def test_the_campaigns_list_shows_progress_and_due_date(
    sqlite_store: Store, campaign: int
) -> None:
    decide(sqlite_store, campaign, [7, 8], "approve", RITA, now=NOW)
    app = make_app(sqlite_store)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, CampaignsScreen)
        text = screen_text(app)
        assert "Q1 access review" in text
        assert "2/12 (16%)" in text  # Rita's 12 items, not Oscar's two
        assert "2025-01-20 (in 10 d)" in text
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, CampaignScreen)
        assert "2 of 12 decided (16%)" in screen_text(app)


async def test_a_review_with_keys(sqlite_store: Store, campaign: int) -> None:
    app = make_app(sqlite_store, campaign_id=campaign)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.pause()
        items = items_of(app)
        assert items.count == 12
        assert cursor_item(app) == 1
        # Leavers first, labelled in words (not only in colour).
        first_rows = screen_text(app).splitlines()[3:5]
        assert "Lena Leaver" in first_rows[0] and "LEAVER" in first_rows[0]
        assert "Leo Left" in first_rows[1] and "LEAVER" in first_rows[1]

        await pilot.press("r")  # revoke Lena; the cursor moves on to Leo
        await pilot.pause()
        assert decisions(sqlite_store, campaign)[1][:3] == ("revoke", None, REVIEWER)
        assert cursor_item(app) == 2
        await pilot.press("r", "a")  # revoke Leo, approve Priya
        await pilot.pause()
        stored = decisions(sqlite_store, campaign)
        assert stored[2][0] == "revoke" and stored[3][0] == "approve"
        assert "3 of 12 decided (25%)" in screen_text(app)

        await pilot.press("u")  # undo on the item under the cursor (Uma: nothing to undo)
        await pilot.pause()
        assert decisions(sqlite_store, campaign)[4][0] is None
        await pilot.press("up", "u")  # undo Priya's approval
        await pilot.pause()
        assert decisions(sqlite_store, campaign)[3][0] is None
        assert "2 of 12 decided (16%)" in screen_text(app)

        await pilot.press("c")  # a comment without deciding
        await pilot.pause()
        assert isinstance(app.screen, CommentScreen)
        await pilot.press(*"needs AWS admin for on-call", "enter")
        await pilot.pause()
        assert decisions(sqlite_store, campaign)[3][:2] == (None, "needs AWS admin for on-call")

        await pilot.press("n")  # next undecided after Priya: Uma
        await pilot.pause()
        assert cursor_item(app) == 4

        # Search, then bulk-approve three unflagged items.
        await pilot.press("slash")
        await pilot.pause()
        assert isinstance(app.screen, FilterScreen)
        await pilot.press(*"APP-", "enter")  # case ignored: the entitlements app-7 … app-12
        await pilot.pause()
        assert items.count == 6 and cursor_item(app) == 7
        assert 'filter: text "APP-" (6 shown)' in screen_text(app)
        await pilot.press("space", "space", "space")
        await pilot.pause()
        assert sorted(items.selected) == [7, 8, 9]
        assert "3 selected" in screen_text(app)
        await pilot.press("a")  # nothing flagged among them: no confirmation asked
        await pilot.pause()
        stored = decisions(sqlite_store, campaign)
        assert [stored[i][0] for i in (7, 8, 9, 10)] == ["approve", "approve", "approve", None]
        assert items.selected == {}

        # Show everything again, then decide the rest in bulk (revoke Uma, approve the others).
        await pilot.press("slash")
        await pilot.pause()
        await pilot.click("#filter-clear")
        await pilot.pause()
        assert items.count == 12 and not items.filter.active
        assert app.screen.focused is items
        items.move_to(2)  # Priya, commented on above
        await pilot.press("a", "r")  # approve Priya, revoke Uma
        await pilot.pause()
        items.move_to(4)  # Mo, the mover: flagged
        await pilot.press("space")
        items.move_to(9)
        await pilot.press("space", "space", "space")
        await pilot.press("a")  # a flagged item among them: confirm, with a comment
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("enter")  # no comment yet: refused
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press(*"role change approved by HR", "enter")
        await pilot.pause()
        assert isinstance(app.screen, CampaignScreen)
        stored = decisions(sqlite_store, campaign)
        assert stored[5][:2] == ("approve", "role change approved by HR")
        assert all(stored[i][0] == "approve" for i in (10, 11, 12))

        # Rita's own access (item 6) cannot be decided: she delegates it to her manager.
        items.move_to(5)
        await pilot.press("a")
        await pilot.pause()
        assert decisions(sqlite_store, campaign)[6][0] is None
        await pilot.press("d")
        await pilot.pause()
        assert isinstance(app.screen, DelegateScreen)
        await pilot.press(*"mia.manager@example.com", "enter", *"my own access", "enter")
        await pilot.pause()
        assert decisions(sqlite_store, campaign)[6][4] == "mia.manager@example.com"
        assert "11 of 11 decided (100%)" in screen_text(app)

        await pilot.press("S")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, CampaignScreen)
        assert "SIGNED OFF 2025-01-10 09:00 UTC" in screen_text(app)
    with sqlite_store.reading() as conn:
        signed = conn.execute(select(campaign_signoffs.c.reviewer)).scalars().all()
        actions = conn.execute(select(audit_log.c.action)).scalars().all()
    assert signed == [REVIEWER]
    assert actions.count("campaign.decide") == 7  # the refused one wrote nothing
    assert actions.count("campaign.undo") == 1
    assert actions[-1] == "campaign.sign-off"


async def test_a_comment_required_by_the_definition_is_asked_for(sqlite_store: Store) -> None:
    definition = CampaignDefinition(
        name="Needs comments", comment_required=(CommentWhen.REVOKE, CommentWhen.APPROVE_FLAGGED)
    )
    campaign = seed_campaign(sqlite_store, review_items(), definition)
    app = make_app(sqlite_store, campaign_id=campaign)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.pause()
        await pilot.press("a")  # approving Lena, recommended for revocation
        await pilot.pause()
        assert isinstance(app.screen, CommentScreen)
        await pilot.press("escape")  # cancelled: nothing written
        await pilot.pause()
        assert decisions(sqlite_store, campaign)[1][0] is None
        await pilot.press("r")
        await pilot.pause()
        assert isinstance(app.screen, CommentScreen)
        await pilot.press("enter")  # empty: the dialog stays
        await pilot.pause()
        assert isinstance(app.screen, CommentScreen)
        await pilot.press(*"left in December", "enter")
        await pilot.pause()
        assert decisions(sqlite_store, campaign)[1][:2] == ("revoke", "left in December")
        items_of(app).move_to(2)  # Priya: approving an item recommended for approval
        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.screen, CampaignScreen)
        assert decisions(sqlite_store, campaign)[3][0] == "approve"


async def test_own_access_is_refused_with_the_cores_message(
    sqlite_store: Store, campaign: int
) -> None:
    app = make_app(sqlite_store, campaign_id=campaign)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.pause()
        items_of(app).move_to(5)
        await pilot.pause()
        assert "OWN ACCESS" in screen_text(app)
        await pilot.press("a")
        await pilot.pause()
        assert decisions(sqlite_store, campaign)[6][0] is None
        text = screen_text(app)
        assert "nobody reviews their" in text and "own access" in text
        assert app.is_running


async def test_a_conflict_is_shown_and_the_row_refreshed(
    sqlite_store: Store, campaign: int
) -> None:
    app = make_app(sqlite_store, campaign_id=campaign)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.pause()
        items = items_of(app)
        assert items.current is not None and items.current.version == 0
        # An administrator, acting for Rita in another session, revokes Lena's access first.
        decide(sqlite_store, campaign, [1], "revoke", ADA_FOR_RITA, comment="gone", now=NOW)
        await pilot.press("a")
        await pilot.pause()
        assert decisions(sqlite_store, campaign)[1][:4] == ("revoke", "gone", ADA.email, REVIEWER)
        text = screen_text(app)
        assert "Changed by someone else" in text
        assert "ada.admin@example.com for rita.reviewer@example.com" in text
        assert items.current is not None and items.current.item_id == 1
        assert items.current.decision == "revoke" and items.current.version == 1
        assert "✗ revoke" in text.splitlines()[3]
        await pilot.press("a")  # now seen: the reviewer may change it
        await pilot.pause()
        assert decisions(sqlite_store, campaign)[1][0] == "approve"


async def test_acting_for_is_shown_and_recorded(sqlite_store: Store, campaign: int) -> None:
    app = make_app(sqlite_store, ADA_FOR_RITA, campaign_id=campaign)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.pause()
        assert "acting: ada.admin@example.com" in screen_text(app)
        await pilot.press("r")
        await pilot.pause()
    assert decisions(sqlite_store, campaign)[1][:4] == ("revoke", None, ADA.email, REVIEWER)


async def test_help_lists_the_keys(sqlite_store: Store, campaign: int) -> None:
    app = make_app(sqlite_store, campaign_id=campaign)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.pause()
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = screen_text(app)
        for key, what in (
            ("a", "approve the item"),
            ("r", "revoke the item"),
            ("d", "hand the item(s)"),
            ("c", "write a comment"),
            ("u", "take back"),
            ("n", "next undecided"),
            ("/", "filter and search"),
            ("space", "select the item"),
            ("S", "sign off"),
            ("^p", "command palette"),
        ):
            assert any(key in line and what in line for line in text.splitlines()), key
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, CampaignScreen)


async def test_everything_is_reachable_with_the_mouse(sqlite_store: Store, campaign: int) -> None:
    app = make_app(sqlite_store, campaign_id=campaign)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.pause()
        items = items_of(app)
        await pilot.click(ItemList, offset=(30, 3))  # the header is line 0: row 3 is Priya
        await pilot.pause()
        assert cursor_item(app) == 3
        keys = footer_keys(app)
        assert {"a", "r", "x", "d", "c", "u", "n", "slash", "space", "S"} <= set(keys)
        await pilot.click(keys["a"])
        await pilot.pause()
        assert decisions(sqlite_store, campaign)[3][0] == "approve"
        await pilot.click(keys["slash"])
        await pilot.pause()
        assert isinstance(app.screen, FilterScreen)
        await pilot.click("#filter-flagged")
        await pilot.click("#filter-apply")
        await pilot.pause()
        assert items.filter.flagged and items.count == 5  # Lena, Leo, Priya, Uma, Mo
        keys = footer_keys(app)  # the footer is drawn again after a dialog
        await pilot.click(keys["question_mark"])
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.click("#help-close")
        await pilot.pause()
        assert isinstance(app.screen, CampaignScreen)


async def test_the_command_palette_runs_the_apps_commands(
    sqlite_store: Store, campaign: int
) -> None:
    app = make_app(sqlite_store, campaign_id=campaign)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Revoke")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause(0.3)
        assert decisions(sqlite_store, campaign)[1][0] == "revoke"


async def test_the_admin_view_is_for_admins(sqlite_store: Store, campaign: int) -> None:
    late = NOW.replace(month=2)  # past the due date: Rita and Oscar are overdue
    app = make_app(sqlite_store, RITA, now=late)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.pause()
        await pilot.press("A")
        await pilot.pause()
        assert isinstance(app.screen, CampaignsScreen)
    app = make_app(sqlite_store, ADA, now=late)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.pause()
        assert "Nothing to review" in screen_text(app)
        await pilot.press("A")
        await pilot.pause()
        assert isinstance(app.screen, AdminScreen)
        text = screen_text(app)
        assert "Q1 access review" in text and "OVERDUE" in text
        overdue = app.screen.query_one("#admin-overdue", DataTable)
        rows = [[str(cell) for cell in overdue.get_row_at(i)] for i in range(overdue.row_count)]
        assert [row[0] for row in rows] == [REVIEWER, OTHER]
        assert [row[4] for row in rows] == ["12", "2"]
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, CampaignsScreen)


async def test_the_delegate_dialog_can_be_cancelled(sqlite_store: Store, campaign: int) -> None:
    app = make_app(sqlite_store, campaign_id=campaign)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.pause()
        await pilot.press("d")
        await pilot.pause()
        assert isinstance(app.screen, DelegateScreen)
        assert app.screen.query_one("#delegate-to", Input).has_focus
        await pilot.press("escape")
        await pilot.pause()
    assert decisions(sqlite_store, campaign)[1][4] == REVIEWER
    with sqlite_store.reading() as conn:
        item = get_item(conn, campaign, 1)
    assert item is not None and item.version == 0


async def test_a_big_review_searches_in_a_thread(sqlite_store: Store, campaign: int) -> None:
    app = make_app(sqlite_store, campaign_id=campaign)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        items = items_of(app)
        items.background_above = 5  # these 12 items count as a big review
        await pilot.press("slash")
        await pilot.pause()
        await pilot.press(*"Person", "enter")
        items.load(ItemFilter(text="app-1"))  # asked for before the first search has answered
        assert items.searching == ItemFilter(text="app-1") and items.current is None
        assert 'searching: text "app-1"…' in screen_text(app)
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert items.searching is None
        assert items.filter == ItemFilter(text="app-1")
        shown = [items.item_at(row) for row in range(items.count)]
        assert [item.item_id for item in shown if item is not None] == [10, 11, 12]
        assert 'filter: text "app-1" (3 shown)' in screen_text(app)
        await pilot.press("a")
        await pilot.pause()
        assert decisions(sqlite_store, campaign)[10][0] == "approve"
        # Reloading counts the progress again, in a thread too.
        await pilot.press("ctrl+r")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "1 of 12 decided (8%)" in screen_text(app)
