"""What IAM says, live or exported, to the shared model: users, roles and the root user as
accounts with their passwords and access keys; groups, managed and inline policies as
entitlements, with the grants through groups; policy documents kept for the analysis."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from iam_gov.connectors.aws.export import (
    GROUP_POLICIES_KIND,
    LAST_ACCESSED_KIND,
    AuthorizationDetails,
    Collected,
    GroupDetail,
    InlinePolicy,
    ReportUser,
    UserDetail,
    group_policies_document_id,
    last_accessed_document_id,
)
from iam_gov.connectors.aws.identity_center import IdentityCenter, identity_center_parts
from iam_gov.connectors.aws.organization_export import OrganizationCollected
from iam_gov.connectors.aws.policy_facts import PRIVILEGED_AWS_POLICY, grants_everything
from iam_gov.connectors.shared.snapshot import ordered_snapshot
from iam_gov.model import (
    Account,
    AccountKind,
    AccountStatus,
    Credential,
    CredentialKind,
    Entitlement,
    Grant,
    PolicyDocument,
    SnapshotError,
    SystemSnapshot,
)


def build_snapshot(
    collected: Collected,
    *,
    type_name: str,
    system: str,
    email_tag: str,
    employee_id_tag: str,
) -> SystemSnapshot:
    """The snapshot of one account; the tags name where users keep their email address and
    employee id."""
    builder = _SnapshotBuilder(system, email_tag, employee_id_tag, collected.origin)
    builder.errors, builder.complete = list(collected.errors), collected.complete
    builder.add(collected)
    _name_accounts(builder.accounts, {})
    return _snapshot(
        builder, type_name, collected.source, collected.collected_at, collected.settings
    )


def build_organization_snapshot(
    collected: OrganizationCollected,
    *,
    type_name: str,
    system: str,
    email_tag: str,
    employee_id_tag: str,
) -> SystemSnapshot:
    """The snapshot of a whole organization: every account's principals (each naming its
    account), AWS managed policies once, the service control policies, the OU tree in
    ``settings["organization"]``; an account that could not be read is said so, its
    principals unknown."""
    organization = collected.organization
    names = organization.account_names()
    builder = _SnapshotBuilder(system, email_tag, employee_id_tag, "organization")
    builder.errors = list(collected.errors)
    builder.complete = not collected.errors
    password_policies: dict[str, Any] = {}
    read: dict[str, bool] = {}
    for account_id, account in collected.accounts.items():
        if isinstance(account, SnapshotError):
            builder.errors.append(account)
            builder.complete = False
            read[account_id] = False
            continue
        read[account_id] = True
        builder.origin = account.origin
        # Say which account a problem is in, unless its source (a file) already does.
        where = f"account {account_id} ({names.get(account_id, account_id)})"
        builder.errors.extend(
            e if account_id in e.source else e.model_copy(update={"source": f"{where}: {e.source}"})
            for e in account.errors
        )
        builder.complete = builder.complete and account.complete
        builder.add(account)
        if "password_policy" in account.settings:
            password_policies[account_id] = account.settings["password_policy"]
    builder.documents.extend(organization.scp_documents(system))
    management = organization.management_account_id
    settings: dict[str, Any] = {
        "account_id": management,
        "organization_id": organization.organization.get("Id"),
        "organization": organization.settings(read),
        "password_policies": password_policies,
    }
    if management in password_policies:
        settings["password_policy"] = password_policies[management]
    _name_accounts(builder.accounts, names)
    if collected.identity_center is not None:
        _add_identity_center(builder, collected.identity_center, names, settings)
    return _snapshot(builder, type_name, collected.source, collected.collected_at, settings)


def _name_accounts(accounts: list[Account], names: Mapping[str, str]) -> None:
    """Every IAM principal says which account it is in: ``aws_account_id`` (from its ARN)
    and ``aws_account_name`` (Organizations' name for it; the id again when unknown)."""
    for index, account in enumerate(accounts):
        parts = account.native_id.split(":", 5)
        if len(parts) < 5 or not parts[4].isdigit():
            continue
        attributes = dict(account.attributes)
        attributes["aws_account_id"] = parts[4]
        attributes["aws_account_name"] = names.get(parts[4], parts[4])
        accounts[index] = account.model_copy(update={"attributes": attributes})


def _snapshot(
    builder: _SnapshotBuilder,
    type_name: str,
    source: str,
    collected_at: datetime,
    settings: dict[str, Any],
) -> SystemSnapshot:
    """What the builder holds, as the snapshot (a document kept twice, once)."""
    documents = {document.document_id: document for document in builder.documents}
    return ordered_snapshot(
        system=builder.system,
        connector=type_name,
        source=source,
        collected_at=collected_at,
        complete=builder.complete,
        errors=builder.errors,
        accounts=builder.accounts,
        credentials=builder.credentials,
        entitlements=builder.entitlements.values(),
        grants=builder.grants
        | {
            _grant(builder.system, account, entitlement, via)
            for account, entitlement, via in builder.grant_keys
        },
        documents=documents.values(),
        settings=settings,
    )


def _add_identity_center(
    builder: _SnapshotBuilder,
    found: IdentityCenter,
    names: Mapping[str, str],
    settings: dict[str, Any],
) -> None:
    roles = [a for a in builder.accounts if a.attributes.get("principal_type") == "role"]
    parts = identity_center_parts(found, system=builder.system, account_names=names, roles=roles)
    by_id = {role.native_id: role for role in parts.roles}
    builder.accounts = [by_id.get(a.native_id, a) for a in builder.accounts]
    builder.accounts.extend(parts.accounts)
    for entitlement in parts.entitlements:
        builder.entitlements[entitlement.entitlement_id] = entitlement
    builder.grants.update(parts.grants)
    builder.documents.extend(parts.documents)
    builder.errors.extend(parts.errors)
    builder.complete = builder.complete and parts.complete
    if parts.settings:
        settings["identity_center"] = parts.settings


_GRANT_SET = ("system", "account_id", "entitlement_id", "via")
_new = object.__new__
_set = object.__setattr__


def _grant(system: str, account: str, entitlement: str, via: str | None) -> Grant:
    """``Grant(system=…, account_id=…, entitlement_id=…, via=…)`` without validating again
    what is checked already: the ids are strings of validated IAM records (an account has a
    quarter of a million grants). The tests validate the built grants again and compare."""
    grant = _new(Grant)
    _set(
        grant,
        "__dict__",
        {
            "system": system,
            "account_id": account,
            "entitlement_id": entitlement,
            "via": via,
            "granted_at": None,
            "last_used_at": None,
        },
    )
    _set(grant, "__pydantic_fields_set__", set(_GRANT_SET))
    _set(grant, "__pydantic_extra__", None)
    _set(grant, "__pydantic_private__", None)
    return grant


def _inline_id(owner_arn: str, policy_name: str) -> str:
    return f"{owner_arn}#inline/{policy_name}"


@dataclass
class _SnapshotBuilder:
    """Turns what IAM says into the shared model; the same code for both modes."""

    system: str
    email_tag: str
    employee_id_tag: str
    origin: str
    """Where the authorization details came from, for problems found in them."""
    accounts: list[Account] = field(default_factory=list)
    credentials: list[Credential] = field(default_factory=list)
    entitlements: dict[str, Entitlement] = field(default_factory=dict)
    grants: set[Grant] = field(default_factory=set)
    grant_keys: set[tuple[str, str, str | None]] = field(default_factory=set)
    """(account, entitlement, via) of the grants ``_grant`` gave: made Grants once, at the end
    (the same set of grants: these differ in nothing else)."""
    documents: list[PolicyDocument] = field(default_factory=list)
    errors: list[SnapshotError] = field(default_factory=list)
    complete: bool = True
    groups: dict[str, GroupDetail] = field(default_factory=dict)

    def add(self, collected: Collected) -> None:
        details, report = collected.details, collected.report
        self.groups = {group.group_name: group for group in details.group_detail_list}
        self._policies(details)
        self._groups(details)
        for user in details.user_detail_list:
            self._user(user, report.get(user.arn) if report is not None else None)
        self._roles(details)
        for arn, entries in collected.last_accessed.items():
            self.documents.append(
                PolicyDocument(
                    system=self.system,
                    document_id=last_accessed_document_id(arn),
                    name=arn.rsplit("/", 1)[-1],
                    kind=LAST_ACCESSED_KIND,
                    document={"ServicesLastAccessed": entries},
                )
            )
        root = next((row for row in (report or {}).values() if row.is_root), None)
        if root is not None:
            self._root(root)

    # entitlements

    def _policies(self, details: AuthorizationDetails) -> None:
        for policy in details.policies:
            document = policy.default_document
            privileged = bool(PRIVILEGED_AWS_POLICY.match(policy.arn)) or (
                document is not None and grants_everything(document)
            )
            self.entitlements[policy.arn] = Entitlement(
                system=self.system,
                entitlement_id=policy.arn,
                name=policy.name,
                kind="policy",
                privileged=privileged,
                description=policy.description or None,
            )
            if document is not None:
                self.documents.append(
                    PolicyDocument(
                        system=self.system,
                        document_id=policy.arn,
                        name=policy.name,
                        kind="managed-policy",
                        document=document,
                    )
                )
        # A policy attached somewhere but missing from the list (a filtered export) is still
        # something its holders have.
        attached = [
            *(a for u in details.user_detail_list for a in u.attached_managed_policies),
            *(a for g in details.group_detail_list for a in g.attached_managed_policies),
            *(a for r in details.role_detail_list for a in r.attached_managed_policies),
        ]
        for attachment in attached:
            if attachment.policy_arn not in self.entitlements:
                self.entitlements[attachment.policy_arn] = Entitlement(
                    system=self.system,
                    entitlement_id=attachment.policy_arn,
                    name=attachment.policy_name,
                    kind="policy",
                    privileged=bool(PRIVILEGED_AWS_POLICY.match(attachment.policy_arn)),
                )

    def _inline(self, owner_arn: str, policies: Iterable[InlinePolicy]) -> list[str]:
        ids = []
        for policy in policies:
            entitlement_id = _inline_id(owner_arn, policy.policy_name)
            self.entitlements[entitlement_id] = Entitlement(
                system=self.system,
                entitlement_id=entitlement_id,
                name=policy.policy_name,
                kind="inline-policy",
                privileged=grants_everything(policy.policy_document),
                description=f"inline policy of {owner_arn}",
            )
            self.documents.append(
                PolicyDocument(
                    system=self.system,
                    document_id=entitlement_id,
                    name=policy.policy_name,
                    kind="inline-policy",
                    document=policy.policy_document,
                )
            )
            ids.append(entitlement_id)
        return ids

    def _groups(self, details: AuthorizationDetails) -> None:
        for group in details.group_detail_list:
            inline = self._inline(group.arn, group.group_policy_list)
            attached = [a.policy_arn for a in group.attached_managed_policies]
            self.entitlements[group.arn] = Entitlement(
                system=self.system,
                entitlement_id=group.arn,
                name=group.group_name,
                kind="group",
                privileged=any(self.entitlements[p].privileged for p in attached + inline),
            )
            # Grants show a group's policies only through its members: an empty group that
            # holds AdministratorAccess is still one a user allowed to join it can join.
            self.documents.append(
                PolicyDocument(
                    system=self.system,
                    document_id=group_policies_document_id(group.arn),
                    name=group.group_name,
                    kind=GROUP_POLICIES_KIND,
                    document={
                        "AttachedManagedPolicies": sorted(attached),
                        "InlinePolicies": sorted(inline),
                    },
                )
            )

    # accounts

    def _grant(self, account: str, entitlement: str, via: str | None = None) -> None:
        self.grant_keys.add((account, entitlement, via))

    def _user(self, user: UserDetail, row: ReportUser | None) -> None:
        tags = {tag.key: tag.value for tag in user.tags}
        attributes = {"principal_type": "user", "path": user.path, "user_id": user.user_id}
        # Kept for policy conditions on aws:PrincipalTag.
        attributes["tags"] = json.dumps(tags, sort_keys=True)
        if user.permissions_boundary is not None:
            attributes["permissions_boundary"] = user.permissions_boundary.permissions_boundary_arn
        status = AccountStatus.ACTIVE  # unknown credentials must never look like removed ones
        mfa: tuple[str, ...] | None = None
        last_login = None
        if row is not None:
            usable = bool(row.password_enabled) or any(key.active for key in row.keys)
            status = AccountStatus.ACTIVE if usable else AccountStatus.DISABLED
            mfa = ("mfa",) if row.mfa_active else ()
            last_login = row.password_last_used
            self._credentials(user.arn, row)
        self.accounts.append(
            Account(
                system=self.system,
                native_id=user.arn,
                login=user.user_name,
                email=tags.get(self.email_tag),
                display_name=tags.get("name"),
                employee_id=tags.get(self.employee_id_tag),
                status=status,
                kind=AccountKind.HUMAN,
                created_at=user.create_date,
                last_login_at=last_login,
                mfa_factors=mfa,
                attributes=attributes,
            )
        )
        for name in user.group_list:
            group = self.groups.get(name)
            if group is None:
                self.complete = False
                self.errors.append(
                    SnapshotError(
                        source=self.origin,
                        record=user.arn,
                        message=f"user {user.user_name} is in group {name}, which the "
                        "authorization details do not list",
                    )
                )
                continue
            self._grant(user.arn, group.arn)
            for attachment in group.attached_managed_policies:
                self._grant(user.arn, attachment.policy_arn, via=group.arn)
            for policy in group.group_policy_list:
                self._grant(user.arn, _inline_id(group.arn, policy.policy_name), via=group.arn)
        for attachment in user.attached_managed_policies:
            self._grant(user.arn, attachment.policy_arn)
        for entitlement_id in self._inline(user.arn, user.user_policy_list):
            self._grant(user.arn, entitlement_id)

    def _credentials(self, arn: str, row: ReportUser) -> None:
        # The root user's password shows as not_supported (None): it always has one.
        password_active = row.password_enabled is not False
        if password_active or row.password_last_changed is not None:
            self.credentials.append(
                Credential(
                    system=self.system,
                    account_id=arn,
                    credential_id=f"{arn}#password",
                    kind=CredentialKind.PASSWORD,
                    active=password_active,
                    created_at=row.password_last_changed,
                    last_used_at=row.password_last_used,
                )
            )
        for key in row.keys:
            attributes = {}
            if key.last_used_service is not None:
                attributes["last_used_service"] = key.last_used_service
            if key.last_used_region is not None:
                attributes["last_used_region"] = key.last_used_region
            self.credentials.append(
                Credential(
                    system=self.system,
                    account_id=arn,
                    credential_id=f"{arn}#access_key_{key.number}",
                    kind=CredentialKind.ACCESS_KEY,
                    active=key.active,
                    created_at=key.created_at,
                    last_used_at=key.last_used_at,
                    attributes=attributes,
                )
            )

    def _roles(self, details: AuthorizationDetails) -> None:
        for role in details.role_detail_list:
            attributes = {"principal_type": "role", "path": role.path, "role_id": role.role_id}
            role_tags = {tag.key: tag.value for tag in role.tags}
            attributes["tags"] = json.dumps(role_tags, sort_keys=True)
            if role.permissions_boundary is not None:
                attributes["permissions_boundary"] = (
                    role.permissions_boundary.permissions_boundary_arn
                )
            self.accounts.append(
                Account(
                    system=self.system,
                    native_id=role.arn,
                    login=role.role_name,
                    status=AccountStatus.ACTIVE,
                    kind=AccountKind.SERVICE,
                    created_at=role.create_date,
                    last_login_at=role.role_last_used.last_used_date
                    if role.role_last_used
                    else None,
                    attributes=attributes,
                )
            )
            for attachment in role.attached_managed_policies:
                self._grant(role.arn, attachment.policy_arn)
            for entitlement_id in self._inline(role.arn, role.role_policy_list):
                self._grant(role.arn, entitlement_id)
            if role.assume_role_policy_document is not None:
                self.documents.append(
                    PolicyDocument(
                        system=self.system,
                        document_id=f"{role.arn}#trust",
                        name=role.role_name,
                        kind="trust-policy",
                        document=role.assume_role_policy_document,
                    )
                )

    def _root(self, row: ReportUser) -> None:
        # The root user is in the credential report only; it is the account's break-glass
        # identity, so it is kept (its MFA and access keys matter most) but never acted on.
        self.accounts.append(
            Account(
                system=self.system,
                native_id=row.arn,
                login="root",
                display_name="root user",
                status=AccountStatus.ACTIVE,
                kind=AccountKind.BREAK_GLASS,
                created_at=row.created_at,
                last_login_at=row.password_last_used,
                mfa_factors=("mfa",) if row.mfa_active else (),
                attributes={"principal_type": "root"},
            )
        )
        self._credentials(row.arn, row)
