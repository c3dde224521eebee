"""Turning what Entra says (``TenantData``, read live or from files) into iam-gov's model."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from iam_gov.connectors.entra.records import (
    AppRoleAssignment,
    DirectoryObject,
    GraphGroup,
    GraphUser,
    GroupEligibility,
    RegistrationDetails,
    RoleAssignment,
    RoleEligibility,
    TenantData,
)
from iam_gov.connectors.shared.snapshot import ordered_snapshot
from iam_gov.gcpause import collector_paused
from iam_gov.model import (
    Account,
    AccountKind,
    AccountStatus,
    Credential,
    CredentialKind,
    Entitlement,
    Grant,
    SystemSnapshot,
)

# Registered methods that are not a second factor: e-mail and security questions serve
# self-service password reset only, app passwords bypass MFA, a temporary access pass expires.
NOT_A_SECOND_FACTOR = frozenset({"email", "securityQuestion", "appPassword", "temporaryAccessPass"})


def _flag(value: bool | None) -> str | None:
    return None if value is None else ("true" if value else "false")


# --- entitlement ids ------------------------------------------------------------------------
# Graph-like paths, so that an action can tell from the id alone what it is asked to remove.

DEFAULT_APP_ROLE = "00000000-0000-0000-0000-000000000000"
"""The app role id of "default access", for applications that define no roles."""


ELIGIBLE = "pim:eligible"
"""``Grant.via`` of what PIM makes a user eligible for, held directly: not active now, but
theirs to activate, so an administrator for every review and leaver purpose. (The model has
no field for it yet; no entitlement id starts with ``pim:``.)"""


def eligible_through(group_id: str) -> str:
    """``Grant.via`` of what a user is eligible for through a group: the group is eligible
    for a role, or the user is an eligible member of the group that holds it."""
    return f"{ELIGIBLE}:{group_entitlement(group_id)}"


def is_eligible(via: str | None) -> bool:
    return via is not None and (via == ELIGIBLE or via.startswith(ELIGIBLE + ":"))


def group_entitlement(group_id: str) -> str:
    return f"groups/{group_id}"


def role_entitlement(role_definition_id: str, scope: str = "/") -> str:
    base = f"roleDefinitions/{role_definition_id}"
    return base if scope == "/" else f"{base}@{scope}"


def app_role_entitlement(resource_id: str, app_role_id: str) -> str:
    return f"servicePrincipals/{resource_id}/appRoles/{app_role_id}"


@dataclass
class SnapshotBuilder:
    """Turns what Graph says into the shared model; the same code for both modes."""

    system: str
    connector: str
    """The connector's type name, recorded in the snapshot."""
    data: TenantData
    users: dict[str, GraphUser] = field(default_factory=dict)
    groups: dict[str, GraphGroup] = field(default_factory=dict)
    direct_users: dict[str, set[str]] = field(default_factory=dict)
    """Group id -> ids of its direct user members."""
    parents: dict[str, set[str]] = field(default_factory=dict)
    """Group id -> ids of the groups it is a direct member of."""
    entitlements: dict[str, Entitlement] = field(default_factory=dict)
    grants: dict[tuple[str, str, str | None], datetime | None] = field(default_factory=dict)
    role_holding_groups: set[str] = field(default_factory=set)
    conferred: dict[str, set[str]] = field(default_factory=dict)
    """Group id -> the roles and app roles its direct members hold through it."""

    def snapshot(self, source: str, collected_at: datetime) -> SystemSnapshot:
        with collector_paused():
            return self._snapshot(source, collected_at)

    def _snapshot(self, source: str, collected_at: datetime) -> SystemSnapshot:
        data = self.data
        self.users = {u.id: u for u in data.users}
        self.groups = {g.id: g for g in data.groups}
        self._memberships()
        self._directory_roles()
        self._app_roles()
        self._eligible_roles()
        self._eligible_members()
        self._group_entitlements()
        accounts, credentials = self._accounts()
        grants = [
            _trusted(
                Grant,
                system=self.system,
                account_id=account,
                entitlement_id=entitlement,
                via=via,
                granted_at=granted_at,
            )
            for (account, entitlement, via), granted_at in self.grants.items()
        ]
        settings: dict[str, Any] = {}
        if data.domains is not None:
            settings["domains"] = dict(sorted(data.domains.items()))
        return ordered_snapshot(
            system=self.system,
            connector=self.connector,
            source=source,
            collected_at=collected_at,
            complete=data.complete,
            errors=data.errors,
            accounts=accounts,
            credentials=credentials,
            entitlements=self.entitlements.values(),
            grants=grants,
            settings=settings,
        )

    def _grant(
        self, account: str, entitlement: str, via: str | None = None, at: datetime | None = None
    ) -> None:
        key = (account, entitlement, via)
        known = self.grants.get(key)
        # The same role assigned twice is one grant, held since the first assignment.
        self.grants[key] = at if known is None else (min(known, at) if at else known)

    # groups

    def _member_kind(self, member: DirectoryObject) -> str | None:
        kind = (member.odata_type or "").removeprefix("#microsoft.graph.").lower()
        if kind:
            return kind
        if member.id in self.users:
            return "user"
        return "group" if member.id in self.groups else None

    def _memberships(self) -> None:
        stated: dict[str | None, str] = {}  # odata.type -> its kind: a few types, many members
        for group_id, members in self.data.members.items():
            users = self.direct_users.setdefault(group_id, set())
            for member in members:
                kind: str | None = stated.get(member.odata_type)
                if kind is None:
                    kind = (member.odata_type or "").removeprefix("#microsoft.graph.").lower()
                    if kind:
                        stated[member.odata_type] = kind
                    else:
                        kind = self._member_kind(member)
                if kind == "user" and member.id in self.users:
                    users.add(member.id)
                elif kind == "group" and member.id in self.groups:
                    self.parents.setdefault(member.id, set()).add(group_id)
                elif kind in {"user", "group"}:
                    self.data.problem(
                        f"/groups/{group_id}/members",
                        f"member {member.id} is a {kind} that was not read: its access through "
                        "this group is unknown",
                        group_id,
                        consequence=f"findings about that {kind}'s access through this group "
                        "are not concluded",
                    )
        for group_id, users in self.direct_users.items():
            ancestors = self._ancestors(group_id)
            entitlement = group_entitlement(group_id)
            for user_id in users:
                # What _grant does with no time, a grant per membership.
                self.grants.setdefault((user_id, entitlement, None), None)
                for ancestor in ancestors:
                    # Held through the group the user is a direct member of: that membership
                    # is what explains it, and what would be removed.
                    self._grant(
                        user_id, group_entitlement(ancestor), via=group_entitlement(group_id)
                    )

    def _ancestors(self, group_id: str) -> set[str]:
        found: set[str] = set()
        todo = list(self.parents.get(group_id, ()))
        while todo:
            parent = todo.pop()
            if parent in found or parent == group_id:
                continue  # a cycle, which Entra should not allow, ends here
            found.add(parent)
            todo.extend(self.parents.get(parent, ()))
        return found

    def _group_entitlements(self) -> None:
        names: dict[str, list[str]] = {}
        for group in self.data.groups:
            name = group.display_name or group.id
            names.setdefault(name, []).append(group.id)
            self.entitlements[group_entitlement(group.id)] = Entitlement(
                system=self.system,
                entitlement_id=group_entitlement(group.id),
                name=name,
                kind="group",
                privileged=group.id in self.role_holding_groups,
                description=group.description or None,
            )
        for name, ids in sorted(names.items()):
            if len(ids) > 1:
                self.data.note(
                    "/groups",
                    f"{len(ids)} groups are named {name!r}: a policy's group:{name} means all "
                    "of them",
                )

    def _holders(
        self, principal_id: str, principal_type: str | None
    ) -> Iterable[tuple[str, str | None]]:
        """(user, via) for a principal a role is assigned to. Roles and app roles assigned to a
        group reach its direct members only: Entra does not pass them on to nested groups."""
        kind = (principal_type or "").lower()
        if kind in {"", "user"} and principal_id in self.users:
            yield principal_id, None
        elif kind in {"", "group"} and principal_id in self.groups:
            via = group_entitlement(principal_id)
            for user_id in sorted(self.direct_users.get(principal_id, ())):
                yield user_id, via

    # directory roles

    def _directory_roles(self) -> None:
        for assignment in self.data.role_assignments:
            principal = assignment.principal_id
            if principal not in self.users and principal not in self.groups:
                continue  # a service principal, or a deleted object: not an account here
            entitlement_id = role_entitlement(
                assignment.role_definition_id, assignment.directory_scope_id
            )
            if entitlement_id not in self.entitlements:
                self.entitlements[entitlement_id] = self._role(assignment)
            if principal in self.groups:
                self.role_holding_groups.add(principal)
                self.conferred.setdefault(principal, set()).add(entitlement_id)
            for user_id, via in self._holders(principal, None):
                self._grant(user_id, entitlement_id, via)

    # PIM

    def _eligible_roles(self) -> None:
        """Eligible role assignments: the same role entitlement as an active one, held with
        ``via`` saying "eligible" (directly, or through the group that is eligible)."""
        for eligibility in self.data.role_eligibilities:
            principal = eligibility.principal_id
            if principal not in self.users and principal not in self.groups:
                continue  # a service principal, or a deleted object: not an account here
            entitlement_id = role_entitlement(
                eligibility.role_definition_id, eligibility.directory_scope_id
            )
            if entitlement_id not in self.entitlements:
                self.entitlements[entitlement_id] = self._role(eligibility)
            if principal in self.users:
                self._grant(principal, entitlement_id, ELIGIBLE, eligibility.start_date_time)
                continue
            self.role_holding_groups.add(principal)
            for user_id in sorted(self.direct_users.get(principal, ())):
                self._grant(user_id, entitlement_id, eligible_through(principal))

    def _eligible_members(self) -> None:
        """Eligible members of a group (PIM for Groups): the group itself, the groups it is
        in, and the roles and app roles assigned to it, all held as eligible. Ownership is
        not access here (owners are not read either)."""
        for group_id, eligibilities in sorted(self.data.group_eligibilities.items()):
            if group_id not in self.groups:
                continue
            for eligibility in eligibilities:
                if (eligibility.access_id or "member").lower() != "member":
                    continue
                principal = eligibility.principal_id
                if principal in self.users:
                    self._eligible_member(principal, group_id, ELIGIBLE, eligibility)
                elif principal in self.groups:
                    for user_id in sorted(self.direct_users.get(principal, ())):
                        self._eligible_member(
                            user_id, group_id, eligible_through(principal), eligibility
                        )

    def _eligible_member(
        self, user_id: str, group_id: str, via: str, eligibility: GroupEligibility
    ) -> None:
        at = eligibility.start_date_time if via == ELIGIBLE else None
        self._grant(user_id, group_entitlement(group_id), via, at)
        through = eligible_through(group_id)
        for ancestor in self._ancestors(group_id):
            self._grant(user_id, group_entitlement(ancestor), through)
        for entitlement_id in sorted(self.conferred.get(group_id, ())):
            self._grant(user_id, entitlement_id, through)

    def _role(self, assignment: RoleAssignment | RoleEligibility) -> Entitlement:
        definition = self.data.role_definitions.get(assignment.role_definition_id)
        name = (definition.display_name if definition else None) or assignment.role_definition_id
        if assignment.directory_scope_id != "/":
            name = f"{name} ({assignment.directory_scope_id})"
        return Entitlement(
            system=self.system,
            entitlement_id=role_entitlement(
                assignment.role_definition_id, assignment.directory_scope_id
            ),
            name=name,
            kind="directory-role",
            privileged=True,
            description=(definition.description if definition else None) or None,
        )

    # app roles

    def _app_roles(self) -> None:
        for assignment in self.data.app_role_assignments:
            holders = list(self._holders(assignment.principal_id, assignment.principal_type))
            if not holders and assignment.principal_id not in self.groups:
                continue  # assigned to a service principal (an application permission)
            entitlement_id = app_role_entitlement(assignment.resource_id, assignment.app_role_id)
            if entitlement_id not in self.entitlements:
                self.entitlements[entitlement_id] = self._app_role(assignment)
            if assignment.principal_id in self.groups:
                self.conferred.setdefault(assignment.principal_id, set()).add(entitlement_id)
            for user_id, via in holders:
                self._grant(
                    user_id,
                    entitlement_id,
                    via,
                    assignment.created_date_time if via is None else None,
                )

    def _app_role(self, assignment: AppRoleAssignment) -> Entitlement:
        principal = self.data.service_principals.get(assignment.resource_id)
        application = (
            (principal.display_name if principal else None)
            or assignment.resource_display_name
            or assignment.resource_id
        )
        description = None
        if assignment.app_role_id == DEFAULT_APP_ROLE:
            role = "default"
        else:
            found = next(
                (
                    r
                    for r in (principal.app_roles if principal else ())
                    if r.id == assignment.app_role_id
                ),
                None,
            )
            role = (
                (found.value or found.display_name or found.id) if found else assignment.app_role_id
            )
            description = found.description if found else None
        return Entitlement(
            system=self.system,
            entitlement_id=app_role_entitlement(assignment.resource_id, assignment.app_role_id),
            name=f"{application}/{role}",
            kind="app-role",
            privileged=False,
            description=description or None,
        )

    # accounts

    def _accounts(self) -> tuple[list[Account], list[Credential]]:
        accounts, credentials = [], []
        registrations = self.data.registrations
        for user in self.data.users:
            enabled = user.account_enabled is not False  # unknown must not look disabled
            activity = user.sign_in_activity
            last_sign_in = None
            if activity is not None:
                # A failed attempt is not use; a token refreshed by an app is.
                last_sign_in = (
                    activity.last_successful_sign_in_date_time or activity.last_sign_in_date_time
                )
            registration = registrations.get(user.id) if registrations is not None else None
            accounts.append(
                _trusted(
                    Account,
                    system=self.system,
                    native_id=user.id,
                    login=user.user_principal_name or user.id,
                    email=user.mail or None,
                    display_name=user.display_name or None,
                    employee_id=user.employee_id or None,
                    status=AccountStatus.ACTIVE if enabled else AccountStatus.DISABLED,
                    kind=AccountKind.HUMAN,
                    created_at=user.created_date_time,
                    last_login_at=last_sign_in,
                    mfa_factors=_mfa_factors(registration),
                    attributes=_attributes(user, registration),
                )
            )
            credentials.append(self._password(user, enabled, last_sign_in))
        return accounts, credentials

    def _password(
        self, user: GraphUser, enabled: bool, last_sign_in: datetime | None
    ) -> Credential:
        upn = user.user_principal_name or ""
        domain = upn.rpartition("@")[2].lower()
        if "#EXT#" in upn.upper() or (user.creation_type or "").lower() == "invitation":
            checked_by = "home-tenant"  # a guest signs in where their identity lives
        elif (self.data.domains or {}).get(domain, "").lower() == "federated":
            checked_by = "federation"  # the password is typed into, and checked by, another IdP
        else:
            checked_by = "entra"
        return _trusted(
            Credential,
            system=self.system,
            account_id=user.id,
            credential_id=f"{user.id}#password",
            kind=CredentialKind.PASSWORD,
            active=enabled and checked_by == "entra",
            created_at=user.last_password_change_date_time,
            last_used_at=last_sign_in,
            attributes={"checked_by": checked_by},
        )


