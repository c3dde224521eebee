"""LDAP connector against a real slapd (OpenLDAP flavor): accounts, nested groups, paging,
TLS, failover, partial failures, the same model from an ldapsearch export, and secrets."""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from iam_gov.connectors import connector_class
from iam_gov.connectors.ldap.connector import LDAPConnector, LDAPOptions
from iam_gov.errors import ConnectorError
from iam_gov.model import Account, AccountStatus, CredentialKind, SystemSnapshot
from tests.support.slapd import (
    LONG_DESCRIPTION,
    NASTY,
    OPENLDAP_BASE,
    PASSWORD_ENV,
    SERVICE_PASSWORD,
    Operation,
    ThrowawaySlapd,
    admin,
    declared,
    free_port,
    ldapsearch,
    live_options,
    person_dn,
    seeded_slapd,
    used_permissions,
)

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

# The export command the README gives, for the OpenLDAP flavor.
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


@pytest.fixture(scope="module")
def slapd() -> Iterator[ThrowawaySlapd]:
    with seeded_slapd() as server:
        yield server


def collect(slapd: ThrowawaySlapd, **extra: Any) -> SystemSnapshot:
    return LDAPConnector("ldap", live_options(slapd, **extra), clock=lambda: NOW).collect()


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


def _user_searches(operations: list[Operation]) -> list[Operation]:
    return [op for op in operations if op.kind == "SRCH" and "person" in op.filter]


def test_searches_are_paged(slapd: ThrowawaySlapd) -> None:
    mark = slapd.log_mark()
    paged = collect(slapd, page_size=3)
    pages = len(_user_searches(slapd.operations_since(mark)))

    mark = slapd.log_mark()
    whole = collect(slapd, page_size=1000)
    assert len(_user_searches(slapd.operations_since(mark))) == 2  # users, then password holders

    users, holders = len(paged.accounts), len(paged.credentials)
    assert (users, holders) == (15, 14)
    # Two paged searches, users and the users with a password, 3 entries a page.
    assert pages == math.ceil(users / 3) + math.ceil(holders / 3)
    assert paged == whole


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


def test_starttls_and_ldaps_verify_the_server_certificate(slapd: ThrowawaySlapd) -> None:
    start_tls = collect(
        slapd, url=f"ldap://localhost:{slapd.port}", start_tls=True, ca_file=slapd.ca_file
    )
    ldaps = collect(slapd, url=slapd.ldaps_url, ca_file=slapd.ca_file)
    plain = collect(slapd)

    assert start_tls.complete and ldaps.complete
    assert start_tls == plain and ldaps == plain
    # Without our CA the system's trust store does not know the server: refused.
    with pytest.raises(ConnectorError) as refused:
        collect(slapd, url=slapd.ldaps_url)
    assert str(refused.value) == (
        f"ldap: cannot connect to the directory: {slapd.ldaps_url}: TLS: the server's "
        "certificate is not trusted (self-signed certificate in certificate chain); give "
        "ca_file, the CA certificate that issued it"
    )
    # The certificate names localhost only: the same server by address is refused.
    address = f"ldap://127.0.0.1:{slapd.port}"
    with pytest.raises(ConnectorError) as refused:
        collect(slapd, url=address, start_tls=True, ca_file=slapd.ca_file)
    assert str(refused.value).endswith(
        f"{address}: TLS: the server's certificate is for localhost, not 127.0.0.1"
    )


def test_a_missing_ca_file_is_one_clear_error(slapd: ThrowawaySlapd, tmp_path: Path) -> None:
    missing = tmp_path / "corp-ca.pem"

    with pytest.raises(ConnectorError) as raised:
        collect(slapd, url=slapd.ldaps_url, ca_file=missing)

    assert str(raised.value) == (
        f"ldap: ca_file {missing} is not a readable file of PEM certificates"
    )


def test_tls_verify_false_warns_loudly(
    slapd: ThrowawaySlapd, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="iam_gov.connectors.ldap.connector"):
        snapshot = collect(slapd, url=slapd.ldaps_url, tls_verify=False)

    assert "NOT verified" in caplog.text
    assert snapshot.complete  # the data is all there; the warning stays with it
    assert [e.message for e in snapshot.errors] == [
        "tls_verify = false: the server's certificate was not verified"
    ]


def test_fails_over_to_the_next_url(slapd: ThrowawaySlapd) -> None:
    dead = f"ldap://127.0.0.1:{free_port()}"

    snapshot = collect(slapd, url=[dead, slapd.url], timeout=2)

    assert snapshot.complete and len(snapshot.accounts) == 15


def test_no_server_answering_is_one_clear_error(slapd: ThrowawaySlapd) -> None:
    dead = [f"ldap://127.0.0.1:{free_port()}", f"ldap://127.0.0.1:{free_port()}"]

    with pytest.raises(ConnectorError) as raised:
        collect(slapd, url=dead, timeout=2)

    message = str(raised.value)
    assert message.startswith("ldap: cannot connect to the directory: ")
    assert dead[0] in message and dead[1] in message and "\n" not in message


