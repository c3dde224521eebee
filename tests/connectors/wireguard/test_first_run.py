"""The "first run" example of the WireGuard settings guide, loaded as written and collected from
a running interface (wireguard-go in a network namespace of the test's own, as in
test_live.py): the server's wg-quick configuration, and ``wg show wg0 dump`` through sudo.

Lines changed from the guide, and nothing else: ``/etc/wireguard/wg0.conf`` becomes the test's
configuration file and ``wg0`` the test's interface (its control socket is in the machine's
/var/run/wireguard, where a real wg0 may be). ``sudo`` is a stand-in first on PATH that
records its arguments and runs them (the tests run as root; the sudoers rule is the server's):
the test checks the connector runs exactly the command the guide's sudoers rule allows."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import pytest

from iam_gov.configtypes import BASE_DIR_KEY
from iam_gov.connectors.wireguard.connector import WireGuardConnector, WireGuardOptions
from iam_gov.model import AccountStatus
from tests.support.wireguard import keypair, namespace, require_live

FIRST_RUN_WG = """
[systems.office-vpn]
type = "wireguard"
config = "/etc/wireguard/wg0.conf"
interface = "wg0"
wg_command = ["sudo", "-n", "wg"]
"""

# sudo -n: never ask for a password (a missing sudoers rule fails at once, as sudo does).
SUDO = """\
#!/bin/sh
printf '%s\\n' "$*" >> "$IAM_GOV_TEST_SUDO_LOG"
if [ "$1" != "-n" ]; then echo "sudo: a password is required" >&2; exit 1; fi
shift
exec "$@"
"""


def _sudo(folder: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A ``sudo`` first on PATH; the file it records each command line in."""
    bin_dir = folder / "bin"
    bin_dir.mkdir()
    program = bin_dir / "sudo"
    program.write_text(SUDO)
    program.chmod(0o755)
    log = folder / "sudo.log"
    log.touch()
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', os.defpath)}")
    monkeypatch.setenv("IAM_GOV_TEST_SUDO_LOG", str(log))
    return log


def test_wg_show_through_sudo_and_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_live()
    with namespace(tmp_path) as space:
        server = space.interface(listen_port=51820)
        client = space.interface(listen_port=51821)
        bob = keypair()[1]
        config = tmp_path / "etc-wireguard" / f"{server.name}.conf"
        config.parent.mkdir()
        config.write_text(
            f"[Interface]\nPrivateKey = {server.private_key}\nListenPort = 51820\n"
            "Address = 10.99.0.1/24\n\n"
            "# iam-gov: login=alice email=alice@example.com\n"
            f"[Peer]\nPublicKey = {client.public_key}\nAllowedIPs = 10.99.0.2/32\n\n"
            "### begin bob ###\n"
            f"[Peer]\nPublicKey = {bob}\nAllowedIPs = 10.99.0.3/32\n"
            "### end bob ###\n"
        )
        config.chmod(0o600)
        server.load(config)
        space.connect(client, server)
        text = FIRST_RUN_WG.replace("/etc/wireguard/wg0.conf", str(config)).replace(
            'interface = "wg0"', f'interface = "{server.name}"'
        )
        (raw,) = tomllib.loads(text)["systems"].values()
        options = WireGuardOptions.model_validate(raw, context={BASE_DIR_KEY: tmp_path})
        sudo_log = _sudo(tmp_path, monkeypatch)

        snapshot = WireGuardConnector("office-vpn", options).collect()

    assert snapshot.complete, snapshot.errors
    assert snapshot.source == "live"
    assert sudo_log.read_text().splitlines() == [f"-n wg show {server.name} dump"]
    accounts = {a.native_id: a for a in snapshot.accounts}
    alice = accounts[client.public_key]
    assert (alice.login, alice.email, alice.status) == (
        "alice",
        "alice@example.com",
        AccountStatus.ACTIVE,
    )
    assert alice.last_login_at is not None
    assert accounts[bob].login == "bob"
    assert accounts[bob].last_login_at is None
    assert snapshot.settings["wireguard"]["handshakes"] == "live"
    assert snapshot.settings["wireguard"]["interface"] == server.name
