"""One campaign under review: the header, the list of items, the detail of the selected one.

Every action is a call of the campaign core (``iam_gov.campaigns.decisions``); this screen
asks for what the call needs (a comment, a confirmation, whom to delegate to), shows what the
core answers (a refusal, a conflict) and redraws the rows that changed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Footer, Static
from textual.worker import get_current_worker

from iam_gov.campaigns.decisions import Conflict, add_comment, decide, delegate, sign_off, undo
from iam_gov.campaigns.definition import CampaignError, Decision
from iam_gov.campaigns.items import (
    CampaignInfo,
    Item,
    ItemFilter,
    get_campaign,
    item_history,
    progress_of,
    signed_off_at,
    systems_of,
)
from iam_gov.campaigns.progress import Counts
from iam_gov.campaigns.reasons import FLAG_LABELS
from iam_gov.tui.context import ReviewContext
from iam_gov.tui.screens.comment import CommentScreen
from iam_gov.tui.screens.confirm import ConfirmScreen
from iam_gov.tui.screens.delegate import DelegateScreen, Delegation
from iam_gov.tui.screens.filter import FilterScreen
from iam_gov.tui.screens.help import HelpScreen, everywhere, keys_of
from iam_gov.tui.text import assemble, clean, due_text, moment
from iam_gov.tui.widgets.item_detail import ItemDetail, describe
from iam_gov.tui.widgets.item_list import ItemList

BACKGROUND_PROGRESS = 20_000
"""Above this many items, the header's progress is counted in a thread after the first
screen shows (counting 1,000,000 items' decisions takes SQLite ~0.2 s)."""

PAST = {"approve": "approved", "revoke": "revoked", "abstain": "abstained"}


class CampaignScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "decide('approve')", "Approve", tooltip="approve the item (or the selected)"),
        Binding("r", "decide('revoke')", "Revoke", tooltip="revoke the item (or the selected)"),
        Binding("x", "decide('abstain')", "Abstain", tooltip="abstain (decide not to decide)"),
        Binding("d", "delegate", "Delegate", tooltip="hand the item(s) to another reviewer"),
        Binding("c", "comment", "Comment", tooltip="write a comment on the item"),
        Binding("u", "undo", "Undo", tooltip="take back the item's last decision"),
        Binding("n", "next_undecided", "Next", tooltip="go to the next undecided item"),
        Binding("slash", "filter", "Filter", tooltip="filter and search the items"),
        Binding("space", "select", "Select", tooltip="select the item for a bulk decision"),
        Binding("S", "sign_off", "Sign off", tooltip="sign off your part of the campaign"),
        Binding("ctrl+r", "reload", "Reload", show=False, tooltip="read the items again"),
        Binding("J", "detail(5)", "Detail down", show=False, tooltip="scroll the detail down"),
        Binding("K", "detail(-5)", "Detail up", show=False, tooltip="scroll the detail up"),
        Binding("question_mark", "help", "Help", tooltip="these keys"),
        Binding(
            "escape",
            "back",
            "Back",
            show=False,
            tooltip="clear the selection, or back to the campaigns",
        ),
    ]

    DEFAULT_CSS = """
    CampaignScreen #campaign-header {
        height: 2;
        padding: 0 1;
        background: $panel;
    }
    """

    def __init__(self, ctx: ReviewContext, campaign_id: int) -> None:
        super().__init__()
        self.ctx = ctx
        self.campaign_id = campaign_id
        self.info: CampaignInfo | None = None
        self.progress: Counts | None = None
        self.signed_off: datetime | None = None
        self._changes = 0
        """Bumped by every change made here: a progress counted before it is out of date."""
        self.items = ItemList(
            ctx.store,
            campaign_id,
            ctx.reviewer.email,
            as_of=ctx.clock,
            unused_after_days=90,
            own_emails=ctx.own_emails,
            on_highlight=self.show_detail,
            id="items",
        )

    # --- building ---------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static(Text(f"Campaign #{self.campaign_id}"), id="campaign-header")
        yield self.items
        yield ItemDetail(id="detail")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        with self.ctx.store.reading() as conn:
            self.info = get_campaign(conn, self.campaign_id)
            self.signed_off = signed_off_at(conn, self.campaign_id, self.ctx.reviewer.email)
        if self.info is None:
            self.app.notify(
                f"there is no campaign #{self.campaign_id}", severity="error", markup=False
            )
            self.app.pop_screen()
            return
        self.items.unused_after_days = self.info.definition.unused_after_days
        self.items.load()
        self.items.focus()
        if self.items.count <= BACKGROUND_PROGRESS:
            with self.ctx.store.reading() as conn:
                self.progress = progress_of(
                    conn, self.campaign_id, reviewer=self.ctx.reviewer.email
                )
        else:
            self.count_progress()
        self.show_header()

    @work(thread=True, exclusive=True, group="progress")
    def count_progress(self) -> None:
        changes = self._changes
        with self.ctx.store.reading() as conn:
            progress = progress_of(conn, self.campaign_id, reviewer=self.ctx.reviewer.email)
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._counted, changes, progress)

    def _counted(self, changes: int, progress: Counts) -> None:
        if not self.is_attached:
            return  # the reviewer has left the campaign meanwhile
        if changes != self._changes:
            self.count_progress()  # something changed while counting: count again
            return
        self.progress = progress
        self.show_header()

    # --- showing ----------------------------------------------------------------------------

    def show_header(self) -> None:
        info = self.info
        if info is None:
            return
        reviewer = self.ctx.reviewer
        line1 = assemble(
            (f"Campaign #{info.id}  ", Style(bold=True)),
            (info.name, Style(bold=True)),
            (f"  · {info.kind}" + (f" ({info.trigger})" if info.trigger else ""), ""),
            "  · ",
            due_text(info.due_on, self.ctx.today),
        )
        if info.status != "open":
            line1.append(f"  · {info.status.upper()}", style=Style(color="red", bold=True))
        progress = self.progress
        done = (
            "counting…"
            if progress is None
            else f"{progress.decided:,} of {progress.total:,} decided ({progress.percent}%)"
        )
        line2 = assemble(("reviewer ", "dim"), (reviewer.email, Style(bold=True)))
        if reviewer.acting_for:
            line2.append_text(
                assemble(
                    (" (", ""),
                    ("acting: ", Style(color="yellow", bold=True)),
                    (reviewer.actor, Style(color="yellow")),
                    (")", ""),
                )
            )
        line2.append(f"  · {done}")
        if self.items.searching is not None:
            line2.append_text(
                assemble(("  · searching: ", "dim"), (self.items.searching.describe(), ""), "…")
            )
        elif self.items.filter.active:
            shown = f"{self.items.count:,} shown"
            line2.append_text(
                assemble(("  · filter: ", "dim"), (self.items.filter.describe(), ""), f" ({shown})")
            )
            if self.items.stale:
                line2.append(" ctrl+r to refresh", style="dim")
        if self.items.selected:
            line2.append(f"  · {len(self.items.selected)} selected", style=Style(bold=True))
        if self.signed_off is not None:
            line2.append(f"  · SIGNED OFF {moment(self.signed_off)}", style=Style(color="green"))
        header = line1
        header.append("\n")
        header.append_text(line2)
        # The header's height is fixed: no layout of the screen for a new header.
        self.query_one("#campaign-header", Static).update(header, layout=False)

    def show_detail(self, item: Item | None) -> None:
        found = self.query(ItemDetail)
        if not found:
            return  # not composed yet
        detail = found.first()
        self.show_header()
        if item is None:
            if self.items.searching is not None:
                message = "Searching…"
            elif self.items.filter.active:
                message = "No item matches the filter."
            else:
                message = "No items."
            detail.show(Text(message))
            return
        with self.ctx.store.reading() as conn:
            history = item_history(conn, self.campaign_id, item.item_id, limit=10)
        detail.show(
            describe(
                item,
                history,
                as_of=self.ctx.clock(),
                unused_after_days=self.items.unused_after_days,
                own=(item.person_email or "").lower() in self.ctx.own_emails,
            )
        )

    def notify_problem(self, exc: CampaignError, title: str = "Not saved") -> None:
        self.app.notify(clean(str(exc)), title=title, severity="error", markup=False, timeout=8)

    # --- what the reviewer does --------------------------------------------------------------

    def targets(self) -> list[Item]:
        """The selected items, else the one under the cursor."""
        if self.items.selected:
            return list(self.items.selected.values())
        current = self.items.current
        return [] if current is None else [current]

    def _about(self, targets: Sequence[Item]) -> Text:
        if len(targets) == 1:
            item = targets[0]
            return assemble(
                (f"#{item.item_id} ", "bold"),
                (item.who, "bold"),
                (" — ", ""),
                (f"{item.system}: ", ""),
                (item.entitlement_name, ""),
            )
        return Text(f"{len(targets)} selected items")

    def action_decide(self, decision: Decision) -> None:
        targets = self.targets()
        if not targets or self.info is None:
            return
        definition = self.info.definition
        flagged = [t for t in targets if t.flagged]
        if decision == "approve" and len(targets) > 1 and flagged:
            message = Text(
                f"Approve {len(targets)} items? {len(flagged)} of them are flagged "
                f"({_flag_summary(flagged)}): they need your judgement one by one, and "
                "approving them together needs a comment saying why.",
                end="",
            )
            self.app.push_screen(
                ConfirmScreen(
                    "Approve flagged items together",
                    message,
                    confirm=f"Approve {len(targets)}",
                    comment_required=True,
                ),
                callback=self._when_given(lambda comment: self.apply(targets, decision, comment)),
            )
            return
        need = [
            t
            for t in targets
            if not t.comment and definition.requires_comment(decision, t.recommendation)
        ]
        if need:
            self.app.push_screen(
                CommentScreen(
                    f"A comment is required to {decision}",
                    self._about(need),
                    save=decision.capitalize(),
                ),
                callback=self._when_given(lambda comment: self.apply(targets, decision, comment)),
            )
            return
        self.apply(targets, decision, None)

    @staticmethod
    def _when_given(then: Callable[[str], None]) -> Callable[[str | None], None]:
        def callback(value: str | None) -> None:
            if value is not None:
                then(value or "")

        return callback

    def apply(self, targets: Sequence[Item], decision: Decision, comment: str | None) -> None:
        ids = [t.item_id for t in targets]
        try:
            changed = decide(
                self.ctx.store,
                self.campaign_id,
                ids,
                decision,
                self.ctx.reviewer,
                comment=comment or None,
                seen_versions={t.item_id: t.version for t in targets},
                now=self.ctx.now,
            )
        except Conflict as exc:
            self.conflict(exc, ids)
            return
        except CampaignError as exc:
            self.notify_problem(exc)
            return
        self.changed(targets, self.items.reread(ids))
        if self.items.selected:
            self.items.clear_selection()
            self.app.notify(
                f"{PAST[decision]} {changed} item{'s' if changed != 1 else ''}", markup=False
            )
        elif self.items.current is not None and self.items.current.item_id == ids[0]:
            self.items.move_to(self.items.cursor + 1)
        self.show_header()

    def conflict(self, exc: Conflict, ids: Sequence[int]) -> None:
        self.app.notify(
            clean(str(exc)),
            title="Changed by someone else",
            severity="warning",
            markup=False,
            timeout=10,
        )
        before = [i for i in self.targets() if i.item_id in set(ids)]
        self.changed(before, self.items.reread(ids))
        self.show_header()

    def changed(self, before: Sequence[Item], after: Sequence[Item]) -> None:
        """Keep the header's progress right without counting every item again."""
        self._changes += 1
        if self.progress is None:
            return
        me = self.ctx.reviewer.email.lower()

        def tally(items: Sequence[Item]) -> tuple[int, int]:
            mine = [i for i in items if i.reviewer.lower() == me]
            return len(mine), sum(1 for i in mine if i.decision is not None)

        total_before, decided_before = tally(before)
        total_after, decided_after = tally(after)
        self.progress = Counts(
            self.progress.total + total_after - total_before,
            self.progress.decided + decided_after - decided_before,
        )

    def action_undo(self) -> None:
        item = self.items.current
        if item is None:
            return
        try:
            undo(
                self.ctx.store, self.campaign_id, item.item_id, self.ctx.reviewer, now=self.ctx.now
            )
        except CampaignError as exc:
            self.notify_problem(exc, "Nothing undone")
            return
        self.changed([item], self.items.reread([item.item_id]))
        self.show_header()

    def action_comment(self) -> None:
        item = self.items.current
        if item is None:
            return

        def save(text: str | None) -> None:
            if text is None:
                return
            try:
                add_comment(
                    self.ctx.store,
                    self.campaign_id,
                    item.item_id,
                    text,
                    self.ctx.reviewer,
                    now=self.ctx.now,
                )
            except CampaignError as exc:
                self.notify_problem(exc)
                return
            self.changed([item], self.items.reread([item.item_id]))

        self.app.push_screen(
            CommentScreen("Comment", self._about([item]), initial=item.comment), callback=save
        )

    def action_delegate(self) -> None:
        targets = self.targets()
        if not targets:
            return

        def hand_over(to: Delegation | None) -> None:
            if to is None:
                return
            ids = [t.item_id for t in targets]
            try:
                moved = delegate(
                    self.ctx.store,
                    self.campaign_id,
                    ids,
                    to.to,
                    self.ctx.reviewer,
                    comment=to.comment,
                    now=self.ctx.now,
                )
            except CampaignError as exc:
                self.notify_problem(exc, "Not delegated")
                return
            self.changed(targets, self.items.reread(ids))
            self.items.clear_selection()
            self.app.notify(
                f"delegated {moved} item{'s' if moved != 1 else ''} to {clean(to.to)}",
                markup=False,
            )
            self.show_header()

        self.app.push_screen(DelegateScreen(self._about(targets)), callback=hand_over)

    def action_select(self) -> None:
        self.items.toggle_selected()
        self.items.move_to(self.items.cursor + 1)
        self.show_header()

    def action_next_undecided(self) -> None:
        if self.items.searching is not None:
            return
        if self.items.next_undecided() is None:
            self.app.notify("Every item here is decided.", markup=False)
        self.show_header()

    def action_filter(self) -> None:
        with self.ctx.store.reading() as conn:
            systems = systems_of(conn, self.campaign_id, reviewer=self.ctx.reviewer.email)

        def apply(flt: ItemFilter | None) -> None:
            if flt is None:
                return
            current = self.items.current
            self.items.load(flt, keep_item=None if current is None else current.item_id)
            self.show_header()

        self.app.push_screen(FilterScreen(self.items.filter, systems), callback=apply)

    def action_reload(self) -> None:
        current = self.items.current
        self.items.load(self.items.filter, keep_item=None if current is None else current.item_id)
        self._changes += 1
        self.progress = None
        self.count_progress()
        self.show_header()

    def action_sign_off(self) -> None:
        progress = self.progress
        pending = (
            "" if progress is None else f" ({progress.decided:,} of {progress.total:,} decided)"
        )
        message = Text(
            f"Sign off your part of campaign #{self.campaign_id}{pending}? Your decisions become "
            "final: you cannot change them afterwards.",
            end="",
        )

        def confirmed(answer: str | None) -> None:
            if answer is None:
                return
            try:
                sign_off(self.ctx.store, self.campaign_id, self.ctx.reviewer, now=self.ctx.now)
            except CampaignError as exc:
                self.notify_problem(exc, "Not signed off")
                return
            with self.ctx.store.reading() as conn:
                self.signed_off = signed_off_at(conn, self.campaign_id, self.ctx.reviewer.email)
            self.app.notify(f"Signed off campaign #{self.campaign_id}.", markup=False)
            self.show_header()

        self.app.push_screen(ConfirmScreen("Sign off", message, confirm="Sign off"), confirmed)

    def action_help(self) -> None:
        display = self.app.get_key_display
        self.app.push_screen(
            HelpScreen(
                [
                    ("Review", keys_of(self.BINDINGS, display)),
                    ("Moving", keys_of(ItemList.BINDINGS, display)),
                    ("Everywhere", everywhere(self.app)),
                ]
            )
        )

    def action_detail(self, lines: int) -> None:
        self.query_one(ItemDetail).scroll_lines(lines)

    def action_back(self) -> None:
        if self.items.selected:
            self.items.clear_selection()
            self.show_header()
            return
        self.dismiss(None)


def _flag_summary(items: Sequence[Item]) -> str:
    counts: dict[str, int] = {}
    for item in items:
        for label, present in (
            (FLAG_LABELS["leaver"], item.leaver),
            (FLAG_LABELS["mover"], item.mover),
            (FLAG_LABELS["privileged"], item.privileged),
            (FLAG_LABELS["not_in_role"], not item.in_role),
            (FLAG_LABELS["findings"], bool(item.finding_rules)),
            ("recommended revoke", item.recommendation == "revoke"),
        ):
            if present:
                counts[label] = counts.get(label, 0) + 1
    return ", ".join(f"{n} {label}" for label, n in counts.items())
