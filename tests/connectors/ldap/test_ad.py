"""LDAP connector, Active Directory flavor: userAccountControl, FILETIME, objectGUID and
objectSid, privileged groups by RID, nesting, primary and distribution groups; live against
an AD-shaped slapd directory, and from LDIF as ldifde writes it."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import tests.support.slapd as slapd_support
from iam_gov.connectors.ldap.connector import LDAPConnector, LDAPOptions
from iam_gov.connectors.ldap.entry import dn_key
from iam_gov.model import AccountKind, AccountStatus, SystemSnapshot
from tests.support.slapd import (
    AD_BASE,
    AD_NOW,
    DOMAIN_SID,
    NASTY_GUID,
    Operation,
    ThrowawaySlapd,
    admin,
    declared,
    filetime,
    guid,
    ldapsearch,
    live_options,
    seeded_slapd,
    sid_bytes,
    used_permissions,
)

# The export the README gives for AD (ldifde -l, or ldapsearch with the same list).
AD_EXPORT_FILTER = (
    "(|(&(objectCategory=person)(objectClass=user))(objectClass=group)(objectClass=domainDNS)"
    "(objectClass=msDS-PasswordSettingsContainer)(objectClass=msDS-PasswordSettings))"
)
AD_EXPORT_ATTRIBUTES = [
    "objectClass",
    "objectGUID",
    "objectSid",
    "sAMAccountName",
    "userPrincipalName",
    "mail",
    "displayName",
    "cn",
    "employeeID",
    "userAccountControl",
    "lockoutTime",
    "lastLogonTimestamp",
    "pwdLastSet",
    "accountExpires",
    "whenCreated",
    "adminCount",
    "primaryGroupID",
    "member",
    "groupType",
    "description",
    "managedBy",
    "minPwdLength",
    "pwdHistoryLength",
    "maxPwdAge",
    "lockoutThreshold",
    "pwdProperties",
    "msDS-PasswordSettingsPrecedence",
    "msDS-PSOAppliesTo",
    "msDS-MinimumPasswordLength",
    "msDS-PasswordHistoryLength",
    "msDS-PasswordComplexityEnabled",
    "msDS-MaximumPasswordAge",
    "msDS-LockoutThreshold",
]

# AD keeps the domain's password policy on the domain object (objectClass domainDNS), with
# AD's OIDs here. Auxiliary in this schema, so that the root slapd already has can take it.
DOMAIN_SCHEMA = """
attributetype ( 1.2.840.113556.1.4.79 NAME 'minPwdLength'
    EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.95 NAME 'pwdHistoryLength'
    EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.74 NAME 'maxPwdAge'
    EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.73 NAME 'lockoutThreshold'
    EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.93 NAME 'pwdProperties'
    EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
objectclass ( 1.2.840.113556.1.5.67 NAME 'domainDNS' SUP top AUXILIARY
    MAY ( minPwdLength $ pwdHistoryLength $ maxPwdAge $ lockoutThreshold $ pwdProperties ) )
"""
FORTY_TWO_DAYS = str(-42 * 864_000_000_000)
"""maxPwdAge as AD stores it: a negative interval in 100-ns ticks."""
# A new domain's Default Domain Policy: 7 characters, 24 remembered, 42 days, no lockout,
# complexity on.
NEW_DOMAIN_POLICY = {
    "source": "ad-domain",
    "min_length": 7,
    "history": 24,
    "max_age_days": 42,
    "lockout_threshold": 0,
    "complexity": True,
}


@pytest.fixture(scope="module")
def slapd() -> Iterator[ThrowawaySlapd]:
    # The schema is read when slapd starts: extend it for this module's server only.
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


@pytest.fixture(scope="module")
def live(slapd: ThrowawaySlapd) -> SystemSnapshot:
    return collect(slapd)


def collect(slapd: ThrowawaySlapd, **extra: Any) -> SystemSnapshot:
    options = live_options(slapd, "ad", **extra)
    return LDAPConnector("corp", options, clock=lambda: AD_NOW).collect()


def accounts(snapshot: SystemSnapshot) -> dict[str, Any]:
    return {a.login: a for a in snapshot.accounts}


def groups(snapshot: SystemSnapshot) -> dict[str, Any]:
    return {e.name: e for e in snapshot.entitlements}


def grants_of(snapshot: SystemSnapshot, login: str) -> set[tuple[str, str | None]]:
    account = accounts(snapshot)[login]
    names = {e.entitlement_id: e.name for e in snapshot.entitlements}
    return {
        (names[g.entitlement_id], names[g.via] if g.via else None)
        for g in snapshot.grants
        if g.account_id == account.native_id
    }


def test_user_account_control_and_filetimes(live: SystemSnapshot) -> None:
    assert live.complete, live.errors
    users = accounts(live)
    assert "WS01$" not in users  # a computer is a user in AD, not a person

    jdoe = users["jdoe"]
    assert jdoe.native_id == str(uuid.UUID(bytes_le=guid(1104 % 256)))
    assert jdoe.status is AccountStatus.ACTIVE and jdoe.kind is AccountKind.HUMAN
    assert (jdoe.email, jdoe.display_name, jdoe.employee_id) == (
        "jdoe@corp.example.com",
        "John Doe",
        "E104",
    )
    assert jdoe.created_at == datetime(2024, 1, 15, 10, 30, tzinfo=UTC)
    assert jdoe.last_login_at == AD_NOW - timedelta(days=10)
    assert jdoe.mfa_factors is None
    assert jdoe.attributes == {
        "dn": "cn=jdoe,ou=Staff,dc=corp,dc=example,dc=com",
        "sid": f"{DOMAIN_SID}-1104",
        "user_principal_name": "jdoe@corp.example.com",
        "user_account_control": "512",
    }

    assert users["msmith"].status is AccountStatus.DISABLED  # ACCOUNTDISABLE
    temp = users["temp"]  # accountExpires has passed
    assert temp.status is AccountStatus.DISABLED and temp.attributes["expired"] == "true"
    assert temp.attributes["account_expires"] == (AD_NOW - timedelta(days=5)).isoformat()
    # A lockout ends by itself: still usable, the fact kept.
    locked = users["lockedout"]
    assert locked.status is AccountStatus.ACTIVE and locked.attributes["locked_out"] == "true"
    admin = users["Administrator"]
    assert admin.kind is AccountKind.BREAK_GLASS  # RID 500
    assert admin.attributes["password_never_expires"] == "true"
    assert admin.attributes["admin_count"] == "1"
    assert users["krbtgt"].kind is AccountKind.SERVICE
    assert users["krbtgt"].status is AccountStatus.DISABLED


def test_a_password_credential_for_every_user(live: SystemSnapshot) -> None:
    users = accounts(live)
    passwords = {c.account_id: c for c in live.credentials}

    assert set(passwords) == {a.native_id for a in live.accounts}
    jdoe = passwords[users["jdoe"].native_id]
    assert jdoe.created_at == AD_NOW - timedelta(days=30)  # pwdLastSet
    assert jdoe.last_used_at == users["jdoe"].last_login_at and jdoe.active
    assert not passwords[users["msmith"].native_id].active
    newhire = passwords[users["newhire"].native_id]  # pwdLastSet = 0: must change
    assert newhire.created_at is None and newhire.attributes == {"must_change": "true"}
    assert users["newhire"].attributes["password_must_change"] == "true"
    assert passwords[users["Administrator"].native_id].attributes == {"never_expires": "true"}


def test_privileged_groups_by_rid_by_name_and_by_nesting(live: SystemSnapshot) -> None:
    by_name = groups(live)
    privileged = {name for name, e in by_name.items() if e.privileged}

    # Domain Admins (512), Administrators (S-1-5-32-544), Account Operators (548) by SID;
    # DnsAdmins by name; Helpdesk because it is nested in Account Operators.
    assert privileged == {
        "Domain Admins",
        "Administrators",
        "Account Operators",
        "DnsAdmins",
        "Helpdesk",
    }
    assert by_name["Domain Users"].kind == "group"
    assert by_name["Ops Mail"].kind == "distribution-group"
    assert by_name["Helpdesk"].owner == "cn=jdoe,ou=Staff,dc=corp,dc=example,dc=com"  # managedBy
    assert by_name["Helpdesk"].description == "First-line support"


def test_nested_primary_and_distribution_groups(live: SystemSnapshot) -> None:
    assert grants_of(live, "jdoe") == {
        ("Helpdesk", None),
        ("Account Operators", "Helpdesk"),
        ("Finance", None),
        ("Domain Users", None),  # primaryGroupID 513: not in member
    }
    # A primary group of 512 makes a Domain Admin that no member list shows.
    assert grants_of(live, "sneaky") == {
        ("Domain Admins", None),
        ("Administrators", "Domain Admins"),
    }
    # A distribution group confers no access: nothing is inherited through it.
    assert grants_of(live, "msmith") == {("Ops Mail", None), ("Domain Users", None)}


def test_live_and_an_ldapsearch_export_give_the_same_model(
    slapd: ThrowawaySlapd, live: SystemSnapshot, tmp_path: Path
) -> None:
    ldif = ldapsearch(slapd, "ad", tmp_path / "corp.ldif", AD_EXPORT_FILTER, AD_EXPORT_ATTRIBUTES)
    assert "objectGUID::" in ldif.read_text()
    options = LDAPOptions.model_validate(
        {
            "type": "ldap",
            "flavor": "ad",
            "mode": "export",
            "path": ldif,
            "exported_at": AD_NOW.isoformat(),
        }
    )

    exported = LDAPConnector("corp", options).collect()

    assert exported.complete and exported.errors == ()
    exclude = {"source", "collected_at"}
    assert exported.model_dump(exclude=exclude) == live.model_dump(exclude=exclude)


def used_with_domain(operations: list[Operation]) -> set[str]:
    """used_permissions, with the read of the domain object counted as on the domain and
    the read of the PSOs as on them (used_permissions knows users and groups only)."""
    used: set[str] = set()
    rest = []
    for op in operations:
        kind = None
        if op.kind == "SRCH" and "domainDNS" in op.filter:
            kind = "domain"
        elif op.kind == "SRCH" and "msDS-PasswordSettings" in op.filter:
            kind = "pso"
        if kind is None:
            rest.append(op)
        else:
            used |= {p.replace(":user/", f":{kind}/") for p in used_permissions([op], "ad")}
    return used | used_permissions(rest, "ad")


def test_collect_uses_exactly_the_declared_permissions(slapd: ThrowawaySlapd) -> None:
    mark = slapd.log_mark()
    collect(slapd, page_size=4)

    used = used_with_domain(slapd.operations_since(mark))
    assert "ad:read:domain/minPwdLength" in used
    assert used == declared(LDAPConnector.permissions.collect, "ad")


def test_the_domain_password_policy(live: SystemSnapshot) -> None:
    policy = dict(live.settings["password_policy"])

    assert dn_key(policy.pop("dn")) == dn_key(AD_BASE)  # in the server's spelling
    assert policy == NEW_DOMAIN_POLICY


def test_a_domain_object_that_cannot_be_found_is_said(slapd: ThrowawaySlapd) -> None:
    staff = f"OU=Staff,{AD_BASE}"
    snapshot = collect(slapd, password_policy_dn=staff)

    assert snapshot.complete and "password_policy" not in snapshot.settings
    (note,) = snapshot.errors
    assert note.record == staff
    assert note.message == (
        f"no domain object (objectClass domainDNS) at {staff}: the password policy is not judged"
    )


# --- ldifde ---------------------------------------------------------------------------------


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


def _fold(line: str, width: int = 76) -> str:
    """Fold as ldifde and ldapsearch do: continuation lines start with one space."""
    parts = [line[:width]] + [line[i : i + width - 1] for i in range(width, len(line), width - 1)]
    return "\r\n ".join(parts)


ALICE_GUID = uuid.UUID("6f9619ff-8b86-d011-b42d-00c04fc964ff")


def _ldifde(*, with_sids: bool = True) -> str:
    """What ``ldifde -f out.ldf`` writes: CRLF lines, changetype: add, binary values in
    base64, long values folded."""

    def sid(rid: int) -> str:
        return f"objectSid:: {_b64(sid_bytes(f'{DOMAIN_SID}-{rid}'))}\r\n" if with_sids else ""

    members = "".join(
        f"member: CN=User{n:04},OU=Staff,DC=corp,DC=example,DC=com\r\n" for n in range(3)
    )
    long_name = "Alice Archer-" + "Abercrombie" * 8
    return (
        "\r\n"
        f"dn: CN=Alice Archer,OU=Staff,DC=corp,DC=example,DC=com\r\n"
        "changetype: add\r\n"
        "objectClass: top\r\nobjectClass: person\r\nobjectClass: organizationalPerson\r\n"
        "objectClass: user\r\n"
        "cn: Alice Archer\r\n"
        f"{_fold('displayName: ' + long_name)}\r\n"
        f"objectGUID:: {_b64(ALICE_GUID.bytes_le)}\r\n"
        f"{sid(1000)}"
        "sAMAccountName: alice\r\n"
        "userAccountControl: 66050\r\n"
        f"pwdLastSet: {filetime(AD_NOW - timedelta(days=400))}\r\n"
        f"lastLogonTimestamp: {filetime(AD_NOW - timedelta(days=200))}\r\n"
        "accountExpires: 0\r\n"
        "whenCreated: 20200101000000.0Z\r\n"
        "\r\n"
        "dn: CN=Domain Admins,CN=Users,DC=corp,DC=example,DC=com\r\n"
        "changetype: add\r\n"
        "objectClass: top\r\nobjectClass: group\r\n"
        "cn: Domain Admins\r\n"
        f"objectGUID:: {_b64(NASTY_GUID)}\r\n"
        f"{sid(512)}"
        "sAMAccountName: Domain Admins\r\n"
        "groupType: -2147483646\r\n"
        "member: CN=Alice Archer,OU=Staff,DC=corp,DC=example,DC=com\r\n"
        f"{members}"
        "\r\n"
        "dn: CN=DnsAdmins,CN=Users,DC=corp,DC=example,DC=com\r\n"
        "changetype: add\r\n"
        "objectClass: top\r\nobjectClass: group\r\n"
        "cn: DnsAdmins\r\n"
        f"objectGUID:: {_b64(guid(77))}\r\n"
        f"{sid(1101)}"
        "sAMAccountName: DnsAdmins\r\n"
        "groupType: -2147483644\r\n"
        "\r\n"
        f"{DOMAIN_OBJECT}"
        f"{PSO_CONTAINER}"
    )


DOMAIN_OBJECT = (
    "dn: DC=corp,DC=example,DC=com\r\n"
    "changetype: add\r\n"
    "objectClass: top\r\nobjectClass: domain\r\nobjectClass: domainDNS\r\n"
    "dc: corp\r\n"
    "minPwdLength: 14\r\n"
    "pwdHistoryLength: 24\r\n"
    "maxPwdAge: -9223372036854775808\r\n"
    "lockoutThreshold: 10\r\n"
    "pwdProperties: 0\r\n"
    "\r\n"
)
"""What ldifde writes for the domain's root: its password policy (no expiry, no complexity)."""

PSO_CONTAINER = (
    "dn: CN=Password Settings Container,CN=System,DC=corp,DC=example,DC=com\r\n"
    "changetype: add\r\n"
    "objectClass: top\r\nobjectClass: msDS-PasswordSettingsContainer\r\n"
    "cn: Password Settings Container\r\n"
    "\r\n"
)
"""A whole-domain ldifde export holds the PSOs' container, here empty: no PSOs, known."""


def _export(tmp_path: Path, text: str, *, encoding: str = "utf-8", **extra: Any) -> LDAPConnector:
    path = tmp_path / "out.ldf"
    path.write_bytes(text.encode(encoding))
    options = LDAPOptions.model_validate(
        {"type": "ldap", "flavor": "ad", "mode": "export", "path": path, **extra}
    )
    return LDAPConnector("corp", options)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])  # ldifde -u writes UTF-16
