"""The "first run" examples of the LDAP settings guide, loaded as written (only the hosts
swapped for the test's slapd) and collected: AD over LDAPS with a private CA and a second
domain controller to fail over to, and OpenLDAP with StartTLS."""

from __future__ import annotations

import shutil
import socket
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from iam_gov.configtypes import BASE_DIR_KEY
from iam_gov.connectors.ldap.connector import LDAPConnector, LDAPOptions
from tests.support.slapd import AD_BASE, AD_NOW, SERVICE_PASSWORD, ThrowawaySlapd, seeded_slapd

AD_OVER_LDAPS = """
[systems.ad]
type = "ldap"
flavor = "ad"
mode = "live"
url = ["ldaps://dc1.corp.example.com", "ldaps://dc2.corp.example.com"]
ca_file = "certs/corp-root-ca.pem"
bind_dn = "CN=svc-iam-gov,OU=Service Accounts,DC=corp,DC=example,DC=com"
bind_password = { env = "IAM_GOV_AD_PASSWORD" }
base_dn = "DC=corp,DC=example,DC=com"
"""

OPENLDAP = """
[systems.ldap]
type = "ldap"
flavor = "openldap"
mode = "live"
url = "ldap://ldap.example.org"
start_tls = true
ca_file = "certs/ldap-ca.pem"
bind_dn = "cn=iam-gov,dc=example,dc=org"
bind_password = { env = "IAM_GOV_LDAP_PASSWORD" }
base_dn = "dc=example,dc=org"
user_base = "ou=people"
group_base = "ou=groups"
"""


@pytest.fixture(scope="module")
def slapd() -> Iterator[ThrowawaySlapd]:
    with seeded_slapd() as server:
        yield server


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _load(text: str, folder: Path) -> LDAPOptions:
    (raw,) = tomllib.loads(text)["systems"].values()
    return LDAPOptions.model_validate(raw, context={BASE_DIR_KEY: folder})


def test_ad_over_ldaps_with_a_private_ca(
    slapd: ThrowawaySlapd, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "certs").mkdir()
    shutil.copy(slapd.ca_file, tmp_path / "certs" / "corp-root-ca.pem")
    monkeypatch.setenv("IAM_GOV_AD_PASSWORD", SERVICE_PASSWORD)
    text = (
        AD_OVER_LDAPS.replace("ldaps://dc1.corp.example.com", f"ldaps://localhost:{_closed_port()}")
        .replace("ldaps://dc2.corp.example.com", slapd.ldaps_url)
        # slapd binds DNs only; AD takes the DN or the user principal name.
        .replace("CN=svc-iam-gov,OU=Service Accounts,", "cn=iam-gov,")
    )

    snapshot = LDAPConnector("ad", _load(text, tmp_path), clock=lambda: AD_NOW).collect()

    assert snapshot.complete, snapshot.errors
    assert {"jdoe", "Administrator"} <= {a.login for a in snapshot.accounts}
    assert AD_BASE.lower() in snapshot.accounts[0].attributes["dn"].lower()


def test_openldap_with_start_tls(
    slapd: ThrowawaySlapd, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "certs").mkdir()
    shutil.copy(slapd.ca_file, tmp_path / "certs" / "ldap-ca.pem")
    monkeypatch.setenv("IAM_GOV_LDAP_PASSWORD", SERVICE_PASSWORD)
    # The certificate names localhost: the URL must too, as a real one names the server.
    text = OPENLDAP.replace("ldap://ldap.example.org", f"ldap://localhost:{slapd.port}")

    snapshot = LDAPConnector("ldap", _load(text, tmp_path), clock=lambda: AD_NOW).collect()

    assert snapshot.complete, snapshot.errors
    assert snapshot.accounts and snapshot.entitlements and snapshot.grants
