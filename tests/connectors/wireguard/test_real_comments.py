"""Peers named by the comments people and admin tools really write in ``wg0.conf``: hand-written
names, WireGuard UI's generated blocks, and comments that belong to someone else."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

from iam_gov.connectors.wireguard.conf import parse_config
from iam_gov.model import Account
from tests.connectors.wireguard.office import accounts_of, connector


def key(name: str) -> str:
    """A valid WireGuard key (base64 of 32 bytes), the same for the same name."""
    return base64.b64encode(hashlib.sha256(name.encode()).digest()).decode()


def named(account: Account) -> tuple[str, str | None, str | None, str | None, str]:
    return (
        account.login,
        account.email,
        account.display_name,
        account.attributes.get("note"),
        account.attributes["identity_from"],
    )


def unnamed(name: str) -> tuple[str, None, None, None, str]:
    return (f"peer-{key(name)[:8]}", None, None, None, "key")


HAND_WRITTEN = """\
# /etc/wireguard/wg0.conf -- edited by hand, keep it tidy
[Interface]
Address = 10.0.0.1/24
ListenPort = 51820
PrivateKey = {server}
# PostUp = iptables -A FORWARD -i %i -j ACCEPT
# admin

# alice
[Peer]
PublicKey = {alice}
AllowedIPs = 10.0.0.2/32

# Bob Smith (laptop)
[Peer]
PublicKey = {bob}
AllowedIPs = 10.0.0.3/32

[Peer]
# carol@example.com phone
PublicKey = {carol}
AllowedIPs = 10.0.0.4/32

[Peer]
#Name: dave
PublicKey = {dave}
AllowedIPs = 10.0.0.5/32

[Peer]
# name=erin
PublicKey = {erin}
AllowedIPs = 10.0.0.6/32

[Peer]
# user: frank
PublicKey = {frank}
AllowedIPs = 10.0.0.7/32

[Peer]
PublicKey = {grace} # grace
AllowedIPs = 10.0.0.8/32

# ------------------------------------------------------------
[Peer]
PublicKey = {separated}
AllowedIPs = 10.0.0.9/32
# heidi, moved to the Berlin VPN in May

[Peer]
PublicKey = {middle}
# judy
AllowedIPs = 10.0.0.10/32

[Peer] # kate
PublicKey = {kate}
AllowedIPs = 10.0.0.11/32
# Larry Page
[Peer]
PublicKey = {larry}
AllowedIPs = 10.0.0.12/32

[Peer]
# -WGP- Display name: Ivan Petrov
PublicKey = {ivan}
AllowedIPs = 10.0.0.13/32
"""

PEERS = (
    *("alice", "bob", "carol", "dave", "erin", "frank", "grace"),
    *("separated", "middle", "kate", "larry", "ivan"),
)


def test_hand_written_names(tmp_path: Path) -> None:
    text = HAND_WRITTEN.format(server=key("server"), **{name: key(name) for name in PEERS})
    (tmp_path / "wg0.conf").write_text(text)

    snapshot = connector(tmp_path).collect()

    # A key line with a trailing comment is read as wg reads it: the key, nothing else.
    assert snapshot.complete and snapshot.errors == ()
    accounts = accounts_of(snapshot)
    assert set(accounts) == {key(name) for name in PEERS}
    found = {name: named(accounts[key(name)]) for name in PEERS}
    assert found == {
        "alice": ("alice", None, None, None, "comment"),
        "bob": (f"peer-{key('bob')[:8]}", None, "Bob Smith", "laptop", "comment"),
        "carol": ("carol@example.com", "carol@example.com", None, "phone", "comment"),
        "dave": ("dave", None, None, None, "comment"),
        "erin": ("erin", None, None, None, "comment"),
        "frank": ("frank", None, None, None, "comment"),
        "grace": ("grace", None, None, None, "comment"),
        # A separator names nobody; heidi's line (after the block, before a blank line) and
        # judy's (between two settings) say nothing certain about either peer.
        "separated": unnamed("separated"),
        "middle": unnamed("middle"),
        # The comment right after kate's block, right above larry's, is larry's.
        "kate": ("kate", None, None, None, "comment"),
        "larry": (f"peer-{key('larry')[:8]}", None, "Larry Page", None, "comment"),
        "ivan": (f"peer-{key('ivan')[:8]}", None, "Ivan Petrov", None, "comment"),
    }

    # Free text is the auto convention's alone.
    explicit = accounts_of(connector(tmp_path, comment_convention="iam-gov").collect())
    assert all(a.attributes["identity_from"] == "key" for a in explicit.values())


def test_a_key_line_with_a_trailing_comment_parses() -> None:
    text = f"[Peer]\nPublicKey = {key('grace')}   # grace, phone\nAllowedIPs = 10.0.0.8/32\n"

    config = parse_config(text.encode(), "wg0.conf")

    (peer,) = config.peers
    assert (peer.public_key, config.problems) == (key("grace"), ())
    assert [line.comment for line in peer.naming] == ["# grace, phone"]


# What WireGuard UI (ngoduykhanh/wireguard-ui) writes from its templates/wg.conf: each enabled
# client's block, right above its [Peer] with no blank line between, and a blank line after.
# Its empty fields end in spaces, which ``$`` marks here.
WIREGUARD_UI = """\
# This file was generated using wireguard-ui (https://github.com/ngoduykhanh/wireguard-ui)
# Please don't modify it manually, otherwise your change might get replaced.