def test_an_ldifde_export(tmp_path: Path, encoding: str) -> None:
    snapshot = _export(
        tmp_path, _ldifde(), encoding=encoding, exported_at="2026-03-01T12:00:00Z"
    ).collect()

    assert snapshot.complete and snapshot.errors == ()
    assert snapshot.settings["password_policy"] == {
        "source": "ad-domain",
        "dn": "DC=corp,DC=example,DC=com",
        "min_length": 14,
        "history": 24,
        "max_age_days": None,  # never
        "lockout_threshold": 10,
        "complexity": False,
    }
    (alice,) = snapshot.accounts
    assert alice.native_id == str(ALICE_GUID)
    assert alice.display_name == "Alice Archer-" + "Abercrombie" * 8  # unfolded
    assert alice.status is AccountStatus.DISABLED  # 66050 = 0x10202
    assert alice.attributes["password_never_expires"] == "true"
    assert "account_expires" not in alice.attributes  # 0: never
    assert alice.last_login_at == AD_NOW - timedelta(days=200)
    (password,) = snapshot.credentials
    assert password.created_at == AD_NOW - timedelta(days=400)
    by_name = groups(snapshot)
    assert by_name["Domain Admins"].entitlement_id == str(uuid.UUID(bytes_le=NASTY_GUID))
    assert by_name["Domain Admins"].privileged and by_name["DnsAdmins"].privileged
    assert [(g.account_id, g.entitlement_id) for g in snapshot.grants] == [
        (alice.native_id, by_name["Domain Admins"].entitlement_id)
    ]


