"""WireGuard collection from files into the model: peers as accounts, keys as credentials,
the VPN entitlement held by every peer that can connect, and the VPN contract's settings."""

from __future__ import annotations

import json
from pathlib import Path

from iam_gov.model import AccountKind, AccountStatus, CredentialKind, Grant, SystemSnapshot
from tests.connectors.wireguard.office import (
    CI_SEEN,
    GHOST_SEEN,
    JANE_SEEN,
    NOW,
    UP_SINCE,
    Keys,
    accounts_of,
    connector,
    exported,
)
from tests.support.wireguard import DumpPeer, dump_text, keypair


def test_peers_become_accounts_named_by_comments_and_mapping(files: Path, keys: Keys) -> None:
    snapshot = exported(files).collect()
    accounts = accounts_of(snapshot)

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
    accounts = accounts_of(snapshot)

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


def test_snapshot_is_sorted_and_repeatable(files: Path) -> None:
    first, second = exported(files).collect(), exported(files).collect()

    assert first == second
    assert [a.native_id for a in first.accounts] == sorted(a.native_id for a in first.accounts)
    assert [c.credential_id for c in first.credentials] == sorted(
        c.credential_id for c in first.credentials
    )


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


def test_snapshot_json_round_trips(files: Path) -> None:
    snapshot = exported(files).collect()

    assert SystemSnapshot.model_validate(json.loads(snapshot.model_dump_json())) == snapshot
