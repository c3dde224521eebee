"""An AWS Organization in moto's server built to show, end to end, what the analysis finds in
one: on top of ``moto_org.build_organization`` (management, prod, dev, sandbox; SCPs), a user
``ci`` in dev who may assume the admin role ``deployer`` in prod (the role trusts her), a role
in prod trusting an account outside the organization, the sandbox account fenced to S3 only
(AWS's ``FullAWSAccess`` detached from it, so that ``OnlyS3`` is the only allow there; the
management account's admin, the same policy, is exempt from SCPs; ``DenyIamUsers`` taken off
Workloads, since an SCP denying any IAM action leaves nobody under it admin-equivalent), and
IAM Identity Center: a leaver and a current employee in group Platform, which holds permission
set ``Admin`` (AdministratorAccess) in prod. ``HR_CSV`` is the HR file that goes with it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tests.support.moto_org import MANAGEMENT, REGION, MotoOrganization, build_organization

if TYPE_CHECKING:
    import boto3

OUTSIDE = "999999999999"
"""An account that is not in the organization."""
ADMIN_POLICY = "arn:aws:iam::aws:policy/AdministratorAccess"
LEAVER_EMAIL = "lena.leaver@example.com"
STAYER_EMAIL = "sam.stayer@example.com"

HR_CSV = (
    "employee_id,name,email,department,status,start_date,end_date\n"
    f"E1,Lena Leaver,{LEAVER_EMAIL},Engineering,terminated,2021-01-04,2026-01-31\n"
    f"E2,Sam Stayer,{STAYER_EMAIL},Engineering,active,2022-03-01,\n"
)
"""Lena left on 31 January 2026; Sam still works here."""

ADMIN_ALL = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}


def _trust(principal: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"}
            ],
        }
    )


@dataclass
class Scenario:
    """What ``build_scenario`` made: the organization, and the ARNs and names to assert on."""

    org: MotoOrganization
    ci: str
    """dev's user ``ci``."""
    deployer: str
    """prod's admin role ``deployer``, which trusts ``ci``."""
    vendor_role: str
    """prod's role trusting ``OUTSIDE``."""
    sandbox_admin: str
    """sandbox's admin user, fenced by SCPs."""
    management_admin: str
    """The management account's admin user: the same policy, no SCP applies."""
    admin_permission_set: str
    """Permission set ``Admin``'s ARN."""
    platform_group: str
    """Group Platform's entitlement id."""

    @property
    def prod(self) -> str:
        return self.org.accounts["prod"]

    @property
    def dev(self) -> str:
        return self.org.accounts["dev"]

    @property
    def sandbox(self) -> str:
        return self.org.accounts["sandbox"]


def build_scenario(endpoint: str, session: boto3.Session) -> Scenario:
    """The organization of ``build_organization`` and the paths above, in moto's server (run
    it with ``faithful_assume_role`` and ``faithful_identity_center`` open)."""
    org = build_organization(endpoint)
    prod, dev, sandbox = (org.accounts[n] for n in ("prod", "dev", "sandbox"))

    # dev's ci may assume prod's deployer, which trusts her and is admin
    dev_iam = org.iam(dev)
    ci = dev_iam.create_user(UserName="ci")["User"]["Arn"]
    prod_iam = org.iam(prod)
    deployer = prod_iam.create_role(RoleName="deployer", AssumeRolePolicyDocument=_trust(ci))[
        "Role"
    ]["Arn"]
    dev_iam.put_user_policy(
        UserName="ci",
        PolicyName="assume-deployer",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": deployer}
                ],
            }
        ),
    )
    prod_iam.put_role_policy(
        RoleName="deployer", PolicyName="admin", PolicyDocument=json.dumps(ADMIN_ALL)
    )

    # a vendor's account outside the organization may assume a read role in prod
    vendor_role = prod_iam.create_role(
        RoleName="vendor-audit", AssumeRolePolicyDocument=_trust(f"arn:aws:iam::{OUTSIDE}:root")
    )["Role"]["Arn"]
    prod_iam.put_role_policy(
        RoleName="vendor-audit",
        PolicyName="read",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
            }
        ),
    )

    # sandbox: OnlyS3 becomes the only allow at the account's level
    organizations: Any = session.client("organizations", endpoint_url=endpoint, region_name=REGION)
    # DenyIamUsers off Workloads: an SCP denying any IAM action leaves no admin-equivalent
    # principal under it (iam-gov's definition), which would hide the chain to deployer
    deny_iam_users = org.scps["DenyIamUsers"].rsplit("/", 1)[-1]
    organizations.detach_policy(PolicyId=deny_iam_users, TargetId=org.units["Workloads"])
    attached = organizations.list_policies_for_target(
        TargetId=sandbox, Filter="SERVICE_CONTROL_POLICY"
    )["Policies"]
    for policy in attached:
        if policy["Name"] == "FullAWSAccess":
            organizations.detach_policy(PolicyId=policy["Id"], TargetId=sandbox)

    # an access key each: a user without password or key cannot sign in (disabled)
    for account_id, user in ((dev, "ci"), (sandbox, "sandbox-admin"), (MANAGEMENT, "mgmt-admin")):
        org.iam(account_id).create_access_key(UserName=user)

    ic = _identity_center(session, endpoint, prod)
    return Scenario(
        org=org,
        ci=ci,
        deployer=deployer,
        vendor_role=vendor_role,
        sandbox_admin=f"arn:aws:iam::{sandbox}:user/sandbox-admin",
        management_admin=f"arn:aws:iam::{MANAGEMENT}:user/mgmt-admin",
        admin_permission_set=ic[0],
        platform_group=ic[1],
    )


def _identity_center(session: boto3.Session, endpoint: str, prod: str) -> tuple[str, str]:
    """Lena (a leaver) and Sam in Platform; permission set Admin (AdministratorAccess)
    assigned to Platform in prod. Returns (permission set ARN, group entitlement id)."""
    sso: Any = session.client("sso-admin", endpoint_url=endpoint, region_name=REGION)
    store: Any = session.client("identitystore", endpoint_url=endpoint, region_name=REGION)
    instance = sso.list_instances()["Instances"][0]
    instance_arn, store_id = instance["InstanceArn"], instance["IdentityStoreId"]
    group = store.create_group(
        IdentityStoreId=store_id, DisplayName="Platform", Description="Platform team"
    )["GroupId"]
    for login, display, email in (
        ("lena", "Lena Leaver", LEAVER_EMAIL),
        ("sam", "Sam Stayer", STAYER_EMAIL),
    ):
        given, family = display.split(" ", 1)
        user = store.create_user(
            IdentityStoreId=store_id,
            UserName=login,
            DisplayName=display,
            Name={"GivenName": given, "FamilyName": family},
            Emails=[{"Value": email, "Type": "work", "Primary": True}],
        )["UserId"]
        store.create_group_membership(
            IdentityStoreId=store_id, GroupId=group, MemberId={"UserId": user}
        )
    admin: str = sso.create_permission_set(
        InstanceArn=instance_arn, Name="Admin", Description="Full administrator"
    )["PermissionSet"]["PermissionSetArn"]
    sso.attach_managed_policy_to_permission_set(
        InstanceArn=instance_arn, PermissionSetArn=admin, ManagedPolicyArn=ADMIN_POLICY
    )
    sso.create_account_assignment(
        InstanceArn=instance_arn,
        TargetId=prod,
        TargetType="AWS_ACCOUNT",
        PermissionSetArn=admin,
        PrincipalType="GROUP",
        PrincipalId=group,
    )
    return admin, f"identitystore:{store_id}:group/{group}"
