"""Several accounts in one analysis: escalation targets stay in the principal's own
account; a role in another account is assumed only when its trust admits the principal
*and* the principal's own policies (and SCPs) allow it, with the trust's conditions decided
where the snapshot decides them; chains cross accounts; findings name the account."""

from __future__ import annotations

from iam_gov.aws_policy import Certainty
from iam_gov.aws_policy.trust import NEEDS_EXTERNAL_ID
from tests.support.aws_account import ADMINISTRATOR_ACCESS, allow, deny, document, trust
from tests.support.aws_org_analysis import (
    DEV,
    MANAGEMENT,
    ORG,
    PROD,
    Org,
    iam,
    root_of,
)

ASSUME_ANY = document(allow("sts:AssumeRole"))


def test_other_users_in_another_account_are_no_target() -> None:
    """iam:CreateAccessKey on ``*`` reaches the admin user of the same account, never the
    admin of another account."""
    org = Org()
    helpdesk = org.user(PROD, "helpdesk", keys=document(allow("iam:CreateAccessKey")))
    org.user(DEV, "dave", admin=ADMINISTRATOR_ACCESS)
    analysis = org.analysis()
    assert not [p for p in analysis.escalation_paths(helpdesk) if p.target is not None]
    org.user(PROD, "alice", admin=ADMINISTRATOR_ACCESS)
    paths = org.analysis().escalation_paths(helpdesk)
    targets = {p.target for p in paths if p.method.id == "iam-create-access-key"}
    assert targets == {iam(PROD, "user", "alice")}


def test_pass_role_never_reaches_another_accounts_role() -> None:
    """iam:PassRole + lambda on ``*``: an admin role trusting Lambda in dev is out of reach
    from prod; the same role in prod is the target."""
    org = Org()
    dev_admin = org.admin_role(DEV, "lambda-admin", trust(service="lambda.amazonaws.com"))
    passer = org.user(
        PROD,
        "builder",
        build=document(allow(["iam:PassRole", "lambda:CreateFunction", "lambda:InvokeFunction"])),
    )
    paths = org.analysis().escalation_paths(passer)
    assert all(p.target != dev_admin for p in paths)
    assert not any(p.admin for p in paths)
    prod_admin = org.admin_role(PROD, "lambda-admin", trust(service="lambda.amazonaws.com"))
    targets = {p.target for p in org.analysis().escalation_paths(passer) if p.admin}
    assert prod_admin in targets and dev_admin not in targets


def test_trust_alone_is_not_enough_across_accounts() -> None:
    """A dev role naming a prod user in its trust: the user cannot assume it without an
    identity policy allowing sts:AssumeRole; within one account, naming it is enough."""
    org = Org()
    carol = org.user(PROD, "carol", read=document(allow("s3:GetObject")))
    dev_admin = org.admin_role(DEV, "admin", trust(carol))
    prod_admin = org.admin_role(PROD, "admin", trust(carol))
    analysis = org.analysis()
    reach = analysis.reachable_roles(carol)
    assert dev_admin not in reach
    assert prod_admin in reach


def test_account_trust_with_identity_allowance_makes_admin_across_accounts() -> None:
    """A dev admin role trusting the prod account: a prod user allowed sts:AssumeRole on it
    is admin-equivalent through it; one without the allowance is not."""
    org = Org()
    dev_admin = org.admin_role(DEV, "admin", trust(PROD))
    erin = org.user(PROD, "erin", hop=document(allow("sts:AssumeRole", Resource=dev_admin)))
    frank = org.user(PROD, "frank", read=document(allow("s3:GetObject")))
    analysis = org.analysis()
    admin = analysis.is_admin_equivalent(erin)
    assert admin is not None
    assert admin.chain == (erin, dev_admin)
    assert analysis.is_admin_equivalent(frank) is None


