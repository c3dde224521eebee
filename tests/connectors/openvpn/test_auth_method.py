"""server.conf: which password check the server makes (RADIUS, LDAP, PAM, a script …) and
with what, recorded in the snapshot with the identity provider whose factors decide."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from iam_gov.connectors.openvpn.connector import OpenVPNConnector, OpenVPNOptions

PLUGINS = "/usr/lib/x86_64-linux-gnu/openvpn/plugins"


def authentication(tmp_path: Path, text: str, **extra: Any) -> dict[str, Any]:
    conf = tmp_path / "server.conf"
    conf.write_text("dev tun\nserver 10.8.0.0 255.255.255.0\n" + text)
    (tmp_path / "pki").mkdir()
    (tmp_path / "pki" / "index.txt").touch()
    options = OpenVPNOptions.model_validate(
        {"type": "openvpn", "pki_dir": tmp_path / "pki", "server_conf": conf, **extra}
    )
    auth: dict[str, Any] = (
        OpenVPNConnector("vpn", options).collect().settings["vpn"]["authentication"]
    )
    return auth


@pytest.mark.parametrize(
    ("text", "method", "plugin"),
    [
        pytest.param(
            "plugin /usr/lib/openvpn/radiusplugin.so /etc/openvpn/radiusplugin.cnf\n",
            "radius",
            "/usr/lib/openvpn/radiusplugin.so",
            id="radiusplugin",
        ),
        pytest.param(
            'plugin /usr/lib/openvpn/openvpn-auth-ldap.so "/etc/openvpn/auth/ldap.conf"\n',
            "ldap",
            "/usr/lib/openvpn/openvpn-auth-ldap.so",
            id="openvpn-auth-ldap",
        ),
        pytest.param(
            f"plugin {PLUGINS}/openvpn-plugin-auth-pam.so openvpn\n",
            "pam",
            f"{PLUGINS}/openvpn-plugin-auth-pam.so",
            id="auth-pam",
        ),
        pytest.param(
            "script-security 2\nauth-user-pass-verify /etc/openvpn/check-okta.py via-file\n",
            "script",
            "/etc/openvpn/check-okta.py",
            id="auth-user-pass-verify",
        ),
        pytest.param("", "certificate", None, id="certificate-only"),
        pytest.param("secret /etc/openvpn/static.key\n", "key", None, id="static-key"),
        pytest.param(
            "verify-client-cert none\nmanagement-client-auth\n",
            "management",
            None,
            id="management-client-auth",
        ),
        pytest.param(
            f"plugin {PLUGINS}/openvpn-plugin-down-root.so 'service openvpn stop'\n",
            "certificate",
            None,
            id="down-root-is-not-a-password-check",
        ),
    ],
)
def test_the_password_check_is_recorded(
    tmp_path: Path, text: str, method: str, plugin: str | None
) -> None:
    auth = authentication(tmp_path, text)

    assert (auth["method"], auth["plugin"]) == (method, plugin)
    assert "methods" not in auth
    assert auth["mfa_from"] is None


def test_several_checks_are_all_listed_the_first_leading(tmp_path: Path) -> None:
    auth = authentication(
        tmp_path,
        f"plugin {PLUGINS}/openvpn-plugin-auth-pam.so openvpn\n"
        "plugin /usr/lib/openvpn/radiusplugin.so /etc/openvpn/radiusplugin.cnf\n",
    )

    assert auth["method"] == "pam"
    assert auth["methods"] == ["pam", "radius"]


def test_the_identity_provider_whose_factors_decide_is_recorded(tmp_path: Path) -> None:
    auth = authentication(
        tmp_path,
        "plugin /usr/lib/openvpn/radiusplugin.so /etc/openvpn/radiusplugin.cnf\n",
        mfa_from="okta",
    )

    assert auth["mfa_from"] == "okta"
    assert auth["password"] == "RADIUS plugin (radiusplugin.so)"


def test_without_server_conf_only_the_certificate_is_known(tmp_path: Path) -> None:
    (tmp_path / "index.txt").touch()
    options = OpenVPNOptions.model_validate(
        {"type": "openvpn", "pki_dir": tmp_path, "mfa_from": "entra"}
    )

    auth = OpenVPNConnector("vpn", options).collect().settings["vpn"]["authentication"]

    assert (auth["method"], auth["plugin"], auth["mfa_from"]) == ("certificate", None, "entra")
