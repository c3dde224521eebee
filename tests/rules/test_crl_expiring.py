"""crl-expiring: a VPN's revocation list that has expired or soon will."""

from __future__ import annotations

from iam_gov.model import Severity
from tests.support.world import World, days_ago

RULE = "crl-expiring"


def with_next_update(days_left: float, policy: str = "version: 1\n") -> World:
    crl = {"path": "crl.pem", "present": True, "next_update": days_ago(-days_left).isoformat()}
    return World(
        policy_yaml=policy,
        settings={"vpn": {"vpn": {"kind": "openvpn", "authentication": {}, "crl": crl}}},
    )


def test_a_crl_expiring_soon_is_reported() -> None:
    [finding] = with_next_update(5.5).findings(RULE)
    assert finding.severity is Severity.MEDIUM
    assert "expires on 2026-12-02, in 5 days" in finding.message
    assert finding.evidence["days_left"] == 5


def test_an_expired_crl_is_high() -> None:
    [finding] = with_next_update(-2).findings(RULE)
    assert finding.severity is Severity.HIGH
    assert "expired on 2026-11-25" in finding.message
    assert "refuses every client" in finding.message


def test_a_crl_valid_well_beyond_the_threshold_is_fine() -> None:
    assert with_next_update(30).findings(RULE) == []


def test_the_threshold_comes_from_the_policy() -> None:
    policy = "version: 1\nrules:\n  crl-expiring: {days: 40}\n"
    assert len(with_next_update(30, policy).findings(RULE)) == 1