def test_without_object_sids_privileged_groups_are_known_by_name(tmp_path: Path) -> None:
    snapshot = _export(tmp_path, _ldifde(with_sids=False), exported_at=AD_NOW).collect()

    assert {e.name for e in snapshot.entitlements if e.privileged} == {
        "Domain Admins",
        "DnsAdmins",
    }
    assert "sid" not in snapshot.accounts[0].attributes


def test_a_renamed_privileged_group_is_still_known_by_its_rid(tmp_path: Path) -> None:
    text = _ldifde().replace("sAMAccountName: Domain Admins", "sAMAccountName: Tier0")
    snapshot = _export(tmp_path, text, exported_at=AD_NOW).collect()

    assert groups(snapshot)["Tier0"].privileged


def test_account_expiry_is_judged_at_the_export_time(tmp_path: Path) -> None:
    expires = filetime(AD_NOW + timedelta(days=1))
    text = _ldifde().replace("accountExpires: 0", f"accountExpires: {expires}")
    text = text.replace("userAccountControl: 66050", "userAccountControl: 512")

    before = _export(tmp_path, text, exported_at=AD_NOW).collect()
    after = _export(tmp_path, text, exported_at=AD_NOW + timedelta(days=2)).collect()

    assert before.accounts[0].status is AccountStatus.ACTIVE
    assert after.accounts[0].status is AccountStatus.DISABLED


