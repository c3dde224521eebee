"""LDAP incremental collects against a real slapd: OpenLDAP by modifyTimestamp, the AD-shaped
directory by uSNChanged and the rootDSE's highestCommittedUSN (kept here as a DC keeps them),
deletions seen by a names-only pass, each fall-back to a full read with its reason, an
incomplete read that keeps the old baseline, and the entries read compared with a full read."""

from __future__ import annotations

import contextlib
import itertools
import random
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import ldap3
import pytest
from ldap3.core.exceptions import LDAPAttributeOrValueExistsResult

import iam_gov.connectors.ldap.incremental as ldap_incremental
import tests.support.slapd as slapd_support
from iam_gov.connectors.ldap.connector import LDAPConnector, LDAPOptions
from iam_gov.connectors.ldap.incremental import INCREMENTAL_PERMISSIONS
from iam_gov.model import SystemSnapshot
from tests.connectors.ldap.test_live import used_with_policy
from tests.support.slapd import (
    AD_BASE,
    OPENLDAP_BASE,
    ThrowawaySlapd,
    ad_group_dn,
    ad_user_dn,
    admin,
    declared,
    group_dn,
    guid,
    live_options,
    person_dn,
    seeded_slapd,
)

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
CONFIG_PASSWORD = "config-secret"
NTDS_SETTINGS = f"CN=NTDS Settings,CN=DC1,CN=System,{AD_BASE}"

# What a domain controller has and the AD-shaped schema lacks: uSNChanged on users and groups,
# the rootDSE's highestCommittedUSN and dsServiceName, the NTDS Settings' invocationId.
USN_SCHEMA = """
attributetype ( 1.2.840.113556.1.2.120 NAME 'uSNChanged'
    EQUALITY integerMatch ORDERING integerOrderingMatch
    SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.1719 NAME 'highestCommittedUSN'
    EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.1720 NAME 'dsServiceName'
    EQUALITY distinguishedNameMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.2.115 NAME 'invocationId'
    EQUALITY octetStringMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.40 SINGLE-VALUE )
objectclass ( 1.2.840.113556.1.5.7000.47 NAME 'nTDSDSA' SUP top STRUCTURAL MUST cn
    MAY invocationId )
"""


def _config_with_root_dse(original: Any) -> Any:
    """slapd.conf with the rootDSE read from a file and cn=config writable, so that a test
    can move the rootDSE's highestCommittedUSN as a DC does."""

    def config(folder: Path) -> str:
        text: str = original(folder)
        root = folder / "rootdse-0.ldif"
        root.write_text(_root_dse(1000, NTDS_SETTINGS))
        text = text.replace(
            f"include {folder}/ad.schema", f"include {folder}/ad.schema\nrootDSE {root}"
        )
        return text.replace(
            "\ndatabase mdb", f"\ndatabase config\nrootpw {CONFIG_PASSWORD}\n\ndatabase mdb", 1
        )

    return config


def _root_dse(usn: int, service: str) -> str:
    return f"dn:\nhighestCommittedUSN: {usn}\ndsServiceName: {service}\n"


