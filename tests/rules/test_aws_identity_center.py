"""IAM Identity Center in the rules: people linked to Identity Store users, leavers who can
still get a permission set, permission sets against the role model, unused permission sets
(``aws-unused-permission-set``), and ``AWSReservedSSO_*`` roles that are nobody's orphans."""

from __future__ import annotations

import json
from datetime import date

import pytest

from iam_gov.config import CorrelationSettings, MatchMethod
from iam_gov.model import Account, AccountStatus, EmploymentStatus, Severity
from tests.support.aws_org import (
    ADMIN_POLICY,
    DEV,
    PROD,
    READ_ONLY_POLICY,
    Org,
)
from tests.support.world import days_ago, person

RULE = "aws-unused-permission-set"
ALICE = person("E1", "Alice Archer", email="alice.archer@example.com")
BOB = person("E2", "Bob Baker", email="bob.baker@example.com")


def org_with_platform(*, role_last_used: int | None = 3, role_created: int = 400) -> Org:
    """Alice in group Platform, which holds permission set Admin in prod."""
    org = Org()
    alice = org.sso_user("alice.archer@example.com", email="alice.archer@example.com")
    platform = org.sso_group("Platform", [alice])
    admin = org.permission_set("Admin", managed=[ADMIN_POLICY])
    org.assign(
        admin,
        PROD,
        groups=[platform],
        role_last_used=days_ago(role_last_used) if role_last_used is not None else None,
        role_created=days_ago(role_created),
    )
    return org


# --- people <-> Identity Store users ------------------------------------------------------


def _link(org: Org, user: Account, **world: object) -> tuple[str | None, str]:
    state = org.world(**world).state()  # type: ignore[arg-type]
    link = state.links[("aws", user.native_id)]
    return link.person_id, link.method


def test_an_identity_store_user_is_linked_by_email() -> None:
    """The Identity Store user's primary e-mail finds the person."""
    org = Org()
    user = org.sso_user("aarcher", email="Alice.Archer@example.com")
    assert _link(org, user, people=[ALICE, BOB]) == ("E1", "email")


def test_an_identity_store_user_is_linked_by_user_name() -> None:
    """Without an e-mail, the user name (an address, as IdPs provision it) still links."""
    org = Org()
    user = org.sso_user("bob.baker@corp.example.net")
    assert _link(org, user, people=[ALICE, BOB]) == ("E2", "login")


def test_an_external_id_that_is_an_employee_id_links() -> None:
    """An ExternalId carrying the HR employee id links by employee id, before any guess."""
    org = Org()
    user = org.sso_user("someone", external_ids=[("https://hr.example.com", "E2")])
    assert _link(org, user, people=[ALICE, BOB]) == ("E2", "employee_id")


def test_an_external_id_that_is_the_idp_account_links_to_its_person() -> None:
    """SCIM from Okta sets the ExternalId to the Okta user id: the Identity Store user is
    the person that Okta account is linked to, with that link's confidence."""
    org = Org()
    user = org.sso_user("b.b", external_ids=[("https://corp.okta.com", "00u1bobokta")])
    okta = Account(
        system="okta",
        native_id="00u1bobokta",
        login="bob.baker@example.com",
        email="bob.baker@example.com",
        status=AccountStatus.ACTIVE,
    )
    state = org.world(people=[ALICE, BOB], accounts=[okta]).state()
    link = state.links[("aws", user.native_id)]
    assert (link.person_id, link.method) == ("E2", "external_id")
    assert "okta account 00u1bobokta" in link.note
    # Without the Okta account, nothing says whose it is.
    assert _link(org, user, people=[ALICE, BOB]) == (None, "none")


@pytest.mark.parametrize(
    "raw", ["not json", '{"Id": "E2"}', '[{"Issuer": "x"}]', '[{"Id": 7}]', "[]"]
)
def test_unreadable_external_ids_link_nobody(raw: str) -> None:
    """External ids come from the system under review: malformed ones are ignored."""
    org = Org()
    user = org.sso_user("zz")
    org.accounts[-1] = user.model_copy(
        update={"attributes": {**user.attributes, "external_ids": raw}}
    )
    assert _link(org, user, people=[ALICE, BOB]) == (None, "none")


def test_external_id_matching_follows_the_configured_methods() -> None:
    """A configuration without employee-id matching does not match external ids as ids."""
    org = Org()
    user = org.sso_user("someone", external_ids=[("https://hr.example.com", "E2")])
    only_email = CorrelationSettings(match=(MatchMethod.EMAIL,))
    assert _link(org, user, people=[ALICE, BOB], correlation=only_email) == (None, "none")


