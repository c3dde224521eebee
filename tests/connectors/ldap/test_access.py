"""`config check --connect` for LDAP against slapd: the bind, then one sizeLimit=1 search per
permission; an attribute the ACLs hide told from one nobody has, a container the credential
may not see, a refused bind or a dead server one clear error."""

from __future__ import annotations

from pathlib import Path

import pytest

from iam_gov.connectors.ldap.connector import COLLECT_PERMISSIONS, LDAPConnector
from iam_gov.connectors.shared.protocol import AccessCheck
from iam_gov.errors import ConnectorError
from tests.support.connect_check import company_with_live, connect_check, table_rows
from tests.support.slapd import (
    AD_BASE,
    OPENLDAP_BASE,
    PASSWORD_ENV,
    SERVICE_PASSWORD,
    ThrowawaySlapd,
    free_port,
    live_options,
)

from .conftest import export


def check(slapd: ThrowawaySlapd, flavor: str, **extra: object) -> dict[str, AccessCheck]:
    connector = LDAPConnector("ldap", live_options(slapd, flavor, **extra))
    return {c.permission: c for c in connector.check_access()}


def declared(flavor: str) -> list[str]:
    return [p for p in COLLECT_PERMISSIONS if p.startswith((f"{flavor}:", "ldap:"))]


def refused(checks: dict[str, AccessCheck]) -> set[str]:
    return {p for p, c in checks.items() if c.ok is False}


@pytest.mark.parametrize("flavor", ["openldap", "ad"])
def test_the_collect_credential_is_granted_every_permission_of_its_flavor(
    slapd: ThrowawaySlapd, flavor: str
) -> None:
    checks = check(slapd, flavor)

    # Every declared permission of this flavor, in order; the other flavor's are not asked.
    assert list(checks) == declared(flavor)
    assert refused(checks) == set()
    assert checks["ldap:bind"].detail == f"bound to {slapd.url} as cn=iam-gov,{base(flavor)}"
    user_reads = [p for p in checks if f"{flavor}:read:user/" in p]
    # The seeded users have every attribute a collect reads but these: nobody has them.
    unset = {"openldap:read:user/pwdChangedTime", "openldap:read:user/pwdReset"}
    assert {p for p in user_reads if checks[p].ok is None} == (
        unset if flavor == "openldap" else set()
    )
    for permission in unset & set(checks):
        assert "(the ACLs do not hide it from filters)" in checks[permission].detail


def test_an_attribute_the_acls_hide_is_missing_and_how_it_was_told(
    slapd: ThrowawaySlapd,
) -> None:
    # slapd.py: cn=narrow may not search userPassword nor see employeeNumber, and may
    # search mail without reading it.
    checks = check(slapd, "openldap", bind_dn=f"cn=narrow,{OPENLDAP_BASE}")

    assert refused(checks) == {
        "openldap:search:user/userPassword",
        "openldap:read:user/employeeNumber",
        "openldap:read:user/mail",
    }
    assert (
        "(|(userPassword=*)(!(userPassword=*)))"
        in checks["openldap:search:user/userPassword"].detail
    )
    hidden = checks["openldap:read:user/employeeNumber"].detail
    assert hidden.startswith("hidden: no users matched (|(employeeNumber=*)(!(employeeNumber=*)))")
    assert checks["openldap:read:user/mail"].detail == (
        f"uid=alice,ou=people,{OPENLDAP_BASE} matches (mail=*) but came back without mail: "
        "the ACLs let the credential search it, not read it"
    )
    # Everything else it may read, as the collect credential may.
    assert checks["openldap:read:user/uid"].ok is True
    assert checks["openldap:read:group/member"].ok is True


def test_an_attribute_the_schema_lacks_is_not_concluded(slapd: ThrowawaySlapd) -> None:
    # This slapd's ppolicy schema predates pwdUseCheckModule.
    checks = check(slapd, "openldap")

    assert checks["openldap:read:policy/pwdUseCheckModule"] == AccessCheck(
        "openldap:read:policy/pwdUseCheckModule",
        None,
        "the server's schema has no pwdUseCheckModule: nothing to read",
    )


def test_ad_a_credential_that_may_not_see_the_pso_container_lacks_the_pso_permissions(
    slapd: ThrowawaySlapd,
) -> None:
    limited = check(slapd, "ad", bind_dn=f"cn=limited,{AD_BASE}")
    ours = check(slapd, "ad")

    pso = {p for p in declared("ad") if p.startswith("ad:") and ":pso/" in p}
    assert refused(limited) == pso
    assert (
        "is not there or the credential may not see it"
        in limited["ad:search:pso/objectClass"].detail
    )
    # The container is empty: seeing it proves the search, and there is no PSO to read.
    assert ours["ad:search:pso/objectClass"].ok is True
    assert {ours[p].ok for p in pso - {"ad:search:pso/objectClass"}} == {None}


def test_a_renamed_login_attribute_is_checked_under_its_own_name(slapd: ThrowawaySlapd) -> None:
    checks = check(slapd, "openldap", login_attribute="mail")

    assert "openldap:read:user/uid" not in checks
    assert checks["openldap:read:user/mail"].ok is True


def test_a_wrong_password_is_one_clear_error(
    slapd: ThrowawaySlapd, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASSWORD_ENV, "wrong")

    with pytest.raises(ConnectorError) as raised:
        LDAPConnector("ldap", live_options(slapd)).check_access()

    assert str(raised.value) == (
        f"ldap: {slapd.url} refused the bind as cn=iam-gov,{OPENLDAP_BASE}: invalidCredentials"
    )


def test_a_server_that_does_not_answer_is_one_clear_error(slapd: ThrowawaySlapd) -> None:
    options = live_options(slapd).model_copy(
        update={"url": (f"ldap://127.0.0.1:{free_port()}",), "timeout": 2.0}
    )

    with pytest.raises(ConnectorError, match="ldap: cannot connect to the directory: ldap://"):
        LDAPConnector("ldap", options).check_access()


def test_an_export_has_nothing_to_connect_to(tmp_path: Path) -> None:
    assert export(tmp_path, "").check_access() == []


# --- the command ------------------------------------------------------------------------------


def test_config_check_connect_names_the_missing_permissions_and_exits_4(
    slapd: ThrowawaySlapd, tmp_path: Path
) -> None:
    live_table = (
        f'[systems.ad]\ntype = "ldap"\nflavor = "ad"\nmode = "live"\nurl = "{slapd.url}"\n'
        f'bind_dn = "cn=limited,{AD_BASE}"\nbind_password = {{ env = "{PASSWORD_ENV}" }}\n'
        f'base_dn = "{AD_BASE}"\n\n'
    )
    config = company_with_live(tmp_path, "ad", live_table)

    ran = connect_check(config, "ad", tmp_path, {PASSWORD_ENV: SERVICE_PASSWORD})

    assert ran.returncode == 4, ran.stdout + ran.stderr
    rows = table_rows(ran.stdout, "ad")
    assert {p for p, result in rows.items() if result == "MISSING"} == {
        p for p in declared("ad") if ":pso/" in p
    }
    assert rows["ldap:bind"] == rows["ad:read:user/sAMAccountName"] == "granted"
    assert SERVICE_PASSWORD not in ran.stdout + ran.stderr


def base(flavor: str) -> str:
    return OPENLDAP_BASE if flavor == "openldap" else AD_BASE
