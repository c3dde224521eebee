"""Asking before something that matters: bulk approval of flagged items, signing off."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static


class ConfirmScreen(ModalScreen[str | None]):
    """Yes or no, optionally with a required comment.

    Dismissed with the comment ('' when none was asked for) on yes, ``None`` on no.
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(
        self,
        title: str,
        message: Text,
        *,
        confirm: str = "Confirm",
        comment_required: bool = False,
        comment_prompt: str = "Comment (required)",
    ) -> None:
        super().__init__()
        self.title_text = title
        self.message = message
        self.confirm_label = confirm
        self.comment_required = comment_required
        self.comment_prompt = comment_prompt

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(self.title_text, style="bold"), classes="dialog-title")
            yield Static(self.message, id="confirm-message")
            if self.comment_required:
                yield Label(self.comment_prompt)
                yield Input(id="confirm-comment", max_length=10_000)
                yield Static("", id="confirm-problem", classes="problem")
            with Horizontal(classes="buttons"):
                yield Button(self.confirm_label, variant="primary", id="confirm-yes", compact=True)
                yield Button("Cancel", id="confirm-no", compact=True)

    def on_mount(self) -> None:
        if self.comment_required:
            self.query_one("#confirm-comment", Input).focus()
        else:
            self.query_one("#confirm-yes", Button).focus()

    @on(Button.Pressed, "#confirm-yes")
    @on(Input.Submitted, "#confirm-comment")
    def confirmed(self) -> None:
        if not self.comment_required:
            self.dismiss("")
            return
        comment = self.query_one("#confirm-comment", Input).value.strip()
        if not comment:
            self.query_one("#confirm-problem", Static).update(Text("A comment is required."))
            return
        self.dismiss(comment)

    @on(Button.Pressed, "#confirm-no")
    def action_cancel(self) -> None:
        self.dismiss(None)