def test_an_unreadable_value_is_left_unknown_and_said(tmp_path: Path) -> None:
    text = _ldifde().replace("userAccountControl: 66050", "userAccountControl: lots")
    snapshot = _export(tmp_path, text, exported_at=AD_NOW).collect()

    (alice,) = snapshot.accounts
    assert alice.status is AccountStatus.ACTIVE  # unknown must not read as disabled
    assert not snapshot.complete
    (error,) = snapshot.errors
    assert (error.line, error.record) == (2, "CN=Alice Archer,OU=Staff,DC=corp,DC=example,DC=com")
    assert error.message == "userAccountControl 'lots' is not a number: left unknown"


def test_an_entry_without_object_guid_is_identified_by_dn_and_said(tmp_path: Path) -> None:
    lines = _ldifde().split("\r\n")
    text = "\r\n".join(
        line for line in lines if not line.startswith("objectGUID:: " + _b64(ALICE_GUID.bytes_le))
    )
    snapshot = _export(tmp_path, text, exported_at=AD_NOW).collect()

    (alice,) = snapshot.accounts
    assert alice.native_id == dn_key("CN=Alice Archer,OU=Staff,DC=corp,DC=example,DC=com")
    assert snapshot.complete  # all of it was read; only the id is weaker
    (warning,) = snapshot.errors
    assert not warning.fatal
    assert warning.message.startswith("1 entry has no objectGUID: it is identified by DN")
    # The group still lists her by DN, and keeps its GUID: mixed ids resolve.
    assert [g.account_id for g in snapshot.grants] == [alice.native_id]


