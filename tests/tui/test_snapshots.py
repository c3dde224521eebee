"""Snapshots of the main screens (pytest-textual-snapshot; fixed clock, fixed data).

After an intended change of the look: ``pytest tests/tui/test_snapshots.py --snapshot-update``
and look at the new SVGs under ``__snapshots__`` before committing them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Input

from iam_gov.campaigns.decisions import decide
from iam_gov.store import Store
from tests.tui.conftest import ADA, NOW, RITA, SIZE, make_app

Compare = Callable[..., bool]


def steps(*keys: str) -> Callable[[Pilot[Any]], Awaitable[None]]:
    """Press these keys, then stop every text cursor blinking (so that the picture is the
    same whenever it is taken)."""

    async def run(pilot: Pilot[Any]) -> None:
        await pilot.pause()
        await pilot.press(*keys)
        await pilot.pause()
        for field in pilot.app.screen.query(Input):
            field.cursor_blink = False

    return run


def test_campaigns_list(snap_compare: Compare, sqlite_store: Store, campaign: int) -> None:
    decide(sqlite_store, campaign, [7, 8, 9], "approve", RITA, now=NOW)
    assert snap_compare(make_app(sqlite_store), terminal_size=SIZE)


def test_campaign_screen(snap_compare: Compare, sqlite_store: Store, campaign: int) -> None:
    decide(sqlite_store, campaign, [2], "revoke", RITA, comment="left in December", now=NOW)
    app = make_app(sqlite_store, campaign_id=campaign)
    assert snap_compare(app, terminal_size=SIZE, run_before=steps("down", "down", "space"))


def test_help(snap_compare: Compare, sqlite_store: Store, campaign: int) -> None:
    app = make_app(sqlite_store, campaign_id=campaign)
    assert snap_compare(app, terminal_size=SIZE, run_before=steps("question_mark"))


def test_filter_dialog(snap_compare: Compare, sqlite_store: Store, campaign: int) -> None:
    app = make_app(sqlite_store, campaign_id=campaign)
    assert snap_compare(app, terminal_size=SIZE, run_before=steps("slash", *"app"))


def test_bulk_approval_of_flagged_items_asks_for_a_comment(
    snap_compare: Compare, sqlite_store: Store, campaign: int
) -> None:
    app = make_app(sqlite_store, campaign_id=campaign)
    keys = ("down", "down", "space", "space", "space", "a")
    assert snap_compare(app, terminal_size=SIZE, run_before=steps(*keys))


def test_admin_view(snap_compare: Compare, sqlite_store: Store, campaign: int) -> None:
    decide(sqlite_store, campaign, [1, 2], "revoke", RITA, now=NOW)
    app = make_app(sqlite_store, ADA, now=NOW + timedelta(days=20))
    assert snap_compare(app, terminal_size=SIZE, run_before=steps("A"))
