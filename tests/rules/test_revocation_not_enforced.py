"""revocation-not-enforced: revoked certificates the VPN server would still accept."""

from __future__ import annotations

from typing import Any

from iam_gov.model import AccountStatus, Severity
from tests.support.world import World, account, certificate

RULE = "revocation-not-enforced"


def pki(crl: dict[str, Any] | None) -> World:
    alice = account("alice", system="vpn")
    mallory = account("mallory", system="vpn", status=AccountStatus.DISABLED)
    return World(
        accounts=[alice, mallory],
        credentials=[
            certificate(alice, "0A"),
            certificate(mallory, "0B", active=False, status="R"),
        ],
        settings={"vpn": {"vpn": {"kind": "openvpn", "authentication": {}, "crl": crl}}},
    )


def test_a_revoked_serial_missing_from_the_crl_is_critical() -> None:
    crl = {"path": "/etc/openvpn/crl.pem", "present": True, "missing_revoked_serials": ["0b"]}
    [finding] = pki(crl).findings(RULE)
    assert finding.severity is Severity.CRITICAL
    assert "would still accept 1 revoked certificate(s)" in finding.message
    assert "the CRL it checks (/etc/openvpn/crl.pem) does not list them" in finding.message
    assert finding.evidence["revoked_not_in_crl"] == ["0B (mallory)"]


def test_no_crl_at_all_with_revoked_certificates_is_reported() -> None:
    [finding] = pki(None).findings(RULE)
    assert "it checks no CRL" in finding.message
    assert finding.evidence["revoked_not_in_crl"] == ["0B (mallory)"]


def test_a_crl_that_lists_every_revoked_serial_is_fine() -> None:
    crl = {"path": "crl.pem", "present": True, "missing_revoked_serials": []}
    assert pki(crl).findings(RULE) == []


def test_no_crl_and_nothing_revoked_is_fine() -> None:
    world = pki(None)
    world.credentials = world.credentials[:1]
    assert world.findings(RULE) == []
