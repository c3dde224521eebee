"""Service control policies fence effective permissions, escalation and admin-equivalence
of every principal in the accounts they reach; the management account and service-linked
roles are exempt; a snapshot without an organization is analysed as before."""

from __future__ import annotations

from iam_gov.aws_policy import Certainty
from iam_gov.aws_policy.organization import Organization
from tests.support.aws_account import ADMINISTRATOR_ACCESS, allow, deny, document, trust
from tests.support.aws_org_analysis import (
    DEV,
    MANAGEMENT,
    OU,
    PROD,
    ROOT,
    Org,
    root_of,
)

DENY_IAM = document(deny("iam:*"))


def _admins(org: Org) -> tuple[str, str, str]:
    """An admin user in prod, in dev and in the management account."""
    return (
        org.user(PROD, "alice", admin=ADMINISTRATOR_ACCESS),
        org.user(DEV, "dave", admin=ADMINISTRATOR_ACCESS),
        org.user(MANAGEMENT, "mona", admin=ADMINISTRATOR_ACCESS),
    )


def test_full_access_everywhere_changes_nothing() -> None:
    """FullAWSAccess at every level leaves each principal's permissions as without SCPs."""
    fenced, plain = Org(), Org(organization=False)
    for org in (fenced, plain):
        org.user(PROD, "alice", ops=document(allow(["s3:*", "iam:PassRole"]), deny("s3:Delete*")))
    a, b = fenced.analysis(), plain.analysis()
    arn = fenced.accounts[0].native_id
    assert a.effective_permissions(arn).allowed == b.effective_permissions(arn).allowed
    assert a.effective_permissions(arn).unconditional == b.effective_permissions(arn).unconditional
    assert a.effective_permissions(arn).allows("s3:GetObject")


def test_deny_at_the_root_fences_every_member_account_but_not_management() -> None:
    """An SCP Deny of iam:* at the root removes IAM from prod's and dev's admins and root
    users (not admin-equivalent any more), and leaves the management account's admin."""
    org = Org()
    alice, dave, mona = _admins(org)
    prod_root = org.root(PROD)
    org.scp("NoIam", DENY_IAM, ROOT)
    analysis = org.analysis()
    for arn in (alice, dave, prod_root):
        assert not analysis.effective_permissions(arn).allows("iam:CreateUser"), arn
        assert analysis.effective_permissions(arn).allows("s3:GetObject"), arn
        assert analysis.is_admin_equivalent(arn) is None, arn
    assert analysis.can(prod_root, "iam:CreateUser") is None
    assert analysis.is_admin_equivalent(mona) is not None
    assert analysis.can(mona, "iam:CreateUser") is not None


def test_deny_at_an_ou_or_an_account_reaches_only_those_below() -> None:
    """A Deny on the Workloads OU fences prod and dev; one on dev alone fences dev only."""
    on_ou, on_dev = Org(), Org()
    for org, target in ((on_ou, OU), (on_dev, DEV)):
        _admins(org)
        org.scp("NoIam", DENY_IAM, target)
    ou, dev = on_ou.analysis(), on_dev.analysis()
    alice, dave, mona = (a.native_id for a in on_ou.accounts[:3])
    assert ou.is_admin_equivalent(alice) is None
    assert ou.is_admin_equivalent(dave) is None
    assert ou.is_admin_equivalent(mona) is not None
    assert dev.is_admin_equivalent(alice) is not None
    assert dev.is_admin_equivalent(dave) is None


def test_a_level_without_an_allowing_scp_removes_the_action() -> None:
    """When the OU's only SCP allows s3:*, an admin of prod keeps S3 and nothing else;
    the management account, outside the OU, keeps everything."""
    org = Org(full_access=False)
    org.scp("FullAWSAccess", document(allow("*")), ROOT, MANAGEMENT, PROD, DEV)
    org.scp("S3Only", document(allow("s3:*")), OU)
    alice, _dave, mona = _admins(org)
    analysis = org.analysis()
    perms = analysis.effective_permissions(alice)
    assert perms.services() == {"s3"}
    assert analysis.can(alice, "ec2:RunInstances") is None
    assert analysis.is_admin_equivalent(alice) is None
    assert analysis.effective_permissions(mona).allows("ec2:RunInstances")


def test_service_linked_roles_are_not_fenced() -> None:
    """A service-linked role keeps what its policies allow under a Deny-everything SCP."""
    org = Org()
    linked = org.role(
        PROD,
        "AWSServiceRoleForSupport",
        trust(service="support.amazonaws.com"),
        path="/aws-service-role/support.amazonaws.com/",
        support=document(allow("iam:GetRole")),
    )
    plain = org.role(
        PROD,
        "support-plain",
        trust(service="support.amazonaws.com"),
        **{"s": document(allow("iam:GetRole"))},
    )
    org.scp("NoIam", DENY_IAM, ROOT)
    analysis = org.analysis()
    assert analysis.can(linked, "iam:GetRole") is not None
    assert analysis.can(plain, "iam:GetRole") is None


def test_an_scp_condition_the_snapshot_decides_is_decided() -> None:
    """Deny iam:* unless the caller is the BreakGlass role: decided per principal from its
    ARN, so the role stays admin and the user is fenced."""
    org = Org()
    alice = org.user(PROD, "alice", admin=ADMINISTRATOR_ACCESS)
    glass = org.admin_role(PROD, "BreakGlass", trust(root_of(PROD)))
    org.scp(
        "NoIamButBreakGlass",
        document(
            deny(
                "iam:*",
                Condition={"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/BreakGlass"}},
            )
        ),
        ROOT,
    )
    analysis = org.analysis()
    assert analysis.can(alice, "iam:CreateUser") is None
    assert analysis.is_admin_equivalent(glass) is not None


