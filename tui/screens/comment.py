"""Writing a comment on an item, or the comment a decision requires."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from iam_gov.tui.text import clean


class CommentScreen(ModalScreen[str | None]):
    """One comment; dismissed with the text (stripped, never empty), or ``None``."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(
        self, title: str, about: Text, *, initial: str | None = None, save: str = "Save"
    ) -> None:
        super().__init__()
        self.title_text = title
        self.about = about
        self.initial = initial or ""
        self.save_label = save

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(self.title_text, style="bold"), classes="dialog-title")
            yield Static(self.about, id="comment-about")
            # The value of an Input is shown as typed, never as markup; control characters
            # of an old comment are shown escaped.
            yield Input(
                value=clean(self.initial),
                placeholder="comment",
                id="comment-input",
                max_length=10_000,
            )
            yield Static("", id="comment-problem", classes="problem")
            with Horizontal(classes="buttons"):
                yield Button(self.save_label, variant="primary", id="comment-save", compact=True)
                yield Button("Cancel", id="comment-cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#comment-input", Input).focus()

    @on(Button.Pressed, "#comment-save")
    @on(Input.Submitted, "#comment-input")
    def save(self) -> None:
        text = self.query_one("#comment-input", Input).value.strip()
        if not text:
            self.query_one("#comment-problem", Static).update(Text("The comment is empty."))
            return
        self.dismiss(text)

    @on(Button.Pressed, "#comment-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
