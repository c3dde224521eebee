"""LDAP connector against a real slapd (OpenLDAP flavor): accounts, nested groups, the same
model from an ldapsearch export, secrets, and the options checked."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from iam_gov.connectors import connector_class
from iam_gov.connectors.ldap.connector import LDAPConnector, LDAPOptions
from iam_gov.model import Account, AccountStatus, CredentialKind, SystemSnapshot
from tests.support.slapd import (
    LONG_DESCRIPTION,
    NASTY,
    OPENLDAP_BASE,
    SERVICE_PASSWORD,
    ThrowawaySlapd,
    admin,
    ldapsearch,
    live_options,
    person_dn,
)

from .conftest import NOW, collect

OPENLDAP_EXPORT_FILTER = (
    "(|(objectClass=person)(objectClass=posixAccount)(objectClass=groupOfNames)"
    "(objectClass=groupOfUniqueNames)(objectClass=posixGroup)(objectClass=pwdPolicy))"
)

OPENLDAP_EXPORT_ATTRIBUTES = [
    "objectClass",
    "entryUUID",
    "uid",
    "mail",
    "displayName",
    "cn",
    "employeeNumber",
    "createTimestamp",
    "pwdAccountLockedTime",
    "pwdLastSuccess",
    "pwdChangedTime",
    "pwdReset",
    "userPassword",
    "member",
    "uniqueMember",
    "memberUid",
    "description",
    "owner",
    "pwdAttribute",
    "pwdMinLength",
    "pwdCheckQuality",
    "pwdInHistory",
    "pwdMaxAge",
    "pwdLockout",
    "pwdMaxFailure",
    "pwdCheckModule",
    "pwdUseCheckModule",
]


def by_login(snapshot: SystemSnapshot) -> dict[str, Account]:
    return {a.login: a for a in snapshot.accounts}


def group_names(snapshot: SystemSnapshot) -> dict[str, str]:
    return {e.entitlement_id: e.name for e in snapshot.entitlements}


def grants_of(snapshot: SystemSnapshot, login: str) -> set[tuple[str, str | None]]:
    account = by_login(snapshot)[login]
    names = group_names(snapshot)
    return {
        (names[g.entitlement_id], names[g.via] if g.via else None)
        for g in snapshot.grants
        if g.account_id == account.native_id
    }


def entry_uuid(slapd: ThrowawaySlapd, dn: str) -> str:
    conn = admin(slapd, OPENLDAP_BASE)
    conn.search(dn, "(objectClass=*)", search_scope="BASE", attributes=["entryUUID"])
    value: str = conn.response[0]["raw_attributes"]["entryUUID"][0].decode()
    conn.unbind()
    return value


def test_registered_under_its_type_name() -> None:
    assert connector_class("ldap") is LDAPConnector


def test_users_become_accounts_with_their_ppolicy_state(slapd: ThrowawaySlapd) -> None:
    snapshot = collect(slapd)

    assert snapshot.complete, snapshot.errors
    assert (snapshot.system, snapshot.connector, snapshot.source) == ("ldap", "ldap", "live")
    assert snapshot.collected_at == NOW
    # The default ppolicy (cn=default,ou=policies) locks after 5 failures and asks for
    # nothing else: no quality checking, no history, no expiry, no check module.
    assert snapshot.settings == {
        "flavor": "openldap",
        "password_policy": {
            "source": "openldap-ppolicy",
            "dn": f"cn=default,ou=policies,{OPENLDAP_BASE}",
            "min_length": 0,
            "history": 0,
            "max_age_days": None,
            "lockout_threshold": 5,
            "complexity": False,
        },
    }
    accounts = by_login(snapshot)
    alice = accounts["alice"]
    assert alice.native_id == entry_uuid(slapd, person_dn("alice"))
    assert (alice.email, alice.display_name, alice.employee_id) == (
        "alice@example.org",
        "Alice Archer",
        "E001",
    )
    assert alice.status is AccountStatus.ACTIVE and alice.mfa_factors is None
    assert alice.attributes["dn"] == person_dn("alice")
    assert alice.created_at is not None
    assert alice.last_login_at is not None  # she bound once: pwdLastSuccess
    assert accounts["carol"].last_login_at is None
    assert accounts["carol"].display_name == "Carol Cook"  # no displayName: the cn

    # An administrator's lock holds; a lockout after failed binds ends by itself.
    assert accounts["bob"].status is AccountStatus.LOCKED
    assert accounts["bob"].attributes["pwd_account_locked_time"] == "000001010000Z"
    assert accounts["carol"].status is AccountStatus.ACTIVE
    assert accounts["carol"].attributes["locked_out"] == "true"

    passwords = {c.account_id: c for c in snapshot.credentials}
    assert all(c.kind is CredentialKind.PASSWORD for c in passwords.values())
    assert passwords[alice.native_id].credential_id == f"{alice.native_id}#password"
    assert passwords[alice.native_id].active
    assert passwords[alice.native_id].last_used_at == alice.last_login_at
    assert not passwords[accounts["bob"].native_id].active
    assert accounts["dave"].native_id not in passwords  # no userPassword at all
    assert NASTY.replace("\x00", "\ufffd") in accounts  # NUL is not kept in text


def test_nested_groups_name_the_users_own_group_as_via(slapd: ThrowawaySlapd) -> None:
    snapshot = collect(slapd)

    assert grants_of(snapshot, "carol") == {
        ("sre", None),
        ("platform", "sre"),
        ("ldap-admins", "sre"),
    }
    assert grants_of(snapshot, "alice") == {
        ("platform", None),
        ("ldap-admins", "platform"),
        ("everyone", None),  # groupOfUniqueNames
        ("developers", None),  # posixGroup memberUid
    }
    # A uniqueMember with its optional uid, and a cycle of groups.
    assert grants_of(snapshot, "bob") == {
        ("everyone", None),
        ("loop-a", None),
        ("loop-b", "loop-a"),
    }
    assert grants_of(snapshot, "dave") == {("developers", None)}
    ldap_admins = next(e for e in snapshot.entitlements if e.name == "ldap-admins")
    assert (ldap_admins.kind, ldap_admins.ref) == ("group", "group:ldap-admins")
    assert ldap_admins.description == LONG_DESCRIPTION
    assert ldap_admins.entitlement_id == entry_uuid(
        slapd, f"cn=ldap-admins,ou=groups,{OPENLDAP_BASE}"
    )


def test_privileged_groups_by_name_or_dn_pattern_and_what_nests_in_them(
    slapd: ThrowawaySlapd,
) -> None:
    snapshot = collect(
        slapd, privileged_groups=["LDAP-Admins", f"cn=loop-*,ou=groups,{OPENLDAP_BASE}"]
    )

    privileged = {e.name for e in snapshot.entitlements if e.privileged}
    # platform and sre are nested in ldap-admins: whoever holds them holds it.
    assert privileged == {"ldap-admins", "platform", "sre", "loop-a", "loop-b"}
    assert not any(e.privileged for e in collect(slapd).entitlements)


def test_live_and_an_ldapsearch_export_give_the_same_model(
    slapd: ThrowawaySlapd, tmp_path: Path
) -> None:
    ldif = ldapsearch(
        slapd,
        "openldap",
        tmp_path / "directory.ldif",
        OPENLDAP_EXPORT_FILTER,
        OPENLDAP_EXPORT_ATTRIBUTES,
    )
    text = ldif.read_text()
    assert "\n " in text and "::" in text  # folded lines, base64 values (NASTY)
    options = LDAPOptions.model_validate(
        {
            "type": "ldap",
            "flavor": "openldap",
            "mode": "export",
            "path": ldif,
            "exported_at": NOW.isoformat(),
        }
    )

    exported = LDAPConnector("ldap", options).collect()
    live = collect(slapd, page_size=4)

    assert exported.complete and exported.errors == (), exported.errors
    assert exported.source == "export:directory.ldif" and exported.collected_at == NOW
    exclude = {"source", "collected_at"}
    assert exported.model_dump(exclude=exclude) == live.model_dump(exclude=exclude)


def test_secrets_stay_out_of_reprs_and_snapshots(slapd: ThrowawaySlapd) -> None:
    options = live_options(slapd)
    connector = LDAPConnector("ldap", options)
    snapshot = connector.collect()

    dumped = snapshot.model_dump_json()
    for text in (repr(connector), repr(options), str(options), dumped):
        assert SERVICE_PASSWORD not in text
    # The users' own passwords (or their hashes) are never read.
    assert "Passw0rd" not in dumped and "SSHA" not in dumped


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        ({"url": None}, 'mode = "live" needs url'),
        ({"url": "http://dc1"}, "is not an ldap:// or ldaps:// URL"),
        ({"url": "ldap://dc1/dc=example,dc=org"}, "give the server only"),
        ({"url": "ldaps://dc1", "start_tls": True}, "ldaps:// is TLS already"),
        ({"user_filter": "objectClass=user"}, "is not an LDAP filter"),
        ({"group_filter": "(&(objectClass=group)"}, "is not an LDAP filter"),
        ({"page_size": 5000}, "less than or equal to 1000"),
        ({"login_attribute": "uid)(x=*"}, "should match pattern"),
        ({"path": "x.ldif"}, 'path only apply to mode = "export"'),
        ({"bind_password": "plain"}, "bind_password"),
    ],
)
def test_options_are_checked(extra: dict[str, Any], problem: str) -> None:
    raw = {
        "type": "ldap",
        "flavor": "openldap",
        "mode": "live",
        "url": "ldaps://ldap.example.org",
        "bind_dn": "cn=iam-gov,dc=example,dc=org",
        "bind_password": {"env": "LDAP_PASSWORD"},
        "base_dn": "dc=example,dc=org",
    }
    raw.update(extra)
    raw = {k: v for k, v in raw.items() if v is not None}
    with pytest.raises(ValueError, match=re.escape(problem)):
        LDAPOptions.model_validate(raw)


def test_export_mode_options() -> None:
    with pytest.raises(ValueError, match='mode = "export" needs path'):
        LDAPOptions.model_validate({"type": "ldap", "flavor": "ad", "mode": "export"})
    with pytest.raises(ValueError, match='url, bind_dn only apply to mode = "live"'):
        LDAPOptions.model_validate(
            {
                "type": "ldap",
                "flavor": "ad",
                "mode": "export",
                "path": "x.ldf",
                "url": "ldaps://dc1",
                "bind_dn": "x",
            }
        )