# Address updated at:     2024-03-11 09:12:40.218641573 +0000 UTC
# Private Key updated at: 2024-03-11 09:12:40.217530012 +0000 UTC
[Interface]
Address = 10.252.1.0/24
ListenPort = 51820
PrivateKey = {server}
MTU = 1450
PostUp = iptables -A FORWARD -i %i -j ACCEPT; iptables -t nat -A POSTROUTING -o eth0 -j MASQUERADE
PreDown = $
PostDown = iptables -D FORWARD -i %i -j ACCEPT; iptables -t nat -D POSTROUTING -o eth0 -j MASQUERADE
Table = auto


# ID:           cnm4ttp2b9ce73a5k3q0
# Name:         alice
# Email:        alice@example.com
# Telegram:     $
# Allocated IPs: [10.252.1.1/32]
# Extra Allowed IPs: []
# Endpoint: $
# Additional Notes: $
# Create Date: 2024-03-11 09:14:02.512780341 +0000 UTC
# Update Date: 2024-03-11 09:14:02.512780341 +0000 UTC
[Peer]
PublicKey = {alice}
PresharedKey = {psk}
AllowedIPs = 10.252.1.1/32
PersistentKeepalive = 15


# ID:           cnm4u1h2b9ce73a5k3qg
# Name:         Bob Smith
# Email:        bob.smith@example.com
# Telegram:     $
# Allocated IPs: [10.252.1.2/32]
# Extra Allowed IPs: [192.168.10.0/24]
# Endpoint: $
# Additional Notes: Bob's laptop, ticket 4711
# Create Date: 2024-03-11 09:15:27.001234567 +0000 UTC
# Update Date: 2024-04-02 16:40:11.998877665 +0000 UTC
[Peer]
PublicKey = {bob}
PresharedKey = {psk}
AllowedIPs = 10.252.1.2/32,192.168.10.0/24
PersistentKeepalive = 15


# ID:           cnm4u9p2b9ce73a5k3r0
# Name:         ci-runner
# Email:        $
# Telegram:     $
# Allocated IPs: [10.252.1.3/32]
# Extra Allowed IPs: []
# Endpoint: 203.0.113.5:51820
# Additional Notes: $
# Create Date: 2024-03-12 08:00:00.5 +0000 UTC
# Update Date: 2024-03-12 08:00:00.5 +0000 UTC
[Peer]
PublicKey = {ci}
PresharedKey = {psk}
AllowedIPs = 10.252.1.3/32
Endpoint = 203.0.113.5:51820
PersistentKeepalive = 15

"""


def test_a_wireguard_ui_file(tmp_path: Path) -> None:
    names = ("alice", "bob", "ci")
    text = WIREGUARD_UI.replace("$\n", "\n").format(
        server=key("server"), psk=key("psk"), **{name: key(name) for name in names}
    )
    (tmp_path / "wg0.conf").write_text(text)

    snapshot = connector(tmp_path).collect()

    assert snapshot.complete and snapshot.errors == ()
    accounts = accounts_of(snapshot)
    assert {name: named(accounts[key(name)]) for name in names} == {
        "alice": ("alice", "alice@example.com", None, None, "comment"),
        "bob": (
            "bob.smith@example.com",
            "bob.smith@example.com",
            "Bob Smith",
            None,
            "comment",
        ),
        "ci": ("ci-runner", None, None, None, "comment"),
    }


INTERFACE_COMMENTS = """\
# wg0 -- the lab VPN
# Owner: ops@example.com
[Interface]
# ops
Address = 10.9.0.1/24
ListenPort = 51820
PrivateKey = {server}
# jdoe@example.com set this server up
# jdoe

[Peer]
PublicKey = {first}
AllowedIPs = 10.9.0.2/32

# mallory
[Peer]
PublicKey = {second}
AllowedIPs = 10.9.0.3/32
"""


def test_the_interface_comments_name_no_peer(tmp_path: Path) -> None:
    text = INTERFACE_COMMENTS.format(server=key("server"), first=key("first"), second=key("second"))
    (tmp_path / "wg0.conf").write_text(text)

    accounts = accounts_of(connector(tmp_path).collect())

    assert named(accounts[key("first")]) == unnamed("first")
    assert named(accounts[key("second")]) == ("mallory", None, None, None, "comment")
