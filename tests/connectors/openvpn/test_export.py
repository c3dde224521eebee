"""`iam-gov export` of an OpenVPN server: a real server read through its management interface,
status file and log, or its files alone, written into a folder that, read back with the
options the export gives, is the same snapshot; no private key leaves the server."""

from __future__ import annotations

import datetime as dt
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from iam_gov.configtypes import BASE_DIR_KEY
from iam_gov.connectors.openvpn.connector import OpenVPNConnector, OpenVPNOptions
from iam_gov.connectors.shared.protocol import ExportNotSupported, ExportWritten
from iam_gov.model import SystemSnapshot
from tests.support.openvpn_server import (
    MANAGEMENT_PASSWORD,
    NetworkNamespace,
    OpenVPNServer,
    network_namespace,
)
from tests.support.pki import DemoPki, demo_pki

PASSWORD_VARIABLE = "IAM_GOV_TEST_OVPN_EXPORT_MANAGEMENT"
NOW = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)
SYSTEM = "vpn-prod"


def connector(options: dict[str, Any], base: Path | None = None) -> OpenVPNConnector:
    context = {BASE_DIR_KEY: base} if base is not None else None
    return OpenVPNConnector(
        SYSTEM, OpenVPNOptions.model_validate(options, context=context), clock=lambda: NOW
    )


def read_back(out: Path, written: ExportWritten) -> SystemSnapshot:
    """The export collected with the options it says read it (relative to the folder)."""
    return connector(dict(written.options), out).collect()


def comparable(snapshot: SystemSnapshot) -> dict[str, Any]:
    """The snapshot without where it was read from: its ``source``, and the folders in the
    paths that errors and the CRL's settings name (the export has its own)."""
    data = snapshot.model_dump(mode="json", exclude={"source"})
    for error in data["errors"]:
        error["source"] = Path(error["source"]).name
    crl = data["settings"]["vpn"]["crl"]
    if crl is not None:
        crl["path"] = Path(crl["path"]).name
    return data


def secrets_of(pki_dir: Path) -> list[bytes]:
    """The base64 body of every private key in the PKI (a line of each is enough to find)."""
    found = []
    for key in (pki_dir / "private").glob("*.key"):
        lines = key.read_bytes().splitlines()
        body = [line for line in lines if line and not line.startswith(b"-----")]
        found.extend(line for line in body if len(line) > 20)
    return found


def assert_no_secret(out: Path, secrets: list[bytes]) -> None:
    assert secrets
    for path in out.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert b"PRIVATE KEY-----" not in data, path
            assert b"OpenVPN Static key" not in data, path
            for secret in secrets:
                assert secret not in data, path


@dataclass
class Lab:
    demo: DemoPki
    namespace: NetworkNamespace
    server: OpenVPNServer
    mapping: Path

    def options(self, **extra: Any) -> dict[str, Any]:
        return {
            "type": "openvpn",
            "pki_dir": self.demo.pki.dir,
            "server_conf": self.server.conf_path,
            "management": self.server.management,
            "management_password": {"env": PASSWORD_VARIABLE},
            "log_files": [self.server.folder / "openvpn.log*"],
            "mapping": self.mapping,
            "timezone": "Europe/Paris",
            "mfa_from": "okta",
            **extra,
        }

    def inside(self, function: Callable[[], Any]) -> Any:
        # Inside the namespace: 127.0.0.1 there is the server's loopback.
        return self.namespace.run(function)


@pytest.fixture
def lab(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Lab]:
    namespace = network_namespace()
    demo = demo_pki(tmp_path_factory, tmp_path / "easy-rsa")
    crl = tmp_path / "etc-openvpn" / "crl.pem"
    crl.parent.mkdir()
    crl.write_bytes(demo.pki.crl.read_bytes())
    mapping = tmp_path / "vpn-identities.yaml"
    mapping.write_text("identities:\n  - cn: alice\n    employee_id: E001\n")
    folder = tmp_path / "server"
    folder.mkdir()
    (folder / "common.conf").write_text("# shared by our servers\nscript-security 1\n")
    server = OpenVPNServer(namespace, demo.pki, folder, crl, extra=f"config {folder}/common.conf\n")
    monkeypatch.setenv(PASSWORD_VARIABLE, MANAGEMENT_PASSWORD)
    try:
        server.start()
        yield Lab(demo, namespace, server, mapping)
    finally:
        server.stop()
        namespace.close()


def export_and_read_back(
    lab: Lab, tmp_path: Path, options: dict[str, Any]
) -> tuple[SystemSnapshot, SystemSnapshot, ExportWritten, Path]:
    """A live collect, then an export read back. The server stamps its status with its own
    clock (whole seconds): when that ticked between the two reads, they are made again."""
    for attempt in range(5):
        live = lab.inside(connector(options).collect)
        out = tmp_path / f"export-{attempt}"
        out.mkdir()
        written = lab.inside(lambda: connector(options).write_export(out))  # noqa: B023
        back = read_back(out, written)
        if back.settings["observation"] == live.settings["observation"]:
            break
    return live, back, written, out


