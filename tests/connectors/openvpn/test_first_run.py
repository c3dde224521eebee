"""The "first run" examples of the OpenVPN settings guide, loaded as written and collected
from a real OpenVPN server (tests/support/openvpn_server.py) with a real easy-rsa PKI: the
management interface with the status file and logs, and a server behind RADIUS whose users'
second factor is judged in the identity provider (``mfa_from``).

Lines changed from the guide, and nothing else: the folders ``/etc/openvpn/easy-rsa/pki``,
``/etc/openvpn/server`` and ``/var/log/openvpn`` become the test's PKI and server folders.
``127.0.0.1:7505`` is kept: the collect runs in the server's network namespace, where that
is the server's management port."""

from __future__ import annotations

import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from iam_gov.configtypes import BASE_DIR_KEY
from iam_gov.connectors.openvpn.connector import OpenVPNConnector, OpenVPNOptions
from iam_gov.model import SystemSnapshot
from tests.support.openvpn_server import (
    MANAGEMENT_PASSWORD,
    NetworkNamespace,
    OpenVPNServer,
    network_namespace,
)
from tests.support.pki import DemoPki, demo_pki

FIRST_RUN_MANAGEMENT = """
[systems.vpn]
type = "openvpn"
pki_dir = "/etc/openvpn/easy-rsa/pki"
server_conf = "/etc/openvpn/server/server.conf"
status_file = "/var/log/openvpn/openvpn-status.log"
log_files = ["/var/log/openvpn/openvpn.log*"]
management = "127.0.0.1:7505"
management_password = { env = "IAM_GOV_OPENVPN_MANAGEMENT" }
"""

FIRST_RUN_RADIUS = """
[systems.vpn]
type = "openvpn"
pki_dir = "/etc/openvpn/easy-rsa/pki"
server_conf = "/etc/openvpn/server/server.conf"
status_file = "/var/log/openvpn/openvpn-status.log"
log_files = ["/var/log/openvpn/openvpn.log*"]
mfa_from = "okta"
"""

# What a server that hands passwords to RADIUS has in its server.conf (radiusplugin.cnf
# names the RADIUS server: Okta's RADIUS agent, Entra's NPS extension …).
RADIUS_PLUGIN = "plugin /usr/lib/openvpn/radiusplugin.so /etc/openvpn/radiusplugin.cnf\n"


@dataclass
class Lab:
    demo: DemoPki
    namespace: NetworkNamespace
    server: OpenVPNServer

    def options(self, text: str, server_folder: Path | None = None) -> OpenVPNOptions:
        """The guide's example with its folders swapped for the test server's."""
        text = (
            text.replace("/etc/openvpn/easy-rsa/pki", str(self.demo.pki.dir))
            .replace("/etc/openvpn/server", str(server_folder or self.server.folder))
            .replace("/var/log/openvpn", str(self.server.folder))
        )
        (raw,) = tomllib.loads(text)["systems"].values()
        return OpenVPNOptions.model_validate(raw, context={BASE_DIR_KEY: self.server.folder})

    def collect(self, options: OpenVPNOptions) -> SystemSnapshot:
        # Inside the namespace: 127.0.0.1 there is the server's loopback.
        return self.namespace.run(OpenVPNConnector("vpn", options).collect)

    def wait_for_status(self, *names: str) -> None:
        """Until the server's status file (written every second) lists ``names``."""
        deadline = time.monotonic() + 10
        while True:
            path = self.server.status_path
            text = path.read_text() if path.exists() else ""
            listed = {
                line.split(",")[1] for line in text.splitlines() if line.startswith("CLIENT_LIST,")
            }
            if set(names) <= listed:
                return
            assert time.monotonic() < deadline, f"status file never listed {names}:\n{text}"
            time.sleep(0.1)


@pytest.fixture
def lab(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Lab]:
    namespace = network_namespace()
    demo = demo_pki(tmp_path_factory, tmp_path / "easy-rsa")
    crl = tmp_path / "etc-openvpn" / "crl.pem"
    crl.parent.mkdir()
    crl.write_bytes(demo.pki.crl.read_bytes())
    server = OpenVPNServer(namespace, demo.pki, tmp_path / "server", crl)
    monkeypatch.setenv("IAM_GOV_OPENVPN_MANAGEMENT", MANAGEMENT_PASSWORD)
    try:
        server.start()
        server.client("alice").wait_connected()
        yield Lab(demo, namespace, server)
    finally:
        server.stop()
        namespace.close()


def test_management_interface_status_file_and_logs(lab: Lab) -> None:
    lab.wait_for_status("alice")

    snapshot = lab.collect(lab.options(FIRST_RUN_MANAGEMENT))

    assert snapshot.complete, snapshot.errors
    assert snapshot.source == "live"
    accounts = {a.native_id: a for a in snapshot.accounts}
    assert {"alice", "bob", "carol", "dave", "erin@example.com"} <= accounts.keys()
    assert "server" not in accounts  # remote-cert-tls client in server.conf
    assert accounts["alice"].attributes["connected"] == "true"
    assert accounts["alice"].last_login_at is not None
    assert accounts["bob"].last_login_at is None
    # The CRL the server reads, found through server.conf's crl-verify.
    assert snapshot.settings["vpn"]["crl"]["path"] == str(lab.server.crl_path)
    assert snapshot.settings["vpn"]["authentication"]["method"] == "certificate"


def test_behind_radius_with_mfa_from(lab: Lab) -> None:
    # The server here cannot load radiusplugin.so (no such package on the test machine):
    # server.conf is the running server's own with the plugin line a RADIUS-backed server has.
    radius = lab.server.folder.parent / "radius-server"
    radius.mkdir()
    (radius / "server.conf").write_text(lab.server.conf_path.read_text() + RADIUS_PLUGIN)
    lab.wait_for_status("alice")

    snapshot = lab.collect(lab.options(FIRST_RUN_RADIUS, server_folder=radius))

    assert snapshot.complete, snapshot.errors
    assert snapshot.source.startswith("export:index.txt,")
    authentication = snapshot.settings["vpn"]["authentication"]
    assert (authentication["method"], authentication["plugin"], authentication["mfa_from"]) == (
        "radius",
        "/usr/lib/openvpn/radiusplugin.so",
        "okta",
    )
    # Its findings wait for okta's data: a VPN user's factors are enrolled there.
    assert snapshot.settings["depends_on"] == ["okta"]
    accounts = {a.native_id: a for a in snapshot.accounts}
    assert accounts["alice"].attributes["connected"] == "true"
    assert accounts["alice"].last_login_at is not None