def test_a_malformed_object_guid_is_still_skipped(tmp_path: Path) -> None:
    text = _ldifde().replace(
        "objectGUID:: " + _b64(ALICE_GUID.bytes_le), "objectGUID:: " + _b64(b"short")
    )
    snapshot = _export(tmp_path, text, exported_at=AD_NOW).collect()

    assert snapshot.accounts == () and not snapshot.complete
    (error,) = snapshot.errors
    assert error.message == "user skipped: its objectGUID is 5 bytes long, not 16"


def test_an_export_without_the_domain_object_says_the_policy_is_unknown(tmp_path: Path) -> None:
    snapshot = _export(tmp_path, _ldifde().replace(DOMAIN_OBJECT, ""), exported_at=AD_NOW).collect()

    assert snapshot.complete and "password_policy" not in snapshot.settings
    (note,) = snapshot.errors
    assert note.message == (
        "no domain object (objectClass domainDNS) in the export: the password policy is not judged"
    )


def test_an_unreadable_policy_value_is_left_unknown_and_said(tmp_path: Path) -> None:
    text = _ldifde().replace("minPwdLength: 14", "minPwdLength: fourteen")
    text = text.replace("maxPwdAge: -9223372036854775808\r\n", "")

    snapshot = _export(tmp_path, text, exported_at=AD_NOW).collect()

    policy = snapshot.settings["password_policy"]
    assert policy["min_length"] is None and policy["history"] == 24
    assert "max_age_days" not in policy  # unknown, which is not "never"
    assert snapshot.complete  # the accounts and groups are all there
    (note,) = snapshot.errors
    assert (note.record, note.line) == (
        "DC=corp,DC=example,DC=com",
        text.count("\n", 0, text.index("dn: DC=corp")) + 1,
    )
    assert note.message == (
        "password policy: minPwdLength 'fourteen' is not a number; left unknown"
    )


