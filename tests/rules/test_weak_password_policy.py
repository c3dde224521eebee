"""weak-password-policy: a system's password policy below the policy's minimums, or none."""

from __future__ import annotations

from typing import Any

import pytest

from iam_gov.model import Severity
from tests.support.world import World

RULE = "weak-password-policy"

# What `aws iam get-account-password-policy` returns for a strong and a weak account.
AWS_STRONG = {
    "MinimumPasswordLength": 14,
    "RequireSymbols": True,
    "RequireNumbers": True,
    "RequireUppercaseCharacters": True,
    "RequireLowercaseCharacters": True,
    "AllowUsersToChangePassword": True,
    "ExpirePasswords": False,
    "PasswordReusePrevention": 24,
    "HardExpiry": False,
}
AWS_WEAK = {
    "MinimumPasswordLength": 8,
    "RequireSymbols": False,
    "RequireNumbers": True,
    "RequireUppercaseCharacters": True,
    "RequireLowercaseCharacters": False,
    "AllowUsersToChangePassword": True,
    "ExpirePasswords": False,
}
# As the LDAP connector stores an AD domain's policy (the defaults of a new domain).
AD_DEFAULT = {
    "source": "ad-domain",
    "min_length": 7,
    "history": 24,
    "max_age_days": 42,
    "lockout_threshold": 0,
    "complexity": True,
}

# As the Okta connector stores an org's active password policies, by priority.
OKTA_CONTRACTORS = {
    "source": "okta",
    "id": "00pContractors",
    "name": "Contractors",
    "priority": 1,
    "default": False,
    "groups": ["Contractors"],
    "min_length": 8,
    "history": 0,
    "lockout_threshold": 10,
    "complexity": None,
    "classes": {"uppercase": True, "lowercase": False, "numbers": True, "symbols": False},
    "max_age_days": None,
}
OKTA_DEFAULT = {
    **OKTA_CONTRACTORS,
    "id": "00pDefault",
    "name": "Default Policy",
    "priority": 2,
    "default": True,
    "groups": ["Everyone"],
    "min_length": 14,
    "history": 24,
    "lockout_threshold": 5,
    "classes": dict.fromkeys(("uppercase", "lowercase", "numbers", "symbols"), True),
}


def okta(*policies: dict[str, Any]) -> World:
    return World(settings={"okta": {"password_policies": list(policies)}})


def system(name: str, policy: Any, **params: object) -> World:
    world = World(settings={name: {"password_policy": policy}})
    if params:
        rendered = ", ".join(f"{k}: {v}" for k, v in params.items())
        world.policy_yaml = f"version: 1\nrules:\n  {RULE}: {{{rendered}}}\n"
    return world


def test_a_weak_aws_policy_lists_every_shortfall() -> None:
    [finding] = system("aws", AWS_WEAK).findings(RULE)

    assert finding.severity is Severity.MEDIUM
    assert finding.subject == "aws:password-policy"
    assert finding.system == "aws" and finding.person_id is None
    assert finding.message == (
        "The password policy of aws falls short: passwords may be 8 characters long (at least "
        "14 required); lowercase and symbols are not required; 0 previous passwords are "
        "remembered (12 required)."
    )
    assert finding.evidence["source"] == "aws"
    assert finding.evidence["stated"] == AWS_WEAK
    assert finding.evidence["normalized"]["lockout_threshold"] is None  # IAM has no lockout
    assert finding.evidence["required"]["min_length"] == 14


def test_a_strong_aws_policy_is_fine() -> None:
    assert system("aws", AWS_STRONG).findings(RULE) == []


def test_no_aws_policy_at_all_is_high() -> None:
    [finding] = system("aws", None).findings(RULE)

    assert finding.severity is Severity.HIGH
    assert finding.message == (
        "aws has no password policy (AWS then requires only 8 characters of three kinds, and "
        "never expires or remembers passwords)."
    )
    assert finding.evidence["shortfalls"] == ["no password policy"]


def test_the_ad_domain_default_policy() -> None:
    [finding] = system("corp", AD_DEFAULT).findings(RULE)

    # Complexity (three of four kinds) counts for the character classes.
    assert finding.evidence["shortfalls"] == [
        "passwords may be 7 characters long (at least 14 required)",
        "accounts never lock after failed sign-ins (after at most 10 required)",
    ]
    assert finding.evidence["source"] == "ad-domain"


def test_no_complexity_rule_is_a_shortfall_when_classes_are_required() -> None:
    policy = {**AD_DEFAULT, "min_length": 14, "lockout_threshold": 5, "complexity": False}

    [finding] = system("corp", policy).findings(RULE)
    assert finding.evidence["shortfalls"] == [
        "no complexity rule: uppercase, lowercase, numbers and symbols are not required"
    ]

    relaxed = dict.fromkeys(
        ("require_uppercase", "require_lowercase", "require_numbers", "require_symbols"), "false"
    )
    assert system("corp", policy, **relaxed).findings(RULE) == []


