"""IAM Identity Center as read (live or from the CLI's files) and turned into the shared model:
Identity Store users as accounts, groups and permission sets assigned in an account as
entitlements, the grants direct and through groups, each permission set's document, and the
roles Identity Center provisions tied to their permission set."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from iam_gov.connectors.aws.policy_facts import PRIVILEGED_AWS_POLICY, grants_everything
from iam_gov.model import (
    Account,
    AccountKind,
    AccountStatus,
    Entitlement,
    Grant,
    PolicyDocument,
    SnapshotError,
)

SOURCE = "identity center"
"""The ``source`` of every problem met reading Identity Center live."""
_RESERVED_ROLE = re.compile(r"^AWSReservedSSO_(?P<name>.+)_[0-9a-f]{16}$")
_RESERVED_PATH = "/aws-reserved/sso.amazonaws.com/"
_EMPLOYEE_ISSUER = re.compile(r"employee", re.IGNORECASE)


@dataclass
class PermissionSetRecord:
    """One permission set as Identity Center answered; ``None`` is a part that could not be
    read (the reason is among the ``IdentityCenter``'s errors), never an empty one."""

    arn: str
    described: dict[str, Any] | None = None
    """``describe-permission-set``'s ``PermissionSet``."""
    managed_policies: list[dict[str, Any]] | None = None
    """``AttachedManagedPolicies``: ``{"Name", "Arn"}``."""
    inline_policy: str | None = None
    """The inline policy's JSON text; ``""`` when it has none."""
    customer_managed: list[dict[str, Any]] | None = None
    """``CustomerManagedPolicyReferences``: ``{"Name", "Path"}``."""
    boundary: dict[str, Any] | None = None
    """``PermissionsBoundary``; ``None`` when it has none (or it is unread: ``boundary_read``)."""
    boundary_read: bool = False
    accounts: list[str] | None = None
    """The accounts it is provisioned to; ``None`` when unread or not known (an export
    without ``list-accounts-for-provisioned-permission-set.json``)."""
    assignments: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Account id -> ``AccountAssignments`` there, for every account read."""

    @property
    def ps_id(self) -> str:
        """The last part of the ARN (``ps-…``): its folder name in an export."""
        return self.arn.rsplit("/", 1)[-1]

    @property
    def name(self) -> str:
        name = (self.described or {}).get("Name")
        return name if isinstance(name, str) and name else self.ps_id


@dataclass
class IdentityCenter:
    """What was read of one Identity Center instance, every page followed."""

    instance: dict[str, Any] | None
    """``list-instances``' entry (``InstanceArn``, ``IdentityStoreId`` …); ``None``: none."""
    region: str | None = None
    permission_sets: list[PermissionSetRecord] | None = None
    users: list[dict[str, Any]] | None = None
    groups: list[dict[str, Any]] | None = None
    memberships: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Group id -> its ``GroupMemberships``, for every group read."""
    errors: list[SnapshotError] = field(default_factory=list)

    @property
    def identity_store_id(self) -> str:
        return str((self.instance or {}).get("IdentityStoreId") or "")


@dataclass
class IdentityCenterParts:
    """Identity Center in the shared model, ready to join the organization's snapshot."""

    accounts: list[Account] = field(default_factory=list)
    entitlements: list[Entitlement] = field(default_factory=list)
    grants: list[Grant] = field(default_factory=list)
    documents: list[PolicyDocument] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    """For ``settings["identity_center"]``; empty when there is no instance."""
    errors: list[SnapshotError] = field(default_factory=list)
    complete: bool = True
    roles: list[Account] = field(default_factory=list)


def user_id(ic: IdentityCenter, user: str) -> str:
    """An Identity Store user's ``native_id``."""
    return f"identitystore:{ic.identity_store_id}:user/{user}"


def group_id(ic: IdentityCenter, group: str) -> str:
    """An Identity Store group's ``entitlement_id``."""
    return f"identitystore:{ic.identity_store_id}:group/{group}"


def primary_email(emails: object) -> str | None:
    """The address marked ``Primary``, else the first one."""
    values = [e for e in emails if isinstance(e, Mapping)] if isinstance(emails, list) else []
    for entry in values:
        if entry.get("Primary") is True and isinstance(entry.get("Value"), str):
            return str(entry["Value"])
    for entry in values:
        if isinstance(entry.get("Value"), str):
            return str(entry["Value"])
    return None


def _external_ids(user: Mapping[str, Any]) -> list[dict[str, str]]:
    found = user.get("ExternalIds") or []
    return [
        {"Issuer": str(e.get("Issuer", "")), "Id": str(e.get("Id", ""))}
        for e in found
        if isinstance(e, Mapping)
    ]


def _employee_id(external: Sequence[Mapping[str, str]]) -> str | None:
    # Identity Store has no employee number of its own; an IdP that provisions one says so in
    # the issuer's name (e.g. "employee_id", "urn:…:employeeNumber").
    for entry in external:
        if _EMPLOYEE_ISSUER.search(entry["Issuer"]) and entry["Id"]:
            return entry["Id"]
    return None


def _privileged(record: PermissionSetRecord, inline: dict[str, Any] | None) -> bool:
    if any(
        PRIVILEGED_AWS_POLICY.match(str(p.get("Arn", ""))) for p in record.managed_policies or []
    ):
        return True
    return inline is not None and grants_everything(inline)


def identity_center_parts(
    ic: IdentityCenter,
    *,
    system: str,
    account_names: Mapping[str, str],
    roles: Sequence[Account],
) -> IdentityCenterParts:
    """The shared model of ``ic``. ``account_names``: account id -> its name in
    Organizations (the id stands for an unknown name). ``roles``: the IAM roles of every
    account, returned with ``permission_set`` / ``permission_set_entitlement`` where they are
    the role Identity Center provisioned for an assigned permission set."""
    parts = IdentityCenterParts(errors=list(ic.errors), complete=not ic.errors)
    if ic.instance is None:
        parts.roles = list(roles)
        return parts
    parts.settings = {
        "instance_arn": str(ic.instance.get("InstanceArn", "")),
        "identity_store_id": ic.identity_store_id,
        "region": ic.region,
    }
    users = {str(u["UserId"]): u for u in ic.users or []}
    for user in users.values():
        parts.accounts.append(_account(ic, system, user))
    grants: set[Grant] = set()
    members: dict[str, list[str]] = {}
    for group in ic.groups or []:
        gid = str(group["GroupId"])
        entitlement = group_id(ic, gid)
        parts.entitlements.append(
            Entitlement(
                system=system,
                entitlement_id=entitlement,
                name=str(group.get("DisplayName") or gid),
                kind="sso-group",
                description=group.get("Description") or None,
            )
        )
        for membership in ic.memberships.get(gid, []):
            member = str((membership.get("MemberId") or {}).get("UserId", ""))
            if member not in users:
                if ic.users is not None:
                    parts.errors.append(
                        SnapshotError(
                            source=SOURCE,
                            record=entitlement,
                            message=f"group {gid} lists member {member!r}, not a user "
                            "of the identity store: that membership is left out",
                        )
                    )
                continue
            members.setdefault(gid, []).append(user_id(ic, member))
            grants.add(
                Grant(system=system, account_id=user_id(ic, member), entitlement_id=entitlement)
            )
    tied: dict[tuple[str, str], str] = {}
    for record in ic.permission_sets or []:
        inline = _inline(record, parts)
        privileged = _privileged(record, inline)
        described = record.described or {}
        assignments: list[dict[str, str]] = []
        for account_id in sorted(record.assignments):
            found = record.assignments[account_id]
            if not found:
                continue
            tied[(account_id, record.name)] = record.arn
            entitlement = f"{record.arn}@{account_id}"
            parts.entitlements.append(
                Entitlement(
                    system=system,
                    entitlement_id=entitlement,
                    name=f"{record.name} in {account_names.get(account_id) or account_id}",
                    kind="permission-set",
                    privileged=privileged,
                    description=described.get("Description") or None,
                )
            )
            for assignment in found:
                kind, principal = assignment["PrincipalType"], assignment["PrincipalId"]
                assignments.append(
                    {"AccountId": account_id, "PrincipalType": kind, "PrincipalId": principal}
                )
                if kind == "USER" and principal in users:
                    grants.add(
                        Grant(
                            system=system,
                            account_id=user_id(ic, principal),
                            entitlement_id=entitlement,
                        )
                    )
                elif kind == "GROUP":
                    via = group_id(ic, principal)
                    for member in members.get(principal, []):
                        grants.add(
                            Grant(
                                system=system,
                                account_id=member,
                                entitlement_id=entitlement,
                                via=via,
                            )
                        )
        parts.documents.append(
            PolicyDocument(
                system=system,
                document_id=record.arn,
                name=record.name,
                kind="permission-set",
                document={
                    "Name": record.name,
                    "Description": described.get("Description"),
                    "SessionDuration": described.get("SessionDuration"),
                    "ManagedPolicies": sorted(
                        str(p.get("Arn", "")) for p in record.managed_policies or []
                    ),
                    "InlinePolicy": inline,
                    "CustomerManagedPolicies": [
                        {"Name": str(p.get("Name", "")), "Path": str(p.get("Path") or "/")}
                        for p in record.customer_managed or []
                    ],
                    "PermissionsBoundary": record.boundary,
                    "Assignments": assignments,
                },
            )
        )
    parts.accounts.sort(key=lambda a: a.native_id)
    parts.entitlements.sort(key=lambda e: e.entitlement_id)
    parts.documents.sort(key=lambda d: d.document_id)
    parts.grants = sorted(grants, key=lambda g: (g.account_id, g.entitlement_id, g.via or ""))
    parts.roles = [_tie(role, tied) for role in roles]
    return parts


def _account(ic: IdentityCenter, system: str, user: Mapping[str, Any]) -> Account:
    external = _external_ids(user)
    return Account(
        system=system,
        native_id=user_id(ic, str(user["UserId"])),
        login=str(user.get("UserName") or user["UserId"]),
        email=primary_email(user.get("Emails")),
        display_name=user.get("DisplayName") or None,
        employee_id=_employee_id(external),
        status=AccountStatus.ACTIVE,
        kind=AccountKind.HUMAN,
        attributes={
            "principal_type": "sso-user",
            "identity_store_id": ic.identity_store_id,
            "user_id": str(user["UserId"]),
            "external_ids": json.dumps(external, sort_keys=True),
        },
    )


def _inline(record: PermissionSetRecord, parts: IdentityCenterParts) -> dict[str, Any] | None:
    """The inline policy parsed; one that is not a JSON object is a problem, and unknown."""
    if not record.inline_policy:
        return None
    try:
        document = json.loads(record.inline_policy)
    except ValueError:
        document = None
    if isinstance(document, dict):
        return document
    parts.errors.append(
        SnapshotError(
            source=SOURCE,
            record=record.arn,
            message=f"permission set {record.name}: the inline policy is not a JSON object",
            consequence="what that inline policy grants is unknown",
        )
    )
    parts.complete = False
    return None


def _tie(role: Account, tied: Mapping[tuple[str, str], str]) -> Account:
    """The role with its permission set, when Identity Center provisioned it for an assigned
    one: the name ``AWSReservedSSO_<name>_<16 hex>`` under the reserved path, in that account."""
    match = _RESERVED_ROLE.match(role.login)
    if match is None or not role.attributes.get("path", "").startswith(_RESERVED_PATH):
        return role
    fields = role.native_id.split(":")
    account_id = role.attributes.get("aws_account_id") or (fields[4] if len(fields) > 4 else "")
    arn = tied.get((account_id, match["name"]))
    if arn is None:
        return role
    attributes = {
        **role.attributes,
        "permission_set": arn,
        "permission_set_entitlement": f"{arn}@{account_id}",
    }
    return role.model_copy(update={"attributes": attributes})
