"""For administrators: every campaign, overdue reviewers, open findings, leavers' access."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from iam_gov.campaigns.items import findings_summary, leavers_with_access
from iam_gov.campaigns.progress import list_campaigns, overdue_reviewers
from iam_gov.tui.context import ReviewContext
from iam_gov.tui.text import day, plain

SECTIONS = {
    "campaigns": "All campaigns",
    "overdue": "Overdue reviewers",
    "findings": "Open findings",
    "leavers": "Leavers with active accounts",
}


WIDTHS = {"person": 30, "campaign": 28, "reviewer": 30, "account": 24}
"""Long names are cut to these widths (all of a name is in the store and the evidence)."""


class AdminScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        Binding("ctrl+r", "reload", "Reload", show=False),
    ]

    DEFAULT_CSS = """
    AdminScreen .section { text-style: bold; padding: 1 1 0 1; }
    AdminScreen DataTable { height: auto; max-height: 14; margin: 0 1; }
    AdminScreen #admin-header { padding: 0 1; background: $panel; }
    """

    def __init__(self, ctx: ReviewContext) -> None:
        super().__init__()
        self.ctx = ctx

    def compose(self) -> ComposeResult:
        yield Static(
            Text(f"Administration — as of {day(self.ctx.today)}", style="bold"), id="admin-header"
        )
        with VerticalScroll():
            for key, title in SECTIONS.items():
                yield Static(Text(title), classes="section", id=f"title-{key}")
                table: DataTable[Text] = DataTable(id=f"admin-{key}", cursor_type="row")
                yield table
        yield Footer(compact=True)

    def on_mount(self) -> None:
        columns = {
            "campaigns": ("#", "campaign", "status", "kind", "due", "decided", "revoked", "state"),
            "overdue": ("reviewer", "campaign", "due", "days late", "undecided"),
            "findings": ("severity", "rule", "open"),
            "leavers": ("person", "system", "account", "left", "severity", "since"),
        }
        for key, titles in columns.items():
            table = self.query_one(f"#admin-{key}", DataTable)
            for title in titles:
                table.add_column(Text(title, style="bold"), width=WIDTHS.get(title))
        self.reload()

    def reload(self) -> None:
        today = self.ctx.today
        with self.ctx.store.reading() as conn:
            campaigns = list_campaigns(conn)
            overdue = overdue_reviewers(conn, today)
            findings = findings_summary(conn)
            leavers = leavers_with_access(conn)
        table = self.query_one("#admin-campaigns", DataTable)
        table.clear()
        for c in campaigns:
            state = Text("OVERDUE", style="bold red") if c.overdue(today) else Text("")
            table.add_row(
                Text(str(c.id)),
                plain(c.name, "bold"),
                Text(c.status),
                plain(c.kind + (f" ({c.trigger})" if c.trigger else "")),
                Text(day(c.due_on)),
                Text(f"{c.counts.decided:,}/{c.counts.total:,} ({c.counts.percent}%)"),
                Text(f"{c.counts.revoked:,}"),
                state,
            )
        table = self.query_one("#admin-overdue", DataTable)
        table.clear()
        for o in overdue:
            table.add_row(
                plain(o.reviewer),
                plain(f"#{o.campaign_id} {o.campaign_name}"),
                Text(day(o.due_on)),
                Text(str(o.days_overdue), style="bold red"),
                Text(f"{o.pending:,}"),
            )
        table = self.query_one("#admin-findings", DataTable)
        table.clear()
        for f in findings:
            style = "bold red" if f.severity in ("critical", "high") else ""
            table.add_row(Text(f.severity, style=style), plain(f.rule_id), Text(f"{f.count:,}"))
        table = self.query_one("#admin-leavers", DataTable)
        table.clear()
        for leaver in leavers:
            table.add_row(
                plain(leaver.person_name, "bold red"),
                plain(leaver.system or ""),
                plain(leaver.account_login),
                plain(leaver.end_date or "?"),
                Text(leaver.severity),
                Text(day(leaver.first_seen)),
            )
        for key, rows in (
            ("campaigns", len(campaigns)),
            ("overdue", len(overdue)),
            ("findings", sum(f.count for f in findings)),
            ("leavers", len(leavers)),
        ):
            base = SECTIONS[key]
            self.query_one(f"#title-{key}", Static).update(
                Text(f"{base} ({rows:,})" if rows else f"{base}: none")
            )

    def action_reload(self) -> None:
        self.reload()

    def action_back(self) -> None:
        self.dismiss(None)