def test_scp_of_the_callers_account_blocks_the_hop() -> None:
    """An SCP on prod denying sts:AssumeRole stops prod principals crossing over; the
    same SCP on dev (the role's account) does not."""
    for target, blocked in ((PROD, True), (DEV, False)):
        org = Org()
        dev_admin = org.admin_role(DEV, "admin", trust(PROD))
        erin = org.user(PROD, "erin", hop=ASSUME_ANY)
        org.scp("NoAssume", document(deny("sts:AssumeRole")), target)
        reach = org.analysis().reachable_roles(erin)
        assert (dev_admin not in reach) is blocked, target


def test_chain_crosses_three_accounts() -> None:
    """A prod user → a dev role → a management admin role: admin-equivalent via the chain."""
    org = Org()
    top = org.admin_role(MANAGEMENT, "org-admin", trust(DEV))
    middle = org.role(DEV, "hop", trust(PROD), hop=document(allow("sts:AssumeRole", Resource=top)))
    user = org.user(PROD, "gina", hop=document(allow("sts:AssumeRole", Resource=middle)))
    analysis = org.analysis()
    admin = analysis.is_admin_equivalent(user)
    assert admin is not None
    assert admin.chain == (user, middle, top)
    assert analysis.reachable_roles(user)[top].chain == (middle, top)


def test_trust_conditions_the_snapshot_decides() -> None:
    """aws:PrincipalOrgID, aws:PrincipalAccount and principal tags are decided: the role is
    certainly reached when they match, not at all when they do not."""
    cases = [
        ({"StringEquals": {"aws:PrincipalOrgID": ORG}}, True),
        ({"StringEquals": {"aws:PrincipalOrgID": "o-someoneelse"}}, False),
        ({"StringEquals": {"aws:PrincipalAccount": PROD}}, True),
        ({"StringEquals": {"aws:PrincipalAccount": MANAGEMENT}}, False),
        ({"StringEquals": {"aws:PrincipalTag/team": "platform"}}, True),
        ({"StringEquals": {"aws:PrincipalTag/team": "finance"}}, False),
        ({"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{PROD}:user/h*"}}, True),
    ]
    for condition, reached in cases:
        org = Org()
        role = org.admin_role(DEV, "admin", trust(PROD, condition=condition))
        hank = org.user(PROD, "hank", tags={"team": "platform"}, hop=ASSUME_ANY)
        analysis = org.analysis()
        reach = analysis.reachable_roles(hank)
        assert (role in reach) is reached, condition
        if reached:
            assert reach[role].certainty is Certainty.CERTAIN, condition
            assert analysis.is_admin_equivalent(hank) is not None, condition


def test_external_id_leaves_the_hop_conditional() -> None:
    """A trust requiring sts:ExternalId: reachable, conditional, "needs the external id",
    and not admin-equivalent."""
    org = Org()
    role = org.admin_role(
        DEV, "vendor", trust(PROD, condition={"StringEquals": {"sts:ExternalId": "s3cr3t"}})
    )
    ivy = org.user(PROD, "ivy", hop=ASSUME_ANY)
    analysis = org.analysis()
    reach = analysis.reachable_roles(ivy)
    assert reach[role].certainty is Certainty.CONDITIONAL
    edge = analysis.assumable(ivy)[role]
    assert NEEDS_EXTERNAL_ID in edge.decision.qualifiers
    assert any("sts:ExternalId" in note for note in edge.decision.notes)
    assert analysis.is_admin_equivalent(ivy) is None
    path = next(p for p in analysis.escalation_paths(ivy) if p.method.id == "sts-assume-role")
    assert NEEDS_EXTERNAL_ID in path.qualifiers


def test_admin_finding_names_the_account() -> None:
    """In an organization, aws-admin-equivalent says "in account prod (222222222222)" and
    carries the account in its evidence; an AWS-managed policy attached in two accounts is
    one finding per account."""
    org = Org()
    org.user(PROD, "alice", admin=ADMINISTRATOR_ACCESS)
    org.user(DEV, "dave", admin=ADMINISTRATOR_ACCESS)
    findings = org.world().findings("aws-admin-equivalent")
    by_account = {f.evidence["aws_account_id"]: f for f in findings}
    assert set(by_account) == {PROD, DEV}
    assert "in account prod (222222222222)" in by_account[PROD].message
    assert by_account[PROD].evidence["aws_account_name"] == "prod"
    assert "in account dev (333333333333)" in by_account[DEV].message


