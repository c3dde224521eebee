"""A running WireGuard interface: its peers' handshakes, and since when it has been up.

Handshakes come from ``wg show <interface> dump``; the start is known for userspace ones."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from iam_gov.connectors.wireguard.client import WgError, run_wg
from iam_gov.connectors.wireguard.dump import Dump, parse_dump
from iam_gov.errors import SourceError

# Where wg and the userspace implementations (wireguard-go, boringtun) keep their control
# sockets; wg looks here first, then asks the kernel.
USERSPACE_SOCKET_DIR = Path("/var/run/wireguard")


def live_dump(command: Sequence[str], interface: str) -> Dump:
    """Raise ``InterfaceAbsent`` when it is not up, ``WgError`` when wg fails otherwise."""
    return dump_of(live_dump_text(command, interface), interface)


def live_dump_text(command: Sequence[str], interface: str) -> str:
    """What ``wg show <interface> dump`` prints (its private and preshared keys too: see
    ``dump.redacted_dump`` before it is written anywhere)."""
    return run_wg(command, "show", interface, "dump")


def dump_of(text: str, interface: str) -> Dump:
    """``text`` read as the running interface's dump; ``WgError`` when it is not one."""
    try:
        return parse_dump(text, f"wg show {interface} dump")
    except SourceError as exc:
        raise WgError(str(exc)) from None


def userspace_started_at(interface: str) -> datetime | None:
    """When a userspace interface came up: its control socket is made then. The kernel keeps
    no such time for its own interfaces."""
    try:
        made = (USERSPACE_SOCKET_DIR / f"{interface}.sock").stat().st_mtime
    except OSError:
        return None
    # Whole seconds, as handshakes are counted.
    return datetime.fromtimestamp(int(made), UTC)
