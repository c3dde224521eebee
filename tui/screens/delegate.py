"""Handing items over to another reviewer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static


@dataclass(frozen=True)
class Delegation:
    to: str
    comment: str | None


class DelegateScreen(ModalScreen[Delegation | None]):
    """Whom to, and why; dismissed with a ``Delegation`` or ``None``."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, about: Text) -> None:
        super().__init__()
        self.about = about

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text("Delegate", style="bold"), classes="dialog-title")
            yield Static(self.about, id="delegate-about")
            yield Label("To (e-mail)")
            yield Input(placeholder="reviewer@example.com", id="delegate-to")
            yield Label("Comment (optional)")
            yield Input(id="delegate-comment", max_length=10_000)
            yield Static("", id="delegate-problem", classes="problem")
            with Horizontal(classes="buttons"):
                yield Button("Delegate", variant="primary", id="delegate-ok", compact=True)
                yield Button("Cancel", id="delegate-cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#delegate-to", Input).focus()

    @on(Input.Submitted, "#delegate-to")
    def next_field(self) -> None:
        self.query_one("#delegate-comment", Input).focus()

    @on(Button.Pressed, "#delegate-ok")
    @on(Input.Submitted, "#delegate-comment")
    def delegate(self) -> None:
        to = self.query_one("#delegate-to", Input).value.strip()
        if not to:
            self.query_one("#delegate-problem", Static).update(Text("Whom to? (an e-mail)"))
            self.query_one("#delegate-to", Input).focus()
            return
        comment = self.query_one("#delegate-comment", Input).value.strip() or None
        self.dismiss(Delegation(to, comment))

    @on(Button.Pressed, "#delegate-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
