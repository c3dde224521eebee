"""vpn-without-mfa where OpenVPN checks passwords through RADIUS or LDAP: each VPN user is
judged by the factors they enrolled in the identity provider behind it (``mfa_from``).

The VPN's snapshot is the OpenVPN connector's own, collected from a real easy-rsa PKI and a
server.conf with the plugin; the identity provider's accounts are built in memory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from iam_gov.connectors.openvpn.connector import OpenVPNConnector, OpenVPNOptions
from iam_gov.model import Account, Finding, Severity, SystemSnapshot
from tests.support.pki import demo_pki
from tests.support.world import World, account, person

RULE = "vpn-without-mfa"
RADIUS = "plugin /usr/lib/openvpn/radiusplugin.so /etc/openvpn/radiusplugin.cnf\n"
LDAP = 'plugin /usr/lib/openvpn/openvpn-auth-ldap.so "/etc/openvpn/auth/ldap.conf"\n'


@pytest.fixture
def vpn_files(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo PKI (alice, bob, carol revoked, dave, erin@example.com, the server) and a
    mapping naming alice, bob and dave; erin is found by her e-mail address."""
    demo = demo_pki(tmp_path_factory, tmp_path / "easy-rsa")
    mapping = demo.pki.root / "vpn-identities.yaml"
    mapping.write_text(
        "identities:\n"
        "  - {cn: alice, login: alice@example.com, employee_id: E1}\n"
        "  - {cn: bob, login: bob@example.com, employee_id: E2}\n"
        "  - {cn: dave, login: dave@example.com, employee_id: E3}\n"
    )
    return demo.pki.dir


def vpn_snapshot(pki_dir: Path, conf_text: str, **options: Any) -> SystemSnapshot:
    conf = pki_dir.parent / "server.conf"
    conf.write_text(f"dev tun\nremote-cert-tls client\ncrl-verify {pki_dir}/crl.pem\n{conf_text}")
    return OpenVPNConnector(
        "vpn",
        OpenVPNOptions.model_validate(
            {
                "type": "openvpn",
                "pki_dir": pki_dir,
                "server_conf": conf,
                "mapping": pki_dir.parent / "vpn-identities.yaml",
                **options,
            }
        ),
    ).collect()


PEOPLE = [
    person("E1", "Alice Archer"),
    person("E2", "Bob Baker"),
    person("E3", "Dave Dunn"),
    person("E4", "Erin Example", email="erin@example.com"),
]


def okta(login: str, employee_id: str, factors: tuple[str, ...] | None) -> Account:
    return account(login, system="okta", employee_id=employee_id, mfa_factors=factors)


def world(snapshot: SystemSnapshot, idp: list[Account], **extra: Any) -> World:
    return World(
        people=PEOPLE,
        accounts=[*snapshot.accounts, *idp],
        settings={"vpn": snapshot.settings},
        **extra,
    )


def per_user(findings: list[Finding]) -> dict[str, Finding]:
    return {f.evidence["account_login"]: f for f in findings if f.severity is Severity.HIGH}


def statement(findings: list[Finding]) -> Finding:
    [found] = [f for f in findings if f.subject == "vpn:vpn-mfa-not-concluded"]
    return found


def test_the_user_without_a_factor_in_the_idp_is_reported_though_the_server_requires_mfa(
    vpn_files: Path,
) -> None:
    snapshot = vpn_snapshot(vpn_files, RADIUS, mfa_from="okta")
    # A certificate and a RADIUS password: the server alone would count as MFA.
    auth = snapshot.settings["vpn"]["authentication"]
    assert auth["certificate"] and auth["password"] and auth["method"] == "radius"
    idp = [
        okta("alice@example.com", "E1", ("push",)),
        okta("bob@example.com", "E2", ()),
        okta("erin@example.com", "E4", ("token:software:totp",)),
        okta("dave@example.com", "E3", ("push",)),
    ]

    findings = world(snapshot, idp).findings(RULE)

    [bob] = findings
    assert bob.severity is Severity.HIGH
    assert bob.person_id == "E2"
    assert bob.subject == "vpn:bob:okta"
    assert bob.message == (
        "Bob Baker can connect to the VPN vpn, which relies on okta sign-in for its second "
        "factor (mfa_from), and their okta account bob@example.com has no MFA factor."
    )
    assert bob.evidence["identity_provider"] == "okta"
    assert bob.evidence["option"] == "mfa_from"