class DomainController:
    """The test's side of the AD-shaped directory: every change gets the next USN, on the
    entry (uSNChanged) and in the rootDSE (highestCommittedUSN)."""

    def __init__(self, server: ThrowawaySlapd) -> None:
        self.server = server
        self.usn = 1000
        self.files = itertools.count(1)
        self.service = NTDS_SETTINGS

    def _config(self) -> Any:
        return ldap3.Connection(
            ldap3.Server(self.server.url, get_info=ldap3.NONE),
            "cn=config",
            CONFIG_PASSWORD,
            auto_bind=True,
            raise_exceptions=True,
        )

    def publish(self, usn: int | None = None, service: str | None = None) -> None:
        """The rootDSE as slapd serves it (a new file each time: slapd reads it when added)."""
        self.usn = self.usn if usn is None else usn
        self.service = self.service if service is None else service
        path = self.server.dir / f"rootdse-{next(self.files)}.ldif"
        path.write_text(_root_dse(self.usn, self.service))
        path.chmod(0o644)
        conn = self._config()
        conn.modify("cn=config", {"olcRootDSE": [("MODIFY_ADD", [str(path)])]})
        conn.unbind()

    def stamp(self, dn: str) -> None:
        self.usn += 1
        conn = admin(self.server, AD_BASE)
        conn.modify(dn, {"uSNChanged": [("MODIFY_REPLACE", [str(self.usn)])]})
        conn.unbind()
        self.publish()

    def modify(self, dn: str, changes: dict[str, Any]) -> None:
        conn = admin(self.server, AD_BASE)
        conn.modify(dn, changes)
        conn.unbind()
        self.stamp(dn)

    def add(self, dn: str, classes: list[str], attributes: dict[str, Any]) -> None:
        conn = admin(self.server, AD_BASE)
        conn.add(dn, classes, attributes)
        conn.unbind()
        self.stamp(dn)

    def delete(self, dn: str) -> None:
        conn = admin(self.server, AD_BASE)
        conn.delete(dn)
        conn.unbind()
        self.usn += 1  # the tombstone's USN: the reader cannot see it
        self.publish()

    def invocation(self, value: bytes) -> None:
        conn = admin(self.server, AD_BASE)
        conn.modify(NTDS_SETTINGS, {"invocationId": [("MODIFY_REPLACE", [value])]})
        conn.unbind()

    def limit(self, base: str, bind_dn: str, total: int | None) -> None:
        """A paged-results total limit on ``bind_dn`` (None: back to the seeded limits)."""
        conn = self._config()
        database = (
            "olcDatabase={1}mdb,cn=config"
            if base == OPENLDAP_BASE
            else ("olcDatabase={2}mdb,cn=config")
        )
        conn.search(database, "(objectClass=*)", "BASE", attributes=["olcLimits"])
        kept = [
            re.sub(r"^\{\d+\}", "", value)
            for value in conn.entries[0].olcLimits.values
            if bind_dn not in value
        ]
        if total is not None:
            kept.append(f'dn.exact="{bind_dn}" size.prtotal={total}')
        conn.modify(database, {"olcLimits": [("MODIFY_REPLACE", kept)]})
        conn.unbind()


