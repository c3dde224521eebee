"""`iam-gov review`: the reviewer's Textual app.

A thin layer over ``iam_gov.campaigns``: the store, the reviewer and the clock are injected
(``ReviewContext``), so that the CLI and the tests build the same app.
"""

from __future__ import annotations

import gc
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from typing import Any, ClassVar

from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen

from iam_gov.campaigns.reviewer import Reviewer
from iam_gov.store import Store
from iam_gov.tui.context import ReviewContext
from iam_gov.tui.screens.admin import AdminScreen
from iam_gov.tui.screens.campaign import CampaignScreen
from iam_gov.tui.screens.campaigns import CampaignsScreen
from iam_gov.tui.screens.help import HelpScreen, everywhere, keys_of


class ReviewApp(App[None]):
    """The reviewer's open campaigns, then one campaign's items."""

    CSS_PATH = "app.tcss"
    TITLE = "iam-gov review"
    # The window title stays ours: campaign names never reach the terminal's title bar.
    ENABLE_COMMAND_PALETTE = True

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "q",
            "quit",
            "Quit",
            show=False,
            tooltip="leave (every decision is saved as you make it)",
        ),
        Binding("question_mark", "help", "Help", tooltip="the keys"),
        Binding("A", "admin", "Admin", tooltip="all campaigns, overdue reviewers, findings"),
    ]

    def __init__(
        self,
        store: Store,
        reviewer: Reviewer,
        *,
        campaign_id: int | None = None,
        now: datetime | None = None,
    ) -> None:
        super().__init__()
        self.ctx = ReviewContext(store=store, reviewer=reviewer, now=now)
        self.campaign_id = campaign_id

    def on_mount(self) -> None:
        self.push_screen(CampaignsScreen(self.ctx))
        if self.campaign_id is not None:
            self.push_screen(CampaignScreen(self.ctx, self.campaign_id))
        self.call_after_refresh(self._settle)

    def _settle(self) -> None:
        # Everything built so far (Textual, the screens, the modules) lives as long as the
        # app: keep it out of the garbage collector's full passes, which otherwise walk it
        # all and stall a key for ~50 ms now and then.
        gc.freeze()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "admin":
            return self.ctx.reviewer.admin
        return True

    def action_admin(self) -> None:
        if not isinstance(self.screen, AdminScreen):
            self.push_screen(AdminScreen(self.ctx))

    def action_help(self) -> None:
        display = self.get_key_display
        screen = self.screen
        sections = [("Everywhere", everywhere(self))]
        if isinstance(screen, CampaignsScreen):
            sections.insert(0, ("Campaigns", keys_of(screen.BINDINGS, display)))
        self.push_screen(HelpScreen(sections))

    def _runner(self, action: str, screen: Screen[Any]) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            await self.run_action(action, screen)

        return run

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        if isinstance(screen, CampaignScreen):
            for binding in screen.BINDINGS:
                if isinstance(binding, Binding) and binding.description:
                    yield SystemCommand(
                        binding.description,
                        f"{binding.tooltip} ({binding.key})",
                        self._runner(binding.action, screen),
                    )
        if self.ctx.reviewer.admin:
            yield SystemCommand(
                "Administration", "all campaigns, overdue reviewers, findings", self.action_admin
            )
