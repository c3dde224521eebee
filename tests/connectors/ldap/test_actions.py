"""LDAP actions against a real slapd: disable (AD userAccountControl, OpenLDAP ppolicy lock),
remove a group membership, each idempotent and checked in the directory; escaped filters;
refusals as FAILED; the permissions the actions use."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ldap3
import pytest

from iam_gov.connectors.ldap.connector import LDAPConnector, LDAPOptions
from iam_gov.connectors.ldap.entry import dn_key, equals
from iam_gov.connectors.shared.protocol import ActionNotSupported
from iam_gov.model import Action, ActionKind, ActionOutcome, SystemSnapshot
from tests.support.slapd import (
    AD_BASE,
    AD_NOW,
    DECOYS,
    NASTY,
    OPENLDAP_BASE,
    PASSWORD_ENV,
    SERVICE_PASSWORD,
    ThrowawaySlapd,
    ad_group_dn,
    ad_user_dn,
    admin,
    declared,
    group_dn,
    live_options,
    person_dn,
    used_permissions,
)

SHOWN_NASTY = NASTY.replace("\x00", "\ufffd")


def connector(slapd: ThrowawaySlapd, flavor: str = "openldap", **extra: Any) -> LDAPConnector:
    return LDAPConnector(flavor, live_options(slapd, flavor, **extra), clock=lambda: AD_NOW)


class Ids:
    """Account and group ids by login and name, from a collect."""

    def __init__(self, snapshot: SystemSnapshot) -> None:
        self.accounts = {a.login: a.native_id for a in snapshot.accounts}
        self.groups = {e.name: e.entitlement_id for e in snapshot.entitlements}


def ids(slapd: ThrowawaySlapd, flavor: str = "openldap") -> Ids:
    return Ids(connector(slapd, flavor).collect())


def act(
    slapd: ThrowawaySlapd,
    kind: ActionKind,
    account_id: str,
    entitlement_id: str | None = None,
    flavor: str = "openldap",
    **extra: Any,
) -> Any:
    action = Action(
        kind=kind,
        system=flavor,
        account_id=account_id,
        entitlement_id=entitlement_id,
        reason="left the company",
    )
    return connector(slapd, flavor, **extra).apply(action)


def read(slapd: ThrowawaySlapd, dn: str, attribute: str, base: str = OPENLDAP_BASE) -> list[str]:
    conn = admin(slapd, base)
    conn.search(dn, "(objectClass=*)", search_scope="BASE", attributes=[attribute])
    values = [v.decode() for v in conn.response[0]["raw_attributes"].get(attribute, [])]
    conn.unbind()
    return values


def can_bind(slapd: ThrowawaySlapd, dn: str, password: str) -> bool:
    conn = ldap3.Connection(ldap3.Server(slapd.url, get_info=ldap3.NONE), dn, password)
    bound = bool(conn.bind())
    conn.unbind()
    return bound


# --- OpenLDAP -----------------------------------------------------------------------------


def test_disable_locks_the_account_and_is_idempotent(slapd: ThrowawaySlapd) -> None:
    alice = ids(slapd).accounts["alice"]
    assert can_bind(slapd, person_dn("alice"), "Passw0rd!")

    first = act(slapd, ActionKind.DISABLE_ACCOUNT, alice)
    second = act(slapd, ActionKind.DISABLE_ACCOUNT, alice)

    assert first.outcome is ActionOutcome.APPLIED
    assert first.message.startswith(
        f"Locked alice ({person_dn('alice')}): pwdAccountLockedTime = 000001010000Z."
    )
    assert read(slapd, person_dn("alice"), "pwdAccountLockedTime") == ["000001010000Z"]
    assert not can_bind(slapd, person_dn("alice"), "Passw0rd!")
    assert second.outcome is ActionOutcome.NOOP
    assert second.message == f"alice ({person_dn('alice')}) is already locked by an administrator."
    snapshot = connector(slapd).collect()
    assert next(a for a in snapshot.accounts if a.login == "alice").status.value == "locked"


def test_disable_turns_a_lockout_into_a_lock(slapd: ThrowawaySlapd) -> None:
    carol = ids(slapd).accounts["carol"]  # locked out after failed binds: that ends by itself

    result = act(slapd, ActionKind.DISABLE_ACCOUNT, carol)

    assert result.outcome is ActionOutcome.APPLIED
    assert read(slapd, person_dn("carol"), "pwdAccountLockedTime") == ["000001010000Z"]


def test_an_unknown_or_malformed_account_changes_nothing(slapd: ThrowawaySlapd) -> None:
    mark = slapd.log_mark()

    gone = act(slapd, ActionKind.DISABLE_ACCOUNT, "00000000-0000-0000-0000-000000000000")
    star = act(slapd, ActionKind.DISABLE_ACCOUNT, "*")

    assert gone.outcome is ActionOutcome.NOOP
    assert gone.message == (
        "No account with entryUUID 00000000-0000-0000-0000-000000000000 under "
        f"{OPENLDAP_BASE}: nothing to disable."
    )
    assert star.outcome is ActionOutcome.FAILED
    assert star.message == "'*' is not an entryUUID: the account is not one of this directory's."
    assert not [op for op in slapd.operations_since(mark) if op.kind == "MOD"]


def test_remove_grant_deletes_exactly_the_stored_value(slapd: ThrowawaySlapd) -> None:
    known = ids(slapd)
    everyone = known.groups["everyone"]  # groupOfUniqueNames; bob's value has a uid

    first = act(slapd, ActionKind.REMOVE_GRANT, known.accounts["bob"], everyone)
    second = act(slapd, ActionKind.REMOVE_GRANT, known.accounts["bob"], everyone)

    assert first.outcome is ActionOutcome.APPLIED
    assert first.message == f"Removed bob ({person_dn('bob')}) from group everyone."
    assert second.outcome is ActionOutcome.NOOP
    assert second.message == f"bob ({person_dn('bob')}) is not a member of group everyone."
    assert read(slapd, group_dn("everyone"), "uniqueMember") == [person_dn("alice")]


def test_the_directory_refusing_a_change_is_a_failed_result(slapd: ThrowawaySlapd) -> None:
    known = ids(slapd)
    # alice is the last member; groupOfUniqueNames must have one.
    last = act(slapd, ActionKind.REMOVE_GRANT, known.accounts["alice"], known.groups["everyone"])

    assert last.outcome is ActionOutcome.FAILED
    assert last.message == (
        f"Could not remove alice ({person_dn('alice')}) from group everyone: "
        "objectClassViolation (object class 'groupOfUniqueNames' requires attribute "
        "'uniqueMember') (a groupOfNames or groupOfUniqueNames must keep a member: add another "
        "one first, or delete the group)."
    )
    assert read(slapd, group_dn("everyone"), "uniqueMember") == [person_dn("alice")]


def test_remove_grant_from_a_posix_group(slapd: ThrowawaySlapd) -> None:
    known = ids(slapd)

    result = act(slapd, ActionKind.REMOVE_GRANT, known.accounts["dave"], known.groups["developers"])

    assert result.outcome is ActionOutcome.APPLIED
    assert read(slapd, group_dn("developers"), "memberUid") == ["alice"]


def test_a_grant_through_a_nested_group_is_refused_naming_the_group(slapd: ThrowawaySlapd) -> None:
    known = ids(slapd)
    mark = slapd.log_mark()

    result = act(
        slapd, ActionKind.REMOVE_GRANT, known.accounts["carol"], known.groups["ldap-admins"]
    )

    assert result.outcome is ActionOutcome.FAILED
    assert result.message == (
        f"carol ({person_dn('carol')}) holds group ldap-admins through nested group sre, not "
        "directly: remove the membership in sre instead."
    )
    assert result.details == {"via": [known.groups["sre"]]}
    assert not [op for op in slapd.operations_since(mark) if op.kind == "MOD"]


def test_a_nasty_name_matches_itself_and_nothing_else(slapd: ThrowawaySlapd) -> None:
    conn = admin(slapd, OPENLDAP_BASE)

    def logins(search_filter: str) -> list[str]:
        conn.search(f"ou=people,{OPENLDAP_BASE}", search_filter, attributes=["uid"])
        return sorted(e["raw_attributes"]["uid"][0].decode() for e in conn.response)

    assert logins(equals("uid", NASTY)) == [NASTY]
    for decoy in DECOYS:
        assert logins(equals("uid", decoy)) == [decoy]
    assert logins(equals("member", person_dn(NASTY))) == []  # people are members of nothing
    conn.search(f"ou=groups,{OPENLDAP_BASE}", equals("member", person_dn(NASTY)), attributes=["cn"])
    assert [e["dn"] for e in conn.response] == [group_dn("sre")]
    conn.unbind()


def test_actions_on_a_nasty_name_touch_only_it(slapd: ThrowawaySlapd) -> None:
    known = ids(slapd)
    nasty = known.accounts[SHOWN_NASTY]
    decoys_before = read(slapd, group_dn("decoys"), "member")

    through = act(slapd, ActionKind.REMOVE_GRANT, nasty, known.groups["platform"])
    not_member = act(slapd, ActionKind.REMOVE_GRANT, nasty, known.groups["decoys"])
    removed = act(slapd, ActionKind.REMOVE_GRANT, nasty, known.groups["sre"])

    assert through.outcome is ActionOutcome.FAILED and "through nested group sre" in through.message
    assert not_member.outcome is ActionOutcome.NOOP
    assert read(slapd, group_dn("decoys"), "member") == decoys_before
    assert removed.outcome is ActionOutcome.APPLIED
    assert [v.lower() for v in read(slapd, group_dn("sre"), "member")] == [
        person_dn("carol").lower()
    ]
    assert act(slapd, ActionKind.DISABLE_ACCOUNT, nasty).outcome is ActionOutcome.APPLIED
    locked = {login: read(slapd, person_dn(login), "pwdAccountLockedTime") for login in DECOYS}
    assert locked == {login: [] for login in DECOYS}


def test_missing_write_access_is_a_failed_result(slapd: ThrowawaySlapd) -> None:
    known = ids(slapd)
    # cn=limited may read, not write.
    result = act(
        slapd,
        ActionKind.REMOVE_GRANT,
        known.accounts["bob"],
        known.groups["loop-a"],
        bind_dn=f"cn=limited,{OPENLDAP_BASE}",
    )

    assert result.outcome is ActionOutcome.FAILED
    assert result.message.startswith(f"Could not remove bob ({person_dn('bob')}) from group loop-a")
    assert "insufficientAccessRights" in result.message


def test_wrong_password_export_mode_and_other_systems_fail_cleanly(
    slapd: ThrowawaySlapd, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bob = ids(slapd).accounts["bob"]
    action = Action(
        kind=ActionKind.DISABLE_ACCOUNT, system="openldap", account_id=bob, reason="leaver"
    )
    export = LDAPOptions.model_validate(
        {"type": "ldap", "flavor": "openldap", "mode": "export", "path": tmp_path / "x.ldif"}
    )
    assert LDAPConnector("openldap", export).apply(action).message == (
        'an export cannot be changed: actions need mode = "live"'
    )
    assert connector(slapd).apply(action.model_copy(update={"system": "other"})).outcome is (
        ActionOutcome.FAILED
    )
    with pytest.raises(ActionNotSupported):
        connector(slapd).apply(action.model_copy(update={"kind": ActionKind.REVOKE_SESSIONS}))

    monkeypatch.setenv(PASSWORD_ENV, "not-" + SERVICE_PASSWORD)
    refused = connector(slapd).apply(action)
    assert refused.outcome is ActionOutcome.FAILED
    assert "invalidCredentials" in refused.message and SERVICE_PASSWORD not in refused.message

    monkeypatch.delenv(PASSWORD_ENV)
    unset = connector(slapd).apply(action)
    assert unset.outcome is ActionOutcome.FAILED
    assert unset.message == f"bind_password: environment variable {PASSWORD_ENV} is not set"


# --- Active Directory ---------------------------------------------------------------------


def test_ad_disable_sets_one_bit_and_keeps_the_others(slapd: ThrowawaySlapd) -> None:
    known = ids(slapd, "ad")
    dn = ad_user_dn("Administrator")

    first = act(slapd, ActionKind.DISABLE_ACCOUNT, known.accounts["Administrator"], flavor="ad")
    second = act(slapd, ActionKind.DISABLE_ACCOUNT, known.accounts["Administrator"], flavor="ad")

    assert first.outcome is ActionOutcome.APPLIED
    assert first.message == (
        "Disabled Administrator (cn=Administrator,ou=Staff,dc=corp,dc=example,dc=com): "
        "set ACCOUNTDISABLE in userAccountControl (0x10200 -> 0x10202), its other flags kept."
    )
    assert read(slapd, dn, "userAccountControl", AD_BASE) == [str(0x10202)]
    assert second.outcome is ActionOutcome.NOOP
    assert "is already disabled (userAccountControl 0x10202)" in second.message


def test_ad_lookup_by_a_guid_full_of_filter_characters(slapd: ThrowawaySlapd) -> None:
    known = ids(slapd, "ad")
    others = {n: read(slapd, ad_user_dn(n), "userAccountControl", AD_BASE) for n in ("jdoe",)}

    result = act(slapd, ActionKind.DISABLE_ACCOUNT, known.accounts[SHOWN_NASTY], flavor="ad")

    assert result.outcome is ActionOutcome.APPLIED
    assert read(slapd, ad_user_dn(NASTY), "userAccountControl", AD_BASE) == ["514"]
    assert {n: read(slapd, ad_user_dn(n), "userAccountControl", AD_BASE) for n in others} == (
        others
    )


def test_ad_remove_grant_direct_nested_and_primary(slapd: ThrowawaySlapd) -> None:
    known = ids(slapd, "ad")
    jdoe, sneaky = known.accounts["jdoe"], known.accounts["sneaky"]

    nested = act(slapd, ActionKind.REMOVE_GRANT, jdoe, known.groups["Account Operators"], "ad")
    primary = act(slapd, ActionKind.REMOVE_GRANT, sneaky, known.groups["Domain Admins"], "ad")
    direct = act(slapd, ActionKind.REMOVE_GRANT, jdoe, known.groups["Finance"], "ad")
    again = act(slapd, ActionKind.REMOVE_GRANT, jdoe, known.groups["Finance"], "ad")

    assert nested.outcome is ActionOutcome.FAILED
    assert "through nested group Helpdesk" in nested.message
    assert nested.details == {"via": [known.groups["Helpdesk"]]}
    assert primary.outcome is ActionOutcome.FAILED
    assert "is the primary group of sneaky" in primary.message
    assert (direct.outcome, again.outcome) == (ActionOutcome.APPLIED, ActionOutcome.NOOP)
    members = read(slapd, ad_group_dn("Finance"), "member", AD_BASE)
    assert [dn_key(m) for m in members] == [dn_key(ad_user_dn("temp"))]


# --- permissions --------------------------------------------------------------------------


def _every_action(slapd: ThrowawaySlapd, flavor: str) -> list[tuple[ActionKind, str, str | None]]:
    """Cases that reach every code path (applied, nested, each member attribute)."""
    if flavor == "ad":
        return [
            (ActionKind.DISABLE_ACCOUNT, "lockedout", None),
            (ActionKind.REMOVE_GRANT, "lockedout", "DnsAdmins"),
            (ActionKind.REMOVE_GRANT, "jdoe", "Account Operators"),
            (ActionKind.REMOVE_GRANT, "sneaky", "Domain Admins"),
        ]
    conn = admin(slapd, OPENLDAP_BASE)
    conn.modify(group_dn("everyone"), {"uniqueMember": [("MODIFY_ADD", [person_dn("user02")])]})
    conn.unbind()
    return [
        (ActionKind.DISABLE_ACCOUNT, "user01", None),
        (ActionKind.REMOVE_GRANT, "bob", "loop-a"),  # member
        (ActionKind.REMOVE_GRANT, "carol", "ldap-admins"),  # nested
        (ActionKind.REMOVE_GRANT, "alice", "developers"),  # memberUid
        (ActionKind.REMOVE_GRANT, "user02", "everyone"),  # uniqueMember
    ]


@pytest.mark.parametrize("flavor", ["openldap", "ad"])
def test_actions_use_exactly_the_declared_permissions(slapd: ThrowawaySlapd, flavor: str) -> None:
    known = ids(slapd, flavor)
    cases = _every_action(slapd, flavor)
    mark = slapd.log_mark()

    for kind, login, group in cases:
        result = act(
            slapd, kind, known.accounts[login], known.groups[group] if group else None, flavor
        )
        assert result.outcome is not ActionOutcome.NOOP, result.message

    used = used_permissions(slapd.operations_since(mark), flavor)
    assert used == declared(LDAPConnector.permissions.apply, flavor)
