"""Narrowing the list: search text, only undecided or flagged items, a decision, a system."""

from __future__ import annotations

from typing import ClassVar, cast

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from iam_gov.campaigns.items import DecisionFilter, ItemFilter
from iam_gov.tui.text import clean

DECISIONS: list[tuple[str, str]] = [
    ("not decided", "none"),
    ("approved", "approve"),
    ("revoked", "revoke"),
    ("abstained", "abstain"),
]


class FilterScreen(ModalScreen[ItemFilter | None]):
    """Dismissed with the new filter (``ItemFilter()`` to show everything) or ``None``."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, current: ItemFilter, systems: list[str]) -> None:
        super().__init__()
        self.current = current
        self.systems = systems

    def compose(self) -> ComposeResult:
        current = self.current
        with Vertical(classes="dialog"):
            yield Static(Text("Filter and search", style="bold"), classes="dialog-title")
            yield Label("Search person, e-mail, login or entitlement")
            yield Input(value=current.text, id="filter-text")
            yield Checkbox("only undecided", current.undecided, id="filter-undecided", compact=True)
            yield Checkbox("only flagged", current.flagged, id="filter-flagged", compact=True)
            yield Label("Decision")
            yield Select(
                [(Text(label), value) for label, value in DECISIONS],
                prompt="any decision",
                value=current.decision if current.decision else Select.NULL,
                id="filter-decision",
                compact=True,
            )
            yield Label("System")
            yield Select(
                [(Text(clean(system)), system) for system in self.systems],
                prompt="any system",
                value=current.system if current.system in self.systems else Select.NULL,
                id="filter-system",
                compact=True,
            )
            with Horizontal(classes="buttons"):
                yield Button("Apply", variant="primary", id="filter-apply", compact=True)
                yield Button("Show all", id="filter-clear", compact=True)
                yield Button("Cancel", id="filter-cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#filter-text", Input).focus()

    @on(Button.Pressed, "#filter-apply")
    @on(Input.Submitted, "#filter-text")
    def apply(self) -> None:
        decision = self.query_one("#filter-decision", Select).value
        system = self.query_one("#filter-system", Select).value
        self.dismiss(
            ItemFilter(
                text=self.query_one("#filter-text", Input).value.strip(),
                undecided=self.query_one("#filter-undecided", Checkbox).value,
                flagged=self.query_one("#filter-flagged", Checkbox).value,
                decision=cast(
                    "DecisionFilter | None",
                    decision if decision in {value for _, value in DECISIONS} else None,
                ),
                system=system if isinstance(system, str) else None,
            )
        )

    @on(Button.Pressed, "#filter-clear")
    def clear(self) -> None:
        self.dismiss(ItemFilter())

    @on(Button.Pressed, "#filter-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
