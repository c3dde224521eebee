"""LDAP connector, AD fine-grained password policies (PSOs): read live from an AD-shaped slapd
and from an ldifde export, each with whom it names and how many accounts it is in force for
(a user's own PSO beats its groups'; the lowest precedence wins), judged by
weak-password-policy; a container the credential may not see leaves them unknown, said."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import tests.support.slapd as slapd_support
from iam_gov.connectors.ldap.connector import LDAPConnector, LDAPOptions
from iam_gov.model import SystemSnapshot
from tests.support.slapd import (
    AD_BASE,
    AD_NOW,
    PSO_CONTAINER_DN,
    ThrowawaySlapd,
    ad_group_dn,
    ad_user_dn,
    admin,
    guid,
    ldapsearch,
    live_options,
    seeded_slapd,
)
from tests.support.world import World

from .test_ad import AD_EXPORT_ATTRIBUTES, AD_EXPORT_FILTER, DOMAIN_SCHEMA

DAY = 864_000_000_000  # 100-ns ticks


def _pso(
    name: str, precedence: int, *applies_to: str, length: int, lockout: int, number: int
) -> tuple[str, dict[str, Any]]:
    return f"CN={name},{PSO_CONTAINER_DN}", {
        "cn": name,
        "objectGUID": guid(number),
        "msDS-PasswordSettingsPrecedence": str(precedence),
        "msDS-PasswordReversibleEncryptionEnabled": "FALSE",
        "msDS-PasswordHistoryLength": "24",
        "msDS-PasswordComplexityEnabled": "TRUE",
        "msDS-MinimumPasswordLength": str(length),
        "msDS-MinimumPasswordAge": str(-DAY),
        "msDS-MaximumPasswordAge": str(-90 * DAY),
        "msDS-LockoutThreshold": str(lockout),
        "msDS-LockoutObservationWindow": str(-DAY // 48),
        "msDS-LockoutDuration": str(-DAY // 48),
        **({"msDS-PSOAppliesTo": list(applies_to)} if applies_to else {}),
    }


# Helpdesk (jdoe and Nasty's group) gets a weak PSO at precedence 20; Finance (jdoe, temp)
# a strong one at 10, which wins for jdoe; msmith is linked to a weak PSO of their own at 30,
# which beats any group's; Ops Mail is a distribution group: a PSO does not apply through it.
PSOS = [
    _pso("Helpdesk PSO", 20, ad_group_dn("Helpdesk"), length=8, lockout=0, number=240),
    _pso("Finance PSO", 10, ad_group_dn("Finance"), length=16, lockout=5, number=241),
    _pso(
        "Legacy PSO",
        30,
        ad_user_dn("msmith"),
        ad_group_dn("Ops Mail"),
        length=6,
        lockout=50,
        number=242,
    ),
]


@pytest.fixture(scope="module")
def slapd() -> Iterator[ThrowawaySlapd]:
    # The domain object with its own policy, as in test_ad, so that only PSOs differ.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(slapd_support, "AD_SCHEMA", slapd_support.AD_SCHEMA + DOMAIN_SCHEMA)
        with seeded_slapd() as server:
            conn = admin(server, AD_BASE)
            conn.modify(
                AD_BASE,
                {
                    "objectClass": [("MODIFY_ADD", ["domainDNS"])],
                    "minPwdLength": [("MODIFY_ADD", ["14"])],
                    "pwdHistoryLength": [("MODIFY_ADD", ["24"])],
                    "lockoutThreshold": [("MODIFY_ADD", ["5"])],
                    "pwdProperties": [("MODIFY_ADD", ["1"])],
                },
            )
            for dn, attributes in PSOS:
                assert conn.add(dn, ["msDS-PasswordSettings"], attributes), conn.result
            conn.unbind()
            yield server


def collect(slapd: ThrowawaySlapd, **extra: Any) -> SystemSnapshot:
    return LDAPConnector("corp", live_options(slapd, "ad", **extra), clock=lambda: AD_NOW).collect()


@pytest.fixture(scope="module")
def live(slapd: ThrowawaySlapd) -> SystemSnapshot:
    return collect(slapd)


def _by_name(snapshot: SystemSnapshot) -> dict[str, dict[str, Any]]:
    return {p["name"]: dict(p) for p in snapshot.settings["password_policies"]}


def test_psos_are_read_with_whom_they_cover(live: SystemSnapshot) -> None:
    assert live.complete, live.errors
    policies = _by_name(live)
    assert list(policies) == ["Finance PSO", "Helpdesk PSO", "Legacy PSO"]  # by precedence
    helpdesk = policies["Helpdesk PSO"]
    assert helpdesk == {
        "source": "ad-pso",
        "id": str(uuid.UUID(bytes_le=guid(240))),
        "name": "Helpdesk PSO",
        "dn": helpdesk["dn"],
        "precedence": 20,
        "min_length": 8,
        "history": 24,
        "lockout_threshold": 0,
        "complexity": True,
        "max_age_days": 90,
        "users": [],
        "groups": ["Helpdesk"],
        "accounts": 1,  # jdoe is in Finance too, whose PSO ranks first: only Nasty's is left
    }
    assert (policies["Finance PSO"]["accounts"], policies["Legacy PSO"]["accounts"]) == (2, 1)
    assert policies["Legacy PSO"]["users"] == ["msmith"]
    effective = {
        a.login: a.attributes.get("password_settings") for a in live.accounts if a.attributes
    }
    assert effective["jdoe"] == "Finance PSO"  # precedence 10 beats 20
    assert effective["temp"] == "Finance PSO"
    assert effective["msmith"] == "Legacy PSO"  # their own; Ops Mail is a distribution group
    assert effective["Administrator"] is None  # the domain's policy


def test_each_weak_pso_is_a_finding_naming_it_and_its_accounts(live: SystemSnapshot) -> None:
    world = World(settings={"corp": dict(live.settings)})
    found = {f.subject: f.message for f in world.findings("weak-password-policy")}

    helpdesk = str(uuid.UUID(bytes_le=guid(240)))
    legacy = str(uuid.UUID(bytes_le=guid(242)))
    assert found.keys() == {f"corp:password-policy:{helpdesk}", f"corp:password-policy:{legacy}"}
    assert found[f"corp:password-policy:{helpdesk}"] == (
        'The password policy "Helpdesk PSO" of corp (precedence 20, in force for 1 account, '
        "through group Helpdesk) falls short: passwords may be 8 characters long (at least 14 "
        "required); accounts never lock after failed sign-ins (after at most 10 required)."
    )
    assert found[f"corp:password-policy:{legacy}"].startswith(
        'The password policy "Legacy PSO" of corp (precedence 30, in force for 1 account, '
        "through group Ops Mail and user msmith) falls short: passwords may be 6 characters"
    )


def test_a_pso_container_the_credential_cannot_see_is_unknown_and_said(
    slapd: ThrowawaySlapd,
) -> None:
    snapshot = collect(slapd, bind_dn=f"cn=limited,{AD_BASE}")

    assert not snapshot.complete
    assert "password_policies" not in snapshot.settings
    (error,) = snapshot.errors
    assert error.record == PSO_CONTAINER_DN
    assert error.message.startswith("the fine-grained password policies (PSOs) could not be read")
    assert error.consequence is not None
    assert error.consequence.startswith("fine-grained password policies unknown")
    # Everything else was read.
    assert {a.login for a in snapshot.accounts} >= {"jdoe", "msmith"}
    assert (
        "password_settings"
        not in next(a for a in snapshot.accounts if a.login == "jdoe").attributes
    )


def test_an_ldapsearch_export_gives_the_same_psos(
    slapd: ThrowawaySlapd, live: SystemSnapshot, tmp_path: Path
) -> None:
    ldif = ldapsearch(slapd, "ad", tmp_path / "corp.ldif", AD_EXPORT_FILTER, AD_EXPORT_ATTRIBUTES)
    options = LDAPOptions.model_validate(
        {"type": "ldap", "flavor": "ad", "mode": "export", "path": ldif, "exported_at": AD_NOW}
    )

    exported = LDAPConnector("corp", options).collect()

    assert exported.complete and exported.errors == ()
    exclude = {"source", "collected_at"}
    assert exported.model_dump(exclude=exclude) == live.model_dump(exclude=exclude)


def test_iam_gov_export_reads_back_the_same_psos(
    slapd: ThrowawaySlapd, live: SystemSnapshot, tmp_path: Path
) -> None:
    connector = LDAPConnector("corp", live_options(slapd, "ad"), clock=lambda: AD_NOW)
    written = connector.write_export(tmp_path)
    options = LDAPOptions.model_validate(
        {**written.options, "path": tmp_path / written.options["path"]}  # type: ignore[operator]
    )

    exported = LDAPConnector("corp", options).collect()

    exclude = {"source", "collected_at"}
    assert exported.model_dump(exclude=exclude) == live.model_dump(exclude=exclude)


# --- ldifde ---------------------------------------------------------------------------------

_CORP = "DC=corp,DC=example,DC=com"


def _ldifde(psos: str, container: bool = True) -> str:
    text = (
        f"dn: CN=Bob,CN=Users,{_CORP}\r\nchangetype: add\r\nobjectClass: user\r\n"
        f"cn: Bob\r\nsAMAccountName: bob\r\nobjectGUID:: AQIDBAUGBwgJCgsMDQ4PEA==\r\n"
        "userAccountControl: 512\r\n\r\n"
        f"dn: CN=Contractors,CN=Users,{_CORP}\r\nchangetype: add\r\nobjectClass: group\r\n"
        f"cn: Contractors\r\nsAMAccountName: Contractors\r\n"
        "objectGUID:: EQIDBAUGBwgJCgsMDQ4PEA==\r\ngroupType: -2147483646\r\n"
        f"member: CN=Bob,CN=Users,{_CORP}\r\n\r\n"
    )
    text += (
        f"dn: {_CORP}\r\nchangetype: add\r\nobjectClass: top\r\nobjectClass: domainDNS\r\n"
        "dc: corp\r\nminPwdLength: 14\r\npwdHistoryLength: 24\r\nlockoutThreshold: 5\r\n"
        "pwdProperties: 1\r\n\r\n"
    )
    if container:
        text += (
            f"dn: CN=Password Settings Container,CN=System,{_CORP}\r\nchangetype: add\r\n"
            "objectClass: top\r\nobjectClass: msDS-PasswordSettingsContainer\r\n"
            "cn: Password Settings Container\r\n\r\n"
        )
    return text + psos


_CONTRACTORS_PSO = (
    f"dn: CN=Contractors PSO,CN=Password Settings Container,CN=System,{_CORP}\r\n"
    "changetype: add\r\nobjectClass: top\r\nobjectClass: msDS-PasswordSettings\r\n"
    "cn: Contractors PSO\r\nobjectGUID:: IQIDBAUGBwgJCgsMDQ4PEA==\r\n"
    "msDS-PasswordSettingsPrecedence: 5\r\n"
    "msDS-MinimumPasswordLength: 10\r\nmsDS-PasswordHistoryLength: 24\r\n"
    "msDS-PasswordComplexityEnabled: FALSE\r\n"
    "msDS-MaximumPasswordAge: -9223372036854775808\r\nmsDS-LockoutThreshold: 10\r\n"
    f"msDS-PSOAppliesTo: CN=Contractors,CN=Users,{_CORP}\r\n\r\n"
)


def _export(tmp_path: Path, text: str) -> SystemSnapshot:
    path = tmp_path / "out.ldf"
    path.write_text(text)
    options = LDAPOptions.model_validate(
        {"type": "ldap", "flavor": "ad", "mode": "export", "path": path, "exported_at": AD_NOW}
    )
    return LDAPConnector("corp", options).collect()


def test_a_pso_from_an_ldifde_export(tmp_path: Path) -> None:
    snapshot = _export(tmp_path, _ldifde(_CONTRACTORS_PSO))

    (pso,) = snapshot.settings["password_policies"]
    assert pso["name"] == "Contractors PSO" and pso["accounts"] == 1
    assert pso["complexity"] is False and pso["max_age_days"] is None  # never
    assert pso["groups"] == ["Contractors"]
    world = World(settings={"corp": dict(snapshot.settings)})
    (finding,) = world.findings("weak-password-policy")
    assert finding.message == (
        'The password policy "Contractors PSO" of corp (precedence 5, in force for 1 account, '
        "through group Contractors) falls short: passwords may be 10 characters long (at least "
        "14 required); no complexity rule: uppercase, lowercase, numbers and symbols are not "
        "required."
    )


def test_an_export_without_the_pso_container_says_they_are_unknown(tmp_path: Path) -> None:
    snapshot = _export(tmp_path, _ldifde("", container=False))

    assert "password_policies" not in snapshot.settings
    (note,) = snapshot.errors
    assert note.message.startswith("no Password Settings Container")
    assert note.consequence is not None and "weak-password-policy" in note.consequence
    # The access data in it is whole, as with a missing domain object.
    assert snapshot.complete


def test_an_export_with_the_empty_container_has_no_psos_and_says_nothing(tmp_path: Path) -> None:
    snapshot = _export(tmp_path, _ldifde(""))

    assert snapshot.complete and snapshot.errors == ()
    assert "password_policies" not in snapshot.settings


def test_a_pso_whose_links_cannot_be_read_is_said(tmp_path: Path) -> None:
    text = _CONTRACTORS_PSO.replace(f"msDS-PSOAppliesTo: CN=Contractors,CN=Users,{_CORP}\r\n", "")
    snapshot = _export(tmp_path, _ldifde(text))

    (pso,) = snapshot.settings["password_policies"]
    assert pso["accounts"] == 0
    (note,) = snapshot.errors
    assert note.message == (
        "password settings object: msDS-PSOAppliesTo cannot be read (can the credential read "
        "it?); left unknown"
    )
    assert note.consequence == "whom this PSO covers, and how it ranks, is not known"
