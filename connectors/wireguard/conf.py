"""WireGuard configuration files (wg-quick style), read as ``wg`` reads them.

One peer can be removed with every other byte left as it was.

Lines are what ``wg`` and ``wg-quick`` see: split at LF only (a CR before it, or anywhere, is
whitespace), a ``#`` starts a comment, and all whitespace in the rest is ignored, so that
``Public Key = …`` is ``PublicKey=…``. Section and key names are case-insensitive.

Which lines belong to a ``[Peer]`` (what removing it removes):

* its *lead*: the comment lines directly above its header (no blank line between), up to but
  not including a PiVPN ``### end … ###`` marker, which closes the block before;
* its *body*: the header through its last setting (comments and blank lines in between too);
* its *tail*: the comment lines directly after the body (up to and including a ``### end …
  ###`` marker), then the blank lines directly after those.

Anything else (a comment after a blank line that is not directly above the next header, a
commented-out block) belongs to no peer and stays. PiVPN's ``### begin x ###`` … ``### end x
###`` blocks are therefore removed whole, as PiVPN itself removes them.

Which comments may *name* a peer by free text (``Peer.naming``; see ``identities``) is
narrower: the trailing comments of its ``[Peer]`` and ``PublicKey`` lines, the comments at the
top of its block (before its first setting), and its lead. A comment after a blank line, in
the middle or at the end of a block, or in the interface's, names nobody.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from iam_gov.connectors.shared.files import read_source
from iam_gov.errors import SourceError

LineKind = Literal["blank", "comment", "header", "setting", "bad"]

_WHITESPACE = re.compile(rb"[ \t\r\n\v\f]")
_END_MARKER = re.compile(r"^###\s*end\s.*###$", re.IGNORECASE)
_DISABLED = re.compile(r"^#\s*\[disabled\]\s?(.*)$", re.IGNORECASE)
_SAFE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,31}$")

INTERFACE_KEYS = frozenset(
    {
        # wg(8)
        "privatekey",
        "listenport",
        "fwmark",
        # wg-quick(8)
        "address",
        "dns",
        "mtu",
        "table",
        "preup",
        "postup",
        "predown",
        "postdown",
        "saveconfig",
    }
)
PEER_KEYS = frozenset(
    {"publickey", "presharedkey", "allowedips", "endpoint", "persistentkeepalive"}
)
SECRET_KEYS = frozenset({"privatekey", "presharedkey"})
REDACTED = "(redacted)"
"""What ``iam-gov export`` writes in place of a private or preshared key (in the
configuration and the dump); read back, a key is known to be set, not what it is."""
_KEY_TOKEN = re.compile(rb"(?<![A-Za-z0-9+/=])[A-Za-z0-9+/]{43}=(?![A-Za-z0-9+/=])")


def is_key(value: str) -> bool:
    """A WireGuard key as wg prints it: 32 bytes in standard base64 (44 characters)."""
    if len(value) != 44:
        return False
    try:
        return len(base64.b64decode(value, validate=True)) == 32
    except (binascii.Error, ValueError):
        return False


@dataclass(frozen=True)
class ConfLine:
    number: int
    """1-based, as editors and error messages count."""
    raw: bytes
    kind: LineKind
    name: str = ""
    """A header's section name or a setting's key, lower case."""
    value: str = ""
    """A setting's value as wg reads it (whitespace removed). Never shown in messages."""
    comment: str = ""
    """A comment line's text, stripped (it starts with ``#``); for a header or a setting, its
    trailing comment (``PublicKey = … # jdoe``), if any, which wg ignores."""


def classify(number: int, raw: bytes) -> ConfLine:
    before, hash_sign, after = raw.partition(b"#")
    squeezed = _WHITESPACE.sub(b"", before).decode("utf-8", errors="replace")
    if not squeezed:
        if hash_sign:
            text = raw.decode("utf-8", errors="replace").strip()
            return ConfLine(number, raw, "comment", comment=text)
        return ConfLine(number, raw, "blank")
    trailing = ""
    if hash_sign:
        trailing = ("#" + after.decode("utf-8", errors="replace")).strip()
    if squeezed.startswith("[") and squeezed.endswith("]"):
        return ConfLine(number, raw, "header", name=squeezed[1:-1].lower(), comment=trailing)
    key, equals, value = squeezed.partition("=")
    if equals and key:
        return ConfLine(number, raw, "setting", name=key.lower(), value=value, comment=trailing)
    return ConfLine(number, raw, "bad")


