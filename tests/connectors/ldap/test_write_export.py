"""``iam-gov export`` for LDAP against a real slapd: the LDIF written from the live directory
reads back (export mode) into the snapshot the live collect gives, for OpenLDAP and the
AD-shaped directory; what ldapsearch itself writes; a search cut short; no secret written."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import tests.support.slapd as slapd_support
from iam_gov.configtypes import BASE_DIR_KEY
from iam_gov.connectors.ldap.connector import EXPORT_PERMISSIONS, LDAPConnector, LDAPOptions
from iam_gov.connectors.ldap.export import read_ldif
from iam_gov.connectors.ldap.write_export import LDIF_NAME
from iam_gov.connectors.shared.export_folder import prepare_out, write_options
from iam_gov.connectors.shared.protocol import ExportNotSupported, ExportWritten
from iam_gov.model import SystemSnapshot
from tests.support.slapd import (
    AD_BASE,
    AD_NOW,
    ADMIN_PASSWORD,
    OPENLDAP_BASE,
    PASSWORD_ENV,
    SERVICE_PASSWORD,
    ThrowawaySlapd,
    admin,
    declared,
    ldapsearch,
    live_options,
    seeded_slapd,
    used_permissions,
)

from .conftest import NOW
from .test_ad import DOMAIN_SCHEMA, FORTY_TWO_DAYS

CLOCKS = {"openldap": NOW, "ad": AD_NOW}
SAME = {"source", "collected_at"}
"""What may differ between a live collect and its export read back: where it came from."""


@pytest.fixture(scope="module")
def slapd() -> Iterator[ThrowawaySlapd]:
    """Both directories, AD's with its domain object carrying the password policy (as in
    test_ad), so that both flavors' policies go through the export too."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(slapd_support, "AD_SCHEMA", slapd_support.AD_SCHEMA + DOMAIN_SCHEMA)
        with seeded_slapd() as server:
            conn = admin(server, AD_BASE)
            conn.modify(
                AD_BASE,
                {
                    "objectClass": [("MODIFY_ADD", ["domainDNS"])],
                    "minPwdLength": [("MODIFY_ADD", ["7"])],
                    "pwdHistoryLength": [("MODIFY_ADD", ["24"])],
                    "maxPwdAge": [("MODIFY_ADD", [FORTY_TWO_DAYS])],
                    "lockoutThreshold": [("MODIFY_ADD", ["0"])],
                    "pwdProperties": [("MODIFY_ADD", ["1"])],
                },
            )
            conn.unbind()
            yield server


def live(slapd: ThrowawaySlapd, flavor: str, **extra: Any) -> LDAPConnector:
    options = live_options(slapd, flavor, **extra)
    return LDAPConnector(flavor, options, clock=lambda: CLOCKS[flavor])


def read_back(folder: Path, system: str, written: ExportWritten) -> LDAPConnector:
    """The connector the written ``iam-gov-export.toml`` configures, paths relative to it."""
    options_file = write_options(folder, system, written.options)
    table = tomllib.loads(options_file.read_text())["systems"][system]
    options = LDAPOptions.model_validate(table, context={BASE_DIR_KEY: folder})
    return LDAPConnector(system, options)


def dump(snapshot: SystemSnapshot) -> dict[str, Any]:
    return snapshot.model_dump(exclude=SAME)


@pytest.mark.parametrize("flavor", ["openldap", "ad"])
def test_the_export_reads_back_into_the_live_snapshot(
    slapd: ThrowawaySlapd, tmp_path: Path, flavor: str
) -> None:
    folder = prepare_out(tmp_path / "out")
    connector = live(slapd, flavor, page_size=4)

    written = connector.write_export(folder)
    snapshot = connector.collect()
    exported = read_back(folder, flavor, written).collect()

    assert written.problems == ()
    assert written.files == (Path(LDIF_NAME),)
    assert snapshot.complete and snapshot.errors == (), snapshot.errors
    assert exported.complete and exported.errors == (), exported.errors
    # Every account, entitlement, grant, credential and setting (the password policy too).
    assert dump(exported) == dump(snapshot)
    assert exported.collected_at == snapshot.collected_at == CLOCKS[flavor]
    assert exported.source == f"export:{LDIF_NAME}"
    assert "password_policy" in exported.settings
    text = (folder / LDIF_NAME).read_text()
    # Folded as ldapsearch folds (its comments are not).
    assert all(len(line) <= 78 for line in text.splitlines() if not line.startswith("#"))
    if flavor == "openldap":
        assert "\n " in text  # folded: the long description of ldap-admins
    assert ":: " in text  # base64: NASTY's NUL, binary GUIDs and SIDs


def test_an_openldap_password_shows_as_a_name_without_a_value(
    slapd: ThrowawaySlapd, tmp_path: Path
) -> None:
    live(slapd, "openldap").write_export(tmp_path)
    entries = {e.text("uid"): e for e in read_ldif(tmp_path / LDIF_NAME).entries}

    assert entries["alice"].values("userPassword") == (b"",)  # as ldapsearch -A shows it
    assert entries["dave"].values("userPassword") == ()  # dave has none
    assert "userPassword:" in (tmp_path / LDIF_NAME).read_text().splitlines()