def test_an_scp_condition_the_snapshot_cannot_decide_leaves_it_conditional() -> None:
    """Deny iam:* outside us-east-1: IAM stays possible, conditional, and not admin."""
    org = Org()
    alice = org.user(PROD, "alice", admin=ADMINISTRATOR_ACCESS)
    org.scp(
        "Region",
        document(
            deny("iam:*", Condition={"StringNotEquals": {"aws:RequestedRegion": "us-east-1"}})
        ),
        ROOT,
    )
    analysis = org.analysis()
    decision = analysis.can(alice, "iam:CreateUser")
    assert decision is not None
    assert decision.certainty is Certainty.CONDITIONAL
    assert any("aws:RequestedRegion" in note for note in decision.notes)
    assert analysis.is_admin_equivalent(alice) is None


def test_an_scp_allow_under_a_condition_makes_it_conditional() -> None:
    """A level whose only SCP allows under an unknown condition: possible, not certain."""
    org = Org(full_access=False)
    org.scp("FullAWSAccess", document(allow("*")), ROOT, MANAGEMENT, DEV, OU)
    org.scp(
        "SourceIp",
        document(allow("*", Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})),
        PROD,
    )
    alice = org.user(PROD, "alice", admin=ADMINISTRATOR_ACCESS)
    analysis = org.analysis()
    decision = analysis.can(alice, "s3:GetObject", "arn:aws:s3:::bucket/key")
    assert decision is not None and decision.certainty is Certainty.CONDITIONAL
    assert analysis.is_admin_equivalent(alice) is None


def test_escalation_fenced_by_an_scp_is_gone() -> None:
    """A user that can attach any policy to itself is admin-equivalent; an SCP denying
    iam:Attach* in its account takes the path away."""
    open_org, fenced_org = Org(), Org()
    for org in (open_org, fenced_org):
        org.user(PROD, "bob", attach=document(allow("iam:AttachUserPolicy")))
    fenced_org.scp("NoAttach", document(deny("iam:Attach*")), PROD)
    bob = open_org.accounts[0].native_id
    opened, fenced = open_org.analysis(), fenced_org.analysis()
    admin = opened.is_admin_equivalent(bob)
    assert admin is not None and admin.method == "iam-attach-user-policy"
    assert fenced.is_admin_equivalent(bob) is None
    assert not any(p.method.id == "iam-attach-user-policy" for p in fenced.escalation_paths(bob))


def test_scp_documents_without_organization_settings_are_ignored() -> None:
    """A single account (no organization settings) analyses as before, SCP documents or not."""
    org = Org(organization=False)
    alice = org.user(PROD, "alice", admin=ADMINISTRATOR_ACCESS)
    org.scp("NoIam", DENY_IAM, ROOT)
    analysis = org.analysis()
    assert analysis.organization is None
    assert analysis.is_admin_equivalent(alice) is not None


def test_organization_levels_from_settings() -> None:
    """SCP levels run from the root down to the account; none for the management account
    or an account the organization does not list."""
    org = Org()
    org.scp("NoIam", DENY_IAM, OU)
    organization = Organization.from_settings(org.settings())
    assert organization is not None
    levels = organization.scp_levels(PROD)
    assert levels is not None and len(levels) == 3
    assert any("p-NoIam" in scp for scp in levels[1])
    assert organization.scp_levels(MANAGEMENT) is None
    assert organization.scp_levels("999999999999") is None
    assert Organization.from_settings({"account_id": PROD}) is None


def test_guardrail_scps_leave_an_admin_admin_within_them() -> None:
    """Common guardrails at the root (no leaving the organization, no IAM users or access
    keys) fence a few IAM actions; an AdministratorAccess user and the root user of a member
    account can still write their own permissions: admin-equivalent, the reason naming the
    fence. Without the guardrails the reason is the plain one."""
    org = Org()
    alice, _, _ = _admins(org)
    prod_root = org.root(PROD)
    guardrails = document(
        deny(["organizations:LeaveOrganization", "iam:CreateUser", "iam:CreateAccessKey"])
    )
    org.scp("Guardrails", guardrails, ROOT)
    analysis = org.analysis()
    assert analysis.can(alice, "iam:CreateUser") is None
    for arn in (alice, prod_root):
        admin = analysis.is_admin_equivalent(arn)
        assert admin is not None, arn
        assert "service control policies fence 2" in admin.reason, admin.reason
    plain = Org()
    bob, _, _ = _admins(plain)
    admin = plain.analysis().is_admin_equivalent(bob)
    assert admin is not None and "service control" not in admin.reason


def test_a_guardrail_on_self_grant_leaves_no_admin() -> None:
    """SCPs that deny writing one's own permissions (attach and put, on users) leave an
    AdministratorAccess user not admin-equivalent: its power is real but fenced."""
    org = Org()
    alice, _, _ = _admins(org)
    org.scp(
        "NoSelfGrant",
        document(deny(["iam:AttachUserPolicy", "iam:PutUserPolicy", "iam:CreateUser"])),
        PROD,
    )
    assert org.analysis().is_admin_equivalent(alice) is None


def test_a_conditional_guardrail_on_self_grant_is_not_certain_admin() -> None:
    """A Deny of iam:* under a condition the snapshot cannot decide: not (certainly) admin."""
    org = Org()
    alice, _, _ = _admins(org)
    org.scp(
        "RegionIam",
        document(deny("iam:*", Condition={"StringEquals": {"aws:SourceVpc": "vpc-1"}})),
        ROOT,
    )
    assert org.analysis().is_admin_equivalent(alice) is None