def test_a_refused_password_is_not_retried_nor_shown(
    slapd: ThrowawaySlapd, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = "Wr0ng-but-Secret!"
    monkeypatch.setenv(PASSWORD_ENV, wrong)
    mark = slapd.log_mark()

    with pytest.raises(ConnectorError) as raised:
        collect(slapd, url=[slapd.url, slapd.url])

    message = str(raised.value)
    assert "refused the bind as cn=iam-gov,dc=example,dc=org: invalidCredentials" in message
    assert wrong not in message and wrong not in repr(raised.value)
    binds = [op for op in slapd.operations_since(mark) if op.kind == "BIND"]
    assert len(binds) == 1  # the second server would refuse it too, and count a failure


def test_secrets_stay_out_of_reprs_and_snapshots(slapd: ThrowawaySlapd) -> None:
    options = live_options(slapd)
    connector = LDAPConnector("ldap", options)
    snapshot = connector.collect()

    dumped = snapshot.model_dump_json()
    for text in (repr(connector), repr(options), str(options), dumped):
        assert SERVICE_PASSWORD not in text
    # The users' own passwords (or their hashes) are never read.
    assert "Passw0rd" not in dumped and "SSHA" not in dumped


def test_a_search_cut_short_leaves_an_incomplete_snapshot(slapd: ThrowawaySlapd) -> None:
    # slapd lets cn=limited read 4 entries per paged search (limits size.prtotal=4).
    snapshot = collect(slapd, bind_dn=f"cn=limited,{OPENLDAP_BASE}", page_size=2)

    assert not snapshot.complete
    users_error = next(e for e in snapshot.errors if "for users under" in e.message)
    assert users_error.source == slapd.url
    assert re.search(r"stopped after 4 entries: sizeLimitExceeded", users_error.message)
    assert len(snapshot.accounts) == 4  # what was read is kept, marked incomplete


def test_a_missing_base_is_an_error_not_an_empty_directory(slapd: ThrowawaySlapd) -> None:
    snapshot = collect(slapd, group_base="ou=nowhere")

    assert not snapshot.complete
    (error,) = snapshot.errors
    assert error.record == f"ou=nowhere,{OPENLDAP_BASE}"
    assert "for groups under" in error.message and "noSuchObject" in error.message
    assert len(snapshot.accounts) == 15 and snapshot.grants == ()


def test_custom_bases_and_filters(slapd: ThrowawaySlapd) -> None:
    snapshot = collect(
        slapd,
        user_base=f"ou=people,{OPENLDAP_BASE}",
        group_base="ou=groups",
        user_filter="(&(objectClass=inetOrgPerson)(mail=*))",
        group_filter="(objectClass=groupOfNames)",
        login_attribute="mail",
        employee_id_attribute="uid",
    )

    assert snapshot.complete, snapshot.errors
    logins = {a.login: a.employee_id for a in snapshot.accounts}
    assert logins == {
        "alice@example.org": "alice",
        "bob@example.org": "bob",
        "carol@example.org": "carol",
        "nasty@example.org": NASTY.replace("\x00", "\ufffd"),
    }
    assert "everyone" not in {e.name for e in snapshot.entitlements}


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


def used_with_policy(operations: list[Operation]) -> set[str]:
    """used_permissions, with the search for the ppolicy entry counted as on a policy
    (used_permissions knows users and groups only)."""
    policy = [op for op in operations if op.kind == "SRCH" and "pwdPolicy" in op.filter]
    used = used_permissions([op for op in operations if op not in policy], "openldap")
    for op in policy:
        used |= {p.replace(":user/", ":policy/") for p in used_permissions([op], "openldap")}
    return used


def test_collect_uses_exactly_the_declared_permissions(slapd: ThrowawaySlapd) -> None:
    mark = slapd.log_mark()
    collect(slapd, page_size=5)

    used = used_with_policy(slapd.operations_since(mark))
    assert "openldap:read:policy/pwdMaxFailure" in used
    assert used == declared(LDAPConnector.permissions.collect, "openldap")
    assert not any(":write:" in p for p in LDAPConnector.permissions.collect)


def test_the_password_policy_by_its_dn_and_when_it_is_not_there(slapd: ThrowawaySlapd) -> None:
    named = collect(slapd, password_policy_dn=f"cn=default,ou=policies,{OPENLDAP_BASE}")
    assert named.settings == collect(slapd).settings and named.errors == ()

    missing = f"cn=strict,ou=policies,{OPENLDAP_BASE}"
    snapshot = collect(slapd, password_policy_dn=missing)

    assert snapshot.complete  # the access data is all there; only the policy is unknown
    assert "password_policy" not in snapshot.settings
    (note,) = snapshot.errors
    assert (note.record, note.message) == (
        missing,
        "no pwdPolicy entry at " + missing + ": the password policy is not judged",
    )


def test_a_password_policy_that_cannot_be_read_is_said(slapd: ThrowawaySlapd) -> None:
    snapshot = collect(slapd, password_policy_dn="not a DN")

    assert snapshot.complete and "password_policy" not in snapshot.settings
    (note,) = snapshot.errors
    assert (note.source, note.record) == (slapd.url, "not a DN")
    assert note.message.startswith("the password policy could not be read (invalidDNSyntax")
    assert note.message.endswith("); it is not judged")
