"""The campaign's items as a list that reads only the rows on screen (Textual's Line API).

A ``DataTable`` holds every row in memory and lays them all out: 100,000 rows take seconds to
show. This widget knows only how many items the filter shows; ``render_line`` asks a small
cache of pages for the rows in view, and a missing page is one keyset query next to a page
already read (or from the nearer end of the list), so that the first screen and every key
cost the same on 1,000,000 items as on 40.

Decisions do not move items in or out of the list: an item decided under the "undecided"
filter stays on screen, marked decided, until the filter is applied again (``reload``), so
that the cursor never jumps under the reviewer's hands.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual import events, work
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.worker import get_current_worker

from iam_gov.campaigns.items import (
    ALL,
    PAGE_SIZE,
    Item,
    ItemFilter,
    count_items,
    get_items,
    item_page,
    item_position,
    next_undecided,
)
from iam_gov.campaigns.reasons import FLAG_LABELS
from iam_gov.store import Store
from iam_gov.tui.text import assemble, clean, day

CACHED_PAGES = 64
BACKGROUND_ABOVE = 20_000
"""Reviews bigger than this are searched in a thread (see ``ItemList.load``): counting what
a filter shows takes SQLite about 1 ms per 10,000 items, 0.3 s for a text search through a
million."""
END = 2**31 - 1
"""Past the last item id: ``before=END`` reads the end of the list."""

DECISION_MARKS = {
    "approve": "✓ approve",
    "revoke": "✗ revoke",
    "abstain": "~ abstain",
    None: "· to do",
}
SELF_LABEL = "OWN"
"""Shown in the flags of an item about the reviewer's own access (it cannot be decided)."""


@dataclass(frozen=True)
class Column:
    title: str
    width: int
    """0: shares the room left with the other flexible columns."""
    narrow: int | None = None
    """Its width on a narrow terminal (under 110 columns); 0 hides it under 90."""
    short: str | None = None
    """Its title when narrow."""


COLUMNS = (
    Column("", 2),
    Column("decision", 10, 9),
    Column("person", 0),
    Column("system", 9, 8),
    Column("entitlement", 0),
    Column("recommend", 9, 7, "advice"),
    Column("flags", 24, 16),
    Column("last used", 10, 0),
)


def column_widths(width: int) -> list[int]:
    """Each column's width for a list ``width`` cells wide (0: not shown)."""
    if width >= 110:
        widths = [c.width for c in COLUMNS]
    else:
        widths = [c.width if c.narrow is None else c.narrow for c in COLUMNS]
        if width >= 90:  # room enough for the last use, which the detail shows anyway
            widths[-1] = COLUMNS[-1].width
    flexible = [i for i, c in enumerate(COLUMNS) if c.width == 0]
    shown = sum(1 for i, w in enumerate(widths) if w or i in flexible)
    room = max(len(flexible) * 10, width - sum(widths) - (shown - 1))
    for n, i in enumerate(flexible):
        share = room // len(flexible)
        widths[i] = share + (room - share * len(flexible) if n == 0 else 0)
    return widths