# --- ldifde without objectSid: well-known RIDs by name ------------------------------------------

_CORP = "DC=corp,DC=example,DC=com"
_EMEA = "DC=emea,DC=corp,DC=example,DC=com"


def _sidless_user(name: str, number: int, primary: int, domain: str = _CORP) -> str:
    return (
        f"dn: CN={name},CN=Users,{domain}\r\nchangetype: add\r\n"
        "objectClass: top\r\nobjectClass: person\r\nobjectClass: organizationalPerson\r\n"
        f"objectClass: user\r\ncn: {name}\r\nsAMAccountName: {name}\r\n"
        f"objectGUID:: {_b64(guid(number))}\r\nuserAccountControl: 512\r\n"
        f"primaryGroupID: {primary}\r\n\r\n"
    )


def _sidless_group(name: str, number: int, domain: str = _CORP, sid: str | None = None) -> str:
    return (
        f"dn: CN={name},CN=Users,{domain}\r\nchangetype: add\r\n"
        f"objectClass: top\r\nobjectClass: group\r\ncn: {name}\r\nsAMAccountName: {name}\r\n"
        f"objectGUID:: {_b64(guid(number))}\r\ngroupType: -2147483646\r\n"
        + (f"objectSid:: {_b64(sid_bytes(sid))}\r\n" if sid else "")
        + "\r\n"
    )


