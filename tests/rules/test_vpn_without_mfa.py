"""vpn-without-mfa: a VPN that one factor opens, or an identity provider without MFA."""

from __future__ import annotations

from typing import Any

from iam_gov.model import AccountStatus, Severity
from tests.support.world import World, account, person

RULE = "vpn-without-mfa"


def vpn_world(auth: dict[str, Any], **extra: Any) -> World:
    vpn_user = account("jane.doe", system="vpn", employee_id="E1", mfa_factors=None)
    gone = account("old.cert", system="vpn", status=AccountStatus.DISABLED, mfa_factors=None)
    return World(
        people=[person("E1", "Jane Doe")],
        accounts=[vpn_user, gone, *extra.get("accounts", [])],
        settings={"vpn": {"vpn": {"kind": "openvpn", "authentication": auth}}},
    )


def test_a_certificate_only_vpn_is_one_finding_for_the_server() -> None:
    [finding] = vpn_world({"certificate": True, "password": None}).findings(RULE)
    assert finding.severity is Severity.HIGH
    assert finding.subject == "vpn:vpn-authentication"
    assert "lets 1 identities connect with a certificate alone" in finding.message
    assert finding.evidence["identities_that_can_connect"] == 1


def test_a_password_only_vpn_is_reported_too() -> None:
    [finding] = vpn_world({"certificate": False, "password": "plugin:auth-pam"}).findings(RULE)
    assert "with a password alone" in finding.message


def test_a_second_factor_or_certificate_plus_password_is_mfa() -> None:
    assert (
        vpn_world({"certificate": True, "second_factor": "google-authenticator PAM"}).findings(RULE)
        == []
    )
    assert vpn_world({"certificate": True, "password": "plugin:radius"}).findings(RULE) == []


def test_a_vpn_nobody_can_use_is_not_reported() -> None:
    world = vpn_world({"certificate": True})
    world.accounts = [a for a in world.accounts if a.status is not AccountStatus.ACTIVE]
    assert world.findings(RULE) == []


def test_relying_on_an_identity_provider_checks_each_person_there() -> None:
    no_mfa = account("jane.doe@example.com", system="okta", employee_id="E1", mfa_factors=())
    world = vpn_world({"password": "plugin:radius", "relies_on": "okta"}, accounts=[no_mfa])
    [finding] = world.findings(RULE)
    assert finding.person_id == "E1"
    assert "relies on okta sign-in" in finding.message
    assert "jane.doe@example.com has no MFA factor" in finding.message
    assert finding.evidence["idp_account"] == "jane.doe@example.com"

    with_mfa = account(
        "jane.doe@example.com", system="okta", employee_id="E1", mfa_factors=("push",)
    )
    world = vpn_world({"password": "plugin:radius", "relies_on": "okta"}, accounts=[with_mfa])
    assert world.findings(RULE) == []


def test_relying_on_an_uncollected_identity_provider_cannot_be_verified() -> None:
    [finding] = vpn_world({"password": "plugin:radius", "relies_on": "okta"}).findings(RULE)
    assert finding.severity is Severity.MEDIUM
    assert "which iam-gov does not collect" in finding.message


def test_systems_that_are_not_vpns_are_ignored() -> None:
    world = World(people=[person("E1")], accounts=[account("jane.doe", employee_id="E1")])
    assert world.findings(RULE) == []