def test_users_whose_factors_are_unknown_are_not_concluded_and_said_so(vpn_files: Path) -> None:
    snapshot = vpn_snapshot(vpn_files, RADIUS, mfa_from="okta")
    idp = [
        okta("alice@example.com", "E1", ("push",)),
        okta("bob@example.com", "E2", ()),
        okta("dave@example.com", "E3", None),  # factors not read (collect_factors = false …)
    ]

    findings = world(snapshot, idp, incomplete_systems={"okta"}).findings(RULE)

    # What is known is still reported: bob's factor list was read, and it is empty.
    assert set(per_user(findings)) == {"bob@example.com"}
    said = statement(findings)
    assert said.severity is Severity.LOW
    assert said.evidence["not_concluded"] == [
        "dave@example.com: okta does not report their factors",
        "erin@example.com: no active okta account, not in its snapshot (which is incomplete)",
    ]
    assert said.message.startswith(
        "Whether 2 users of the VPN vpn have a second factor in okta (mfa_from) is not concluded"
    )


def test_everyone_enrolled_is_no_finding(vpn_files: Path) -> None:
    snapshot = vpn_snapshot(vpn_files, LDAP, mfa_from="okta")
    idp = [
        okta("alice@example.com", "E1", ("push",)),
        okta("bob@example.com", "E2", ("webauthn",)),
        okta("dave@example.com", "E3", ("push",)),
        okta("erin@example.com", "E4", ("push",)),
    ]

    assert world(snapshot, idp).findings(RULE) == []


def test_radius_without_mfa_from_cannot_conclude_and_names_the_option(vpn_files: Path) -> None:
    snapshot = vpn_snapshot(vpn_files, RADIUS)
    idp = [okta("bob@example.com", "E2", ())]

    [said] = world(snapshot, idp).findings(RULE)

    assert said.severity is Severity.LOW
    assert said.subject == "vpn:vpn-mfa-not-concluded"
    assert said.message == (
        "The VPN vpn checks passwords through RADIUS (/usr/lib/openvpn/radiusplugin.so): "
        "whether its 4 users are asked for a second factor depends on what each has enrolled "
        "in the identity provider behind it, which iam-gov does not know. Not concluded: set "
        'mfa_from = "<that system>" in [systems.vpn].'
    )


def test_relies_on_stands_in_for_mfa_from_behind_ldap(vpn_files: Path) -> None:
    snapshot = vpn_snapshot(vpn_files, LDAP, relies_on="okta")
    idp = [
        okta("alice@example.com", "E1", ()),
        okta("bob@example.com", "E2", ("push",)),
        okta("dave@example.com", "E3", ("push",)),
        okta("erin@example.com", "E4", ("push",)),
    ]

    [alice] = world(snapshot, idp).findings(RULE)

    assert (alice.person_id, alice.evidence["option"]) == ("E1", "relies_on")


def test_the_vpn_user_name_picks_the_idp_account_among_several(vpn_files: Path) -> None:
    snapshot = vpn_snapshot(vpn_files, RADIUS, mfa_from="okta")
    idp = [
        okta("alice@example.com", "E1", ()),  # the account RADIUS is given: no factor
        okta("alice.admin@example.com", "E1", ("webauthn",)),
        okta("bob@example.com", "E2", ("push",)),
        okta("dave@example.com", "E3", ("push",)),
        okta("erin@example.com", "E4", ("push",)),
    ]

    findings = world(snapshot, idp).findings(RULE)

    assert [f.evidence["idp_account"] for f in findings] == ["alice@example.com"]


def test_an_idp_that_is_not_collected_cannot_be_verified(vpn_files: Path) -> None:
    snapshot = vpn_snapshot(vpn_files, RADIUS, mfa_from="entra")

    [found] = world(snapshot, [okta("bob@example.com", "E2", ())]).findings(RULE)

    assert found.severity is Severity.MEDIUM
    assert "checks passwords against entra, which iam-gov does not collect" in found.message


def test_mfa_from_without_a_password_check_is_said_to_be_unused(vpn_files: Path) -> None:
    snapshot = vpn_snapshot(vpn_files, "", mfa_from="okta")

    [found] = world(snapshot, [okta("bob@example.com", "E2", ())]).findings(RULE)

    assert found.subject == "vpn:vpn-authentication"
    assert "with a certificate alone" in found.message
    assert "(mfa_from = 'okta' is not used: the server asks no password)" in found.message