def split_lines(data: bytes) -> list[bytes]:
    """Lines with their endings; joined again they are ``data`` exactly."""
    parts = data.split(b"\n")
    lines = [part + b"\n" for part in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


@dataclass(frozen=True)
class ConfProblem:
    line: int
    message: str
    record: str | None = None
    incomplete: bool = True
    """The line is one wg would reject or skip: what it says is not read."""


@dataclass(frozen=True)
class Peer:
    """One ``[Peer]`` block, or a block PiVPN commented out (``disabled``)."""

    public_key: str
    line: int
    """The ``[Peer]`` header's line."""
    allowed_ips: tuple[str, ...]
    endpoint: str | None
    preshared_key: bool
    """Whether it has one; the key itself is never kept."""
    comments: tuple[ConfLine, ...]
    """The comment lines that belong to it, in file order (where identities are found)."""
    span: tuple[int, int]
    """Its lines, as indexes into ``WgConfig.lines`` (end exclusive)."""
    disabled: bool = False
    naming: tuple[ConfLine, ...] = ()
    """The lines whose comment may name it by free text (see the module docstring), nearest
    first: the trailing comments of its header and ``PublicKey`` lines, the comment lines at
    the top of its block, then its lead from the header upwards."""


@dataclass(frozen=True)
class WgConfig:
    source: str
    lines: tuple[bytes, ...]
    peers: tuple[Peer, ...]
    """In file order; a public key defined twice appears twice."""
    disabled: tuple[Peer, ...]
    """Blocks PiVPN commented out (``#[disabled] …``) whose key no active block has."""
    problems: tuple[ConfProblem, ...]
    has_interface: bool
    listen_port: int | None
    save_config: bool

    def without(self, public_key: str) -> bytes:
        """The file with every active block of ``public_key`` removed, byte for byte."""
        dropped = [p.span for p in self.peers if p.public_key == public_key]
        return b"".join(
            line
            for index, line in enumerate(self.lines)
            if not any(start <= index < end for start, end in dropped)
        )


@dataclass
class _Section:
    name: str
    header: int
    start: int
    end: int = 0
    body_end: int = 0


def parse_config(data: bytes, source: str) -> WgConfig:
    """Raise ``SourceError`` when ``data`` is not a WireGuard configuration at all."""
    if b"\0" in data:
        raise SourceError(f"{source}: binary data, not a WireGuard configuration")
    raws = split_lines(data)
    lines = [classify(number, raw) for number, raw in enumerate(raws, start=1)]
    sections = _sections(lines)
    if not sections:
        raise SourceError(
            f"{source}: not a WireGuard configuration (no [Interface] or [Peer] section)"
        )
    reader = _Reader(lines)
    for line in lines[: sections[0].header]:
        if line.kind in ("setting", "bad"):
            reader.problem(line.number, "a line before the first [Interface] or [Peer] section")
    for section in sections:
        reader.section(section)
    active = {peer.public_key for peer in reader.peers}
    disabled = [p for p in _disabled_peers(lines) if p.public_key not in active]
    return WgConfig(
        source=source,
        lines=tuple(raws),
        peers=tuple(reader.peers),
        disabled=tuple(disabled),
        problems=tuple(sorted(reader.problems, key=lambda p: p.line)),
        has_interface=any(s.name == "interface" for s in sections),
        listen_port=reader.listen_port,
        save_config=reader.save_config,
    )


def _is_end_marker(line: ConfLine) -> bool:
    return line.kind == "comment" and _END_MARKER.match(line.comment) is not None


def _leads(line: ConfLine) -> bool:
    """Whether a line directly above a header belongs to that header's block."""
    return line.kind == "comment" and not _is_end_marker(line)


def _sections(lines: Sequence[ConfLine]) -> list[_Section]:
    """Each section with the lines it owns (see the module docstring)."""
    sections = []
    for index, line in enumerate(lines):
        if line.kind != "header":
            continue
        start = index
        while start > 0 and _leads(lines[start - 1]):
            start -= 1
        sections.append(_Section(line.name, index, start))
    for position, section in enumerate(sections):
        limit = sections[position + 1].start if position + 1 < len(sections) else len(lines)
        body_end = section.header + 1
        for index in range(section.header + 1, limit):
            if lines[index].kind in ("setting", "bad"):
                body_end = index + 1
        end = body_end
        while end < limit and lines[end].kind == "comment":
            end += 1
            if _is_end_marker(lines[end - 1]):
                break
        while end < limit and lines[end].kind == "blank":
            end += 1
        section.body_end, section.end = body_end, end
    return sections


@dataclass
class _Reader:
    lines: Sequence[ConfLine]
    peers: list[Peer] = field(default_factory=list)
    problems: list[ConfProblem] = field(default_factory=list)
    listen_port: int | None = None
    save_config: bool = False
    _first_line_of: dict[str, int] = field(default_factory=dict)

    def problem(self, line: int, message: str, record: str | None = None) -> None:
        self.problems.append(ConfProblem(line, message, record))

    def section(self, section: _Section) -> None:
        header = self.lines[section.header]
        settings = [
            line
            for line in self.lines[section.header + 1 : section.body_end]
            if line.kind in ("setting", "bad")
        ]
        for line in settings:
            if line.kind == "bad":
                self.problem(
                    line.number, "not a [Section] header, a # comment or a Key = Value setting"
                )
        settings = [line for line in settings if line.kind == "setting"]
        if section.name == "interface":
            self._interface(settings)
        elif section.name == "peer":
            self._peer(section, header, settings)
        else:
            name = f"[{header.name}]" if _SAFE_NAME.match(header.name) else "a section"
            self.problem(header.number, f"unknown section {name}: its settings are not read")

    def _unknown(self, line: ConfLine, section: str) -> None:
        key = line.name if _SAFE_NAME.match(line.name) else "a key"
        self.problem(line.number, f"unknown [{section}] setting {key}: the line is not read")

    def _interface(self, settings: Sequence[ConfLine]) -> None:
        for line in settings:
            if line.name not in INTERFACE_KEYS:
                self._unknown(line, "Interface")
            elif line.name == "listenport":
                if line.value.isdigit() and int(line.value) < 65536:
                    self.listen_port = int(line.value)
                else:
                    self.problem(line.number, "ListenPort is not a port number")
            elif line.name == "saveconfig":
                self.save_config = line.value.lower() == "true"

    def _peer(self, section: _Section, header: ConfLine, settings: Sequence[ConfLine]) -> None:
        key_line: ConfLine | None = None
        allowed: list[str] = []
        endpoint: str | None = None
        preshared = False
        for line in settings:
            if line.name not in PEER_KEYS:
                self._unknown(line, "Peer")
            elif line.name == "publickey":
                if key_line is not None:
                    self.problem(line.number, "a second PublicKey in this [Peer]; wg uses the last")
                key_line = line
            elif line.name == "allowedips":
                for entry in filter(None, line.value.split(",")):
                    if _is_network(entry):
                        allowed.append(entry)
                    else:
                        self.problem(line.number, "AllowedIPs: an entry is not an IP network")
            elif line.name == "endpoint":
                endpoint = line.value or None
            elif line.name == "presharedkey":
                preshared = True
                if not is_key(line.value) and line.value != REDACTED:
                    self.problem(line.number, "PresharedKey is not a WireGuard key")
        if key_line is None:
            self.problem(header.number, "a [Peer] without PublicKey: nobody can use it")
            return
        if not is_key(key_line.value):
            self.problem(key_line.number, "PublicKey is not a WireGuard key (base64 of 32 bytes)")
            return
        public_key = key_line.value
        first = self._first_line_of.setdefault(public_key, header.number)
        if first != header.number:
            self.problems.append(
                ConfProblem(
                    header.number,
                    f"this peer is already defined at line {first}; wg merges the two",
                    record=public_key,
                    incomplete=False,
                )
            )
        owned = self.lines[section.start : section.end]
        self.peers.append(
            Peer(
                public_key=public_key,
                line=header.number,
                allowed_ips=tuple(allowed),
                endpoint=endpoint,
                preshared_key=preshared,
                comments=tuple(line for line in owned if line.kind == "comment"),
                span=(section.start, section.end),
                naming=self._naming(section, (header, key_line)),
            )
        )

    def _naming(self, section: _Section, inline: Sequence[ConfLine]) -> tuple[ConfLine, ...]:
        top: list[ConfLine] = []
        for line in self.lines[section.header + 1 : section.body_end]:
            if line.kind in ("setting", "bad"):
                break
            if line.kind == "comment":
                top.append(line)
        lead = reversed(self.lines[section.start : section.header])
        return (*(line for line in inline if line.comment), *top, *lead)


def _is_network(entry: str) -> bool:
    try:
        ipaddress.ip_network(entry, strict=False)
    except ValueError:
        return False
    return True


def _disabled_peers(lines: Sequence[ConfLine]) -> Iterator[Peer]:
    """PiVPN's ``pivpn off`` prefixes each line of a block with ``#[disabled] ``."""
    index = 0
    while index < len(lines):
        inner = _disabled_inner(lines[index])
        if inner is None or inner.kind != "header" or inner.name != "peer":
            index += 1
            continue
        start, header, header_index = index, lines[index].number, index
        while start > 0 and _leads(lines[start - 1]) and _disabled_inner(lines[start - 1]) is None:
            start -= 1
        comments = list(lines[start:index])
        key, preshared = "", False
        allowed: list[str] = []
        index += 1
        while index < len(lines):
            inner = _disabled_inner(lines[index])
            if inner is None or inner.kind == "header":
                break
            if inner.kind == "comment":
                comments.append(inner)
            elif inner.name == "publickey":
                key = inner.value
            elif inner.name == "allowedips":
                allowed.extend(e for e in inner.value.split(",") if e and _is_network(e))
            elif inner.name == "presharedkey":
                preshared = True
            index += 1
        end = index
        if end < len(lines) and _is_end_marker(lines[end]):
            comments.append(lines[end])
        if is_key(key):
            yield Peer(
                public_key=key,
                line=header,
                allowed_ips=tuple(allowed),
                endpoint=None,
                preshared_key=preshared,
                comments=tuple(comments),
                span=(start, end),
                disabled=True,
                naming=tuple(reversed(lines[start:header_index])),
            )


def _disabled_inner(line: ConfLine) -> ConfLine | None:
    if line.kind != "comment":
        return None
    match = _DISABLED.match(line.comment)
    if match is None:
        return None
    return classify(line.number, match.group(1).encode("utf-8"))


def read_config(file: Path) -> WgConfig:
    """Read and parse; ``SourceError`` naming the file when it cannot be used at all."""
    return parse_config(read_source(file, "a WireGuard configuration"), str(file))


def redacted_config(data: bytes) -> bytes:
    """The configuration as ``iam-gov export`` writes it: every ``PrivateKey`` and
    ``PresharedKey`` value (commented out or ``#[disabled]`` too), and any other WireGuard
    key that is no peer's public key (one pasted into a ``PostUp`` command, say), replaced by
    ``REDACTED``; every other byte, and so every line's number, as it was."""
    raws = split_lines(data)
    lines = [classify(number, raw) for number, raw in enumerate(raws, start=1)]
    public: set[bytes] = set()
    for line in lines:
        inner = _setting_in(line)
        if inner is not None and inner.name == "publickey":
            public.add(inner.value.encode("utf-8"))
    written = []
    for line in lines:
        inner = _setting_in(line)
        raw = line.raw
        if inner is not None and inner.name in SECRET_KEYS:
            raw = _without_value(raw)
        raw = _KEY_TOKEN.sub(
            lambda m: (
                m.group(0)
                if m.group(0) in public or not is_key(m.group(0).decode("ascii"))
                else REDACTED.encode("ascii")
            ),
            raw,
        )
        written.append(raw)
    return b"".join(written)


def _setting_in(line: ConfLine) -> ConfLine | None:
    """The setting a line is, or a comment holds (``# PrivateKey = …``, ``#[disabled] …``)."""
    if line.kind == "setting":
        return line
    if line.kind != "comment":
        return None
    inner = _disabled_inner(line) or classify(line.number, line.comment[1:].encode("utf-8"))
    return inner if inner.kind == "setting" else None


def _without_value(raw: bytes) -> bytes:
    """A ``Key = value`` line (perhaps commented out) with ``REDACTED`` for the value, its
    trailing comment and line ending kept."""
    equals = raw.index(b"=")
    body_end = len(raw.rstrip(b"\r\n"))
    comment = raw.find(b"#", equals)
    stop = body_end if comment < 0 else comment
    gap = b" " if stop < body_end else b""
    return raw[: equals + 1] + b" " + REDACTED.encode("ascii") + gap + raw[stop:]