@pytest.mark.parametrize("flavor", ["openldap", "ad"])
def test_entries_are_what_ldapsearch_writes(
    slapd: ThrowawaySlapd, tmp_path: Path, flavor: str
) -> None:
    """Each written entry parses to what ldapsearch -LLL prints for the same search and
    attributes (read as the administrator, whose view differs only in userPassword)."""
    connector = live(slapd, flavor)
    connector.write_export(tmp_path)
    ours = read_ldif(tmp_path / LDIF_NAME).entries
    scope = connector.scope()
    searches = [
        (scope.user_filter, ["objectClass", *scope.flavor.user_attributes()]),
        (scope.group_filter, ["objectClass", *scope.flavor.group_attributes()]),
    ]
    theirs = []
    for number, (search_filter, attributes) in enumerate(searches):
        out = tmp_path / f"ldapsearch-{number}.ldif"
        theirs += read_ldif(ldapsearch(slapd, flavor, out, search_filter, attributes)).entries

    def comparable(entries: list[Any]) -> dict[str, dict[str, tuple[bytes, ...]]]:
        return {
            e.dn: {k: v for k, v in e.attributes.items() if k != "userpassword"} for e in entries
        }

    policies = ("pwdAttribute", "minPwdLength")
    users_and_groups = [
        e
        for e in ours
        if not any(e.has(name) for name in policies)
        and "msDS-PasswordSettingsContainer" not in e.texts("objectClass")
    ]
    assert comparable(users_and_groups) == comparable(theirs)


def test_a_search_cut_short_is_a_problem_and_reads_back_incomplete(
    slapd: ThrowawaySlapd, tmp_path: Path
) -> None:
    # slapd lets cn=limited read 4 entries per paged search (limits size.prtotal=4).
    connector = live(slapd, "openldap", bind_dn=f"cn=limited,{OPENLDAP_BASE}", page_size=2)

    written = connector.write_export(tmp_path)
    snapshot = connector.collect()
    exported = read_back(tmp_path, "openldap", written).collect()

    assert any(
        "the search for users under" in p and "stopped after 4 entries" in p
        for p in written.problems
    )
    assert "result: 4 sizeLimitExceeded" in (tmp_path / LDIF_NAME).read_text()
    assert not snapshot.complete and not exported.complete
    assert any("the export is cut short" in e.message for e in exported.errors)
    # What was read is kept the same: only the notes on what is missing are worded apart.
    assert exported.accounts == snapshot.accounts
    assert exported.credentials == snapshot.credentials
    assert exported.grants == snapshot.grants


def test_no_secret_is_written(
    slapd: ThrowawaySlapd, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Bound as the administrator, who may read every password hash: still none is written.
    monkeypatch.setenv(PASSWORD_ENV, ADMIN_PASSWORD)
    connector = live(slapd, "openldap", bind_dn=f"cn=admin,{OPENLDAP_BASE}")

    written = connector.write_export(tmp_path)
    write_options(tmp_path, "openldap", written.options)

    assert not set(written.options) & {"bind_dn", "bind_password", "url"}
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(files) == 2
    for path in files:
        data = path.read_bytes()
        for secret in (ADMIN_PASSWORD, SERVICE_PASSWORD, "Passw0rd!", "UGFzc3cwcmQh", "SSHA"):
            assert secret.encode() not in data, (path, secret)
        assert b"userPassword::" not in data and b"userPassword: " not in data


@pytest.mark.parametrize("flavor", ["openldap", "ad"])
def test_the_export_uses_exactly_its_declared_permissions(
    slapd: ThrowawaySlapd, tmp_path: Path, flavor: str
) -> None:
    mark = slapd.log_mark()
    live(slapd, flavor, page_size=5).write_export(tmp_path)

    operations = slapd.operations_since(mark)
    # used_permissions knows users and groups only: the policy's search is counted apart.
    marker, kind = ("pwdPolicy", "policy") if flavor == "openldap" else ("domainDNS", "domain")
    policy = [op for op in operations if op.kind == "SRCH" and marker in op.filter]
    psos = [op for op in operations if op.kind == "SRCH" and "msDS-Password" in op.filter]
    used = used_permissions([op for op in operations if op not in policy + psos], flavor)
    for ops, counted in ((policy, kind), (psos, "pso")):
        for op in ops:
            used |= {p.replace(":user/", f":{counted}/") for p in used_permissions([op], flavor)}
    assert f"{flavor}:read:user/objectClass" in used
    assert used == declared(EXPORT_PERMISSIONS, flavor)


def test_an_export_cannot_be_exported(tmp_path: Path) -> None:
    options = LDAPOptions.model_validate(
        {"type": "ldap", "flavor": "openldap", "mode": "export", "path": "x.ldif"}
    )

    with pytest.raises(ExportNotSupported, match="already reads an export"):
        LDAPConnector("ldap", options).write_export(tmp_path)
