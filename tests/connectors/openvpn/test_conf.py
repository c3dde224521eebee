"""server.conf: how clients authenticate (certificate, password plugins and scripts, second
factors, declared or detected), where the CRL is, and which certificates are the server's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from iam_gov.connectors.openvpn.conf import read_server_conf, split_line
from iam_gov.connectors.openvpn.connector import OpenVPNConnector, OpenVPNOptions
from iam_gov.errors import SourceError
from iam_gov.model import AccountKind
from tests.support.pki import DemoPki

BASE = """\
port 1194
proto udp
dev tun
ca /etc/openvpn/server/ca.crt
cert /etc/openvpn/server/server.crt
key /etc/openvpn/server/server.key  # this file should be kept secret
server 10.8.0.0 255.255.255.0
"""
PAM = "/usr/lib/x86_64-linux-gnu/openvpn/plugins/openvpn-plugin-auth-pam.so"


def authentication(tmp_path: Path, text: str, **extra: Any) -> dict[str, Any]:
    conf = tmp_path / "server.conf"
    conf.write_text(BASE + text)
    (tmp_path / "pki").mkdir(exist_ok=True)
    (tmp_path / "pki" / "index.txt").touch()
    options = OpenVPNOptions.model_validate(
        {"type": "openvpn", "pki_dir": tmp_path / "pki", "server_conf": conf, **extra}
    )
    result: dict[str, Any] = (
        OpenVPNConnector("vpn", options).collect().settings["vpn"]["authentication"]
    )
    return result


CASES = [
    pytest.param(
        "",
        {"certificate": True, "password": None, "second_factor": None},
        id="certificate-only",
    ),
    pytest.param(
        f"plugin {PAM} openvpn\n",
        {"certificate": True, "password": "PAM plugin (service openvpn)", "second_factor": None},
        id="certificate-and-pam",
    ),
    pytest.param(
        f'plugin {PAM} "openvpn login USERNAME password PASSWORD pin OTP"\n'
        'static-challenge "Enter your code" 1\n',
        {
            "password": "PAM plugin (service openvpn)",
            "second_factor": "static-challenge OTP via PAM",
        },
        id="pam-with-static-challenge",
    ),
    pytest.param(
        f"plugin {PAM} openvpn-google-authenticator\n",
        {
            "password": "PAM plugin (service openvpn-google-authenticator)",
            "second_factor": "google-authenticator",
        },
        id="pam-service-named-for-its-factor",
    ),
    pytest.param(
        "plugin /usr/lib/openvpn/radiusplugin.so /etc/openvpn/radiusplugin.cnf\n",
        {"password": "RADIUS plugin (radiusplugin.so)", "second_factor": None},
        id="radius-says-nothing-about-mfa",
    ),
    pytest.param(
        "verify-client-cert none\nusername-as-common-name\n"
        "plugin /usr/lib/openvpn/openvpn-auth-ldap.so /etc/openvpn/auth/ldap.conf\n",
        {
            "certificate": False,
            "password": "LDAP plugin (openvpn-auth-ldap.so)",
            "verify_client_cert": "none",
            "username_as_common_name": True,
        },
        id="ldap-password-only",
    ),
    pytest.param(
        "client-cert-not-required\n"
        "auth-user-pass-verify '/usr/bin/python3 /opt/duo/duo_openvpn.py' via-env\n"
        "script-security 3\n",
        {
            "certificate": False,
            "password": "auth-user-pass-verify script (python3 duo_openvpn.py)",
            "second_factor": "Duo",
        },
        id="duo-script",
    ),
    pytest.param(
        "verify-client-cert optional\nplugin /usr/lib/openvpn/plugins/okta_openvpn.so\n"
        "auth-gen-token 28800\nauth-user-pass-optional\n",
        {
            "certificate": False,
            "password": "Okta plugin (okta_openvpn.so) (optional: auth-user-pass-optional)",
            "second_factor": None,
            "auth_gen_token": "28800 s",
        },
        id="okta-plugin",
    ),
    pytest.param(
        'plugin openvpn-plugin-down-root.so "service openvpn restart"\n'
        "plugin /usr/lib/openvpn/openvpn-otp.so\nplugin /opt/acme-audit.so\n",
        {
            "password": "auth plugin (openvpn-otp.so)",
            "second_factor": "OTP",
            "other_plugins": ["acme-audit.so"],
        },
        id="otp-plugin-and-plugins-that-are-not-authentication",
    ),
    pytest.param(
        "management 127.0.0.1 7505\nmanagement-client-auth\n",
        {
            "password": "management-client-auth (an external program on the management port)",
            "second_factor": None,
        },
        id="management-client-auth",
    ),
    pytest.param(
        "secret /etc/openvpn/static.key\n",
        {"certificate": False, "key": True, "password": None},
        id="static-key",
    ),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_authentication_from_server_conf(
    tmp_path: Path, text: str, expected: dict[str, Any]
) -> None:
    found = authentication(tmp_path, text)

    assert {key: found.get(key) for key in expected} == expected
    assert found["relies_on"] is None


def test_a_declared_second_factor_wins_and_relies_on_is_passed_on(tmp_path: Path) -> None:
    found = authentication(
        tmp_path,
        "plugin /usr/lib/openvpn/radiusplugin.so radius.cnf\nstatic-challenge 'Code' 1\n",
        second_factor="Duo via RADIUS",
        relies_on="okta",
    )

    assert found["second_factor"] == "declared: Duo via RADIUS"
    assert found["second_factor_detected"] == "static-challenge OTP"
    assert found["relies_on"] == "okta"


def test_without_server_conf_the_default_is_a_certificate(tmp_path: Path) -> None:
    (tmp_path / "index.txt").touch()
    options = OpenVPNOptions.model_validate(
        {"type": "openvpn", "pki_dir": tmp_path, "second_factor": "Duo push via PAM"}
    )

    auth = OpenVPNConnector("vpn", options).collect().settings["vpn"]["authentication"]

    assert auth["certificate"] is True and auth["password"] is None
    assert auth["second_factor"] == "declared: Duo push via PAM"


def test_lines_parse_as_openvpn_parses_them() -> None:
    assert split_line('plugin "/opt/my plugins/auth.so" \'a "b"\' c\\ d # comment') == [
        "plugin",
        "/opt/my plugins/auth.so",
        'a "b"',
        "c d",
    ]
    assert split_line("  ; a comment") == []
    assert split_line('push "route 10.0.0.0 255.0.0.0";not-a-comment') == [
        "push",
        "route 10.0.0.0 255.0.0.0;not-a-comment",
    ]
    with pytest.raises(ValueError, match="unbalanced quotes"):
        split_line('plugin "/opt/auth.so')


def test_crl_verify_inline_blocks_and_includes(tmp_path: Path) -> None:
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "conf.d" / "crl.conf").write_text("crl-verify crl.pem\n")
    conf = tmp_path / "server.conf"
    conf.write_text(
        "cd /etc/openvpn/server\n"
        "<tls-crypt>\n-----BEGIN OpenVPN Static key V1-----\ncrl-verify /not/this\n"
        "-----END OpenVPN Static key V1-----\n</tls-crypt>\n"
        f"config {tmp_path / 'conf.d' / 'crl.conf'}\n"
    )

    parsed = read_server_conf(conf)

    assert parsed.crl() == (Path("/etc/openvpn/server/crl.pem"), False)
    assert [d.name for d in parsed.directives] == ["cd", "crl-verify"]
    assert parsed.directives[1].where == f"{tmp_path / 'conf.d' / 'crl.conf'}:1"


def test_unusable_server_conf(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such file"):
        read_server_conf(tmp_path / "missing.conf")
    (tmp_path / "empty.conf").write_text("# nothing here\n")
    with pytest.raises(SourceError, match="holds no OpenVPN directive"):
        read_server_conf(tmp_path / "empty.conf")
    (tmp_path / "bad.conf").write_text('port 1194\nplugin "unterminated\n')
    with pytest.raises(SourceError) as raised:
        read_server_conf(tmp_path / "bad.conf")
    assert str(raised.value) == f"{tmp_path / 'bad.conf'}:2: unbalanced quotes"


# --- with the real PKI -----------------------------------------------------------------------


def collect(demo: DemoPki, conf_text: str) -> Any:
    conf = demo.pki.root / "server.conf"
    conf.write_text(BASE + conf_text)
    options = OpenVPNOptions.model_validate(
        {"type": "openvpn", "pki_dir": demo.pki.dir, "server_conf": conf}
    )
    return OpenVPNConnector("vpn", options).collect()


def test_the_crl_the_server_reads_comes_from_crl_verify(demo: DemoPki) -> None:
    (demo.pki.root / "server-crl.pem").write_bytes(demo.pki.crl.read_bytes())

    snapshot = collect(demo, "crl-verify server-crl.pem\n")

    assert snapshot.settings["vpn"]["crl"]["path"] == str(demo.pki.root / "server-crl.pem")
    assert snapshot.settings["vpn"]["crl"]["present"] is True


def test_a_crl_folder_lists_revoked_serials_as_decimal_file_names(demo: DemoPki) -> None:
    folder = demo.pki.root / "crl.d"
    folder.mkdir()
    (folder / "12345").touch()

    snapshot = collect(demo, f"crl-verify {folder} dir\n")

    crl = snapshot.settings["vpn"]["crl"]
    assert crl["present"] is True and crl["this_update"] is None
    assert crl["missing_revoked_serials"] == [demo.serials["carol"]]
    assert crl["unknown_serials"] == ["3039"]


def test_no_crl_verify_means_revocation_is_not_checked(demo: DemoPki) -> None:
    snapshot = collect(demo, "")

    assert snapshot.settings["vpn"]["crl"] is None
    assert any("no crl-verify" in e.message for e in snapshot.errors)


def test_server_certificates_are_not_vpn_identities_when_clients_must_be_clients(
    demo: DemoPki,
) -> None:
    strict = collect(demo, "remote-cert-tls client\n")
    lax = collect(demo, "")

    assert "server" not in {a.native_id for a in strict.accounts}
    assert strict.settings["vpn"]["server_certificates"] == ["server"]
    server = next(a for a in lax.accounts if a.native_id == "server")
    assert server.kind is AccountKind.SERVICE
    assert any(e.record == "server" and "remote-cert-tls client" in e.message for e in lax.errors)
