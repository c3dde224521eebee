"""IAM Identity Center in moto's server for the tests: an instance, Identity Store users and
groups with memberships, permission sets (AWS managed policies, an inline policy, customer
managed policy references, a permissions boundary) assigned in several accounts to users and
to groups.

moto (5.2) lacks two things real SSO Admin does, made faithful here while
``faithful_identity_center()`` is open (the server runs in a thread of the test process, so
the patch reaches it): the permissions boundary calls (``Put``/``Get``/``Delete
PermissionsBoundary…``: not implemented at all), and ``ListAccountsForProvisionedPermissionSet``,
which moto answers with the caller's own account only once ``ProvisionPermissionSet`` ran,
where AWS lists every account the permission set was assigned in (an assignment provisions
it). moto's Identity Store also keeps no ``ExternalIds`` on users (only SCIM sets them)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import boto3

PROD, STAGING, SANDBOX = "222222222222", "333333333333", "444444444444"
ACCOUNT_NAMES = {PROD: "prod", STAGING: "staging", SANDBOX: "sandbox"}
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
INLINE = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "*"}],
}


@contextmanager
def faithful_identity_center() -> Iterator[None]:
    """While open, moto's SSO Admin keeps permissions boundaries and lists the accounts a
    permission set is assigned in."""
    from moto.ssoadmin.models import SSOAdminBackend
    from moto.ssoadmin.responses import SSOAdminResponse

    boundaries: dict[str, dict[str, Any]] = {}

    def put(self: SSOAdminResponse) -> str:
        arn = self._get_param("PermissionSetArn")
        self.ssoadmin_backend._find_permission_set(self._get_param("InstanceArn"), arn)
        boundaries[arn] = self._get_param("PermissionsBoundary")
        return "{}"

    def get(self: SSOAdminResponse) -> str:
        from moto.ssoadmin.exceptions import ResourceNotFoundException

        arn = self._get_param("PermissionSetArn")
        self.ssoadmin_backend._find_permission_set(self._get_param("InstanceArn"), arn)
        if arn not in boundaries:
            raise ResourceNotFoundException("Could not find PermissionsBoundary")
        return json.dumps({"PermissionsBoundary": boundaries[arn]})

    def delete(self: SSOAdminResponse) -> str:
        boundaries.pop(self._get_param("PermissionSetArn"), None)
        return "{}"

    def accounts(self: SSOAdminBackend, instance_arn: str, permission_set_arn: str) -> list[str]:
        return sorted(
            {
                a.target_id
                for a in self.account_assignments
                if a.instance_arn == instance_arn and a.permission_set_arn == permission_set_arn
            }
        )

    added = {
        "put_permissions_boundary_to_permission_set": put,
        "get_permissions_boundary_for_permission_set": get,
        "delete_permissions_boundary_from_permission_set": delete,
    }
    original = SSOAdminBackend.list_accounts_for_provisioned_permission_set
    for name, method in added.items():
        setattr(SSOAdminResponse, name, method)
    SSOAdminBackend.list_accounts_for_provisioned_permission_set = accounts  # type: ignore[method-assign]
    try:
        yield
    finally:
        for name in added:
            delattr(SSOAdminResponse, name)
        SSOAdminBackend.list_accounts_for_provisioned_permission_set = original  # type: ignore[method-assign]


@dataclass
class MotoIdentityCenter:
    """What ``build_identity_center`` made, by name."""

    instance_arn: str
    identity_store_id: str
    users: dict[str, str] = field(default_factory=dict)
    """User name -> user id."""
    groups: dict[str, str] = field(default_factory=dict)
    """Group name -> group id."""
    permission_sets: dict[str, str] = field(default_factory=dict)
    """Permission set name -> ARN."""

    def user(self, name: str) -> str:
        """The user's ``native_id`` in the model."""
        return f"identitystore:{self.identity_store_id}:user/{self.users[name]}"

    def group(self, name: str) -> str:
        """The group's ``entitlement_id`` in the model."""
        return f"identitystore:{self.identity_store_id}:group/{self.groups[name]}"


