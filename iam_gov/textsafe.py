"""Untrusted strings (names, titles, group names, comments) made safe for every output:
control and bidi characters shown as escapes, spreadsheet cells that cannot run as formulas.

In the foundation, so that reports, campaign evidence, the CLI and the TUI all use the same
rules."""

from __future__ import annotations

import re

# C0/C1 control characters, DEL, and the Unicode bidi controls that can reorder what a
# terminal, a browser or a spreadsheet shows ("Trojan Source").
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_LINE_BREAKS = re.compile("[\n\r\t]")
_ANY = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_FORMULA_START = frozenset("=+-@\t\r\n")


def printable(value: object, *, keep_newlines: bool = False) -> str:
    """The text with every control character shown as an escape, e.g. ``\\x1b``."""
    text = "" if value is None else str(value)
    if _ANY.search(text) is None:  # nearly always: one scan, nothing to replace
        return text
    if not keep_newlines:
        text = _LINE_BREAKS.sub(lambda m: repr(m.group())[1:-1], text)
    return _UNSAFE.sub(
        lambda m: (
            f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}"
        ),
        text,
    )


def csv_cell(value: object) -> str:
    """A printable cell a spreadsheet will not run as a formula (OWASP CSV injection)."""
    text = printable(value)
    if text and text[0] in _FORMULA_START:
        return "'" + text
    return text
