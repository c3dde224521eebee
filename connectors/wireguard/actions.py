"""The WireGuard connector's one action: remove a peer from the file and the interface.

The peer's lines go from the configuration file (every other byte kept, the file replaced
atomically), and the peer from the running interface.

It reads first, so that a peer already gone is a ``noop``, and a peer already out of the file
but still in the interface is taken out of the interface."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from iam_gov.connectors.wireguard.client import (
    InterfaceAbsent,
    WgError,
    live_peers,
    remove_live_peer,
)
from iam_gov.connectors.wireguard.conf import is_key, parse_config
from iam_gov.errors import SourceError
from iam_gov.model import Action, ActionOutcome, ActionResult


class FileChanged(Exception):
    """The file changed between reading and replacing it."""


def disable_peer(
    action: Action, config: Path, interface: str | None, wg_command: Sequence[str]
) -> ActionResult:
    key = action.account_id
    if not is_key(key):
        return _result(action, ActionOutcome.FAILED, f"{key!r} is not a WireGuard public key")
    # Edit the file a symlink points to, and keep the link.
    path = Path(os.path.realpath(config))
    done: list[str] = []
    note = ""
    details: dict[str, Any] = {}
    try:
        before = os.stat(path)
        data = path.read_bytes()
        parsed = parse_config(data, str(config))
    except OSError as exc:
        return _result(action, ActionOutcome.FAILED, f"{config}: cannot be read: {exc.strerror}")
    except SourceError as exc:
        return _result(action, ActionOutcome.FAILED, str(exc))
    blocks = [peer for peer in parsed.peers if peer.public_key == key]
    disabled = any(peer.public_key == key for peer in parsed.disabled)
    if blocks:
        try:
            replace_file(path, parsed.without(key), before)
        except FileChanged:
            return _result(
                action,
                ActionOutcome.FAILED,
                f"{config} changed while it was being edited; nothing was written: try again.",
            )
        except OSError as exc:
            return _result(
                action,
                ActionOutcome.FAILED,
                f"{config}: cannot be rewritten: {exc.strerror}; it was left as it was.",
            )
        lines = [peer.line for peer in blocks]
        details["config_lines"] = lines
        where = ", ".join(str(n) for n in lines)
        done.append(
            f"removed it from {config} (the [Peer] at line{'s' * (len(lines) > 1)} {where})"
        )
    if interface is not None:
        try:
            running = live_peers(wg_command, interface)
            if key in running:
                remove_live_peer(wg_command, interface, key)
                done.append(f"removed it from the running interface {interface}")
                details["interface"] = interface
        except InterfaceAbsent:
            details["interface_up"] = False
            note = f" (interface {interface} is not up)"
        except WgError as exc:
            so_far = f"; the peer is already out of {config}" if blocks else ""
            return _result(action, ActionOutcome.FAILED, f"{exc}{so_far}.", **details)
    peer = f"WireGuard peer {key}"
    if not done:
        where = f"{config.name}" + (f" nor interface {interface}" if interface else "")
        state = "is commented out in" if disabled else "is not in"
        return _result(
            action,
            ActionOutcome.NOOP,
            f"{peer} {state} {where}: it cannot connect; nothing to change.",
        )
    message = f"Removed {peer}: {' and '.join(done)}{note}."
    if interface is None:
        message += (
            " The running interface was not changed (no `interface` is configured): it keeps "
            "the peer until it is reloaded from the file (wg syncconf or wg-quick)"
        )
        if parsed.save_config:
            message += "; with SaveConfig = true, `wg-quick down` would write the peer back"
        message += "."
    return _result(action, ActionOutcome.APPLIED, message, **details)


def replace_file(path: Path, data: bytes, before: os.stat_result) -> None:
    """Write ``data`` to a new file beside ``path``, with ``path``'s mode and owner, and rename
    it over ``path``: readers see the old file or the new one, never half of one. Raise
    ``FileChanged`` when ``path`` is no longer the file ``before`` describes."""
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".iam-gov", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            made = os.fstat(handle.fileno())
            if (made.st_uid, made.st_gid) != (before.st_uid, before.st_gid):
                os.fchown(handle.fileno(), before.st_uid, before.st_gid)
            # After chown, which may clear set-id bits.
            os.fchmod(handle.fileno(), stat.S_IMODE(before.st_mode))
            os.fsync(handle.fileno())
        now = os.stat(path)
        if (now.st_ino, now.st_size, now.st_mtime_ns) != (
            before.st_ino,
            before.st_size,
            before.st_mtime_ns,
        ):
            raise FileChanged(str(path))
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    # The rename is durable only once the folder is.
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def _result(action: Action, outcome: ActionOutcome, message: str, **details: Any) -> ActionResult:
    return ActionResult(action=action, outcome=outcome, message=message, details=details)
