"""The output of ``wg show <interface> dump`` (or ``wg show all dump``), saved or live.

Who the interface's peers are and when each last completed a handshake.

The dump's first line holds the interface's private key and each peer line its preshared
key: both are dropped as soon as a line is split and never appear in a message, which names
the line and the field only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from iam_gov.connectors.shared.files import read_source
from iam_gov.connectors.wireguard.conf import REDACTED, is_key
from iam_gov.errors import SourceError
from iam_gov.model import SnapshotError

NONE = "(none)"


@dataclass(frozen=True)
class DumpPeer:
    public_key: str
    line: int
    endpoint: str | None
    allowed_ips: tuple[str, ...]
    latest_handshake: datetime | None
    """None when 0: no handshake since the interface came up (or the peer was added)."""
    preshared_key: bool


@dataclass(frozen=True)
class Dump:
    source: str
    interface: str | None
    """The interface's name when the dump covered several (``wg show all dump``)."""
    public_key: str
    listen_port: int | None
    peers: tuple[DumpPeer, ...]
    problems: tuple[SnapshotError, ...]


def parse_dump(text: str, source: str, interface: str | None = None) -> Dump:
    """``interface`` picks one interface from ``wg show all dump``; with a single interface's
    dump it is not needed. ``SourceError`` when ``text`` is not such a dump at all."""
    rows = [(n, line.split("\t")) for n, line in enumerate(text.split("\n"), start=1) if line]
    if not rows:
        raise SourceError(f"{source}: empty: not the output of `wg show <interface> dump`")
    width = len(rows[0][1])
    if width not in (4, 5) or not _is_interface_row(rows[0][1][-3:]):
        raise SourceError(
            f"{source}:{rows[0][0]}: not the output of `wg show <interface> dump` (the first "
            "line is not an interface: private key, public key, listen port, fwmark)"
        )
    every_interface = width == 5
    if every_interface:
        names = sorted({fields[0] for _, fields in rows if len(fields) in (5, 9)})
        if interface is None or interface not in names:
            if len(names) != 1:
                wanted = f"no interface {interface}" if interface else "several interfaces"
                raise SourceError(
                    f"{source}: has {wanted} (it has {', '.join(names)}): set `interface`"
                )
            interface = names[0]
        rows = [(n, fields[1:]) for n, fields in rows if fields[0] == interface]
        if len(rows[0][1]) != 4 or not _is_interface_row(rows[0][1][-3:]):
            raise SourceError(
                f"{source}:{rows[0][0]}: the first line of interface {interface} does not "
                "describe the interface"
            )
    problems: list[SnapshotError] = []
    header = rows[0][1]
    peers: dict[str, DumpPeer] = {}
    for number, fields in rows[1:]:
        peer = _peer(source, number, fields, problems)
        if peer is None:
            continue
        if peer.public_key in peers:
            problems.append(
                SnapshotError(
                    source=source,
                    line=number,
                    record=peer.public_key,
                    message=f"the same peer as at line {peers[peer.public_key].line}",
                )
            )
            continue
        peers[peer.public_key] = peer
    port = header[2]
    return Dump(
        source=source,
        interface=interface if every_interface else None,
        public_key=header[1],
        listen_port=int(port) if port.isdigit() else None,
        peers=tuple(peers.values()),
        problems=tuple(problems),
    )


def _is_interface_row(fields: Sequence[str]) -> bool:
    # fields: public key, listen port, fwmark (the private key before them is not looked at)
    public_key, port, fwmark = fields
    return is_key(public_key) and port.isdigit() and (fwmark == "off" or _is_int(fwmark, 16))


def _peer(
    source: str, number: int, fields: Sequence[str], problems: list[SnapshotError]
) -> DumpPeer | None:
    def problem(message: str) -> None:
        problems.append(SnapshotError(source=source, line=number, message=message))

    if len(fields) != 8:
        problem(f"expected 8 tab-separated fields for a peer, found {len(fields)}")
        return None
    public_key, preshared, endpoint, allowed, handshake = fields[:5]
    if not is_key(public_key):
        problem("the first field is not a WireGuard public key")
        return None
    if not handshake.isdigit():
        problem("latest-handshake (field 5) is not a number of seconds")
        return None
    seconds = int(handshake)
    try:
        seen = datetime.fromtimestamp(seconds, UTC) if seconds else None
    except (OverflowError, OSError, ValueError):
        problem("latest-handshake (field 5) is not a time")
        return None
    return DumpPeer(
        public_key=public_key,
        line=number,
        endpoint=None if endpoint == NONE else endpoint,
        allowed_ips=() if allowed == NONE else tuple(filter(None, allowed.split(","))),
        latest_handshake=seen,
        preshared_key=preshared != NONE,
    )


def redacted_dump(text: str) -> str:
    """The dump with the interface's private key and the peers' preshared keys replaced by
    ``REDACTED`` (``(none)`` stays: that no key is set is no secret). Read back, it gives
    the same ``Dump``."""
    lines = []
    for line in text.split("\n"):
        fields = line.split("\t")
        # wg show <if> dump: an interface line has 4 fields, a peer line 8; ``all`` adds the
        # interface's name in front of each.
        secret = {4: 0, 5: 1, 8: 1, 9: 2}.get(len(fields))
        if secret is not None and fields[secret] != NONE:
            fields[secret] = REDACTED
        lines.append("\t".join(fields))
    return "\n".join(lines)


def _is_int(value: str, base: int) -> bool:
    try:
        int(value, base)
    except ValueError:
        return False
    return True


def read_dump(path: Path, interface: str | None) -> Dump:
    data = read_source(path, "the output of `wg show <interface> dump`")
    return parse_dump(data.decode("utf-8", errors="replace"), str(path), interface)
