"""The keys, listed from the bindings themselves so that the help never drifts from them."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

MOUSE = (
    "Everything has a mouse way too: click a row to put the cursor on it, click a key in "
    "the footer, or open the command palette and pick a command by name."
)

Keys = list[tuple[str, str]]


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,q", "close", "Close"),
    ]

    def __init__(self, sections: Iterable[tuple[str, Keys]]) -> None:
        """``sections``: (title, [(key, what it does)]); the first fills the left column."""
        super().__init__()
        self.sections = list(sections)

    def compose(self) -> ComposeResult:
        columns = Table.grid(padding=(0, 3))
        columns.add_column()
        columns.add_column()
        first, *rest = self.sections or [("", [])]
        columns.add_row(_section(*first), Group(*(_section(*s) for s in rest)))
        with VerticalScroll(classes="dialog help"):
            yield Static(Text("Keys", style="bold"), classes="dialog-title")
            yield Static(columns, id="help-keys")
            yield Static(Text(MOUSE, style="dim"))
            with Horizontal(classes="buttons"):
                yield Button("Close", variant="primary", id="help-close", compact=True)

    @on(Button.Pressed, "#help-close")
    def action_close(self) -> None:
        self.dismiss(None)


def _section(title: str, keys: Keys) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold cyan", no_wrap=True)
    table.add_column()
    table.add_row(Text(title, style="bold underline"), Text(""))
    for key, what in keys:
        table.add_row(Text(key), Text(what))
    table.add_row(Text(""), Text(""))
    return table


def keys_of(bindings: Iterable[BindingType], display: Callable[[Binding], str]) -> Keys:
    """(key, what it does) for each binding with a description, keys as the footer shows
    them (``display`` is the app's ``get_key_display``)."""
    found: Keys = []
    for binding in bindings:
        if not isinstance(binding, Binding) or not binding.description:
            continue
        shown = binding.key_display or ", ".join(
            display(Binding(key, binding.action)) for key in binding.key.split(",")
        )
        found.append((shown, binding.tooltip or binding.description))
    return found


def everywhere(app: App[Any]) -> Keys:
    """The app's own keys and the command palette's."""
    display = app.get_key_display
    palette = display(Binding(app.COMMAND_PALETTE_BINDING, "command_palette"))
    allowed = [
        b for b in app.BINDINGS if not isinstance(b, Binding) or app.check_action(b.action, ())
    ]
    return [*keys_of(allowed, display), (palette, "command palette: every command by name")]