def build_identity_center(session: boto3.Session, endpoint: str, region: str) -> MotoIdentityCenter:
    """Alice (two addresses, the second primary) in Platform; Bob in Platform and Analysts;
    Carol in no group. ``Admin`` (AdministratorAccess + a boundary) goes to Platform in prod
    and to Carol directly in staging; ``ReadOnly`` (ReadOnlyAccess, an inline policy, a
    customer managed reference, a managed boundary) to Analysts and to Alice in prod."""
    sso: Any = session.client("sso-admin", endpoint_url=endpoint, region_name=region)
    store: Any = session.client("identitystore", endpoint_url=endpoint, region_name=region)
    instance = sso.list_instances()["Instances"][0]
    ic = MotoIdentityCenter(instance["InstanceArn"], instance["IdentityStoreId"])

    def user(name: str, display: str, emails: list[dict[str, Any]]) -> None:
        given, family = display.split(" ", 1)
        extra = {"Emails": emails} if emails else {}
        created = store.create_user(
            IdentityStoreId=ic.identity_store_id,
            UserName=name,
            DisplayName=display,
            Name={"GivenName": given, "FamilyName": family},
            **extra,
        )
        ic.users[name] = created["UserId"]

    user(
        "alice",
        "Alice Archer",
        [
            {"Value": "alice@old.example.com", "Type": "work"},
            {"Value": "alice@example.com", "Type": "work", "Primary": True},
        ],
    )
    user("bob", "Bob Baker", [{"Value": "bob@example.com", "Type": "work"}])
    user("carol", "Carol Cole", [])
    for name, members in (("Platform", ("alice", "bob")), ("Analysts", ("bob",))):
        gid = store.create_group(
            IdentityStoreId=ic.identity_store_id, DisplayName=name, Description=f"{name} team"
        )["GroupId"]
        ic.groups[name] = gid
        for member in members:
            store.create_group_membership(
                IdentityStoreId=ic.identity_store_id,
                GroupId=gid,
                MemberId={"UserId": ic.users[member]},
            )

    def permission_set(name: str, description: str) -> str:
        arn: str = sso.create_permission_set(
            InstanceArn=ic.instance_arn,
            Name=name,
            Description=description,
            SessionDuration="PT4H",
        )["PermissionSet"]["PermissionSetArn"]
        ic.permission_sets[name] = arn
        return arn

    def assign(arn: str, account: str, kind: str, principal: str) -> None:
        sso.create_account_assignment(
            InstanceArn=ic.instance_arn,
            TargetId=account,
            TargetType="AWS_ACCOUNT",
            PermissionSetArn=arn,
            PrincipalType=kind,
            PrincipalId=principal,
        )

    which: dict[str, str]
    admin = permission_set("Admin", "Full administrator")
    which = {"InstanceArn": ic.instance_arn, "PermissionSetArn": admin}
    sso.attach_managed_policy_to_permission_set(**which, ManagedPolicyArn=ADMIN)
    sso.put_permissions_boundary_to_permission_set(
        **which,
        PermissionsBoundary={"CustomerManagedPolicyReference": {"Name": "Fence", "Path": "/b/"}},
    )
    assign(admin, PROD, "GROUP", ic.groups["Platform"])
    assign(admin, STAGING, "USER", ic.users["carol"])

    read_only = permission_set("ReadOnly", "Read everything")
    which = {"InstanceArn": ic.instance_arn, "PermissionSetArn": read_only}
    sso.attach_managed_policy_to_permission_set(**which, ManagedPolicyArn=READ_ONLY)
    sso.put_inline_policy_to_permission_set(**which, InlinePolicy=json.dumps(INLINE))
    sso.attach_customer_managed_policy_reference_to_permission_set(
        **which, CustomerManagedPolicyReference={"Name": "TeamData", "Path": "/teams/"}
    )
    sso.put_permissions_boundary_to_permission_set(
        **which, PermissionsBoundary={"ManagedPolicyArn": READ_ONLY}
    )
    assign(read_only, PROD, "GROUP", ic.groups["Analysts"])
    assign(read_only, PROD, "USER", ic.users["alice"])

    permission_set("Unused", "Assigned nowhere")
    return ic
