"""The reviewer's open campaigns, with their progress and due dates: the first screen."""

from __future__ import annotations

from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from iam_gov.campaigns.items import ReviewerCampaign, campaigns_for_reviewer
from iam_gov.tui.context import ReviewContext
from iam_gov.tui.screens.campaign import CampaignScreen
from iam_gov.tui.text import assemble, day, due_text, plain


class CampaignsScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open", "Open", tooltip="open the highlighted campaign"),
        Binding("ctrl+r", "reload", "Reload", show=False, tooltip="read the campaigns again"),
        Binding("q", "app.quit", "Quit", tooltip="leave"),
    ]

    DEFAULT_CSS = """
    CampaignsScreen #campaigns-header { height: auto; padding: 0 1; background: $panel; }
    CampaignsScreen #campaigns-empty { padding: 1 2; }
    CampaignsScreen DataTable { height: 1fr; }
    """

    def __init__(self, ctx: ReviewContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.campaigns: list[ReviewerCampaign] = []

    def compose(self) -> ComposeResult:
        yield Static(Text(""), id="campaigns-header")
        table: DataTable[Text] = DataTable(cursor_type="row", id="campaigns")
        yield table
        yield Static(Text(""), id="campaigns-empty")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        table = self.query_one("#campaigns", DataTable)
        for title in ("#", "campaign", "kind", "due", "your progress", "status"):
            table.add_column(Text(title, style="bold"), key=title)

    def on_screen_resume(self) -> None:
        # Read when shown, not when mounted: opened straight on a campaign (`iam-gov review 7`)
        # this screen waits underneath, and counting every campaign's progress would only
        # delay the first screen.
        if self.app.screen is self:
            self.reload()

    def reload(self) -> None:
        with self.ctx.store.reading() as conn:
            self.campaigns = campaigns_for_reviewer(conn, self.ctx.reviewer.email)
        reviewer = self.ctx.reviewer
        header = assemble(("Your access reviews — ", Style(bold=True)), (reviewer.email, "bold"))
        if reviewer.acting_for:
            header.append_text(
                assemble((" (acting: ", "yellow"), (reviewer.actor, "yellow"), (")", "yellow"))
            )
        header.append(f"\n{len(self.campaigns)} open campaign(s), as of {day(self.ctx.today)}")
        self.query_one("#campaigns-header", Static).update(header)
        table = self.query_one("#campaigns", DataTable)
        cursor = table.cursor_row
        table.clear()
        today = self.ctx.today
        for rc in self.campaigns:
            info = rc.campaign
            progress = rc.progress
            if rc.signed_off_at is not None:
                status = Text(f"signed off {day(rc.signed_off_at)}", style="green")
            elif rc.overdue(today):
                status = Text("OVERDUE", style="bold red")
            elif progress.pending == 0:
                status = Text("all decided: sign off", style="green")
            else:
                status = Text(f"{progress.pending:,} to do")
            table.add_row(
                Text(str(info.id)),
                plain(info.name, "bold"),
                plain(info.kind + (f" ({info.trigger})" if info.trigger else "")),
                due_text(info.due_on, today, prefix=""),
                Text(f"{progress.decided:,}/{progress.total:,} ({progress.percent}%)"),
                status,
                key=str(info.id),
            )
        if self.campaigns:
            table.move_cursor(row=min(cursor, len(self.campaigns) - 1))
            table.focus()
        empty = "" if self.campaigns else "Nothing to review: you have no items in open campaigns."
        self.query_one("#campaigns-empty", Static).update(Text(empty))

    def action_reload(self) -> None:
        self.reload()

    def action_open(self) -> None:
        table = self.query_one("#campaigns", DataTable)
        if self.campaigns:
            self.open(self.campaigns[table.cursor_row].id)

    @on(DataTable.RowSelected, "#campaigns")
    def selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value is not None:
            self.open(int(event.row_key.value))

    def open(self, campaign_id: int) -> None:
        self.app.push_screen(CampaignScreen(self.ctx, campaign_id))