def test_single_account_findings_carry_the_account_without_the_phrase() -> None:
    """Without an organization the evidence still names the account, the message does not."""
    org = Org(organization=False)
    org.user(PROD, "alice", admin=ADMINISTRATOR_ACCESS)
    [finding] = org.world().findings("aws-admin-equivalent")
    assert finding.evidence["aws_account_id"] == PROD
    assert "in account" not in finding.message


def test_escalation_finding_names_the_cause_account() -> None:
    """aws-privilege-escalation on a prod user names prod."""
    org = Org()
    org.user(
        PROD, "bob", put=document(allow("iam:CreateAccessKey", Resource=iam(PROD, "user", "alice")))
    )
    org.user(PROD, "alice", admin=ADMINISTRATOR_ACCESS)
    findings = org.world().findings("aws-privilege-escalation")
    assert findings
    for finding in findings:
        assert finding.evidence["aws_account_id"] == PROD
        assert "in account prod (222222222222)" in finding.message


def test_root_of_a_trusted_account_is_not_a_principal_of_the_role_account() -> None:
    """A role trusting its own account's root is not opened to another account's users."""
    org = Org()
    role = org.admin_role(DEV, "local", trust(root_of(DEV)))
    jack = org.user(PROD, "jack", hop=ASSUME_ANY)
    assert role not in org.analysis().reachable_roles(jack)


def test_pass_role_wildcard_in_dev_never_passes_the_prod_admin_role() -> None:
    """A dev user with iam:PassRole on ``*`` and Lambda: the only admin role trusting Lambda
    is in prod, so it has no PassRole path (iam:PassRole passes only roles of its own
    account); the same role in dev is its path to admin."""
    org = Org()
    prod_admin = org.admin_role(PROD, "lambda-admin", trust(service="lambda.amazonaws.com"))
    dev_user = org.user(
        DEV,
        "builder",
        build=document(allow(["iam:PassRole", "lambda:CreateFunction", "lambda:InvokeFunction"])),
    )
    analysis = org.analysis()
    assert not [
        p for p in analysis.escalation_paths(dev_user) if "iam:PassRole" in p.enabling_actions
    ]
    assert analysis.is_admin_equivalent(dev_user) is None
    assert not any(p.admin for p in analysis.escalation_paths(dev_user))
    dev_admin = org.admin_role(DEV, "lambda-admin", trust(service="lambda.amazonaws.com"))
    paths = org.analysis().escalation_paths(dev_user)
    targets = {p.target for p in paths if p.admin}
    assert dev_admin in targets and prod_admin not in targets


def test_a_resource_pattern_naming_an_account_matches_only_its_arns() -> None:
    """``matching`` looks in the account a pattern names, and in every account when the
    account part is a wildcard."""
    org = Org()
    prod_role = org.admin_role(PROD, "deployer", trust(PROD))
    dev_role = org.admin_role(DEV, "deployer", trust(DEV))
    analysis = org.analysis()
    assert analysis.matching((f"arn:aws:iam::{PROD}:role/*",)) == {prod_role}
    assert analysis.matching((f"arn:aws:iam::{DEV}:role/deploy*",)) == {dev_role}
    assert {prod_role, dev_role} <= analysis.matching(("arn:aws:iam::*:role/deployer",))


def test_a_role_trusting_one_account_is_a_candidate_for_that_account_only() -> None:
    """A dev role trusting the prod account (its root): a prod user allowed sts:AssumeRole
    on every role reaches it; a management user with the same policy does not."""
    org = Org()
    dev_role = org.admin_role(DEV, "ops", trust(PROD))
    hop = document(allow("sts:AssumeRole"))
    prod_user = org.user(PROD, "pat", hop=hop)
    mgmt_user = org.user(MANAGEMENT, "max", hop=hop)
    analysis = org.analysis()
    assert dev_role in analysis.reachable_roles(prod_user)
    assert dev_role not in analysis.reachable_roles(mgmt_user)
