"""aws-external-access: a role assumable from outside the organization (or, without one,
outside its account) is reported, high when the role is admin-equivalent; accounts of the
organization, services, the account's own federation and ``*`` fenced to the organization
are not external."""

from __future__ import annotations

from typing import Any

from iam_gov.model import Severity
from tests.support.aws_account import allow, document, trust
from tests.support.aws_org_analysis import (
    DEV,
    LEGACY,
    ORG,
    OUTSIDE,
    PROD,
    Org,
    iam,
    root_of,
)

RULE = "aws-external-access"
READ = document(allow("s3:GetObject"))


def _anyone(condition: dict[str, Any] | None = None) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"AWS": "*"},
        "Action": "sts:AssumeRole",
    }
    if condition is not None:
        statement["Condition"] = condition
    return document(statement)


def _federated(provider: str) -> dict[str, Any]:
    return document(
        {
            "Effect": "Allow",
            "Principal": {"Federated": provider},
            "Action": "sts:AssumeRoleWithSAML",
        },
        {"Effect": "Allow", "Principal": {"Federated": provider}, "Action": "sts:AssumeRole"},
    )


def test_outside_account_is_reported_medium_and_admin_role_high() -> None:
    """A role trusting an account outside the organization: medium; high when it is
    admin-equivalent; the evidence names the outside account and the role's account."""
    org = Org()
    reader = org.role(PROD, "vendor-read", trust(OUTSIDE), read=READ)
    admin = org.admin_role(PROD, "vendor-admin", trust(OUTSIDE))
    findings = {f.evidence["role"]: f for f in org.world().findings(RULE)}
    assert set(findings) == {reader, admin}
    assert findings[reader].severity is Severity.MEDIUM
    assert findings[admin].severity is Severity.HIGH
    evidence = findings[reader].evidence
    assert evidence["outside_accounts"] == [OUTSIDE]
    assert evidence["aws_account_id"] == PROD
    assert evidence["aws_account_name"] == "prod"
    assert "in account prod (222222222222)" in findings[reader].message
    assert findings[admin].evidence["admin_equivalent"] is True


def test_accounts_of_the_organization_are_inside_even_uncollected() -> None:
    """Trusting dev, or legacy (a member the snapshot could not read), is not external."""
    org = Org()
    org.role(PROD, "from-dev", trust(DEV), read=READ)
    org.role(PROD, "from-legacy", trust(root_of(LEGACY)), read=READ)
    org.role(PROD, "from-dev-role", trust(iam(DEV, "role", "ci")), read=READ)
    assert org.world().findings(RULE) == []


def test_services_and_own_federation_are_not_external() -> None:
    """A service principal and the account's own SAML provider admit no outsider; another
    account's provider does."""
    org = Org()
    org.role(PROD, "lambda", trust(service="lambda.amazonaws.com"), read=READ)
    org.role(PROD, "sso", _federated(f"arn:aws:iam::{PROD}:saml-provider/Okta"), read=READ)
    foreign = org.role(
        PROD, "foreign-sso", _federated(f"arn:aws:iam::{OUTSIDE}:saml-provider/Okta"), read=READ
    )
    assert [f.evidence["role"] for f in org.world().findings(RULE)] == [foreign]


def test_anyone_fenced_to_the_organization_is_not_external() -> None:
    """``*`` with aws:PrincipalOrgID equal to the organization: not external; another
    organization's id or no condition: external."""
    fenced, other, bare = Org(), Org(), Org()
    fenced.role(PROD, "org", _anyone({"StringEquals": {"aws:PrincipalOrgID": ORG}}), read=READ)
    other.role(
        PROD, "org", _anyone({"StringEquals": {"aws:PrincipalOrgID": "o-zzz999"}}), read=READ
    )
    bare.role(PROD, "open", _anyone(), read=READ)
    assert fenced.world().findings(RULE) == []
    assert len(other.world().findings(RULE)) == 1
    [finding] = bare.world().findings(RULE)
    assert finding.evidence["outside"] == ["*"]


def test_external_id_and_mfa_conditions_are_shown() -> None:
    """An ExternalId condition stays a finding, said in message and evidence; so does MFA."""
    org = Org()
    org.role(
        PROD,
        "vendor",
        trust(OUTSIDE, condition={"StringEquals": {"sts:ExternalId": "abc"}}),
        read=READ,
    )
    org.role(
        DEV,
        "auditor",
        trust(OUTSIDE, condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}}),
        read=READ,
    )
    findings = {f.evidence["aws_account_id"]: f for f in org.world().findings(RULE)}
    vendor, auditor = findings[PROD], findings[DEV]
    assert vendor.evidence["external_id"] is True and vendor.evidence["mfa"] is False
    assert "with an external id" in vendor.message
    assert any("sts:ExternalId" in c for c in vendor.evidence["conditions"])
    assert auditor.evidence["mfa"] is True and auditor.evidence["external_id"] is False


def test_without_an_organization_outside_means_outside_the_account() -> None:
    """A single account: trusting another account is external, its own root is not."""
    org = Org(organization=False)
    other = org.role(PROD, "from-dev", trust(DEV), read=READ)
    org.role(PROD, "local", trust(root_of(PROD)), read=READ)
    [finding] = org.world().findings(RULE)
    assert finding.evidence["role"] == other
    assert finding.evidence["scope"] == "account"
    assert "in account" not in finding.message


def test_no_finding_for_an_uncollected_accounts_roles() -> None:
    """A role of an account marked not collected is unknown: no finding about it."""
    org = Org()
    org.role(LEGACY, "vendor", trust(OUTSIDE), read=READ)
    assert org.world().findings(RULE) == []