@pytest.fixture(scope="module")
def slapd() -> Iterator[ThrowawaySlapd]:
    schema = slapd_support.AD_SCHEMA.replace(
        "MAY ( objectGUID $ objectSid $ sAMAccountName $",
        "MAY ( uSNChanged $ objectGUID $ objectSid $ sAMAccountName $",
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(slapd_support, "AD_SCHEMA", USN_SCHEMA + schema)
        patch.setattr(slapd_support, "_config", _config_with_root_dse(slapd_support._config))
        with seeded_slapd() as server:
            conn = admin(server, AD_BASE)
            conn.add(f"CN=DC1,CN=System,{AD_BASE}", ["container"], {"cn": "DC1"})
            conn.add(NTDS_SETTINGS, ["nTDSDSA"], {"invocationId": guid(7)})
            conn.unbind()
            yield server


@pytest.fixture(scope="module")
def dc(slapd: ThrowawaySlapd) -> DomainController:
    controller = DomainController(slapd)
    conn = admin(slapd, AD_BASE)
    for search_filter in ("(objectClass=user)", "(objectClass=group)"):
        conn.search(AD_BASE, search_filter, attributes=["1.1"])
        for item in list(conn.response):
            controller.usn += 1
            conn.modify(item["dn"], {"uSNChanged": [("MODIFY_REPLACE", [str(controller.usn)])]})
    conn.unbind()
    controller.publish()
    return controller


@pytest.fixture(autouse=True)
def _state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IAM_GOV_STATE_DIR", str(tmp_path / "state"))


def collect(
    server: ThrowawaySlapd, flavor: str = "openldap", *, now: datetime = NOW, **extra: Any
) -> SystemSnapshot:
    options = live_options(server, flavor, **{"incremental": True, **extra})
    return LDAPConnector("dir", options, clock=lambda: now).collect()


def full(server: ThrowawaySlapd, flavor: str = "openldap", **extra: Any) -> SystemSnapshot:
    """A fresh full read, incremental collects off."""
    options = live_options(server, flavor, **extra)
    return LDAPConnector("dir", options, clock=lambda: NOW).collect()


def comparable(snapshot: SystemSnapshot) -> dict[str, Any]:
    data = snapshot.model_dump(mode="json")
    data.pop("collected_at")
    data["settings"].pop("collect", None)
    return data


def how(snapshot: SystemSnapshot) -> dict[str, Any]:
    return dict(snapshot.settings["collect"])


# --- OpenLDAP -------------------------------------------------------------------------------


def _openldap_mutations(server: ThrowawaySlapd, rng: random.Random, tag: str) -> None:
    """Adds, removes, renames, locks, a sign-in, a password removed, memberships changed and
    a group deleted: one random series of them."""
    conn = admin(server, OPENLDAP_BASE)
    conn.search(f"ou=people,{OPENLDAP_BASE}", "(uid=user*)", attributes=["uid"])
    fillers = sorted(str(entry.uid) for entry in conn.entries)
    conn.search(f"ou=groups,{OPENLDAP_BASE}", "(objectClass=groupOfNames)", attributes=["cn"])
    groups = sorted(str(entry.cn) for entry in conn.entries if str(entry.cn).startswith("g-"))

    def add_user() -> None:
        login = f"user-{tag}-{rng.randrange(10**6)}"
        conn.add(
            person_dn(login),
            ["inetOrgPerson"],
            {"uid": login, "cn": login, "sn": "New", "userPassword": "Passw0rd!"},
        )

    def remove_user() -> None:
        if fillers:
            conn.delete(person_dn(fillers.pop(rng.randrange(len(fillers)))))

    def rename_user() -> None:
        if fillers:
            old = fillers.pop(rng.randrange(len(fillers)))
            conn.modify_dn(person_dn(old), f"uid={old}-renamed-{tag}")

    def lock_user() -> None:
        if fillers:
            conn.modify(
                person_dn(rng.choice(fillers)),
                {"pwdAccountLockedTime": [("MODIFY_REPLACE", ["000001010000Z"])]},
            )

    def sign_in() -> None:
        if fillers:
            login = rng.choice(fillers)
            conn.modify(person_dn(login), {"userPassword": [("MODIFY_REPLACE", ["Passw0rd!"])]})
            ldap3.Connection(
                ldap3.Server(server.url, get_info=ldap3.NONE),
                person_dn(login),
                "Passw0rd!",
                auto_bind=True,
            ).unbind()

    def drop_password() -> None:
        if fillers:
            conn.modify(person_dn(rng.choice(fillers)), {"userPassword": [("MODIFY_REPLACE", [])]})

    def new_group() -> None:
        name = f"g-{tag}-{rng.randrange(10**6)}"
        members = [person_dn(rng.choice(fillers))] if fillers else [person_dn("alice")]
        conn.add(group_dn(name), ["groupOfNames"], {"cn": name, "member": members})
        groups.append(name)

    def change_membership() -> None:
        target = group_dn(rng.choice(["sre", "platform", *groups]))
        member = person_dn(rng.choice(fillers)) if fillers else person_dn("bob")
        with contextlib.suppress(LDAPAttributeOrValueExistsResult):  # a member already
            conn.modify(target, {"member": [("MODIFY_ADD", [member])]})

    def delete_group() -> None:
        if groups:
            conn.delete(group_dn(groups.pop(rng.randrange(len(groups)))))

    steps = [
        add_user,
        remove_user,
        rename_user,
        lock_user,
        sign_in,
        drop_password,
        new_group,
        change_membership,
        delete_group,
    ]
    for step in rng.sample(steps, k=len(steps)) + rng.choices(steps, k=4):
        step()
    conn.unbind()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_openldap_incremental_equals_a_full_read_of_the_same_state(
    slapd: ThrowawaySlapd, seed: int
) -> None:
    """After a baseline, a random series of changes read incrementally gives exactly the
    snapshot a fresh full read gives; twice in a row, the second from the first's baseline."""
    rng = random.Random(seed)
    first = collect(slapd, page_size=4)
    assert how(first)["mode"] == "full" and first.complete, first.errors
    for round_ in range(2):
        _openldap_mutations(slapd, rng, f"{seed}{round_}")
        incremental = collect(slapd, page_size=4)
        assert how(incremental)["mode"] == "incremental", how(incremental)
        assert incremental.complete, incremental.errors
        assert comparable(incremental) == comparable(full(slapd))


def test_the_counts_say_what_changed(slapd: ThrowawaySlapd) -> None:
    """A new user, a deleted one and a membership change are counted as such."""
    collect(slapd)
    conn = admin(slapd, OPENLDAP_BASE)
    conn.add(person_dn("counted"), ["inetOrgPerson"], {"uid": "counted", "cn": "C", "sn": "C"})
    conn.add(person_dn("gone"), ["inetOrgPerson"], {"uid": "gone", "cn": "G", "sn": "G"})
    collect(slapd)
    conn.delete(person_dn("gone"))
    conn.modify(group_dn("sre"), {"member": [("MODIFY_ADD", [person_dn("counted")])]})
    conn.unbind()

    changes = how(collect(slapd))["changes"]

    assert changes["users removed"] == 1
    assert changes["groups changed"] >= 1 and changes["groups removed"] == 0
    accounts = {a.login for a in full(slapd).accounts}
    assert "counted" in accounts and "gone" not in accounts


def _entries_read(server: ThrowawaySlapd, mark: int) -> tuple[int, int, int]:
    """(searches, entries returned with attributes, entries returned as names only) since
    ``mark``, from slapd's stats log."""
    text = server.log_path.read_bytes()[mark:].decode("utf-8", "replace")
    attributes: dict[str, list[str]] = {}
    for match in re.finditer(r"conn=(\d+) op=(\d+) SRCH attr=([^\n]*)", text):
        attributes.setdefault(f"{match[1]}/{match[2]}", []).extend(match[3].split())
    searches = with_values = names_only = 0
    for match in re.finditer(r"conn=(\d+) op=(\d+) SEARCH RESULT [^\n]*nentries=(\d+)", text):
        searches += 1
        if attributes.get(f"{match[1]}/{match[2]}", ["1.1"]) == ["1.1"]:
            names_only += int(match[3])
        else:
            with_values += int(match[3])
    return searches, with_values, names_only


def test_an_incremental_read_reads_far_fewer_entries(
    slapd: ThrowawaySlapd, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Entries with their attributes: every user and group in a full read, only the changed
    ones (and the password policy) in an incremental one; the rest is names only."""
    # Every entry here is seconds old: without the overlap, and two seconds apart (the
    # timestamps' resolution, the cursor rounded down), only the baseline's newest change is
    # read again.
    monkeypatch.setattr(ldap_incremental, "OVERLAP", timedelta(0))
    conn = admin(slapd, OPENLDAP_BASE)
    time.sleep(2.1)
    conn.modify(person_dn("bob"), {"title": [("MODIFY_REPLACE", ["Baker"])]})
    mark = slapd.log_mark()
    collect(slapd)
    _, full_values, _ = _entries_read(slapd, mark)
    conn.modify(person_dn("alice"), {"title": [("MODIFY_REPLACE", ["Engineer"])]})
    conn.unbind()

    mark = slapd.log_mark()
    snapshot = collect(slapd)
    _, incremental_values, names = _entries_read(slapd, mark)

    assert how(snapshot)["mode"] == "incremental"
    assert full_values >= 20
    assert incremental_values * 5 <= full_values, (incremental_values, full_values)
    assert names >= full_values - 1  # every user and group, and who has a password, by name


# --- falling back to a full read ------------------------------------------------------------


def test_each_fall_back_to_a_full_read_says_why(slapd: ThrowawaySlapd, tmp_path: Path) -> None:
    """No baseline, other filters, an edited baseline file, full_every_days elapsed: a full
    read each time, its reason in settings["collect"]["why"]."""
    first = collect(slapd)
    assert how(first) == {
        "mode": "full",
        "why": "no baseline yet (the first collect reads everything)",
        "changes": {},
    }
    assert how(collect(slapd))["mode"] == "incremental"

    other = collect(slapd, user_filter="(objectClass=inetOrgPerson)")
    assert how(other)["mode"] == "full"
    assert "other options" in how(other)["why"]

    collect(slapd)  # the baseline for the default filters again
    ldif = next((tmp_path / "state" / "dir" / "current").rglob("directory.ldif"))
    ldif.write_text(ldif.read_text().replace("Alice Archer", "Alice Forged"))
    edited = collect(slapd)
    assert how(edited)["mode"] == "full"
    assert "does not match its recorded digest" in how(edited)["why"]
    assert "Alice Forged" not in str(edited.model_dump())

    later = collect(slapd, now=NOW + timedelta(days=8))
    assert how(later)["mode"] == "full"
    assert "8 day(s) ago (full_every_days = 7)" in how(later)["why"]
    assert how(collect(slapd, now=NOW + timedelta(days=9)))["mode"] == "incremental"


def test_incremental_is_off_by_default_and_writes_no_state(
    slapd: ThrowawaySlapd, tmp_path: Path
) -> None:
    """Without incremental = true a collect is as before: no baseline, no settings["collect"]."""
    snapshot = full(slapd)
    assert "collect" not in snapshot.settings
    assert not (tmp_path / "state").exists()


def test_incremental_options_are_live_only(tmp_path: Path) -> None:
    """mode = "export" refuses the incremental options."""
    with pytest.raises(ValueError, match="incremental only apply"):
        LDAPOptions.model_validate(
            {
                "type": "ldap",
                "flavor": "openldap",
                "mode": "export",
                "path": tmp_path / "x.ldif",
                "incremental": True,
            }
        )


def test_a_page_that_fails_keeps_the_old_baseline(
    slapd: ThrowawaySlapd, dc: DomainController, tmp_path: Path
) -> None:
    """A names-only pass cut short by the server: the snapshot is incomplete saying so, no
    entry is taken as deleted, and the baseline is not replaced."""
    collect(slapd, page_size=2)
    manifest = tmp_path / "state" / "dir" / "current" / "baseline.json"
    before = manifest.read_text()
    reader = f"cn=iam-gov,{OPENLDAP_BASE}"
    dc.limit(OPENLDAP_BASE, reader, 6)
    try:
        snapshot = collect(slapd, page_size=2)
    finally:
        dc.limit(OPENLDAP_BASE, reader, None)

    assert how(snapshot)["mode"] == "incremental"
    assert not snapshot.complete
    assert any("names only" in error.message for error in snapshot.errors), snapshot.errors
    assert {a.login for a in snapshot.accounts} == {a.login for a in full(slapd).accounts}
    assert manifest.read_text() == before
    assert how(collect(slapd, page_size=2))["mode"] == "incremental"


# --- Active Directory -----------------------------------------------------------------------


def test_ad_incremental_equals_a_full_read_of_the_same_state(
    slapd: ThrowawaySlapd, dc: DomainController
) -> None:
    """Disabling, a new member, a deleted user, a new user, a renamed group and a group's
    members changed, read by uSNChanged, give the snapshot a full read gives."""
    first = collect(slapd, "ad")
    assert how(first)["mode"] == "full", how(first)
    dc.modify(ad_user_dn("jdoe"), {"userAccountControl": [("MODIFY_REPLACE", ["514"])]})
    dc.modify(ad_group_dn("Finance"), {"member": [("MODIFY_ADD", [ad_user_dn("msmith")])]})
    dc.delete(ad_user_dn("temp"))
    dc.add(
        ad_user_dn("hire2"),
        ["user"],
        {
            "cn": "hire2",
            "sn": "hire2",
            "sAMAccountName": "hire2",
            "objectGUID": guid(77),
            "objectCategory": "person",
            "userAccountControl": "512",
        },
    )
    conn = admin(slapd, AD_BASE)
    conn.modify_dn(ad_group_dn("Ops Mail"), "CN=Ops Mail Renamed")
    conn.unbind()
    dc.stamp(ad_group_dn("Ops Mail Renamed"))

    incremental = collect(slapd, "ad")

    assert how(incremental)["mode"] == "incremental", how(incremental)
    assert how(incremental)["changes"]["users removed"] == 1
    assert comparable(incremental) == comparable(full(slapd, "ad"))


def test_ad_a_lower_usn_another_dc_or_a_restore_is_a_lost_feed(
    slapd: ThrowawaySlapd, dc: DomainController
) -> None:
    """highestCommittedUSN below the cursor, another dsServiceName, a new invocationId, and
    another URL of the failover list answering: each a full read saying why."""
    collect(slapd, "ad")
    usn = dc.usn
    dc.publish(usn - 10)
    try:
        lower = collect(slapd, "ad")
    finally:
        dc.publish(usn)
    assert how(lower)["mode"] == "full"
    assert "lower than the baseline's" in how(lower)["why"]

    dc.publish(service=f"CN=NTDS Settings,CN=DC2,CN=System,{AD_BASE}")
    try:
        other = collect(slapd, "ad")
    finally:
        dc.publish(service=NTDS_SETTINGS)
    assert "another domain controller answered" in how(other)["why"]
    collect(slapd, "ad")

    dc.invocation(guid(8))
    restored = collect(slapd, "ad")
    assert "invocationId changed" in how(restored)["why"]
    assert how(collect(slapd, "ad"))["mode"] == "incremental"

    dead = f"ldap://127.0.0.1:{slapd_support.free_port()}"
    failover = collect(slapd, "ad", url=[dead, f"ldap://localhost:{slapd.port}"])
    assert how(failover)["mode"] == "full"
    assert "another server answered" in how(failover)["why"]
    assert comparable(failover) == comparable(
        full(slapd, "ad", url=[dead, f"ldap://localhost:{slapd.port}"])
    )


def test_openldap_incremental_uses_exactly_the_declared_permissions(
    slapd: ThrowawaySlapd,
) -> None:
    """A full and an incremental read search and read what the collect permissions and the
    incremental ones declare, no more and no less."""
    mark = slapd.log_mark()
    collect(slapd)
    collect(slapd)

    used = used_with_policy(slapd.operations_since(mark))
    wanted = declared(LDAPConnector.permissions.collect + INCREMENTAL_PERMISSIONS, "openldap")
    assert "openldap:search:user/modifyTimestamp" in used
    assert used == wanted


def test_entries_the_export_reader_would_sort_otherwise_keep_no_baseline(
    slapd: ThrowawaySlapd,
) -> None:
    """A user filter that finds entries of no user class (the service accounts, roles here):
    the LDIF baseline would read back without them, so none is kept and each collect reads
    in full, giving the snapshot a plain collect gives."""
    odd = "(|(objectClass=person)(objectClass=organizationalRole))"
    first = collect(slapd, user_filter=odd)
    second = collect(slapd, user_filter=odd)

    assert (
        how(second)
        == how(first)
        == {
            "mode": "full",
            "why": "no baseline yet (the first collect reads everything)",
            "changes": {},
        }
    )
    assert comparable(second) == comparable(full(slapd, user_filter=odd))