class ItemList(ScrollView, can_focus=True):
    """The reviewer's items in review order, one line each, under a fixed header line."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor_up", "Up", show=False),
        Binding("down,j", "cursor_down", "Down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home", "first", "First", show=False),
        Binding("end", "last", "Last", show=False),
    ]

    COMPONENT_CLASSES = {
        "item-list--header",
        "item-list--cursor",
        "item-list--selected",
        "item-list--leaver",
        "item-list--flag",
        "item-list--decided",
        "item-list--revoke",
        "item-list--other",
    }

    DEFAULT_CSS = """
    ItemList {
        height: 1fr;
        overflow-x: hidden;
        background: $surface;
        & > .item-list--header { text-style: bold; background: $panel; }
        & > .item-list--cursor { background: $accent 40%; text-style: bold; }
        &:focus > .item-list--cursor { background: $accent; }
        & > .item-list--selected { text-style: bold; }
        & > .item-list--leaver { color: $error; text-style: bold; }
        & > .item-list--flag { color: $warning; }
        & > .item-list--decided { color: $text-muted; }
        & > .item-list--revoke { color: $error; }
        & > .item-list--other { color: $text-disabled; text-style: italic; }
    }
    """

    def __init__(
        self,
        store: Store,
        campaign_id: int,
        reviewer: str,
        *,
        as_of: Callable[[], datetime],
        unused_after_days: int,
        own_emails: Iterable[str] = (),
        on_highlight: Callable[[Item | None], None] | None = None,
        id: str | None = None,
    ) -> None:
        """``on_highlight`` is called with the item under the cursor whenever it changes (or
        is decided). A direct call rather than a message: the panel it updates then repaints
        in the same frame as the list, not one frame (~17 ms) later."""
        super().__init__(id=id)
        self.store = store
        self.campaign_id = campaign_id
        self.reviewer = reviewer.lower()
        self.as_of = as_of
        self.unused_after_days = unused_after_days
        self.own_emails = frozenset(e.lower() for e in own_emails)
        self.filter: ItemFilter = ALL
        self.count = 0
        self.cursor = 0
        self.stale = False
        """Decisions were made under a filter on decisions: the list may show items the
        filter would no longer show."""
        self.total: int | None = None
        """All the reviewer's items (the count of the first, unfiltered load)."""
        self.background_above = BACKGROUND_ABOVE
        self.searching: ItemFilter | None = None
        """The filter being counted in a thread, until its items are shown."""
        self.selected: dict[int, Item] = {}
        self._pages: OrderedDict[int, list[Item]] = OrderedDict()
        self._hover_row: int | None = None
        self.on_highlight = on_highlight

    # --- loading ----------------------------------------------------------------------------

    def load(self, flt: ItemFilter = ALL, *, keep_item: int | None = None) -> None:
        """Show the items ``flt`` lets through, the cursor on ``keep_item`` if it still is.

        On a big review (more than ``background_above`` items) the counting runs in a thread:
        a search through a million names takes the database a few hundred milliseconds, and
        the screen answers keys meanwhile, saying "searching…".
        """
        self.filter = flt
        self._pages.clear()
        self.stale = False
        if self.total is not None and self.total > self.background_above:
            self.searching = flt
            self.count = 0
            self.virtual_size = Size(self.size.width, 2)
            self.cursor = 0
            self.scroll_to(y=0, animate=False)
            self.refresh()
            self.highlighted()
            self._search(flt, keep_item)
            return
        self._show(flt, *self._query(flt, keep_item))

    def _query(
        self, flt: ItemFilter, keep_item: int | None
    ) -> tuple[int, int, dict[int, list[Item]]]:
        """How many items the filter shows, the row of ``keep_item`` and its page."""
        cid, reviewer = self.campaign_id, self.reviewer
        with self.store.reading() as conn:
            count = count_items(conn, cid, reviewer=reviewer, filter=flt)
            row = 0
            if keep_item is not None and count:
                row = item_position(conn, cid, keep_item, reviewer=reviewer, filter=flt)
            row = min(row, max(count - 1, 0))
            number = row // PAGE_SIZE
            page = item_page(conn, cid, reviewer=reviewer, filter=flt, offset=number * PAGE_SIZE)
        return count, row, {number: page}

    @work(thread=True, exclusive=True, group="item-list")
    def _search(self, flt: ItemFilter, keep_item: int | None) -> None:
        found = self._query(flt, keep_item)
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._searched, flt, found)

    def _searched(self, flt: ItemFilter, found: tuple[int, int, dict[int, list[Item]]]) -> None:
        if flt != self.searching or not self.is_attached:
            return  # another search has been asked for since, or the screen has closed
        self._show(flt, *found)

    def _show(self, flt: ItemFilter, count: int, row: int, pages: dict[int, list[Item]]) -> None:
        self.searching = None
        self.count = count
        if self.total is None and flt == ALL:
            self.total = count
        self._pages.update(pages)
        self.virtual_size = Size(self.size.width, self.count + 1)
        self.scroll_to(y=0, animate=False)
        self.cursor = -1
        self.move_to(row, force=True)
        self.refresh()

    def _page(self, number: int) -> list[Item]:
        page = self._pages.get(number)
        if page is not None:
            self._pages.move_to_end(number)
            return page
        start = number * PAGE_SIZE
        if start >= self.count or start < 0:
            return []
        page = self._fetch(number, start)
        self._pages[number] = page
        while len(self._pages) > CACHED_PAGES:
            self._pages.popitem(last=False)
        return page

    def _fetch(self, number: int, start: int) -> list[Item]:
        before = self._pages.get(number - 1)
        after = self._pages.get(number + 1)
        cid, reviewer, flt = self.campaign_id, self.reviewer, self.filter
        with self.store.reading() as conn:
            if before and len(before) == PAGE_SIZE:
                return item_page(conn, cid, reviewer=reviewer, filter=flt, after=before[-1].item_id)
            if after:
                return item_page(conn, cid, reviewer=reviewer, filter=flt, before=after[0].item_id)
            end = min(start + PAGE_SIZE, self.count)
            if start <= self.count - end:
                return item_page(conn, cid, reviewer=reviewer, filter=flt, offset=start)
            return item_page(
                conn,
                cid,
                reviewer=reviewer,
                filter=flt,
                before=END,
                offset=self.count - end,
                limit=end - start,
            )

    def item_at(self, row: int) -> Item | None:
        if not 0 <= row < self.count:
            return None
        page = self._page(row // PAGE_SIZE)
        index = row % PAGE_SIZE
        return page[index] if index < len(page) else None

    @property
    def current(self) -> Item | None:
        return self.item_at(self.cursor)

    def replace(self, items: Iterable[Item]) -> None:
        """Show these items as they are now (after a decision), where they are."""
        fresh = {item.item_id: item for item in items}
        for page in self._pages.values():
            for index, item in enumerate(page):
                if item.item_id in fresh:
                    page[index] = fresh[item.item_id]
        for item_id in fresh.keys() & self.selected.keys():
            self.selected[item_id] = fresh[item_id]
        if self.filter.undecided or self.filter.decision is not None:
            self.stale = True
        self.refresh()
        self.highlighted()

    def reread(self, item_ids: Iterable[int]) -> list[Item]:
        """Read these items again from the store and show them; returns them."""
        with self.store.reading() as conn:
            fresh = get_items(conn, self.campaign_id, list(item_ids))
        self.replace(fresh)
        return fresh

    # --- moving -----------------------------------------------------------------------------

    @property
    def body_height(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)

    def move_to(self, row: int, *, force: bool = False) -> None:
        row = max(0, min(row, self.count - 1)) if self.count else 0
        if row == self.cursor and not force:
            return
        old = self.cursor
        self.cursor = row
        top = round(self.scroll_y)
        if row < top:
            self.scroll_to(y=row, animate=False, immediate=True)
        elif row >= top + self.body_height:
            self.scroll_to(y=row - self.body_height + 1, animate=False, immediate=True)
        else:
            self._refresh_row(old)
            self._refresh_row(row)
        self.highlighted()

    def highlighted(self) -> None:
        if self.on_highlight is not None:
            self.on_highlight(self.current)

    def _refresh_row(self, row: int) -> None:
        y = row - round(self.scroll_y) + 1
        if 1 <= y < self.scrollable_content_region.height:
            self.refresh_lines(y)

    def go_to_item(self, item_id: int) -> bool:
        """Put the cursor on this item if the list shows it."""
        anchor = self.current
        with self.store.reading() as conn:
            row = item_position(
                conn,
                self.campaign_id,
                item_id,
                reviewer=self.reviewer,
                filter=self.filter,
                anchor=None if anchor is None else (anchor.item_id, self.cursor),
            )
        found = self.item_at(row)
        if found is None or found.item_id != item_id:
            return False
        self.move_to(row)
        return True

    def next_undecided(self) -> Item | None:
        """Move to the next undecided item after the cursor (from the top again after the
        last); ``None`` when every item the filter shows is decided."""
        # Most of the time it is a few rows on, in pages already read.
        for row in range(self.cursor + 1, min(self.count, self.cursor + 2 * PAGE_SIZE)):
            item = self.item_at(row)
            if item is not None and item.decision is None and self._mine(item):
                self.move_to(row)
                return item
        if self.searching is not None:
            return None
        if self.stale:
            current = self.current
            keep = None if current is None else current.item_id
            self._show(self.filter, *self._query(self.filter, keep))
        current = self.current
        with self.store.reading() as conn:
            found = next_undecided(
                conn,
                self.campaign_id,
                reviewer=self.reviewer,
                after_item_id=0 if current is None else current.item_id,
                filter=self.filter,
            )
        if found is None or not self.go_to_item(found):
            return None
        return self.current

    def _mine(self, item: Item) -> bool:
        return item.reviewer.lower() == self.reviewer

    def action_cursor_up(self) -> None:
        self.move_to(self.cursor - 1)

    def action_cursor_down(self) -> None:
        self.move_to(self.cursor + 1)

    def action_page_up(self) -> None:
        self.move_to(self.cursor - self.body_height)

    def action_page_down(self) -> None:
        self.move_to(self.cursor + self.body_height)

    def action_first(self) -> None:
        self.move_to(0)

    def action_last(self) -> None:
        self.move_to(self.count - 1)

    # --- selecting several ------------------------------------------------------------------

    def toggle_selected(self) -> None:
        item = self.current
        if item is None:
            return
        if item.item_id in self.selected:
            del self.selected[item.item_id]
        else:
            self.selected[item.item_id] = item
        self._refresh_row(self.cursor)

    def clear_selection(self) -> None:
        self.selected.clear()
        self.refresh()

    # --- the mouse --------------------------------------------------------------------------

    def _row_at(self, event: events.MouseEvent) -> int | None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y < 1:
            return None
        row = round(self.scroll_y) + offset.y - 1
        return row if row < self.count else None

    def on_click(self, event: events.Click) -> None:
        row = self._row_at(event)
        if row is not None:
            self.move_to(row)

    def on_mouse_move(self, event: events.MouseMove) -> None:
        row = self._row_at(event)
        if row == self._hover_row:
            return
        self._hover_row = row
        item = None if row is None else self.item_at(row)
        self.tooltip = None if item is None else self._tooltip_for(item)

    def _tooltip_for(self, item: Item) -> Text:
        email = f" <{clean(item.person_email)}>" if item.person_email else ""
        return assemble(
            (item.who, ""),
            (email, ""),
            "\n",
            (f"{item.system}: {item.account_login}", ""),
            "\n",
            (item.entitlement_name, "bold"),
        )

    # --- drawing ----------------------------------------------------------------------------

    def on_resize(self, event: events.Resize) -> None:
        self.virtual_size = Size(event.size.width, self.count + 1)

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self.rich_style
        if y == 0:
            style = base + self.get_component_rich_style("item-list--header")
            text = self._header(width)
            return self._strip(text, width, style)
        row = round(self.scroll_y) + y - 1
        if self.searching is not None:
            if y != 1:
                return Strip.blank(width, base)
            what = clean(self.searching.describe())
            text = Text(f"   searching: {what}…", style="italic", end="")
            return self._strip(text, width, base)
        item = self.item_at(row)
        if item is None:
            return Strip.blank(width, base)
        style = base
        if row == self.cursor:
            style = style + self.get_component_rich_style("item-list--cursor")
        return self._strip(self._row(item, width), width, style)

    def _strip(self, text: Text, width: int, style: Style) -> Strip:
        segments = list(text.render(self.app.console))
        return Strip(segments).crop_extend(0, width, style).apply_style(style)

    def _header(self, width: int) -> Text:
        text = Text(end="", no_wrap=True)
        for column, cell_width in zip(COLUMNS, column_widths(width), strict=True):
            if cell_width:
                title = column.title if cell_width >= len(column.title) else column.short
                text.append_text(_cell(title or column.title, cell_width))
                text.append(" ")
        return text

    def _row(self, item: Item, width: int) -> Text:
        mine = self._mine(item)
        flags = [FLAG_LABELS[f] for f in item.flags(self.as_of(), self.unused_after_days)]
        own = (item.person_email or "").lower() in self.own_emails
        if own:
            flags.insert(0, SELF_LABEL)
        if not mine:
            decision = f"→ {item.reviewer}"
        elif item.precertified and item.decision == "approve":
            decision = "✓ precert"
        else:
            decision = DECISION_MARKS.get(item.decision, item.decision or "")
        row_style = Style()
        if not mine:
            row_style = self.get_component_rich_style("item-list--other")
        elif item.leaver:
            row_style = self.get_component_rich_style("item-list--leaver")
        elif item.decision is not None:
            row_style = self.get_component_rich_style("item-list--decided")
        flag_style = self.get_component_rich_style("item-list--flag")
        flag_text = Text(end="", no_wrap=True)
        for label in flags:
            if flag_text:
                flag_text.append(" ")
            # The leaver's label in reverse video: unmistakable in colour and without it.
            leaver = label == FLAG_LABELS["leaver"] and mine
            flag_text.append(label, style=row_style + Style(reverse=True) if leaver else flag_style)
        rec_style = (
            self.get_component_rich_style("item-list--revoke")
            if item.recommendation == "revoke" and mine
            else Style()
        )
        selected = item.item_id in self.selected
        cells: tuple[tuple[str | Text, Style], ...] = (
            ("● " if selected else "", Style(bold=True)),
            (decision, Style()),
            (item.who, Style()),
            (item.system, Style()),
            (item.entitlement_name, Style()),
            (item.recommendation, rec_style),
            (flag_text, Style()),
            (day(item.last_used_at, "never"), Style()),
        )
        text = Text(end="", no_wrap=True, style=row_style)
        for (value, style), cell_width in zip(cells, column_widths(width), strict=True):
            if cell_width:
                text.append_text(_cell(value, cell_width, style))
                text.append(" ")
        if selected:
            text.stylize(self.get_component_rich_style("item-list--selected"))
        return text


def _cell(value: str | Text, width: int, style: Style | str = "") -> Text:
    """One cell, cut to its width (``…``) and padded: ``str`` values made printable,
    ``Text`` built here from printable parts."""
    if isinstance(value, Text):
        text = value.copy()
    else:
        text = Text(clean(value), style=style, end="", no_wrap=True)
    text.truncate(width, overflow="ellipsis", pad=True)
    return text
