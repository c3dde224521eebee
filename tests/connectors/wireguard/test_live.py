"""The WireGuard connector against running interfaces (wireguard-go in a network namespace of
the test's own): handshakes read from ``wg show dump``, peers removed from the interface, and
the permissions it declares are the ones it uses."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from iam_gov.connectors.wireguard.connector import (
    APPLY_PERMISSIONS,
    COLLECT_PERMISSIONS,
    WireGuardConnector,
    WireGuardOptions,
)
from iam_gov.model import AccountStatus, Action, ActionKind, ActionOutcome, SystemSnapshot
from tests.support.wireguard import Interface, Namespace, keypair, namespace, require_live, wg

SYSTEM = "office-vpn"


@dataclass
class Lab:
    """A server interface loaded from its configuration file, a client that has made a
    handshake with it, a configured peer that never connected, and a peer added to the
    running interface by hand."""

    space: Namespace
    server: Interface
    client: Interface
    config: Path
    original: str
    bob: str
    ghost: str

    def connector(self, **extra: Any) -> WireGuardConnector:
        options = WireGuardOptions.model_validate(
            {"type": "wireguard", "config": self.config, "interface": self.server.name, **extra}
        )
        return WireGuardConnector(SYSTEM, options)

    def file_only(self) -> WireGuardConnector:
        options = WireGuardOptions.model_validate({"type": "wireguard", "config": self.config})
        return WireGuardConnector(SYSTEM, options)


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    require_live()
    with namespace(tmp_path) as space:
        server = space.interface(listen_port=51820)
        client = space.interface(listen_port=51821)
        bob, ghost = keypair()[1], keypair()[1]
        config = tmp_path / f"{server.name}.conf"
        text = (
            f"[Interface]\nPrivateKey = {server.private_key}\nListenPort = 51820\n"
            f"Address = 10.99.0.1/24\n\n"
            f"# iam-gov: login=alice email=alice@example.com\n[Peer]\n"
            f"PublicKey = {client.public_key}\nAllowedIPs = 10.99.0.2/32\n\n"
            f"# Name = bob\n[Peer]\nPublicKey = {bob}\nAllowedIPs = 10.99.0.3/32\n"
        )
        config.write_text(text)
        config.chmod(0o600)
        server.load(config)
        space.connect(client, server)
        wg("set", server.name, "peer", ghost, "allowed-ips", "10.99.0.66/32")
        yield Lab(space, server, client, config, text, bob, ghost)


def _actions(*keys: str) -> list[Action]:
    return [
        Action(kind=ActionKind.DISABLE_ACCOUNT, system=SYSTEM, account_id=key, reason="left")
        for key in keys
    ]


def test_collect_reads_handshakes_from_the_running_interface(lab: Lab) -> None:
    before = datetime.now(UTC)
    snapshot = lab.connector().collect()

    assert snapshot.complete, snapshot.errors
    assert snapshot.source == "live"
    accounts = {a.native_id: a for a in snapshot.accounts}
    alice = accounts[lab.client.public_key]
    assert (alice.login, alice.email, alice.status) == (
        "alice",
        "alice@example.com",
        AccountStatus.ACTIVE,
    )
    assert alice.last_login_at is not None
    assert lab.server.started_at - timedelta(seconds=1) <= alice.last_login_at <= before
    assert alice.attributes["endpoint"] == f"127.0.0.1:{lab.client.listen_port}"
    assert accounts[lab.bob].last_login_at is None
    ghost = accounts[lab.ghost]
    assert ghost.status is AccountStatus.ACTIVE
    assert (ghost.attributes["config"], ghost.attributes["interface"]) == ("absent", "peer")
    # A userspace interface shows when it came up: its control socket was made then.
    since = datetime.fromisoformat(snapshot.settings["observation"]["observed_since"])
    assert abs(since - lab.server.started_at) < timedelta(seconds=2)
    assert since <= alice.last_login_at
    assert snapshot.settings["wireguard"]["handshakes"] == "live"
    assert snapshot.settings["wireguard"]["interface"] == lab.server.name


def test_a_saved_dump_gives_the_same_model(lab: Lab) -> None:
    live = lab.connector().collect()
    dump = lab.config.with_suffix(".dump")
    dump.write_text(lab.server.dump())
    since = live.settings["observation"]["observed_since"]

    exported = WireGuardConnector(
        SYSTEM,
        WireGuardOptions.model_validate(
            {
                "type": "wireguard",
                "config": lab.config,
                "dump_file": dump,
                "exported_at": live.collected_at,
                "interface_up_since": since,
            }
        ),
    ).collect()

    def comparable(snapshot: SystemSnapshot) -> dict[str, Any]:
        return snapshot.model_dump(include={"accounts", "credentials", "grants", "entitlements"})

    assert exported.complete, exported.errors
    assert comparable(exported) == comparable(live)
    assert exported.settings["observation"] == live.settings["observation"]


def test_disabling_removes_the_peer_from_the_file_and_the_interface(lab: Lab) -> None:
    alice = lab.client.public_key
    (result,) = [lab.connector().apply(a) for a in _actions(alice)]

    assert result.outcome is ActionOutcome.APPLIED, result.message
    assert result.message == (
        f"Removed WireGuard peer {alice}: removed it from {lab.config} (the [Peer] at line 7) "
        f"and removed it from the running interface {lab.server.name}."
    )
    assert alice not in lab.server.peers()
    lines = lab.original.splitlines(keepends=True)
    assert lab.config.read_text() == "".join(lines[:5] + lines[10:])
    assert oct(lab.config.stat().st_mode & 0o777) == "0o600"

    (again,) = [lab.connector().apply(a) for a in _actions(alice)]
    assert again.outcome is ActionOutcome.NOOP
    assert again.message == (
        f"WireGuard peer {alice} is not in {lab.config.name} nor interface {lab.server.name}: "
        "it cannot connect; nothing to change."
    )
    assert alice not in {a.native_id for a in lab.connector().collect().accounts}


def test_a_peer_still_in_the_interface_is_taken_out_of_it(lab: Lab) -> None:
    # Removed from the file by a run without `interface`: the running interface keeps it.
    lab.file_only().apply(_actions(lab.bob)[0])
    assert lab.bob in lab.server.peers()
    still = {a.native_id: a for a in lab.connector().collect().accounts}[lab.bob]
    assert still.status is AccountStatus.ACTIVE and still.attributes["config"] == "absent"

    results = [lab.connector().apply(a) for a in _actions(lab.bob, lab.ghost, lab.bob)]

    assert [r.outcome for r in results] == [
        ActionOutcome.APPLIED,
        ActionOutcome.APPLIED,
        ActionOutcome.NOOP,
    ]
    assert results[1].message == (
        f"Removed WireGuard peer {lab.ghost}: removed it from the running interface "
        f"{lab.server.name}."
    )
    assert lab.server.peers() == {lab.client.public_key}
    assert lab.config.read_text().count("[Peer]") == 1


# --- permissions ----------------------------------------------------------------------------


class _Audit:
    """What the code touches, from Python's audit events: files opened, created, renamed,
    re-moded and re-owned, and programs run."""

    EVENTS = frozenset(
        {
            "open",
            "subprocess.Popen",
            "os.rename",
            "os.remove",
            "os.chmod",
            "os.chown",
            "tempfile.mkstemp",
            "os.truncate",
            "os.link",
            "os.symlink",
            "os.mkdir",
        }
    )

    def __init__(self) -> None:
        self.events: list[tuple[str, tuple[Any, ...]]] | None = None

    def __call__(self, event: str, args: tuple[Any, ...]) -> None:
        if self.events is not None and event in self.EVENTS:
            self.events.append((event, args))

    def record(self) -> None:
        self.events = []

    def stop(self) -> list[tuple[str, tuple[Any, ...]]]:
        events, self.events = self.events or [], None
        return events


_AUDIT: _Audit | None = None
_REPOSITORY = Path(__file__).resolve().parents[2]


def _audit() -> _Audit:
    global _AUDIT
    if _AUDIT is None:
        _AUDIT = _Audit()
        sys.addaudithook(_AUDIT)  # cannot be removed: it records only while asked to
    return _AUDIT


def _permission(event: str, args: tuple[Any, ...], config: Path, files: dict[str, str]) -> str:
    """The declared permission an event needs, or a description of an undeclared one."""
    replace = next(p for p in APPLY_PERMISSIONS if p.startswith("replace:"))
    if event == "subprocess.Popen":
        argv = [str(a) for a in args[1]]
        if argv[:2] == ["wg", "show"] and argv[3:] in (["dump"], ["peers"]):
            return f"run: wg show <interface> {argv[3]}"
        if argv[:2] == ["wg", "set"] and argv[3] == "peer" and argv[5:] == ["remove"]:
            return "run: wg set <interface> peer <public key> remove"
        return f"undeclared: run {argv}"
    target = args[0]
    if isinstance(target, int):
        return "fd"  # an operation on a file already opened, and counted, by name
    path = Path(os.path.realpath(os.fsdecode(target)))
    if event == "open" and str(path) in files:
        return files[str(path)]
    if path == config.parent or (
        path.parent == config.parent and path.name.startswith(f".{config.name}.")
    ):
        return replace
    if event == "os.rename" and Path(os.fsdecode(args[1])) == config:
        return replace
    if event == "open" and (
        str(path).startswith((sys.prefix, sys.base_prefix, str(_REPOSITORY)))
        or path.suffix in (".py", ".pyc", ".so")
        or str(path) == os.devnull
    ):
        return "python"  # loading modules, or a child's stdin
    return f"undeclared: {event} {path}"


def test_declared_permissions_are_exactly_the_ones_used(lab: Lab) -> None:
    mapping = lab.config.with_name("identities.yaml")
    mapping.write_text(f'identities:\n  - public_key: "{lab.bob}"\n    employee_id: E7\n')
    dump = lab.config.with_suffix(".dump")
    dump.write_text(lab.server.dump())
    config = Path(os.path.realpath(lab.config))
    read_config, read_mapping, read_dump, _ = COLLECT_PERMISSIONS
    files = {str(config): read_config, str(mapping): read_mapping, str(dump): read_dump}
    audit = _audit()

    def used(*calls: Any) -> set[str]:
        audit.record()
        for call in calls:
            call()
        found = {_permission(e, a, config, files) for e, a in audit.stop()}
        return found - {"fd", "python"}

    live = lab.connector(mapping=mapping)
    offline = WireGuardConnector(
        SYSTEM,
        WireGuardOptions.model_validate(
            {"type": "wireguard", "config": lab.config, "dump_file": dump, "mapping": mapping}
        ),
    )
    collect_used = used(live.collect, offline.collect)
    actions = _actions(lab.client.public_key, lab.ghost, lab.bob, lab.bob)
    apply_used = used(*(lambda a=a: live.apply(a) for a in actions))

    assert collect_used == set(WireGuardConnector.permissions.collect)
    assert apply_used == set(WireGuardConnector.permissions.apply)
