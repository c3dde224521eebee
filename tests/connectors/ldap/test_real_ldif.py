"""Exports as real tools write them, without the directory's stable ids: a plain ``ldapsearch``
of an OpenLDAP directory (no ``+``, so no entryUUID) and an ``ldifde`` run that left objectGUID
out. Every user and group is still read, identified by its DN, with one warning per file."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from iam_gov.connectors.ldap.connector import LDAPConnector, LDAPOptions
from iam_gov.connectors.ldap.entry import dn_key
from iam_gov.model import AccountStatus, SystemSnapshot

from .conftest import ALICE_UUID, alice, export

BASE = "dc=example,dc=com"
LONG_UID = "christopher.montgomery-featherstonehaugh"
LONG_DN = f"uid={LONG_UID},ou=engineering,ou=people,{BASE}"
JOSE_DN = f"cn=José Núñez,ou=people,{BASE}"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _fold(line: str, width: int = 76, eol: str = "\n") -> str:
    """As ldapsearch (ldif-wrap 76) and ldifde fold: continuation lines start with a space."""
    parts = [line[:width]] + [line[i : i + width - 1] for i in range(width, len(line), width - 1)]
    return f"{eol} ".join(parts)


def _ldapsearch(*, extended: bool) -> str:
    """``ldapsearch -x -LLL -b dc=example,dc=com`` of inetOrgPerson users and groupOfNames
    groups; ``extended``: without -LLL, with its comments, version and result trailer."""

    def comment(text: str) -> str:
        return f"# {text}\n" if extended else ""

    member_line = _fold(f"member: {LONG_DN}")
    assert "\n " in member_line  # the test relies on a folded member value
    text = (
        (
            "# extended LDIF\n#\n# LDAPv3\n"
            f"# base <{BASE}> with scope subtree\n"
            "# filter: (objectclass=*)\n# requesting: ALL\n#\n\n"
        )
        if extended
        else ""
    )
    text += (
        f"{comment('example.com')}"
        f"dn: {BASE}\n"
        "objectClass: top\nobjectClass: dcObject\nobjectClass: organization\n"
        "o: Example Inc.\ndc: example\n\n"
        f"{comment('people, example.com')}"
        f"dn: ou=people,{BASE}\nobjectClass: organizationalUnit\nou: people\n\n"
        f"{comment('jdoe, people, example.com')}"
        f"dn: uid=jdoe,ou=people,{BASE}\n"
        "objectClass: top\nobjectClass: person\nobjectClass: organizationalPerson\n"
        "objectClass: inetOrgPerson\n"
        "uid: jdoe\ncn: John Doe\nsn: Doe\nmail: jdoe@example.com\nemployeeNumber: 1001\n\n"
        f"{comment('José Núñez, people, example.com')}"
        f"dn:: {_b64(JOSE_DN)}\n"
        "objectClass: inetOrgPerson\n"
        f"uid: jnunez\ncn:: {_b64('José Núñez')}\nsn:: {_b64('Núñez')}\n"
        "mail: jnunez@example.com\nemployeeNumber: 1002\n\n"
        f"{comment(LONG_UID + ', engineering, people, example.com')}"
        f"dn: {LONG_DN}\n"
        "objectClass: inetOrgPerson\n"
        f"uid: {LONG_UID}\ncn: Christopher Montgomery-Featherstonehaugh\n"
        "sn: Montgomery-Featherstonehaugh\nmail: cmf@example.com\nemployeeNumber: 1003\n"
        + _fold(
            "description: Principal engineer, platform team; on call for the identity "
            "stack every third week"
        )
        + "\n\n"
        f"{comment('staff, groups, example.com')}"
        f"dn: cn=staff,ou=groups,{BASE}\n"
        "objectClass: groupOfNames\ncn: staff\n"
        f"member: uid=jdoe,ou=people,{BASE}\n"
        f"member:: {_b64(JOSE_DN)}\n"
        f"{member_line}\n\n"
        f"{comment('admins, groups, example.com')}"
        f"dn: cn=admins,ou=groups,{BASE}\n"
        "objectClass: groupOfNames\ncn: admins\n"
        # Spelled otherwise than the entry's DN: it is the same DN.
        "member: UID=jdoe, OU=People,DC=Example,DC=Com\n"
        f"member: cn=staff,ou=groups,{BASE}\n\n"
        f"{comment('developers, groups, example.com')}"
        f"dn: cn=developers,ou=groups,{BASE}\n"
        "objectClass: posixGroup\ncn: developers\ngidNumber: 5000\n"
        f"memberUid: {LONG_UID}\n\n"
    )
    if extended:
        text += "# search result\nsearch: 2\nresult: 0 Success\n\n"
        text += "# numResponses: 9\n# numEntries: 8\n"
    return text


def _accounts(snapshot: SystemSnapshot) -> dict[str, str]:
    return {a.login: a.native_id for a in snapshot.accounts}


def _grants(snapshot: SystemSnapshot) -> set[tuple[str, str, str | None]]:
    logins = {a.native_id: a.login for a in snapshot.accounts}
    names = {e.entitlement_id: e.name for e in snapshot.entitlements}
    return {
        (
            logins[g.account_id],
            names[g.entitlement_id],
            None if g.via is None else names[g.via],
        )
        for g in snapshot.grants
    }


@pytest.mark.parametrize("extended", [False, True], ids=["ldapsearch -LLL", "ldapsearch"])
def test_an_openldap_mirror_without_entry_uuids(tmp_path: Path, extended: bool) -> None:
    snapshot = export(tmp_path, _ldapsearch(extended=extended)).collect()

    # Every user and group is read, identified by its DN as the connector compares DNs.
    accounts = _accounts(snapshot)
    assert accounts == {
        "jdoe": dn_key(f"uid=jdoe,ou=people,{BASE}"),
        "jnunez": dn_key(JOSE_DN),
        LONG_UID: dn_key(LONG_DN),
    }
    assert {e.name for e in snapshot.entitlements} == {"staff", "admins", "developers"}
    assert {e.entitlement_id for e in snapshot.entitlements} == {
        dn_key(f"cn={name},ou=groups,{BASE}") for name in ("staff", "admins", "developers")
    }
    assert all(a.status is AccountStatus.ACTIVE for a in snapshot.accounts)

    # base64 values and folded lines read back whole.
    by_login = {a.login: a for a in snapshot.accounts}
    jose = by_login["jnunez"]
    assert jose.display_name == "José Núñez" and jose.attributes["dn"] == JOSE_DN
    assert (jose.email, jose.employee_id) == ("jnunez@example.com", "1002")
    assert by_login["jdoe"].employee_id == "1001"

    # member (plain, base64, folded, respelled), nesting and memberUid all give grants.
    assert _grants(snapshot) == {
        ("jdoe", "staff", None),
        ("jnunez", "staff", None),
        (LONG_UID, "staff", None),
        ("jdoe", "admins", None),
        ("jdoe", "admins", "staff"),  # directly, and through staff too
        ("jnunez", "admins", "staff"),
        (LONG_UID, "admins", "staff"),
        (LONG_UID, "developers", None),
    }

    # Nothing is missing, so the snapshot is complete; the weaker ids are said once.
    assert snapshot.complete
    assert not any(error.fatal for error in snapshot.errors)
    warnings = [e for e in snapshot.errors if "identified by DN" in e.message]
    assert [(w.source, w.message) for w in warnings] == [
        (
            str(tmp_path / "directory.ldif"),
            "6 entries have no entryUUID (an export without operational attributes): they are "
            "identified by DN, so a renamed or moved account will look like a new one; export "
            "with ldapsearch ... '*' '+' (or name entryUUID) to keep them",
        )
    ]
    # The only other note: an anonymous search does not show userPassword.
    others = [e.message for e in snapshot.errors if e not in warnings]
    assert len(others) == 1 and others[0].startswith("no user shows a password")


def test_mixed_ids_and_a_lock_in_one_file(tmp_path: Path) -> None:
    # alice has her entryUUID and a lock; the group and bob were exported without.
    locked = alice(pwdAccountLockedTime="000001010000Z")
    bob = f"dn: uid=bob,ou=people,{BASE}\nobjectClass: inetOrgPerson\nuid: bob\ncn: Bob\n\n"
    group = (
        f"dn: cn=staff,ou=groups,{BASE}\nobjectClass: groupOfNames\ncn: staff\n"
        "member: uid=alice,ou=people,dc=example,dc=org\n"
        f"member: uid=bob,ou=people,{BASE}\n\n"
    )

    snapshot = export(tmp_path, locked + bob + group).collect()

    accounts = _accounts(snapshot)
    assert accounts == {"alice": ALICE_UUID, "bob": dn_key(f"uid=bob,ou=people,{BASE}")}
    status = {a.login: a.status for a in snapshot.accounts}
    assert status == {"alice": AccountStatus.LOCKED, "bob": AccountStatus.ACTIVE}
    assert _grants(snapshot) == {("alice", "staff", None), ("bob", "staff", None)}
    assert snapshot.complete
    (warning,) = snapshot.errors
    assert warning.message.startswith("2 entries have no entryUUID")


AD_BASE_DN = "DC=corp,DC=example,DC=com"
CAROL_GUID = bytes(range(16))


def _ldifde() -> str:
    """``ldifde -f out.ldf -r "(|(objectClass=user)(objectClass=group))" -l
    "objectClass,sAMAccountName,cn,displayName,mail,userAccountControl,member,memberOf"``:
    CRLF, a blank first line, changetype: add, non-ASCII in base64, no objectGUID. Carol
    was added later by a run that asked for objectGUID too."""
    renee_dn = f"CN=Renée Çelik,OU=Staff,{AD_BASE_DN}"
    lines = [
        "",
        f"dn: CN=Alice Archer,OU=Staff,{AD_BASE_DN}",
        "changetype: add",
        "objectClass: top",
        "objectClass: person",
        "objectClass: organizationalPerson",
        "objectClass: user",
        "cn: Alice Archer",
        "displayName: Alice Archer",
        "mail: alice@corp.example.com",
        "sAMAccountName: alice",
        "userAccountControl: 512",
        f"memberOf: CN=VPN Users,OU=Groups,{AD_BASE_DN}",
        f"memberOf: CN=Domain Admins,CN=Users,{AD_BASE_DN}",
        "",
        f"dn:: {_b64(renee_dn)}",
        "changetype: add",
        "objectClass: top",
        "objectClass: person",
        "objectClass: organizationalPerson",
        "objectClass: user",
        f"cn:: {_b64('Renée Çelik')}",
        f"displayName:: {_b64('Renée Çelik')}",
        "sAMAccountName: rcelik",
        "userAccountControl: 514",  # disabled
        f"memberOf: CN=VPN Users,OU=Groups,{AD_BASE_DN}",
        "",
        f"dn: CN=Carol King,OU=Staff,{AD_BASE_DN}",
        "changetype: add",
        "objectClass: top",
        "objectClass: person",
        "objectClass: organizationalPerson",
        "objectClass: user",
        "cn: Carol King",
        f"objectGUID:: {base64.b64encode(CAROL_GUID).decode()}",
        "sAMAccountName: carol",
        "userAccountControl: 66048",
        f"memberOf: CN=VPN Users,OU=Groups,{AD_BASE_DN}",
        "",
        f"dn: CN=WS0042,OU=Computers,{AD_BASE_DN}",
        "changetype: add",
        "objectClass: top",
        "objectClass: person",
        "objectClass: organizationalPerson",
        "objectClass: user",
        "objectClass: computer",
        "cn: WS0042",
        "sAMAccountName: WS0042$",
        "userAccountControl: 4096",
        "",
        f"dn: CN=VPN Users,OU=Groups,{AD_BASE_DN}",
        "changetype: add",
        "objectClass: top",
        "objectClass: group",
        "cn: VPN Users",
        "sAMAccountName: VPN Users",
        "groupType: -2147483646",
        _fold(
            "description: Everyone allowed on the remote access VPN, reviewed every quarter "
            "by the network team",
            eol="\r\n",
        ),
        f"member: CN=Alice Archer,OU=Staff,{AD_BASE_DN}",
        f"member:: {_b64(renee_dn)}",
        f"member: CN=Carol King,OU=Staff,{AD_BASE_DN}",
        f"member: CN=WS0042,OU=Computers,{AD_BASE_DN}",
        "",
        f"dn: CN=Domain Admins,CN=Users,{AD_BASE_DN}",
        "changetype: add",
        "objectClass: top",
        "objectClass: group",
        "cn: Domain Admins",
        "sAMAccountName: Domain Admins",
        "groupType: -2147483646",
        f"member: CN=Alice Archer,OU=Staff,{AD_BASE_DN}",
        "",
        "",
    ]
    return "\r\n".join(lines)


def test_an_ldifde_export_without_object_guids(tmp_path: Path) -> None:
    path = tmp_path / "out.ldf"
    path.write_bytes(_ldifde().encode("utf-16"))  # ldifde -u
    options = LDAPOptions.model_validate(
        {
            "type": "ldap",
            "flavor": "ad",
            "mode": "export",
            "path": path,
            "exported_at": "2026-03-01T00:00:00Z",
        }
    )

    snapshot = LDAPConnector("corp", options).collect()

    renee_dn = f"CN=Renée Çelik,OU=Staff,{AD_BASE_DN}"
    assert _accounts(snapshot) == {
        "alice": dn_key(f"CN=Alice Archer,OU=Staff,{AD_BASE_DN}"),
        "rcelik": dn_key(renee_dn),
        "carol": "03020100-0504-0706-0809-0a0b0c0d0e0f",  # her GUID, as AD shows it
    }
    status = {a.login: a.status for a in snapshot.accounts}
    assert status == {
        "alice": AccountStatus.ACTIVE,
        "rcelik": AccountStatus.DISABLED,
        "carol": AccountStatus.ACTIVE,
    }
    renee = next(a for a in snapshot.accounts if a.login == "rcelik")
    assert renee.display_name == "Renée Çelik" and renee.attributes["dn"] == renee_dn
    entitlements = {e.name: e for e in snapshot.entitlements}
    assert set(entitlements) == {"VPN Users", "Domain Admins"}
    assert entitlements["Domain Admins"].privileged  # by name, as there is no SID
    assert entitlements["VPN Users"].description == (
        "Everyone allowed on the remote access VPN, reviewed every quarter by the network team"
    )
    # The computer is a member, but no account.
    assert _grants(snapshot) == {
        ("alice", "VPN Users", None),
        ("rcelik", "VPN Users", None),
        ("carol", "VPN Users", None),
        ("alice", "Domain Admins", None),
    }

    assert snapshot.complete
    assert not any(error.fatal for error in snapshot.errors)
    warnings = [e.message for e in snapshot.errors if "identified by DN" in e.message]
    assert warnings == [
        "4 entries have no objectGUID: they are identified by DN, so a renamed or moved "
        "account will look like a new one; export with ldifde or ldapsearch without leaving "
        "objectGUID out to keep them"
    ]
