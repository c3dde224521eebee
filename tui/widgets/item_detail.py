"""The selected item in full: why it is flagged, the evidence, why the grant exists, and
what has happened to it in this campaign."""

from __future__ import annotations

from datetime import datetime

from rich.style import Style
from rich.text import Text
from textual import events
from textual.strip import Strip
from textual.widget import Widget

from iam_gov.campaigns.items import HistoryEntry, Item
from iam_gov.campaigns.reasons import FLAG_LABELS
from iam_gov.tui.text import assemble, clean, moment, paragraph

LABEL = Style(bold=True)
LEAVER = Style(color="red", bold=True, reverse=True)
FLAG = Style(color="yellow", bold=True)


def describe(
    item: Item,
    history: list[HistoryEntry],
    *,
    as_of: datetime,
    unused_after_days: int,
    own: bool,
) -> Text:
    """The detail panel's text for one item; every value from the store shown literally."""
    flags = item.flags(as_of, unused_after_days)
    text = assemble((f"#{item.item_id}  ", LABEL), (item.who, LABEL))
    if item.person_email:
        text.append_text(assemble(("  <", ""), (item.person_email, ""), (">", "")))
    for flag in flags:
        text.append("  ")
        text.append(f" {FLAG_LABELS[flag]} ", style=LEAVER if flag == "leaver" else FLAG)
    if own:
        text.append("  ")
        text.append(" OWN ACCESS ", style=LEAVER)
    text.append("\n")
    if item.department or item.title:
        text.append_text(
            assemble((item.title or "", ""), (", " if item.title and item.department else "", ""))
        )
        text.append_text(assemble((item.department or "", "")))
        text.append("\n")
    if own:
        text.append(
            "This is your own access: you cannot decide it. Delegate it (d) to your manager or "
            "the fallback reviewer.\n",
            style=Style(color="red", bold=True),
        )
    text.append_text(
        assemble(
            ("account      ", LABEL),
            (f"{item.system}: {item.account_login}", ""),
            (f"  ({item.account_kind}, {item.account_status})", "dim"),
            "\n",
            ("entitlement  ", LABEL),
            (item.entitlement_name, ""),
            (f"  ({item.entitlement_kind}{', privileged' if item.privileged else ''})", "dim"),
            "\n",
            ("             ", ""),
            (item.entitlement_id, "dim"),
            "\n",
            ("through      ", LABEL),
            (_through(item), ""),
            "\n",
        )
    )
    if item.via_ids:
        ids = ", ".join(item.via_ids.splitlines())
        text.append_text(assemble(("             ", ""), (ids, "dim")))
        text.append("\n")
    text.append_text(
        assemble(
            ("recommend    ", LABEL),
            (
                item.recommendation.upper(),
                Style(color="red", bold=True) if item.recommendation == "revoke" else LABEL,
            ),
        )
    )
    text.append("\n\nwhy\n", style=LABEL)
    for reason in item.reasons(as_of, unused_after_days):
        text.append_text(assemble(("  • ", ""), (reason, "")))
        text.append("\n")
    text.append("\nevidence\n", style=LABEL)
    evidence = [
        ("risk", str(item.risk)),
        ("last used", moment(item.last_used_at, "never (or not recorded)")),
        (
            "peers",
            f"{item.peers_holding} of {item.peers_total} with the same roles"
            if item.peers_total
            else "no peers with the same roles",
        ),
        (
            "findings",
            f"{item.finding_rules.replace(',', ', ')} ({item.finding_severity or 'info'})"
            if item.finding_rules
            else "none open",
        ),
        ("reviewer", f"{item.reviewer} ({item.reviewer_rule})"),
    ]
    if item.precertified:
        evidence.append(("pre-certified", item.precertified))
    for label, value in evidence:
        text.append_text(assemble((f"  {label:<13}", "dim"), (value, "")))
        text.append("\n")
    text.append("\ndecision\n", style=LABEL)
    if item.decision is None:
        text.append("  not decided yet\n")
    else:
        acting = f" for {clean(item.acting_for)}" if item.acting_for else ""
        text.append_text(
            assemble(
                ("  ", ""),
                (item.decision.upper(), LABEL),
                (f" by {item.decided_by or '?'}{acting}, {moment(item.decided_at)}", ""),
            )
        )
        text.append("\n")
    if item.comment:
        text.append("  comment: ", style="dim")
        text.append_text(paragraph(item.comment))
        text.append("\n")
    if history:
        text.append("\nhistory\n", style=LABEL)
        for entry in history:
            acting = f" for {clean(entry.acting_for)}" if entry.acting_for else ""
            what = entry.action + (f" {entry.decision}" if entry.decision else "")
            text.append_text(
                assemble(
                    ("  ", ""),
                    (moment(entry.at), "dim"),
                    (f"  {entry.actor}{acting}: {what}", ""),
                )
            )
            if entry.comment:
                text.append_text(assemble(("  “", "dim"), (entry.comment, "italic"), ("”", "dim")))
            text.append("\n")
    text.rstrip()
    return text


def _through(item: Item) -> str:
    groups = [g for g in item.via.split(",") if g]
    parts = (["direct"] if item.direct else []) + [f"group {g}" for g in groups]
    return ", ".join(parts) or "—"


class ItemDetail(Widget, can_focus=False):
    """The detail panel under the list: a fixed height of lines, scrolled with the mouse
    wheel or shift+j / shift+k.

    It draws its own lines (Textual's Line API) and never changes size, so that showing
    another item repaints this panel only, without a layout of the whole screen.
    """

    DEFAULT_CSS = """
    ItemDetail {
        height: 45%;
        max-height: 18;
        min-height: 6;
        border-top: solid $primary;
        padding: 0 1;
        background: $surface;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.text = Text("no item")
        self.top = 0
        self._lines: list[Strip] = []
        self._width = -1

    def show(self, text: Text) -> None:
        self.text = text
        self.top = 0
        self._width = -1
        self.refresh()

    def _wrapped(self, width: int) -> list[Strip]:
        if width != self._width:
            console = self.app.console
            options = console.options.update_width(max(1, width))
            self._lines = [
                Strip(line) for line in console.render_lines(self.text, options, pad=False)
            ]
            self._width = width
        return self._lines

    @property
    def page(self) -> int:
        return max(1, self.content_region.height)

    def scroll_lines(self, lines: int) -> None:
        total = len(self._wrapped(self.content_region.width))
        top = max(0, min(self.top + lines, total - self.page))
        if top != self.top:
            self.top = top
            self.refresh()

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        event.stop()
        self.scroll_lines(3)

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        event.stop()
        self.scroll_lines(-3)

    def render_line(self, y: int) -> Strip:
        width = self.content_region.width
        style = self.rich_style
        lines = self._wrapped(width)
        more = len(lines) - self.top - self.page
        if y == self.page - 1 and more > 0:
            return Strip(
                list(
                    Text(
                        f"… {more} more line{'s' if more > 1 else ''} (scroll, or shift+j)",
                        style="dim italic",
                        end="",
                    ).render(self.app.console)
                )
            ).crop_extend(0, width, style)
        index = self.top + y
        if index >= len(lines):
            return Strip.blank(width, style)
        return lines[index].crop_extend(0, width, style).apply_style(style)
