"""Reading a live slapd (OpenLDAP flavor): searches cut short or under a missing base, custom
bases and filters, the password policy, and exactly the declared permissions used."""

from __future__ import annotations

import re

from iam_gov.connectors.ldap.connector import LDAPConnector
from tests.support.slapd import (
    NASTY,
    OPENLDAP_BASE,
    Operation,
    ThrowawaySlapd,
    declared,
    used_permissions,
)

from .conftest import collect


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