_Model = TypeVar("_Model", bound=BaseModel)
_SHAPES: dict[type[BaseModel], tuple[dict[str, Any], list[tuple[str, Any]], frozenset[str]]] = {}
"""Per model: its fields' defaults in order, its default factories, its required fields."""
_new = object.__new__
_set = object.__setattr__


def _trusted(model: type[_Model], **values: Any) -> _Model:
    """The model built from values that are already of its types (strings, enum members, UTC
    datetimes from the validated Graph records), as ``model(**values)`` would build it, without
    validating them again: a tenant's snapshot is hundreds of thousands of these. The tests
    validate every record of built snapshots again and compare."""
    shape = _SHAPES.get(model)
    if shape is None:
        declared = model.model_fields.items()
        shape = _SHAPES[model] = (
            {n: None if i.default is PydanticUndefined else i.default for n, i in declared},
            [(n, i.default_factory) for n, i in declared if i.default_factory is not None],
            frozenset(n for n, i in declared if i.is_required()),
        )
    template, factories, required = shape
    if not required <= values.keys():
        raise TypeError(f"{model.__name__}: {', '.join(sorted(required - values.keys()))} missing")
    fields = template.copy()
    fields.update(values)
    for name, factory in factories:
        if name not in values:
            fields[name] = factory()
    record = _new(model)
    _set(record, "__dict__", fields)
    _set(record, "__pydantic_fields_set__", set(values))
    _set(record, "__pydantic_extra__", None)
    _set(record, "__pydantic_private__", None)
    return record


