"""Running ``wg``, the connector's one way to a running interface (errors, time limit).

Its errors become one line, and an interface that is not up is told apart."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence

_WG_TIMEOUT_SECONDS = 30.0


class WgError(Exception):
    """``wg`` failed; the message is one line (wg's own error, never its output)."""


class InterfaceAbsent(WgError):
    """The interface does not exist (it is down, or was never brought up)."""


# wg's words when there is no such interface: a kernel without WireGuard answers
# EPROTONOSUPPORT for every name, a kernel with it ENODEV.
_ABSENT = ("No such device", "Protocol not supported")


def run_wg(command: Sequence[str], *args: str) -> str:
    argv = [*command, *args]
    try:
        done = subprocess.run(
            argv,
            capture_output=True,
            stdin=subprocess.DEVNULL,
            timeout=_WG_TIMEOUT_SECONDS,
            env={**os.environ, "LC_ALL": "C"},
            check=False,
        )
    except FileNotFoundError:
        raise WgError(f"`{command[0]}` is not installed (wireguard-tools)") from None
    except PermissionError:
        raise WgError(f"`{command[0]}` cannot be run: permission denied") from None
    except subprocess.TimeoutExpired:
        raise WgError(f"`{_shown(args)}` did not finish in {_WG_TIMEOUT_SECONDS:.0f} s") from None
    if done.returncode != 0:
        errors = done.stderr.decode("utf-8", errors="replace").strip().splitlines()
        reason = errors[-1].strip() if errors else f"exit status {done.returncode}"
        absent = any(word in reason for word in _ABSENT)
        raise (InterfaceAbsent if absent else WgError)(f"`{_shown(args)}` failed: {reason}")
    return done.stdout.decode("utf-8", errors="replace")


def _shown(args: Sequence[str]) -> str:
    return " ".join(("wg", *args))


def live_peers(command: Sequence[str], interface: str) -> frozenset[str]:
    """The running interface's peers (``wg show <interface> peers`` prints public keys only)."""
    text = run_wg(command, "show", interface, "peers")
    return frozenset(line.strip() for line in text.splitlines() if line.strip())


def remove_live_peer(command: Sequence[str], interface: str, public_key: str) -> None:
    run_wg(command, "set", interface, "peer", public_key, "remove")