def test_without_object_sids_primary_groups_and_built_in_accounts_resolve(tmp_path: Path) -> None:
    """An ldifde export that left objectSid out (``-o objectSid`` or an attribute list
    without it): Domain Users (513) and Domain Admins (512) by their names, Domain Computers
    (515) by the group's own objectSid, each within the user's own domain; the built-in
    accounts by their names, said on the account."""
    text = "".join(
        [
            _sidless_user("Administrator", 1, 513),
            _sidless_user("Guest", 2, 514),
            _sidless_user("krbtgt", 3, 513),
            _sidless_user("jdoe", 4, 513),
            _sidless_user("sneaky", 5, 512),
            _sidless_user("kiosk", 6, 515),
            _sidless_user("orphaned", 7, 1234),
            _sidless_user("hans", 8, 513, _EMEA),
            _sidless_group("Domain Users", 101),
            _sidless_group("Domain Admins", 102),
            _sidless_group("Domain Guests", 103),
            _sidless_group("Domain Computers", 104, sid=f"{DOMAIN_SID}-515"),
            _sidless_group("Domain Users", 105, _EMEA),
        ]
    )
    snapshot = _export(tmp_path, text, exported_at=AD_NOW).collect()

    users = accounts(snapshot)
    names = {e.entitlement_id: (e.name, dn_key(e.entitlement_id)) for e in snapshot.entitlements}
    by_user = {
        login: {names[g.entitlement_id][0] for g in snapshot.grants if g.account_id == a.native_id}
        for login, a in users.items()
    }
    assert by_user == {
        "Administrator": {"Domain Users"},
        "Guest": {"Domain Guests"},
        "krbtgt": {"Domain Users"},
        "jdoe": {"Domain Users"},
        "sneaky": {"Domain Admins"},  # a Domain Admin no member list shows
        "kiosk": {"Domain Computers"},
        "orphaned": set(),
        "hans": {"Domain Users"},
    }
    # hans's Domain Users is his own domain's, not corp's.
    (hans_group,) = [g for g in snapshot.grants if g.account_id == users["hans"].native_id]
    corp_users = next(
        e
        for e in snapshot.entitlements
        if e.name == "Domain Users" and e.entitlement_id == str(uuid.UUID(bytes_le=guid(101)))
    )
    assert hans_group.entitlement_id != corp_users.entitlement_id
    assert users["Administrator"].kind is AccountKind.BREAK_GLASS
    assert users["Guest"].kind is AccountKind.SERVICE
    assert users["krbtgt"].kind is AccountKind.SERVICE
    assert users["jdoe"].kind is AccountKind.HUMAN
    assert users["Administrator"].attributes["built_in"] == (
        "Administrator (RID 500) recognised by its name: no objectSid to confirm it"
    )
    assert "built_in" not in users["jdoe"].attributes
    assert groups(snapshot)["Domain Admins"].privileged
    # The one primary group nowhere in the export is said, not dropped in silence.
    (note,) = [e for e in snapshot.errors if "primaryGroupID" in e.message]
    assert note.message.startswith(
        "primary groups not among the groups read, by primaryGroupID: 1234 (1 users)"
    )


def test_with_sids_a_renamed_administrator_is_known_by_rid_not_name(tmp_path: Path) -> None:
    text = _ldifde().replace("sAMAccountName: alice", "sAMAccountName: Administrator")
    snapshot = _export(tmp_path, text, exported_at=AD_NOW).collect()

    (account,) = snapshot.accounts
    # RID 1000 with a SID: the name proves nothing, so it is not taken for the built-in one.
    assert account.kind is AccountKind.HUMAN and "built_in" not in account.attributes