def _mfa_factors(registration: RegistrationDetails | None) -> tuple[str, ...] | None:
    if registration is None or registration.is_mfa_registered is None:
        return None
    if not registration.is_mfa_registered:
        return ()
    factors = sorted(set(registration.methods_registered) - NOT_A_SECOND_FACTOR)
    # Registered for MFA with a method this list does not know yet: still a second factor.
    return tuple(factors) or ("mfa",)


def _attributes(user: GraphUser, registration: RegistrationDetails | None) -> dict[str, str]:
    activity = user.sign_in_activity
    values: dict[str, str | None] = {
        "userType": user.user_type,
        "accountEnabled": _flag(user.account_enabled),
        "onPremisesSyncEnabled": _flag(user.on_premises_sync_enabled),
        "creationType": user.creation_type,
        "externalUserState": user.external_user_state,
        "department": user.department,
        "jobTitle": user.job_title,
        "givenName": user.given_name,
        "surname": user.surname,
        "passwordPolicies": user.password_policies,
        "defaultMfaMethod": registration.default_mfa_method if registration else None,
    }
    if activity is not None:
        for key, value in (
            ("lastSignInDateTime", activity.last_sign_in_date_time),
            ("lastNonInteractiveSignInDateTime", activity.last_non_interactive_sign_in_date_time),
            ("lastSuccessfulSignInDateTime", activity.last_successful_sign_in_date_time),
        ):
            values[key] = value.isoformat() if value else None
    return {key: value for key, value in values.items() if value}
