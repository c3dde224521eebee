"""Untrusted strings as plain ``Text``: never markup, never terminal control sequences.

Names, titles, group names, comments and campaign names come from directories, HR files and
reviewers. Everything the TUI shows of them goes through ``plain`` (or ``assemble``), which
escapes control characters (``\\x1b`` shown as the four characters) and returns a rich
``Text``, which Textual renders literally: ``[bold]`` or ``[@click=app.quit]`` stay text.
"""

from __future__ import annotations

from datetime import date, datetime

from rich.style import Style, StyleType
from rich.text import Text

from iam_gov.textsafe import printable


def clean(value: object) -> str:
    """The value as one printable line ('' for ``None``)."""
    return "" if value is None else printable(value)


def plain(value: object, style: StyleType = "") -> Text:
    """The value as literal text on one line."""
    return Text(clean(value), style=style, no_wrap=True, end="")


def paragraph(value: object, style: StyleType = "") -> Text:
    """The value as literal text that may span lines (comments)."""
    return Text("" if value is None else printable(value, keep_newlines=True), style=style, end="")


def assemble(*parts: str | tuple[object, StyleType] | Text) -> Text:
    """Text from pieces: ``str`` pieces are ours (still never markup), ``(value, style)`` and
    ``Text`` pieces are shown as given, values made printable first."""
    text = Text(end="")
    for part in parts:
        if isinstance(part, Text):
            text.append_text(part)
        elif isinstance(part, tuple):
            value, style = part
            text.append(clean(value), style=style)
        else:
            text.append(part)
    return text


def day(value: date | datetime | None, missing: str = "—") -> str:
    if value is None:
        return missing
    if isinstance(value, datetime):
        value = value.date()
    return value.isoformat()


def moment(value: datetime | None, missing: str = "—") -> str:
    return missing if value is None else value.strftime("%Y-%m-%d %H:%M UTC")


def due_text(due: date | None, today: date, *, prefix: str = "due ") -> Text:
    """``due 2025-06-14 (in 13 d)``, red when overdue."""
    if due is None:
        return Text("no due date", end="")
    left = (due - today).days
    if left < 0:
        return Text(f"{prefix}{due.isoformat()} (OVERDUE by {-left} d)", style=OVERDUE, end="")
    if left == 0:
        return Text(f"{prefix}{due.isoformat()} (today)", style=OVERDUE, end="")
    return Text(f"{prefix}{due.isoformat()} (in {left} d)", end="")


OVERDUE = Style(color="red", bold=True)
