"""Reading IAM Identity Center live (SSO Admin and the Identity Store, every page followed);
what cannot be read is a problem with its consequence, never a silently smaller set. The
export side and the model are in ``identity_center_export`` and ``identity_center_model``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from iam_gov.connectors.aws.client import aws_failures, describe_aws_error
from iam_gov.connectors.aws.identity_center_export import (
    read_identity_center_export,
    write_identity_center_export,
)
from iam_gov.connectors.aws.identity_center_model import (
    SOURCE,
    IdentityCenter,
    IdentityCenterParts,
    PermissionSetRecord,
    identity_center_parts,
)
from iam_gov.model import SnapshotError

if TYPE_CHECKING:
    import boto3
    import botocore.config

__all__ = [
    "IdentityCenter",
    "IdentityCenterParts",
    "PermissionSetRecord",
    "identity_center_parts",
    "read_identity_center_export",
    "read_identity_center_live",
    "write_identity_center_export",
]

_UNKNOWN = "IAM Identity Center is unknown: its users, groups and permission sets are left out"


def read_identity_center_live(
    session: boto3.Session,
    *,
    region: str,
    endpoint_url: str | None,
    config: botocore.config.Config,
) -> IdentityCenter | SnapshotError:
    """Identity Center as the credential can read it. A ``SnapshotError`` when not even its
    instances can be listed; otherwise every part that failed is in the result's errors."""
    where: dict[str, Any] = {"region_name": region, "endpoint_url": endpoint_url, "config": config}
    sso = session.client("sso-admin", **where)
    store = session.client("identitystore", **where)
    reader = _Reader()
    instances = reader.pages(sso, "list_instances", "Instances", "sso:ListInstances", _UNKNOWN)
    if instances is None:
        return reader.errors[0]
    if not instances:
        return IdentityCenter(instance=None, region=region, errors=reader.errors)
    # An organization has one Identity Center instance; it comes first.
    instance = instances[0]
    ic = IdentityCenter(instance=instance, region=region, errors=reader.errors)
    arn, store_id = instance["InstanceArn"], instance["IdentityStoreId"]
    ic.users = reader.pages(
        store,
        "list_users",
        "Users",
        "identitystore:ListUsers",
        "the identity store's users are unknown: no grant of Identity Center is in the snapshot",
        IdentityStoreId=store_id,
    )
    ic.groups = reader.pages(
        store,
        "list_groups",
        "Groups",
        "identitystore:ListGroups",
        "the identity store's groups are unknown: no grant through a group is in the snapshot",
        IdentityStoreId=store_id,
    )
    for group in ic.groups or []:
        gid = group["GroupId"]
        found = reader.pages(
            store,
            "list_group_memberships",
            "GroupMemberships",
            f"identitystore:ListGroupMemberships (group {group.get('DisplayName') or gid})",
            f"the members of group {group.get('DisplayName') or gid} are unknown: what they "
            "hold through it is left out",
            IdentityStoreId=store_id,
            GroupId=gid,
        )
        if found is not None:
            ic.memberships[gid] = found
    listed = reader.pages(
        sso,
        "list_permission_sets",
        "PermissionSets",
        "sso:ListPermissionSets",
        "the permission sets are unknown: no assignment is in the snapshot",
        InstanceArn=arn,
    )
    if listed is not None:
        ic.permission_sets = [_permission_set(reader, sso, arn, ps) for ps in listed]
    return ic


def _permission_set(reader: _Reader, sso: Any, instance: str, arn: str) -> PermissionSetRecord:
    record = PermissionSetRecord(arn=arn)
    which = {"InstanceArn": instance, "PermissionSetArn": arn}
    about = f"permission set {record.ps_id}"
    described = reader.call(
        lambda: sso.describe_permission_set(**which)["PermissionSet"],
        f"sso:DescribePermissionSet ({about})",
        f"the name of {about} is unknown",
    )
    record.described = described
    about = f"permission set {record.name}"
    record.managed_policies = reader.pages(
        sso,
        "list_managed_policies_in_permission_set",
        "AttachedManagedPolicies",
        f"sso:ListManagedPoliciesInPermissionSet ({about})",
        f"the AWS managed policies of {about} are unknown",
        **which,
    )
    inline = reader.call(
        lambda: sso.get_inline_policy_for_permission_set(**which).get("InlinePolicy", ""),
        f"sso:GetInlinePolicyForPermissionSet ({about})",
        f"the inline policy of {about} is unknown",
    )
    record.inline_policy = None if inline is None else str(inline)
    record.customer_managed = reader.pages(
        sso,
        "list_customer_managed_policy_references_in_permission_set",
        "CustomerManagedPolicyReferences",
        f"sso:ListCustomerManagedPolicyReferencesInPermissionSet ({about})",
        f"the customer managed policies of {about} are unknown",
        **which,
    )
    try:
        answer = sso.get_permissions_boundary_for_permission_set(**which)
        record.boundary, record.boundary_read = answer.get("PermissionsBoundary"), True
    except sso.exceptions.ResourceNotFoundException:
        record.boundary_read = True  # it has none
    except aws_failures() as exc:
        reader.failed(
            exc,
            f"sso:GetPermissionsBoundaryForPermissionSet ({about})",
            f"the permissions boundary of {about} is unknown",
        )
    record.accounts = reader.pages(
        sso,
        "list_accounts_for_provisioned_permission_set",
        "AccountIds",
        f"sso:ListAccountsForProvisionedPermissionSet ({about})",
        f"the accounts where {about} is assigned are unknown",
        **which,
    )
    for account_id in record.accounts or []:
        found = reader.pages(
            sso,
            "list_account_assignments",
            "AccountAssignments",
            f"sso:ListAccountAssignments ({about} in {account_id})",
            f"who holds {about} in account {account_id} is unknown",
            AccountId=account_id,
            **which,
        )
        if found is not None:
            record.assignments[account_id] = found
    return record


class _Reader:
    """Calls that note their failure (with its consequence) and answer ``None``."""

    def __init__(self) -> None:
        self.errors: list[SnapshotError] = []

    def failed(self, exc: Exception, operation: str, consequence: str) -> None:
        self.errors.append(
            SnapshotError(
                source=SOURCE,
                message=describe_aws_error(exc, operation),
                consequence=consequence,
            )
        )

    def call(self, read: Callable[[], Any], operation: str, consequence: str) -> Any:
        try:
            return jsonable(read())
        except aws_failures() as exc:
            self.failed(exc, operation, consequence)
            return None

    def pages(
        self,
        client: Any,
        operation: str,
        key: str,
        name: str,
        consequence: str,
        **parameters: Any,
    ) -> list[Any] | None:
        """Every item of every page; ``None`` when a page failed (a part read is not kept)."""

        def read() -> list[Any]:
            paginator = client.get_paginator(operation)
            return [item for page in paginator.paginate(**parameters) for item in page[key]]

        found = self.call(read, name, consequence)
        return None if found is None else list(found)


def jsonable(value: Any) -> Any:
    """An API answer as its JSON (the CLI's) form: times as ISO 8601 text."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items() if k != "ResponseMetadata"}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value