def test_a_live_export_reads_back_as_the_same_snapshot(lab: Lab, tmp_path: Path) -> None:
    lab.server.client("alice").wait_connected()
    lab.server.client("bob").wait_connected()

    live, back, written, out = export_and_read_back(lab, tmp_path, lab.options())

    assert live.source == "live" and back.source.startswith("export:")
    assert comparable(back) == comparable(live)
    accounts = {a.native_id: a for a in back.accounts}
    assert accounts["alice"].attributes["connected"] == "true"
    assert accounts["alice"].employee_id == "E001"
    assert back.settings["vpn"]["authentication"]["mfa_from"] == "okta"
    assert written.problems == ()
    assert {str(p) for p in written.files} >= {
        "pki/index.txt",
        "pki/ca.crt",
        "pki/issued/alice.crt",
        "crl.pem",
        "server.conf",
        "management-status.log",
        "logs/1/openvpn.log",
        "vpn-identities.yaml",
    }
    assert all((out / p).is_file() for p in written.files)
    assert written.options["exported_at"] == NOW
    assert "management" not in written.options
    assert "management_password" not in written.options
    # The include is in its place, said so.
    conf = (out / "server.conf").read_text()
    assert "script-security 1" in conf and "put in its place" in conf
    assert_no_secret(out, secrets_of(lab.demo.pki.dir))


def test_management_and_a_status_file_are_both_exported(lab: Lab, tmp_path: Path) -> None:
    lab.server.client("alice").wait_connected()
    options = lab.options(status_file=lab.server.status_path)

    live, back, written, _ = export_and_read_back(lab, tmp_path, options)

    assert written.options["status_file"] == ["management-status.log", "status.log"]
    assert comparable(back) == comparable(live)


def test_the_servers_files_alone_are_exported_too(lab: Lab, tmp_path: Path) -> None:
    lab.server.client("alice").wait_connected()
    options = lab.options(
        management=None, management_password=None, status_file=lab.server.status_path
    )

    live, back, written, out = export_and_read_back(lab, tmp_path, options)

    assert comparable(back) == comparable(live)
    assert written.options["status_file"] == "status.log"
    assert_no_secret(out, secrets_of(lab.demo.pki.dir))


def test_an_export_is_not_exported_again(tmp_path: Path) -> None:
    options = {"type": "openvpn", "pki_dir": tmp_path, "exported_at": "2026-03-01T00:00:00Z"}
    with pytest.raises(ExportNotSupported, match="already copied from the server"):
        connector(options).write_export(tmp_path / "out")


def test_inline_secrets_and_keys_in_certificate_files_stay_behind(
    demo: DemoPki, tmp_path: Path
) -> None:
    pki = demo.pki.dir
    server_key = (pki / "private" / "server.key").read_text()
    static_key = subprocess.run(
        ["openvpn", "--genkey", "secret", "/dev/stdout"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    assert "OpenVPN Static key V1" in static_key
    # Some administrators keep a client's key in the same file as its certificate.
    bob = pki / "issued" / "bob.crt"
    bob.write_text(bob.read_text() + (pki / "private" / "bob.key").read_text())
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "auth.conf").write_text(
        "plugin /usr/lib/openvpn/radiusplugin.so /etc/openvpn/radiusplugin.cnf\n"
    )
    conf = etc / "server.conf"
    conf.write_text(
        f"dev tun\nremote-cert-tls client\ncrl-verify {pki}/crl.pem\nconfig auth.conf\n"
        f"<key>\n{server_key}</key>\n<tls-crypt>\n{static_key}</tls-crypt>\n"
        f"<ca>\n{(pki / 'ca.crt').read_text()}</ca>\n"
    )
    status = tmp_path / "openvpn-status.log"
    status.write_text(
        "TITLE,OpenVPN 2.6.14\nTIME,2026-03-02 10:00:00,1772442000\n"
        "HEADER,CLIENT_LIST,Common Name,Real Address,Virtual Address,Virtual IPv6 Address,"
        "Bytes Received,Bytes Sent,Connected Since,Connected Since (time_t),Username,"
        "Client ID,Peer ID,Data Channel Cipher\n"
        "CLIENT_LIST,bob,192.0.2.7:51234,10.8.0.6,,100,200,2026-03-02 09:00:00,1772438400,"
        "UNDEF,3,0,AES-256-GCM\nEND\n"
    )
    options = {
        "type": "openvpn",
        "pki_dir": pki,
        "server_conf": conf,
        "status_file": status,
        "timezone": "UTC",
        "mfa_from": "okta",
    }
    live = connector(options).collect()
    out = tmp_path / "out"
    out.mkdir()

    written = connector(options).write_export(out)
    back = read_back(out, written)

    assert comparable(back) == comparable(live)
    auth = back.settings["vpn"]["authentication"]
    assert (auth["method"], auth["plugin"]) == ("radius", "/usr/lib/openvpn/radiusplugin.so")
    assert {a.native_id: a.last_login_at for a in back.accounts}["bob"] is not None
    exported_conf = (out / "server.conf").read_text()
    assert "the content of <key>, a secret, is left out" in exported_conf
    assert "the content of <tls-crypt>, a secret, is left out" in exported_conf
    assert "BEGIN CERTIFICATE" in exported_conf  # <ca> is public: kept
    exported_bob = (out / "pki" / "issued" / "bob.crt").read_text()
    assert "BEGIN CERTIFICATE" in exported_bob
    assert "iam-gov export does not copy private keys" in exported_bob
    static_body = [line for line in static_key.splitlines() if len(line) == 32]
    assert_no_secret(out, [*secrets_of(pki), *(line.encode() for line in static_body)])
