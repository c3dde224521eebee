"""The office VPN the file-based WireGuard tests collect: wg0.conf with peers named in every
way comments name them, a saved ``wg show wg0 dump`` and the identity mapping file."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from iam_gov.connectors.wireguard.connector import WireGuardConnector, WireGuardOptions
from iam_gov.model import Account, SystemSnapshot
from tests.support.wireguard import DumpPeer, dump_text, keypair, preshared_key

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
UP_SINCE = datetime(2026, 2, 1, 6, 0, tzinfo=UTC)
JANE_SEEN = datetime(2026, 3, 1, 17, 42, 5, tzinfo=UTC)
CI_SEEN = datetime(2026, 3, 2, 8, 59, 30, tzinfo=UTC)
GHOST_SEEN = datetime(2026, 2, 20, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Keys:
    server_private: str
    server: str
    jane: str
    bob: str
    ci: str
    carol: str
    stranger: str
    ghost: str
    psk: str


def make_keys() -> Keys:
    server_private, server = keypair()
    return Keys(
        server_private,
        server,
        *(keypair()[1] for _ in range(6)),
        psk=preshared_key(),
    )


CONFIG = """\
# wg0: the office VPN. Managed by hand; see the runbook.

[Interface]
Address = 10.8.0.1/24
ListenPort = 51820
PrivateKey = {k.server_private}
SaveConfig = false

# iam-gov: login=jdoe email=jane.doe@example.com employee_id=E1001 name="Jane Doe"
[Peer]
PublicKey = {k.jane}
PresharedKey = {k.psk}
AllowedIPs = 10.8.0.2/32

[Peer]
# Name = bob.smith@example.com
PublicKey = {k.bob}
AllowedIPs = 10.8.0.3/32, fd00:8::3/128

# build runner
[Peer]
PublicKey = {k.ci}
AllowedIPs = 10.8.0.10/32
Endpoint = 203.0.113.5:51820
PersistentKeepalive = 25

### begin carol ###
#[disabled] [Peer]
#[disabled] PublicKey = {k.carol}
#[disabled] AllowedIPs = 10.8.0.4/32
### end carol ###

[Peer]
PublicKey = {k.stranger}
AllowedIPs = 10.8.0.66/32
"""

MAPPING = """\
identities:
  - cn: jane.doe@example.com        # the OpenVPN connector's
    employee_id: E1001
  - public_key: "{k.bob}"
    employee_id: E1002
  - public_key: "{k.ci}"
    login: svc-ci
    kind: service
    note: build runner, owned by platform
"""


def office_dump(k: Keys, *, ghost: bool = True) -> str:
    peers = [
        DumpPeer(
            k.jane,
            "10.8.0.2/32",
            "198.51.100.23:41641",
            int(JANE_SEEN.timestamp()),
            preshared_key=k.psk,
        ),
        DumpPeer(k.bob, "10.8.0.3/32,fd00:8::3/128"),
        DumpPeer(
            k.ci, "10.8.0.10/32", "203.0.113.5:51820", int(CI_SEEN.timestamp()), keepalive="25"
        ),
        DumpPeer(k.stranger, "10.8.0.66/32"),
    ]
    if ghost:  # added with `wg set` by hand, never written to the file
        peers.append(
            DumpPeer(k.ghost, "10.8.0.99/32", "192.0.2.9:5555", int(GHOST_SEEN.timestamp()))
        )
    return dump_text(k.server_private, k.server, 51820, peers)


def write_files(folder: Path, keys: Keys) -> None:
    (folder / "wg0.conf").write_text(CONFIG.format(k=keys))
    (folder / "wg0.conf").chmod(0o600)
    (folder / "identities.yaml").write_text(MAPPING.format(k=keys))
    (folder / "wg0.dump").write_text(office_dump(keys))


def connector(folder: Path, **extra: Any) -> WireGuardConnector:
    options = WireGuardOptions.model_validate(
        {"type": "wireguard", "config": "wg0.conf", **extra}, context={"base_dir": folder}
    )
    return WireGuardConnector("office-vpn", options, clock=lambda: NOW)


def exported(folder: Path, **extra: Any) -> WireGuardConnector:
    defaults = {
        "dump_file": "wg0.dump",
        "mapping": "identities.yaml",
        "exported_at": "2026-03-02T09:00:00Z",
        "interface_up_since": UP_SINCE.isoformat(),
        "network_name": "office",
    }
    return connector(folder, **{**defaults, **extra})


def accounts_of(snapshot: SystemSnapshot) -> dict[str, Account]:
    return {a.native_id: a for a in snapshot.accounts}
