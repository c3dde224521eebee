"""weak-password-policy on AD fine-grained password policies (PSOs), as the LDAP connector
stores them: each weak PSO a finding of its own, naming it, its precedence, how many accounts
it is in force for and through whom; the domain policy judged beside them as before."""

from __future__ import annotations

from typing import Any

from tests.support.world import World

RULE = "weak-password-policy"

DOMAIN = {
    "source": "ad-domain",
    "min_length": 14,
    "history": 24,
    "lockout_threshold": 5,
    "complexity": True,
}


def pso(name: str, **values: Any) -> dict[str, Any]:
    return {
        "source": "ad-pso",
        "id": f"guid-{name}",
        "name": name,
        "dn": f"CN={name},CN=Password Settings Container,CN=System,DC=corp,DC=example,DC=com",
        "precedence": 10,
        "min_length": 14,
        "history": 24,
        "lockout_threshold": 5,
        "complexity": True,
        "users": [],
        "groups": [],
        "accounts": 0,
        **values,
    }


def corp(*psos: dict[str, Any], domain: dict[str, Any] = DOMAIN) -> World:
    return World(settings={"corp": {"password_policy": domain, "password_policies": list(psos)}})


def test_a_weak_pso_names_itself_and_the_accounts_it_covers() -> None:
    weak = pso("Service PSO", precedence=5, min_length=8, accounts=42, groups=["Svc", "Batch"])

    [finding] = corp(weak, pso("Admins PSO", accounts=3)).findings(RULE)

    assert finding.subject == "corp:password-policy:guid-Service PSO"
    assert finding.message == (
        'The password policy "Service PSO" of corp (precedence 5, in force for 42 accounts, '
        "through groups Svc and Batch) falls short: passwords may be 8 characters long (at "
        "least 14 required)."
    )
    assert finding.evidence["policy"] == "Service PSO"
    assert finding.evidence["stated"]["accounts"] == 42


def test_a_weak_pso_in_force_for_nobody_is_still_said() -> None:
    [finding] = corp(pso("Unused", lockout_threshold=0, users=["bob"])).findings(RULE)

    assert "(precedence 10, in force for no account now, through user bob)" in finding.message


def test_the_domain_policy_is_judged_beside_the_psos() -> None:
    weak_domain = {**DOMAIN, "min_length": 7}
    found = {f.subject for f in corp(pso("Strong"), domain=weak_domain).findings(RULE)}

    assert found == {"corp:password-policy"}
