"""expiring-certificate: certificates about to expire or expired yet valid; keys never rotated."""

from __future__ import annotations

from datetime import date

from iam_gov.model import AccountStatus, CredentialKind, EmploymentStatus, Severity
from tests.support.world import World, account, certificate, days_ago, person, public_key

RULE = "expiring-certificate"


def jane_on_the_vpn(*certificates: tuple[str, float, bool], **person_extra: object) -> World:
    """Jane's VPN identity with certificates given as (serial, days until expiry, valid)."""
    jane = account("jane.doe", system="vpn", employee_id="E1")
    return World(
        people=[person("E1", "Jane Doe", **person_extra)],  # type: ignore[arg-type]
        accounts=[jane],
        credentials=[
            certificate(jane, serial, expires=days_ago(-left), active=valid)
            for serial, left, valid in certificates
        ],
    )


def test_a_certificate_expiring_soon_is_reported() -> None:
    world = jane_on_the_vpn(("0A", 12.5, True))

    [finding] = world.findings(RULE)

    assert finding.severity is Severity.LOW
    assert finding.subject == f"vpn:{world.credentials[0].credential_id}"
    assert finding.person_id == "E1"
    assert finding.message == (
        "vpn account jane.doe (Jane Doe): certificate 0A expires on 2026-12-09, in 12 days, "
        "and has not been renewed."
    )
    assert finding.evidence["reason"] == "expiring"
    assert finding.evidence["days_left"] == 12
    assert finding.evidence["kind"] == "certificate"


def test_a_renewed_or_distant_certificate_is_fine() -> None:
    assert jane_on_the_vpn(("0A", 31, True)).findings(RULE) == []
    # The replacement is issued; revoking the old one is multiple-valid-certificates' to-do.
    assert jane_on_the_vpn(("0A", 5, True), ("0B", 365, True)).findings(RULE) == []


def test_the_warning_window_comes_from_the_policy() -> None:
    world = jane_on_the_vpn(("0A", 45, True))
    assert world.findings(RULE) == []

    world.policy_yaml = "version: 1\nrules:\n  expiring-certificate: {warn_days: 60}\n"
    [finding] = world.findings(RULE)
    assert finding.evidence["days_left"] == 45


def test_an_expired_certificate_still_counted_valid_is_medium() -> None:
    [finding] = jane_on_the_vpn(("0A", -3, True)).findings(RULE)

    assert finding.severity is Severity.MEDIUM
    assert finding.evidence["reason"] == "expired-but-valid"
    assert finding.evidence["days_left"] == -3
    assert "certificate 0A expired on 2026-11-24 but is still counted as valid" in finding.message


def test_certificates_that_cannot_be_used_are_not_reported() -> None:
    # Expired and known to be expired (OpenVPN refuses it), revoked, or its account disabled.
    assert jane_on_the_vpn(("0A", -3, False), ("0B", 5, False)).findings(RULE) == []
    world = jane_on_the_vpn(("0A", 5, True))
    world.accounts = [
        a.model_copy(update={"status": AccountStatus.DISABLED}) for a in world.accounts
    ]
    assert world.findings(RULE) == []


def test_leavers_are_the_leaver_rules_business() -> None:
    world = jane_on_the_vpn(
        ("0A", 5, True), status=EmploymentStatus.TERMINATED, end_date=date(2026, 10, 1)
    )
    assert world.findings(RULE) == []


def test_old_public_and_ssh_keys_are_reported() -> None:
    peer = account("jane-laptop", system="wireguard")
    world = World(
        accounts=[peer],
        credentials=[
            public_key(peer, 1, created=days_ago(400)),
            public_key(peer, 2, kind=CredentialKind.SSH_KEY, created=days_ago(800)),
            public_key(peer, 3, created=days_ago(100)),
            public_key(peer, 4),  # WireGuard does not say when a key was made
            public_key(peer, 5, created=days_ago(900), active=False),
        ],
    )

    found = {f.evidence["credential_id"].rsplit("#", 1)[1]: f for f in world.findings(RULE)}

    assert set(found) == {"key-1", "key-2"}
    assert found["key-1"].severity is Severity.MEDIUM
    assert found["key-1"].message == (
        "wireguard account jane-laptop: its public key was created 400 days ago and never "
        "rotated (rotate every 365 days)."
    )
    assert found["key-2"].evidence["reason"] == "not-rotated"
    assert found["key-2"].evidence["age_days"] == 800
    assert "its SSH key was created 800 days ago" in found["key-2"].message

    world.policy_yaml = "version: 1\nrules:\n  expiring-certificate: {max_age_days: 90}\n"
    assert len(world.findings(RULE)) == 3