# --- leavers ------------------------------------------------------------------------------


def test_a_leaver_who_can_still_get_a_permission_set_is_reported_naming_it() -> None:
    """A leaver's active Identity Store user is a leaver finding naming each permission set
    and account; privileged (Admin), so critical."""
    org = org_with_platform()
    alice = org.accounts[0]
    read_only = org.permission_set("ReadOnly", managed=[READ_ONLY_POLICY])
    org.assign(read_only, DEV, users=[alice])
    gone = ALICE.model_copy(
        update={"status": EmploymentStatus.TERMINATED, "end_date": date(2026, 10, 1)}
    )
    [finding] = org.world(people=[gone]).findings("leaver-active-access")
    assert finding.subject == f"aws:{alice.native_id}"
    assert finding.severity is Severity.CRITICAL
    assert finding.evidence["permission_sets"] == [
        f"Admin in prod ({PROD})",
        f"ReadOnly in dev ({DEV})",
    ]
    assert f"Admin in prod ({PROD})" in finding.message
    assert f"ReadOnly in dev ({DEV})" in finding.message


def test_a_current_employee_with_a_permission_set_is_no_leaver() -> None:
    """The same access held by someone still employed is no leaver finding."""
    org = org_with_platform()
    assert org.world(people=[ALICE]).findings("leaver-active-access") == []


# --- permission sets against the role model -----------------------------------------------


def _direct_read_only() -> Org:
    org = Org()
    alice = org.sso_user("alice.archer@example.com", email="alice.archer@example.com")
    org.assign(org.permission_set("ReadOnly", managed=[READ_ONLY_POLICY]), DEV, users=[alice])
    return org


def _policy(pattern: str) -> str:
    return (
        "version: 1\nroles:\n  - name: engineer\n    match: {department: Engineering}\n"
        f"    grants:\n      aws: [{json.dumps(pattern)}]\n"
    )


@pytest.mark.parametrize(
    "pattern",
    [
        "permission-set:ReadOnly in dev",
        "ReadOnly in dev",
        "permission-set:ReadOnly in *",
        "*@" + DEV,
    ],
)
def test_a_permission_set_the_role_brings_is_not_excess(pattern: str) -> None:
    """A role can name a permission set in an account by kind and name, by name alone, with
    wildcards, or by its entitlement id (``<arn>@<account>``)."""
    org = _direct_read_only()
    assert org.world(_policy(pattern), people=[ALICE]).findings("excess-access") == []


@pytest.mark.parametrize(
    "pattern", ["permission-set:ReadOnly in prod", "permission-set:Admin in *"]
)
def test_a_permission_set_the_role_does_not_bring_is_excess(pattern: str) -> None:
    """The same permission set in another account, or another permission set, does not
    explain it: an excess-access finding naming the permission set and account."""
    org = _direct_read_only()
    [finding] = org.world(_policy(pattern), people=[ALICE]).findings("excess-access")
    assert finding.evidence["entitlement"] == "permission-set:ReadOnly in dev"
    assert finding.evidence["entitlement_id"].endswith(f"@{DEV}")
    assert "ReadOnly in dev" in finding.message


# --- AWSReservedSSO roles are tied, not orphans -------------------------------------------


def test_reserved_roles_are_neither_orphans_nor_dormant() -> None:
    """The role Identity Center provisions is reported by no orphan or dormant finding
    (its disuse is the permission set's finding); an ordinary role unused as long still is
    dormant, so the rule does run."""
    org = org_with_platform(role_last_used=200)
    reserved = next(a for a in org.accounts if "permission_set" in a.attributes)
    ordinary = org.role(PROD, "batch", last_used=days_ago(200))
    findings = org.world(people=[ALICE]).findings()
    about = {(f.rule_id, f.subject) for f in findings}
    assert not [
        s
        for r, s in about
        if reserved.native_id in s and r in {"orphan-account", "dormant-account"}
    ]
    assert ("dormant-account", f"aws:{ordinary.native_id}") in about
    assert any(r == RULE for r, _ in about)


def test_identity_store_users_are_not_iam_principals_in_the_analysis() -> None:
    """An Identity Store user (``identitystore:…:user/…``) is a person's sign-in, not an IAM
    user: the policy analysis must not read it as a principal without policies."""
    from iam_gov.aws_policy.analysis import analysis_for

    org = org_with_platform()
    state = org.world().state()
    model = analysis_for(state.systems["aws"])
    assert not [arn for arn in model.principals if arn.startswith("identitystore:")]
    assert any(p.name.startswith("AWSReservedSSO_Admin_") for p in model.roles)