def test_expiry_is_judged_only_when_the_policy_asks_for_it() -> None:
    strong_ad = {**AD_DEFAULT, "min_length": 14, "lockout_threshold": 5, "max_age_days": None}
    assert system("corp", strong_ad).findings(RULE) == []

    [finding] = system("corp", strong_ad, max_age_days=90).findings(RULE)
    assert finding.evidence["shortfalls"] == ["passwords never expire (at most 90 days required)"]

    [finding] = system("corp", {**strong_ad, "max_age_days": 180}, max_age_days=90).findings(RULE)
    assert finding.evidence["shortfalls"] == [
        "passwords expire after 180 days (at most 90 days required)"
    ]


def test_an_expiry_the_system_did_not_report_is_not_judged() -> None:
    unknown = {k: v for k, v in AD_DEFAULT.items() if k != "max_age_days"}
    unknown.update(min_length=14, lockout_threshold=5)

    assert system("corp", unknown, max_age_days=90).findings(RULE) == []


def test_lockout_thresholds() -> None:
    strong = {**AD_DEFAULT, "min_length": 14}
    [finding] = system("corp", {**strong, "lockout_threshold": 50}).findings(RULE)
    assert finding.evidence["shortfalls"] == [
        "accounts lock after 50 failed sign-ins (at most 10 required)"
    ]
    assert system("corp", {**strong, "lockout_threshold": 10}).findings(RULE) == []
    assert system("corp", strong, lockout_threshold="null").findings(RULE) == []


def test_what_a_system_does_not_say_is_not_judged() -> None:
    # OpenLDAP's ppolicy names no character classes unless a check module does.
    openldap = {
        "source": "openldap-ppolicy",
        "min_length": 14,
        "history": 12,
        "max_age_days": None,
        "lockout_threshold": None,
        "complexity": None,
    }
    assert system("ldap", openldap).findings(RULE) == []
    assert World(settings={"okta": {"flavor": "x"}}).findings(RULE) == []
    assert system("other", {"something": "else"}).findings(RULE) == []


@pytest.mark.parametrize("length", [13, "14"])
def test_unreadable_values_are_not_judged_but_real_ones_are(length: object) -> None:
    found = system("aws", {**AWS_STRONG, "MinimumPasswordLength": length}).findings(RULE)
    assert len(found) == (1 if length == 13 else 0)


def test_each_weak_okta_policy_is_named_with_whom_it_applies_to() -> None:
    [finding] = okta(OKTA_CONTRACTORS, OKTA_DEFAULT).findings(RULE)

    assert finding.severity is Severity.MEDIUM
    assert finding.subject == "okta:password-policy:00pContractors"
    assert finding.message == (
        'The password policy "Contractors" of okta (for group Contractors) falls short: '
        "passwords may be 8 characters long (at least 14 required); lowercase and symbols are "
        "not required; 0 previous passwords are remembered (12 required)."
    )
    assert finding.evidence["policy"] == "Contractors"
    assert finding.evidence["source"] == "okta"
    assert finding.evidence["stated"] == OKTA_CONTRACTORS


def test_every_weak_okta_policy_is_a_finding_of_its_own() -> None:
    # Fixing the weakest would leave the others as weak as they were.
    default = {**OKTA_DEFAULT, "lockout_threshold": 0}
    sales = {**OKTA_DEFAULT, "id": "00pSales", "name": "Sales", "default": False}
    sales.update(groups=["Sales", "Sales Ops", "Partners"], max_age_days=180)
    world = okta(OKTA_CONTRACTORS, sales, default)
    world.policy_yaml = f"version: 1\nrules:\n  {RULE}: {{max_age_days: 90}}\n"

    found = {f.subject: f.message for f in world.findings(RULE)}

    assert found.keys() == {
        "okta:password-policy:00pContractors",
        "okta:password-policy:00pSales",
        "okta:password-policy:00pDefault",
    }
    assert found["okta:password-policy:00pSales"] == (
        'The password policy "Sales" of okta (for groups Sales, Sales Ops and Partners) falls '
        "short: passwords expire after 180 days (at most 90 days required)."
    )
    assert found["okta:password-policy:00pDefault"] == (
        'The password policy "Default Policy" of okta (the default, for everyone no other '
        "policy covers) falls short: passwords never expire (at most 90 days required); "
        "accounts never lock after failed sign-ins (after at most 10 required)."
    )


def test_a_strong_okta_policy_is_fine() -> None:
    assert okta(OKTA_DEFAULT).findings(RULE) == []


def test_okta_policies_that_could_not_be_read_are_not_judged() -> None:
    # The connector leaves the key out when the policies were refused (403) or not exported.
    assert World(settings={"okta": {}}).findings(RULE) == []
    assert okta().findings(RULE) == []
