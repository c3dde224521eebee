"""Turning what Okta says (``OktaData``, read live or from an export) into iam-gov's model."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from iam_gov.connectors.okta.layout import USERS
from iam_gov.connectors.okta.live import PASSWORD_POLICIES
from iam_gov.connectors.okta.records import (
    UNKNOWN_APP_GROUPS,
    UNKNOWN_ROLE_TARGETS,
    UNKNOWN_ROLES,
    UNKNOWN_USERS,
    OktaApp,
    OktaData,
    OktaPasswordPolicy,
    OktaRole,
    OktaUser,
    RoleTarget,
)
from iam_gov.connectors.shared.snapshot import ordered_snapshot
from iam_gov.gcpause import collector_paused
from iam_gov.model import (
    Account,
    AccountStatus,
    Credential,
    CredentialKind,
    Entitlement,
    Grant,
    SystemSnapshot,
)

_STATUS = {
    "ACTIVE": AccountStatus.ACTIVE,
    "RECOVERY": AccountStatus.ACTIVE,
    "PASSWORD_EXPIRED": AccountStatus.ACTIVE,
    "LOCKED_OUT": AccountStatus.ACTIVE,
    "PROVISIONED": AccountStatus.ACTIVE,
    "SUSPENDED": AccountStatus.SUSPENDED,
    "DEPROVISIONED": AccountStatus.DISABLED,
    "STAGED": AccountStatus.DISABLED,
}


@dataclass
class SnapshotBuilder:
    """Turns what Okta says into the shared model; the same code for both modes."""

    system: str
    connector: str
    """The connector's type name, recorded in the snapshot."""
    accounts: dict[str, Account] = field(default_factory=dict)
    credentials: list[Credential] = field(default_factory=list)
    entitlements: dict[str, Entitlement] = field(default_factory=dict)
    grants: dict[tuple[str, str, str | None], Grant] = field(default_factory=dict)

    def snapshot(self, data: OktaData, source: str, collected_at: datetime) -> SystemSnapshot:
        with collector_paused():
            return self._snapshot(data, source, collected_at)

    def _snapshot(self, data: OktaData, source: str, collected_at: datetime) -> SystemSnapshot:
        for user in data.users.values():
            self._account(user, data)
        for user in data.member_users.values():
            if user.id not in self.accounts:
                self._account(user, data)
        self._groups(data)
        self._apps(data)
        self._roles(data)
        settings: dict[str, Any] = {}
        if data.password_policies is not None:
            settings["password_policies"] = self._password_policies(data, data.password_policies)
        return ordered_snapshot(
            system=self.system,
            connector=self.connector,
            source=source,
            collected_at=collected_at,
            complete=data.complete,
            # Live collection meets problems in whatever order its workers finish.
            errors=sorted(data.errors, key=lambda e: (e.source, e.record or "", e.message)),
            accounts=self.accounts.values(),
            credentials=self.credentials,
            entitlements=self.entitlements.values(),
            grants=self.grants.values(),
            settings=settings,
        )

    def _grant(
        self,
        account: str,
        entitlement: str,
        via: str | None = None,
        granted_at: datetime | None = None,
    ) -> None:
        self.grants[(account, entitlement, via)] = Grant(
            system=self.system,
            account_id=account,
            entitlement_id=entitlement,
            via=via,
            granted_at=granted_at,
        )

    def _account(self, user: OktaUser, data: OktaData) -> None:
        status = _STATUS.get(user.status)
        if status is None:
            # Unknown must never look like removed: taken as able to sign in.
            status = AccountStatus.ACTIVE
            data.problem(
                USERS,
                f"user {user.login} has a status iam-gov does not know ({user.status[:40]}): "
                "taken to be able to sign in",
                record=user.id,
                incomplete=False,
            )
        attributes = {"okta_status": user.status}
        if user.provider_type:
            attributes["credential_provider"] = user.provider_type
        if user.provider_name:
            attributes["credential_provider_name"] = user.provider_name
        self.accounts[user.id] = Account(
            system=self.system,
            native_id=user.id,
            login=user.login,
            email=user.email,
            display_name=user.display_name,
            employee_id=user.employee_id,
            status=status,
            created_at=user.created,
            last_login_at=user.last_login,
            mfa_factors=data.factors.get(user.id) if user.can_sign_in else None,
            attributes=attributes,
        )
        if user.has_password:
            self.credentials.append(
                Credential(
                    system=self.system,
                    account_id=user.id,
                    credential_id=f"{user.id}#password",
                    kind=CredentialKind.PASSWORD,
                    active=status is AccountStatus.ACTIVE,
                    created_at=user.password_changed,
                    last_used_at=user.last_login,
                    attributes={"provider": user.provider_type} if user.provider_type else {},
                )
            )

    def _groups(self, data: OktaData) -> None:
        for group in data.groups.values():
            self.entitlements[group.id] = Entitlement(
                system=self.system,
                entitlement_id=group.id,
                name=group.name,
                kind="group",
                # A group that makes its members administrators is privileged by nature.
                privileged=bool(data.group_roles.get(group.id)),
                description=group.description,
            )
            for user_id in data.members.get(group.id, ()):
                self._grant(user_id, group.id)

    def _apps(self, data: OktaData) -> None:
        # Okta removes a deactivated user's app assignments, direct and through groups
        # (they stay members of their groups): no app is theirs, whatever a group holds.
        deactivated = {
            user_id
            for user_id, account in self.accounts.items()
            if account.attributes.get("okta_status") == "DEPROVISIONED"
        }
        for app in data.apps.values():
            description = app.name + ("" if app.status == "ACTIVE" else f" ({app.status.lower()})")
            self.entitlements[app.id] = Entitlement(
                system=self.system,
                entitlement_id=app.id,
                name=app.label,
                kind="app",
                description=description or None,
            )
            self._app_grants(app, data, deactivated)
        self._app_groups_unread(data)

    def _app_grants(self, app: OktaApp, data: OktaData, deactivated: set[str]) -> None:
        """Grants of one app: its assigned groups' members, its users' own rows (a ``GROUP``
        row names the group it comes through, where Okta links it), its direct users; none
        to the ``deactivated`` users."""
        assignments = data.app_users.get(app.id, ())
        # Where a listing failed, that failure is the problem to report, not what follows.
        groups_known = app.id in data.app_groups
        # The groups the app is assigned to: its group list, and those its users' rows name.
        groups = dict.fromkeys(data.app_groups.get(app.id, ()))
        groups.update(dict.fromkeys(a.group_id for a in assignments if a.group_id))
        via_group: set[str] = set()
        for group_id in groups:
            if group_id not in data.groups:
                data.problem(
                    f"/api/v1/apps/{app.id}/groups",
                    f"app {app.label} is assigned to group {group_id}, which is not in the "
                    "group list",
                    record=group_id,
                    consequence=f"grants of app {app.label} through that group are not concluded",
                )
                groups_known = False
                continue
            groups_known = groups_known and group_id in data.members
            for user_id in data.members.get(group_id, ()):
                if user_id in deactivated:
                    continue
                self._grant(user_id, app.id, via=group_id)
                via_group.add(user_id)
        for assignment in assignments:
            user_id = assignment.user_id
            if user_id in deactivated:
                data.problem(
                    f"/api/v1/apps/{app.id}/users",
                    f"app {app.label} lists deactivated user {self.accounts[user_id].login}, "
                    "whose app assignments Okta removes: not taken as a grant",
                    record=user_id,
                    incomplete=False,
                )
                continue
            if user_id not in self.accounts:
                if not data.users_complete:
                    continue  # the user list's own failure is the problem reported
                data.problem(
                    f"/api/v1/apps/{app.id}/users",
                    f"app {app.label} is assigned to user {user_id}, who is not in the user list",
                    record=user_id,
                    consequence=UNKNOWN_USERS,
                )
            elif assignment.scope != "GROUP":
                self._grant(user_id, app.id, granted_at=assignment.created)
            elif assignment.group_id in data.groups:
                # Known even when the group's members or the app's groups are not.
                self._grant(user_id, app.id, via=assignment.group_id)
            elif user_id not in via_group and groups_known:
                data.problem(
                    f"/api/v1/apps/{app.id}/users",
                    f"user {self.accounts[user_id].login} has app {app.label} through a group "
                    "that the app's group assignments and the group members do not show",
                    record=user_id,
                    consequence=f"the grant of app {app.label} to this user is not concluded",
                )

    def _app_groups_unread(self, data: OktaData) -> None:
        """An app whose group assignments could not be read is still known when its users'
        ``GROUP`` rows each name their group: only a group whose every member also holds the
        app directly goes unseen, and then it is said, not hidden. Otherwise the group-scoped
        assignments are unknown and the snapshot incomplete."""
        for app_id, error in data.app_groups_unread:
            affected = (
                [app_id]
                if app_id is not None
                else [a for a in data.apps if a not in data.app_groups]
            )
            unresolved = [
                a
                for a in affected
                if a not in data.app_users
                or any(r.scope == "GROUP" and not r.group_id for r in data.app_users[a])
            ]
            if unresolved or not affected:
                data.errors.append(error.model_copy(update={"consequence": UNKNOWN_APP_GROUPS}))
                data.complete = False
                continue
            data.errors.append(
                error.model_copy(
                    update={
                        "message": f"{error.message}; the group-scoped assignments come from "
                        "the app users instead, each naming its group",
                        "consequence": "a group assigned to the app whose members all hold it "
                        "directly too is not seen: removing a direct assignment may not end "
                        "their access",
                    }
                )
            )

    def _role(self, role: OktaRole, data: OktaData, holder: str) -> list[str]:
        """The entitlements one role assignment gives: the role itself (org-wide), or one per
        target of a scoped role (``admin-role:USER_ADMIN@group:Engineering``), so that a
        group's administrator is not taken for the org's. ``holder``: who holds it, in
        words, for a problem."""
        targets = data.role_targets.get(role.assignment_id)
        unsaid = role.assignment_id not in data.role_targets_unread
        if role.target_kind is not None and targets is None and unsaid:
            # An export holds no targets; live, their failure is already said.
            data.role_targets_unread.add(role.assignment_id)
            data.problem(
                f"roles/{role.assignment_id}/targets",
                f"the targets of admin role {role.name} of {holder} were not read",
                record=role.assignment_id,
                consequence=UNKNOWN_ROLE_TARGETS,
            )
        if not targets:
            return [self._role_entitlement(role.entitlement_id, role.name, role.label)]
        return [
            self._role_entitlement(
                f"{role.entitlement_id}@{target.kind}:{target.id}",
                f"{role.name}@{target.kind}:{self._target_name(target, data)}",
                f"{role.label}, for {target.kind.replace('-', ' ')} "
                f"{self._target_name(target, data)}",
            )
            for target in targets
        ]

    @staticmethod
    def _target_name(target: RoleTarget, data: OktaData) -> str:
        if target.kind == "group" and target.id in data.groups:
            return data.groups[target.id].name
        if target.kind == "app" and target.id in data.apps:
            return data.apps[target.id].label
        return target.name

    def _role_entitlement(self, entitlement_id: str, name: str, description: str) -> str:
        if entitlement_id not in self.entitlements:
            self.entitlements[entitlement_id] = Entitlement(
                system=self.system,
                entitlement_id=entitlement_id,
                name=name,
                kind="admin-role",
                privileged=True,
                description=description,
            )
        return entitlement_id

    def _roles(self, data: OktaData) -> None:
        # (user, role entitlement_id without targets): roles held through a group.
        held_via: set[tuple[str, str]] = set()
        groups_known = all(g in data.members and g in data.group_roles for g in data.groups)
        for group_id, roles in data.group_roles.items():
            group = data.groups.get(group_id)
            holder = f"group {group.name if group else group_id}"
            for role in roles:
                for entitlement_id in self._role(role, data, holder):
                    for user_id in data.members.get(group_id, ()):
                        self._grant(user_id, entitlement_id, via=group_id)
                for user_id in data.members.get(group_id, ()):
                    held_via.add((user_id, role.entitlement_id))
        for user_id, roles in data.user_roles.items():
            if user_id not in self.accounts:
                if not data.users_complete:
                    continue
                data.problem(
                    f"/api/v1/users/{user_id}/roles",
                    "an administrator who is not in the user list",
                    record=user_id,
                    consequence=UNKNOWN_USERS,
                )
                continue
            login = self.accounts[user_id].login
            for role in roles:
                if role.assignment_type == "USER":
                    for entitlement_id in self._role(role, data, f"user {login}"):
                        self._grant(user_id, entitlement_id, granted_at=role.created)
                elif (user_id, role.entitlement_id) not in held_via and groups_known:
                    self._role_entitlement(role.entitlement_id, role.name, role.label)
                    data.problem(
                        f"/api/v1/users/{user_id}/roles",
                        f"user {self.accounts[user_id].login} holds admin role {role.name} "
                        "through a group, but no group it is in shows that role",
                        record=user_id,
                        consequence=UNKNOWN_ROLES,
                    )

    def _password_policies(
        self, data: OktaData, policies: list[OktaPasswordPolicy]
    ) -> list[dict[str, Any]]:
        """Every ACTIVE policy for passwords Okta keeps, in priority order, in the normalized
        form the weak-password-policy rule reads: each applies to somebody (its groups, or
        everyone else for the Default Policy), so each is judged. Inactive ones apply to
        no one. Policies for AD- or LDAP-sourced users are left out: with delegated
        authentication that directory enforces its own length and complexity, and is judged
        through its own connector."""
        out: list[dict[str, Any]] = []
        in_order = sorted(policies, key=lambda p: (p.priority is None, p.priority or 0, p.name))
        for policy in in_order:
            if policy.status != "ACTIVE":
                continue
            if policy.provider != "OKTA":
                data.problem(
                    PASSWORD_POLICIES,
                    f"password policy {policy.name} governs {policy.provider} users, whose "
                    "directory enforces its own password policy: not judged here",
                    record=policy.id,
                    incomplete=False,
                )
                continue
            counts = {
                "uppercase": policy.min_upper_case,
                "lowercase": policy.min_lower_case,
                "numbers": policy.min_number,
                "symbols": policy.min_symbol,
            }
            normalized: dict[str, Any] = {
                "source": "okta",
                "id": policy.id,
                "name": policy.name,
                "priority": policy.priority,
                "default": policy.system,
                "groups": [
                    data.groups[g].name if g in data.groups else g for g in policy.group_ids
                ],
                "min_length": policy.min_length,
                "history": policy.history_count,
                "lockout_threshold": policy.max_attempts,  # 0: never locks
                "complexity": None,
                # Okta asks for at least N of each kind; 0 (or null) does not require it.
                "classes": None
                if all(n is None for n in counts.values())
                else {kind: (n or 0) >= 1 for kind, n in counts.items()},
            }
            # Left out when unknown: a missing key is not judged, None would read as "never".
            if policy.max_age_days is not None:
                normalized["max_age_days"] = policy.max_age_days or None
            out.append(normalized)
        if not out:
            data.problem(
                PASSWORD_POLICIES,
                "no active password policy for passwords Okta keeps: none is judged",
                incomplete=False,
            )
        return out
