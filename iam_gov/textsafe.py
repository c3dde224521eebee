"""Untrusted strings (names, titles, group names, comments) made safe for every output:
control and bidi characters shown as escapes, spreadsheet cells that cannot run as formulas.

In the foundation, so that reports, campaign evidence, the CLI and the TUI all use the same
rules."""

from __future__ import annotations

import json
import re

# The Unicode bidi controls that can reorder what a terminal, a browser or a spreadsheet
# shows ("Trojan Source"): LRM, RLM, ALM, the embeddings and overrides, the isolates.
BIDI_CONTROLS = "\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
# ... and what breaks a line where no line break is expected: the Unicode line and paragraph
# separators (JavaScript, some editors and log viewers).
_SEPARATORS = "\u2028\u2029"
# The one list of what no output shows raw: C0/C1 control characters, DEL, and the above.
_CLASS = f"\\x00-\\x1f\\x7f-\\x9f{BIDI_CONTROLS}{_SEPARATORS}"
_UNSAFE = re.compile(f"[{_CLASS}]")
_LINE_BREAKS = re.compile("[\n\r\t]")
_JSON_RAW = re.compile(f"[\\x7f-\\x9f{BIDI_CONTROLS}{_SEPARATORS}]")
_FORMULA_START = frozenset("=+-@\t\r\n")


def printable(value: object, *, keep_newlines: bool = False) -> str:
    """The text with every control character shown as an escape, e.g. ``\\x1b``."""
    text = "" if value is None else str(value)
    if _UNSAFE.search(text) is None:  # nearly always: one scan, nothing to replace
        return text
    if not keep_newlines:
        text = _LINE_BREAKS.sub(lambda m: repr(m.group())[1:-1], text)
    kept = "\n\t" if keep_newlines else ""
    return _UNSAFE.sub(lambda m: m[0] if m[0] in kept else _escape(m[0]), text)


def _escape(char: str) -> str:
    return f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"


def csv_cell(value: object) -> str:
    """A printable cell a spreadsheet will not run as a formula (OWASP CSV injection): one
    that starts with ``= + - @``, a tab, CR or LF (before or after escaping) gets a ``'``."""
    raw = "" if value is None else str(value)
    text = printable(raw)
    if (raw and raw[0] in _FORMULA_START) or (text and text[0] in _FORMULA_START):
        return "'" + text
    return text


def json_text(value: object, *, indent: int | None = None, sort_keys: bool = False) -> str:
    """``value`` as JSON that decodes back to exactly ``value`` but holds no raw control, bidi
    or line-separator character: each is written as a ``\\uXXXX`` escape. Other non-ASCII
    text (accented names) stays readable."""
    text = json.dumps(value, indent=indent, sort_keys=sort_keys, ensure_ascii=False)
    # json escapes C0 controls itself, so a raw tab or line break is layout. Outside strings
    # JSON is ASCII: any other such character is inside a string, where its \\u escape
    # means the same character.
    return _JSON_RAW.sub(lambda m: f"\\u{ord(m[0]):04x}", text)


# Markdown that would come alive in untrusted text: inline markup and HTML, ...
_MD_INLINE = re.compile(r"([\\`*_\[\]<>|~&#!])")
# ... what starts a block (heading, quote, list, setext underline) at the start of a line,
_MD_BLOCK_START = re.compile(r"^([-+=>])|^(\d+)([.)])")
# ... a URL or www. host, which autolinking renderers (GFM, linkify) make a link of,
_MD_URL = re.compile(r"(?i)\b(?:[a-z][a-z0-9+.-]*://|www\.)\S*")
# ... an e-mail address (GFM, linkify) and a bare host name (linkify's fuzzy links: a known
# top-level domain or any two letters): the @ and the dot before such a name are escaped.
_MD_AT = re.compile(r"(?<=[\w.+-])@(?=[\w-])")
_MD_HOST_DOT = re.compile(
    r"(?i)(?<=[\w-])\.(?=(?:[a-z]{2}|biz|com|edu|gov|net|org|pro|web|xxx|aero|asia|coop|info"
    r"|museum|name|shop)(?![\w-]))"
)


def markdown_literal(value: object) -> str:
    """Untrusted text as literal Markdown: on one line, no markup, no link, no HTML, and
    safe in a table cell. Control and bidi characters are shown as escapes first."""
    text = _MD_INLINE.sub(r"\\\1", printable(value))
    text = _MD_BLOCK_START.sub(lambda m: f"\\{m[1]}" if m[1] else f"{m[2]}\\{m[3]}", text)
    # Escaping the punctuation of a URL, an address or a host name splits it for the
    # autolinkers, which look at the raw text (cmark-gfm) or at single text tokens
    # (markdown-it's linkify).
    text = _MD_URL.sub(lambda m: re.sub(r"([:/.])", r"\\\1", m[0]), text)
    return _MD_HOST_DOT.sub(r"\\.", _MD_AT.sub(r"\\@", text))
