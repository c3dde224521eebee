"""WireGuard collection from files: the server's configuration, a saved ``wg show dump`` and
the mapping file, as the shared model and the VPN contract describe them."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from iam_gov.connectors import connector_class
from iam_gov.connectors.wireguard.connector import WireGuardConnector, WireGuardOptions
from iam_gov.errors import ConnectorError, SourceError
from iam_gov.model import (
    Account,
    AccountKind,
    AccountStatus,
    CredentialKind,
    Grant,
    SystemSnapshot,
)
from tests.support.wireguard import DumpPeer, dump_text, keypair, preshared_key, require_wg

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


@pytest.fixture(scope="module")
def keys() -> Keys:
    require_wg()
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


def _dump(k: Keys, *, ghost: bool = True) -> str:
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


@pytest.fixture
def files(tmp_path: Path, keys: Keys) -> Path:
    (tmp_path / "wg0.conf").write_text(CONFIG.format(k=keys))
    (tmp_path / "wg0.conf").chmod(0o600)
    (tmp_path / "identities.yaml").write_text(MAPPING.format(k=keys))
    (tmp_path / "wg0.dump").write_text(_dump(keys))
    return tmp_path


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


def _accounts(snapshot: SystemSnapshot) -> dict[str, Account]:
    return {a.native_id: a for a in snapshot.accounts}


def test_registered_under_its_type_name() -> None:
    assert connector_class("wireguard") is WireGuardConnector


def test_peers_become_accounts_named_by_comments_and_mapping(files: Path, keys: Keys) -> None:
    snapshot = exported(files).collect()
    accounts = _accounts(snapshot)

    assert snapshot.complete, snapshot.errors
    jane = accounts[keys.jane]
    assert (jane.login, jane.email, jane.employee_id, jane.display_name, jane.kind) == (
        "jdoe",
        "jane.doe@example.com",
        "E1001",
        "Jane Doe",
        AccountKind.HUMAN,
    )
    assert jane.status is AccountStatus.ACTIVE and jane.mfa_factors is None
    assert jane.attributes == {
        "config": "peer",
        "config_line": "10",
        "interface": "peer",
        "identity_from": "comment",
        "allowed_ips": "10.8.0.2/32",
        "endpoint": "198.51.100.23:41641",
        "preshared_key": "yes",
    }
    bob = accounts[keys.bob]  # e-mail from "# Name = …", employee id from the mapping
    assert (bob.login, bob.email, bob.employee_id) == (
        "bob.smith@example.com",
        "bob.smith@example.com",
        "E1002",
    )
    assert bob.attributes["identity_from"] == "mapping"
    ci = accounts[keys.ci]
    assert (ci.login, ci.kind, ci.email) == ("svc-ci", AccountKind.SERVICE, None)
    assert ci.attributes["note"] == "build runner, owned by platform"
    # PiVPN's `pivpn off`: known, but it cannot connect.
    carol = accounts[keys.carol]
    assert (carol.login, carol.status) == ("carol", AccountStatus.DISABLED)
    assert carol.attributes["config"] == "disabled" and carol.attributes["interface"] == "absent"
    # Nothing names it: an orphan to be explained.
    stranger = accounts[keys.stranger]
    assert stranger.login == f"peer-{keys.stranger[:8]}"
    assert stranger.email is None and stranger.employee_id is None
    assert stranger.attributes["identity_from"] == "key"


def test_handshakes_from_the_saved_dump(files: Path, keys: Keys) -> None:
    snapshot = exported(files).collect()
    accounts = _accounts(snapshot)

    assert snapshot.source == "export:wg0.conf,wg0.dump"
    assert snapshot.collected_at == NOW
    assert accounts[keys.jane].last_login_at == JANE_SEEN
    assert accounts[keys.ci].last_login_at == CI_SEEN
    assert accounts[keys.bob].last_login_at is None  # 0: no handshake since the interface came up
    # In the running interface but not in the file: it can connect, so it is active access.
    ghost = accounts[keys.ghost]
    assert ghost.status is AccountStatus.ACTIVE and ghost.last_login_at == GHOST_SEEN
    assert (ghost.attributes["config"], ghost.attributes["interface"]) == ("absent", "peer")
    assert "config_line" not in ghost.attributes
    assert ghost.attributes["allowed_ips"] == "10.8.0.99/32"
    assert snapshot.settings["observation"] == {"observed_since": UP_SINCE.isoformat()}
    assert snapshot.settings["wireguard"] == {
        "interface": None,
        "listen_port": 51820,
        "save_config": False,
        "handshakes": "dump",
    }


def test_keys_are_credentials(files: Path, keys: Keys) -> None:
    snapshot = exported(files).collect()
    credentials = {c.account_id: c for c in snapshot.credentials}

    jane = credentials[keys.jane]
    assert jane.credential_id == f"{keys.jane}#key" and jane.kind is CredentialKind.PUBLIC_KEY
    assert jane.active and jane.last_used_at == JANE_SEEN
    assert jane.attributes == {
        "allowed_ips": "10.8.0.2/32",
        "endpoint": "198.51.100.23:41641",
        "preshared_key": "yes",
    }
    assert credentials[keys.bob].attributes == {
        "allowed_ips": "10.8.0.3/32,fd00:8::3/128",
        "preshared_key": "no",
    }
    assert not credentials[keys.carol].active
    assert len(snapshot.credentials) == len(snapshot.accounts) == 6


def test_every_active_peer_holds_the_vpn(files: Path, keys: Keys) -> None:
    snapshot = exported(files).collect()

    (vpn,) = snapshot.entitlements
    assert (vpn.entitlement_id, vpn.kind, vpn.name, vpn.ref) == (
        "vpn:office",
        "vpn",
        "office",
        "vpn:office",
    )
    assert not vpn.privileged
    assert snapshot.grants == tuple(
        Grant(system="office-vpn", account_id=key, entitlement_id="vpn:office")
        for key in sorted([keys.jane, keys.bob, keys.ci, keys.stranger, keys.ghost])
    )
    # The network is named after the system by default.
    assert connector(files).collect().entitlements[0].entitlement_id == "vpn:office-vpn"


def test_authentication_is_the_key_alone_unless_declared(files: Path) -> None:
    snapshot = exported(files).collect()

    assert snapshot.settings["vpn"] == {
        "kind": "wireguard",
        "authentication": {
            "certificate": False,
            "key": True,
            "password": None,
            "second_factor": None,
            "relies_on": None,
        },
        "crl": None,
    }
    declared = exported(
        files, second_factor="declared: keys issued after Okta SSO", relies_on="okta"
    )
    authentication = declared.collect().settings["vpn"]["authentication"]
    assert authentication["second_factor"] == "declared: keys issued after Okta SSO"
    assert authentication["relies_on"] == "okta"


def test_the_configuration_alone(files: Path, keys: Keys) -> None:
    snapshot = connector(files).collect()
    accounts = _accounts(snapshot)

    assert snapshot.complete and snapshot.source == "live" and snapshot.collected_at == NOW
    assert keys.ghost not in accounts
    assert all(a.last_login_at is None for a in snapshot.accounts)
    assert all("interface" not in a.attributes for a in snapshot.accounts)
    # Nothing was watched: no claim about who was not seen.
    assert "observation" not in snapshot.settings
    assert snapshot.settings["wireguard"]["handshakes"] is None
    assert snapshot.settings["wireguard"]["config_mode"] == "0600"
    # Without the mapping, bob is named by his comment alone.
    assert (accounts[keys.bob].employee_id, accounts[keys.bob].attributes["identity_from"]) == (
        None,
        "comment",
    )
    assert accounts[keys.ci].login == f"peer-{keys.ci[:8]}"


def test_snapshot_is_sorted_and_repeatable(files: Path) -> None:
    first, second = exported(files).collect(), exported(files).collect()

    assert first == second
    assert [a.native_id for a in first.accounts] == sorted(a.native_id for a in first.accounts)
    assert [c.credential_id for c in first.credentials] == sorted(
        c.credential_id for c in first.credentials
    )


def test_exported_at_defaults_to_the_dump_file_time(files: Path) -> None:
    taken = datetime(2026, 2, 27, 23, 0, tzinfo=UTC)
    os.utime(files / "wg0.dump", (taken.timestamp(), taken.timestamp()))

    snapshot = connector(files, dump_file="wg0.dump").collect()

    assert snapshot.collected_at == taken
    assert snapshot.complete
    assert [str(e) for e in snapshot.errors] == [
        f"{files / 'wg0.dump'}: exported_at not given: taken to be the file's modification "
        "time, 2026-02-27 23:00 UTC"
    ]
    # Without the interface's start, only the moment of the dump is certain.
    assert snapshot.settings["observation"] == {"observed_since": taken.isoformat()}


def test_one_interface_is_picked_from_wg_show_all_dump(files: Path, keys: Keys) -> None:
    _, other = keypair()
    lines = [f"wg0\t{line}" for line in _dump(keys).splitlines()]
    lines += [f"wg1\t{line}" for line in dump_text("(none)", other, 51821, []).splitlines()]
    (files / "all.dump").write_text("\n".join(lines) + "\n")

    snapshot = connector(files, dump_file="all.dump", exported_at=NOW.isoformat()).collect()
    assert _accounts(snapshot)[keys.jane].last_login_at == JANE_SEEN
    assert snapshot.settings["wireguard"]["interface"] == "wg0"

    with pytest.raises(SourceError, match=r"all\.dump: has no interface wg7 \(it has wg0, wg1\)"):
        connector(files, dump_file="all.dump", interface="wg7").collect()


def test_a_malformed_config_line_is_named_and_the_rest_is_read(files: Path, keys: Keys) -> None:
    config = files / "wg0.conf"
    lines = config.read_text().splitlines(keepends=True)
    lines.insert(15, "AllowedIPs 10.8.0.3/32\n")  # in bob's block, without its "="
    lines.append("\n[Peer]\n# iam-gov: login=nokey\nAllowedIPs = 10.8.0.77/32\n")
    config.write_text("".join(lines))

    snapshot = exported(files).collect()

    assert not snapshot.complete
    assert [(e.source, e.line, e.message) for e in snapshot.errors] == [
        (str(config), 16, "not a [Section] header, a # comment or a Key = Value setting"),
        (str(config), 38, "a [Peer] without PublicKey: nobody can use it"),
    ]
    assert {keys.jane, keys.bob, keys.ci, keys.stranger} <= set(_accounts(snapshot))


def test_a_duplicate_peer_and_a_bad_identity_comment_are_reported(files: Path, keys: Keys) -> None:
    config = files / "wg0.conf"
    config.write_text(
        config.read_text().replace(
            "# build runner\n", "# iam-gov: login=ci colour=blue kind=robot\n"
        )
        + f"\n[Peer]\nPublicKey = {keys.jane}\nAllowedIPs = 10.8.0.200/32\n"
    )

    snapshot = exported(files, mapping=None).collect()

    # Neither hides access: every peer is read.
    assert snapshot.complete
    assert [(e.line, e.record, e.message) for e in snapshot.errors] == [
        (
            20,
            keys.ci,
            "iam-gov comment: colour is not one of email=, employee_id=, kind=, login=, name=",
        ),
        (20, keys.ci, "iam-gov comment: kind= is human or service"),
        (37, keys.jane, "this peer is already defined at line 10; wg merges the two"),
    ]
    accounts = _accounts(snapshot)
    assert accounts[keys.ci].login == "ci"
    assert accounts[keys.jane].attributes["config_line"] == "10,37"
    assert accounts[keys.jane].attributes["allowed_ips"] == "10.8.0.2/32,10.8.0.200/32"


def test_a_malformed_dump_line_is_named_and_the_rest_is_read(files: Path, keys: Keys) -> None:
    dump = files / "wg0.dump"
    lines = dump.read_text().splitlines()
    lines[2] = lines[2].rsplit("\t", 1)[0]  # bob's line loses a field
    lines[1] = lines[1].replace(str(int(JANE_SEEN.timestamp())), "yesterday")
    dump.write_text("\n".join(lines) + "\n")

    snapshot = exported(files).collect()

    assert not snapshot.complete
    assert [(e.source, e.line, e.message) for e in snapshot.errors] == [
        (str(dump), 2, "latest-handshake (field 5) is not a number of seconds"),
        (str(dump), 3, "expected 8 tab-separated fields for a peer, found 7"),
    ]
    # Still configured: they are accounts, with nothing known of their handshakes.
    accounts = _accounts(snapshot)
    assert accounts[keys.jane].last_login_at is None
    assert accounts[keys.jane].attributes["interface"] == "absent"
    assert accounts[keys.ci].last_login_at == CI_SEEN


def test_a_dump_of_another_interface_is_suspect(files: Path, keys: Keys) -> None:
    _, other = keypair()
    dump = [DumpPeer(keypair()[1], "10.9.0.2/32", latest_handshake=1)]
    (files / "wg0.dump").write_text(dump_text("(none)", other, 51999, dump))

    snapshot = exported(files).collect()

    assert not snapshot.complete
    assert str(snapshot.errors[-1]) == (
        f"{files / 'wg0.dump'}: shares no peer with {files / 'wg0.conf'}: are they of the "
        "same interface?"
    )


def test_secrets_never_leave_the_files(files: Path, keys: Keys) -> None:
    config = files / "wg0.conf"
    # Mistakes that put a key where a message might quote the line.
    config.write_text(
        config.read_text()
        + f"\n[Peer]\nPublicKey {keys.server_private}\nPrivateKey = {keys.server_private}\n"
        + f"{keys.psk}\n"
    )
    dump = files / "wg0.dump"
    dump.write_text(dump.read_text() + f"{keys.psk}\t{keys.server_private}\t1\n")

    snapshot = exported(files).collect()

    assert len(snapshot.errors) == 5
    shown = snapshot.model_dump_json() + "".join(str(e) for e in snapshot.errors)
    assert keys.server_private not in shown
    assert keys.psk not in shown


@pytest.mark.parametrize(
    ("file", "content", "problem"),
    [
        ("wg0.conf", None, "wg0.conf: no such file"),
        ("wg0.conf", '{"peers": []}\n', "wg0.conf: not a WireGuard configuration"),
        ("wg0.dump", None, "wg0.dump: no such file"),
        ("wg0.dump", "", "wg0.dump: empty: not the output of `wg show <interface> dump`"),
        ("wg0.dump", "[Interface]\nListenPort = 1\n", "wg0.dump:1: not the output of `wg show"),
        ("identities.yaml", "identities:\n  - login: x\n", "identities.yaml:2: identities.0: "),
        (
            "identities.yaml",
            "identities:\n  - public_key: nope\n",
            "identities.yaml:2: identities.0.public_key: not a WireGuard public key",
        ),
        ("identities.yaml", "people: []\n", "identities.yaml:1: people: unknown key"),
    ],
)
def test_unusable_inputs(files: Path, file: str, content: str | None, problem: str) -> None:
    if content is None:
        (files / file).unlink()
    else:
        (files / file).write_text(content)

    with pytest.raises(SourceError) as raised:
        exported(files).collect()

    assert str(raised.value).startswith(f"{files / problem}")


def test_a_key_mapped_twice_is_a_mistake(files: Path, keys: Keys) -> None:
    mapping = files / "identities.yaml"
    mapping.write_text(mapping.read_text() + f'  - public_key: "{keys.bob}"\n    login: robert\n')

    with pytest.raises(SourceError) as raised:
        exported(files).collect()

    assert str(raised.value) == (
        f"{mapping}:10: identities.3.public_key: {keys.bob!r} is mapped twice"
    )


def test_which_comments_name_a_peer(files: Path, keys: Keys) -> None:
    explicit_only = _accounts(connector(files, comment_convention="iam-gov").collect())
    assert explicit_only[keys.jane].login == "jdoe"
    assert explicit_only[keys.bob].login == f"peer-{keys.bob[:8]}"
    assert explicit_only[keys.carol].login == f"peer-{keys.carol[:8]}"

    none = _accounts(connector(files, comment_convention="off").collect())
    assert none[keys.jane].login == f"peer-{keys.jane[:8]}"
    assert none[keys.jane].email is None


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"exported_at": "2026-03-01T00:00:00Z"}, "exported_at only applies with dump_file"),
        (
            {"dump_file": "wg0.dump", "wg_command": ["sudo", "wg"]},
            "wg_command does not apply with dump_file",
        ),
        ({"interface": "wg0; reboot"}, "String should match pattern"),
        ({"interface": "a-very-long-interface"}, "String should match pattern"),
        ({"comment_convention": "guess"}, "Input should be 'auto', 'iam-gov' or 'off'"),
        ({"private_key": "x"}, "Extra inputs are not permitted"),
    ],
)
def test_options_are_checked(options: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        WireGuardOptions.model_validate({"type": "wireguard", "config": "wg0.conf", **options})


def test_an_interface_that_is_not_up(files: Path, keys: Keys) -> None:
    if os.geteuid() != 0:
        pytest.skip("wg tells a missing interface from a refusal only as root")

    snapshot = connector(files, interface="iamgov-none").collect()

    assert snapshot.complete  # nobody can connect through it; the file says who will
    (error,) = snapshot.errors
    assert error.source == "wg show iamgov-none dump"
    assert error.message.startswith("interface iamgov-none is not up: no handshakes read")
    assert "observation" not in snapshot.settings
    assert _accounts(snapshot)[keys.jane].attributes["interface"] == "absent"


@pytest.mark.parametrize(
    ("command", "problem"),
    [
        (["/nonexistent/wg"], "office-vpn: `/nonexistent/wg` is not installed (wireguard-tools)"),
        (["false"], "office-vpn: `wg show wg0 dump` failed: exit status 1"),
    ],
)
def test_wg_that_fails_is_a_connector_error(files: Path, command: list[str], problem: str) -> None:
    with pytest.raises(ConnectorError) as raised:
        connector(files, interface="wg0", wg_command=command).collect()

    assert str(raised.value) == problem


def test_snapshot_json_round_trips(files: Path) -> None:
    snapshot = exported(files).collect()

    assert SystemSnapshot.model_validate(json.loads(snapshot.model_dump_json())) == snapshot


@pytest.mark.parametrize(
    ("comments", "expected"),
    [
        (["# jane.doe@example.com"], ("jane.doe@example.com", "jane.doe@example.com", None)),
        (["# Name = Jane Doe"], (None, None, "Jane Doe")),
        (["#friendly_name: jdoe"], ("jdoe", None, None)),
        # The explicit comment wins; the others fill what it does not say.
        (
            ["# Name = Jane Doe", "# iam-gov: login=jdoe", "# Name = someone-else"],
            ("jdoe", None, "Jane Doe"),
        ),
        (["# her laptop, see ticket 42", "# Name: jdoe"], ("jdoe", None, None)),
    ],
)
def test_comment_conventions(
    tmp_path: Path, keys: Keys, comments: list[str], expected: tuple[str | None, ...]
) -> None:
    lead, inside = comments[:1], comments[1:]  # above the header, and inside the block
    text = "\n".join(
        ["[Interface]", "ListenPort = 51820", "", *lead, "[Peer]", *inside]
        + [f"PublicKey = {keys.jane}", "AllowedIPs = 10.8.0.2/32", ""]
    )
    (tmp_path / "wg0.conf").write_text(text)

    (account,) = connector(tmp_path).collect().accounts

    login, email, display_name = expected
    assert account.login == (login or email or f"peer-{keys.jane[:8]}")
    assert (account.email, account.display_name) == (email, display_name)
