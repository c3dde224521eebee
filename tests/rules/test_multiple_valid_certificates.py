"""multiple-valid-certificates: several valid VPN certificates for one person or identity."""

from __future__ import annotations

from iam_gov.model import Severity
from tests.support.world import World, account, certificate, person

RULE = "multiple-valid-certificates"


def test_two_valid_certificates_under_one_name_are_reported() -> None:
    jane = account("jane.doe", system="vpn", employee_id="E1")
    world = World(
        people=[person("E1", "Jane Doe")],
        accounts=[jane],
        credentials=[certificate(jane, "0A"), certificate(jane, "0C")],
    )
    [finding] = world.findings(RULE)
    assert finding.severity is Severity.LOW
    assert finding.person_id == "E1"
    assert "Jane Doe (E1) holds 2 valid certificates for the VPN vpn" in finding.message
    assert finding.evidence["certificates"] == ["jane.doe: 0A", "jane.doe: 0C"]


def test_certificates_under_two_names_of_one_person_count_together() -> None:
    laptop = account("jane.doe", system="vpn", employee_id="E1")
    phone = account("jdoe-phone", system="vpn", display_name="Jane Doe")
    world = World(
        people=[person("E1", "Jane Doe")],
        accounts=[laptop, phone],
        credentials=[certificate(laptop, "0A"), certificate(phone, "0B")],
    )
    [finding] = world.findings(RULE)
    assert finding.evidence["certificates"] == ["jane.doe: 0A", "jdoe-phone: 0B"]


def test_a_revoked_predecessor_is_fine() -> None:
    jane = account("jane.doe", system="vpn", employee_id="E1")
    world = World(
        people=[person("E1", "Jane Doe")],
        accounts=[jane],
        credentials=[certificate(jane, "0A", active=False, status="R"), certificate(jane, "0C")],
    )
    assert world.findings(RULE) == []


def test_an_identity_nobody_owns_is_counted_on_its_own() -> None:
    ghost = account("ghost", system="vpn")
    world = World(
        accounts=[ghost], credentials=[certificate(ghost, "01"), certificate(ghost, "02")]
    )
    [finding] = world.findings(RULE)
    assert finding.person_id is None
    assert "identity ghost holds 2 valid certificates" in finding.message
