"""Reading a live Entra tenant through Microsoft Graph into the connector's ``TenantData``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from iam_gov.connectors.entra.client import GraphClient, GraphError, segment
from iam_gov.connectors.entra.dump import (
    APP_ROLE_ASSIGNMENTS,
    DOMAINS,
    GROUP_ELIGIBILITIES,
    GROUPS,
    REGISTRATIONS,
    ROLE_ASSIGNMENTS,
    ROLE_DEFINITIONS,
    ROLE_ELIGIBILITIES,
    SERVICE_PRINCIPALS,
    USERS,
    Kind,
)
from iam_gov.connectors.entra.records import (
    PIM_OFF,
    AppRoleAssignment,
    DirectoryObject,
    Domain,
    GraphGroup,
    GraphUser,
    GroupEligibility,
    M,
    RegistrationDetails,
    RoleAssignment,
    RoleDefinition,
    RoleEligibility,
    ServicePrincipal,
    TenantData,
    is_object_id,
    parse_records,
    pim_capable,
)
from iam_gov.errors import ConnectorError

USER_FIELDS = (
    "id",
    "userPrincipalName",
    "mail",
    "displayName",
    "givenName",
    "surname",
    "accountEnabled",
    "userType",
    "employeeId",
    "department",
    "jobTitle",
    "createdDateTime",
    "onPremisesSyncEnabled",
    "lastPasswordChangeDateTime",
    "creationType",
    "externalUserState",
    "passwordPolicies",
)
GROUP_FIELDS = (
    "id",
    "displayName",
    "description",
    "groupTypes",
    "securityEnabled",
    "mailEnabled",
    "isAssignableToRole",
    "onPremisesSyncEnabled",
    "membershipRule",
)
ROLE_DEFINITION_FIELDS = ("id", "displayName", "description", "isBuiltIn", "templateId")
ROLE_ASSIGNMENT_FIELDS = ("id", "principalId", "roleDefinitionId", "directoryScopeId")
ROLE_ELIGIBILITY_FIELDS = (
    *ROLE_ASSIGNMENT_FIELDS,
    "startDateTime",
    "endDateTime",
    "memberType",
    "roleEligibilityScheduleId",
)
GROUP_ELIGIBILITY_FIELDS = (
    "id",
    "groupId",
    "principalId",
    "accessId",
    "memberType",
    "startDateTime",
    "endDateTime",
    "eligibilityScheduleId",
)
ROLE_ELIGIBILITIES_PATH = "/roleManagement/directory/roleEligibilityScheduleInstances"
GROUP_ELIGIBILITIES_PATH = "/identityGovernance/privilegedAccess/group/eligibilityScheduleInstances"
PIM_NEEDS = (
    "PIM needs Entra ID P2 or ID Governance, and the app RoleManagement.Read.Directory (or "
    "RoleEligibilitySchedule.Read.Directory) and PrivilegedEligibilitySchedule.Read.AzureADGroup"
)
SERVICE_PRINCIPAL_FIELDS = ("id", "appId", "displayName", "appRoles", "servicePrincipalType")
APP_ROLE_ASSIGNMENT_FIELDS = (
    "id",
    "principalId",
    "principalType",
    "principalDisplayName",
    "resourceId",
    "resourceDisplayName",
    "appRoleId",
    "createdDateTime",
)
APP_ROLES = APP_ROLE_ASSIGNMENTS.consequence
TOP = "999"
TOP_WITH_SIGN_IN = "500"  # Graph's page limit when signInActivity is selected


@dataclass
class LiveReader:
    """Reads the tenant into ``TenantData``: what fails is reported there, and what it holds
    is marked unknown; only a tenant that refuses the user list as a whole is an error."""

    graph: GraphClient
    data: TenantData
    system: str
    keep_bodies: bool = False
    """Keep every page as Graph sent it, by the name ``iam-gov export`` saves it under."""
    bodies: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    pim: bool = True
    """Read PIM's eligible assignments (``pim = false``: the tenant has no Entra ID P2)."""

    def read(self) -> None:
        self._users()
        self._domains()
        self._groups()
        self._access_lists()

    def read_lists(self) -> None:
        """Everything but the users, groups and members (which ``data`` already holds): what
        an incremental collect reads again whole (``entra.incremental``)."""
        self._domains()
        self._access_lists()

    def _access_lists(self) -> None:
        self._roles()
        if self.pim:
            self._role_eligibilities()
            self._group_eligibilities()
        else:
            self.data.note("pim", PIM_OFF)
        self._applications()
        self._registrations()

    def _pages(
        self, path: str, params: dict[str, str] | None = None, *, save_as: str
    ) -> tuple[list[dict[str, Any]], GraphError | None]:
        """Every record Graph gives before it fails, and the failure."""
        records: list[dict[str, Any]] = []
        kept = self.bodies.setdefault(save_as, []) if self.keep_bodies else None
        if kept is not None:
            kept.clear()  # asked again (users without sign-in activity): the last answer counts
        try:
            for body in self.graph.bodies(path, params):
                if kept is not None:
                    kept.append(body)
                records.extend(item for item in body["value"] if isinstance(item, dict))
        except GraphError as exc:
            return records, exc
        return records, None

    def _problem(
        self,
        source: str,
        exc: GraphError,
        what: str,
        record: str | None = None,
        *,
        consequence: str,
    ) -> None:
        self.data.problem(source, f"{exc.describe()}: {what}", record, consequence=consequence)

    def _read(
        self, path: str, params: dict[str, str], model: type[M], missing: str, kind: Kind
    ) -> list[M]:
        """The records of a list; when Graph fails part-way, those read before it, and a
        problem saying what is ``missing``."""
        records, error = self._pages(path, params, save_as=kind.name)
        if error is not None:
            self._problem(path, error, missing, consequence=kind.consequence)
        return parse_records(records, model, path, self.data)

    def _read_all(
        self,
        path: str,
        params: dict[str, str],
        model: type[M],
        source: str,
        record: str,
        what: str,
        *,
        save_as: str,
        consequence: str,
    ) -> list[M] | None:
        """The records of a list about one object (``record``): all of them, or None and a
        problem saying ``what`` is unknown when Graph fails."""
        records, error = self._pages(path, params, save_as=save_as)
        if error is not None:
            self._problem(source, error, f"{what} unknown", record, consequence=consequence)
            return None
        return parse_records(records, model, path, self.data)

    def _users(self) -> None:
        fields = ",".join((*USER_FIELDS, "signInActivity"))
        users = USERS.name
        records, error = self._pages(
            "/users", {"$select": fields, "$top": TOP_WITH_SIGN_IN}, save_as=users
        )
        if error is not None and not records and error.status == 403:
            # No P1 licence, or no consent to AuditLog.Read.All: the users without it.
            refused = error
            records, error = self._pages(
                "/users", {"$select": ",".join(USER_FIELDS), "$top": TOP}, save_as=users
            )
            if error is None or records:
                self.data.sign_in_activity = False
                self.data.note(
                    "/users",
                    f"sign-in activity was refused ({refused.code}: it needs Entra ID P1 and "
                    "AuditLog.Read.All): last sign-in is unknown for every user",
                )
        if error is not None and not records:
            raise ConnectorError(f"{self.system}: cannot list the tenant's users: {error}")
        if error is not None:
            self._problem(
                "/users",
                error,
                "the users after it are missing",
                consequence=f"the users after it are unknown: {USERS.consequence}",
            )
        self.data.users = parse_records(records, GraphUser, "/users", self.data)

    def _domains(self) -> None:
        records, error = self._pages(
            "/domains", {"$select": "id,authenticationType"}, save_as=DOMAINS.name
        )
        if error is None:
            domains = parse_records(records, Domain, "/domains", self.data)
            self.data.domains = {d.id.lower(): d.authentication_type or "" for d in domains}
        elif error.status == 403:
            self.data.note(
                "/domains",
                f"refused ({error.code}: it needs Domain.Read.All): users of federated domains "
                "are taken to have a password in Entra",
            )
        else:
            self._problem(
                "/domains",
                error,
                "federated domains are unknown",
                consequence=DOMAINS.consequence,
            )

    def _groups(self) -> None:
        params = {"$select": ",".join(GROUP_FIELDS), "$top": TOP}
        missing = "groups after it, and their members, are missing"
        self.data.groups = self._read("/groups", params, GraphGroup, missing, GROUPS)
        for group in self.data.groups:
            what = f"group {group.display_name or group.id}"
            if not is_object_id(group.id):
                self.data.problem(
                    "/groups",
                    "not a directory object id: members not read",
                    group.id,
                    consequence=f"access held through {what} is not concluded",
                )
                continue
            members = self._read_all(
                f"/groups/{segment(group.id)}/members",
                {"$select": "id", "$top": TOP},
                DirectoryObject,
                "/groups/{id}/members",
                group.id,
                f"the members of {what} are",
                save_as=f"group-members/{group.id}",
                consequence=f"access held through {what} is not concluded",
            )
            if members is not None:
                self.data.members[group.id] = members

    def _roles(self) -> None:
        base = "/roleManagement/directory"
        self.data.role_assignments = self._read(
            f"{base}/roleAssignments",
            {"$select": ",".join(ROLE_ASSIGNMENT_FIELDS)},
            RoleAssignment,
            "directory role holders are unknown",
            ROLE_ASSIGNMENTS,
        )
        definitions = self._read(
            f"{base}/roleDefinitions",
            {"$select": ",".join(ROLE_DEFINITION_FIELDS)},
            RoleDefinition,
            "some roles are named by their ids",
            ROLE_DEFINITIONS,
        )
        self.data.role_definitions = {d.id: d for d in definitions}

    def _role_eligibilities(self) -> None:
        """PIM's eligible role assignments: never a silent none. Refused (no licence, no
        permission) or cut short, they are unknown and the snapshot says so."""
        path = ROLE_ELIGIBILITIES_PATH
        params = {
            "$select": ",".join(ROLE_ELIGIBILITY_FIELDS),
            "$expand": "roleDefinition,principal",
        }
        records, error = self._pages(path, params, save_as=ROLE_ELIGIBILITIES.name)
        if error is not None:
            cut = (
                "the eligible role assignments after it" if records else "eligible role assignments"
            )
            self._problem(
                path,
                error,
                f"{cut} unknown{_pim_hint(error)}",
                consequence=f"eligible role assignments unknown: {ROLE_ELIGIBILITIES.consequence}",
            )
        eligibilities = parse_records(records, RoleEligibility, path, self.data)
        self.data.role_eligibilities = eligibilities
        for eligibility in eligibilities:
            # Names for custom roles when the role definitions could not be listed.
            if eligibility.role_definition is not None:
                self.data.role_definitions.setdefault(
                    eligibility.role_definition_id, eligibility.role_definition
                )

    def _group_eligibilities(self) -> None:
        """PIM for Groups' eligible members, one call per group Graph lets PIM govern (it
        takes only a filter on one group or one principal). A refusal (no licence, no
        permission) is the same for every group: asked once, said once."""
        path = GROUP_ELIGIBILITIES_PATH
        for group in self.data.groups:
            if not is_object_id(group.id) or not pim_capable(group):
                continue
            what = f"group {group.display_name or group.id}"
            params = {
                "$filter": f"groupId eq '{group.id}'",
                "$select": ",".join(GROUP_ELIGIBILITY_FIELDS),
            }
            records, error = self._pages(
                path, params, save_as=f"{GROUP_ELIGIBILITIES.name}/{group.id}"
            )
            if error is not None and error.status in {400, 401, 403}:
                self._problem(
                    path,
                    error,
                    f"eligible group memberships unknown{_pim_hint(error)}",
                    consequence="eligible group memberships unknown: access that eligible "
                    "members of any group can activate is not concluded",
                )
                self.bodies.pop(f"{GROUP_ELIGIBILITIES.name}/{group.id}", None)
                return
            if error is not None:
                self._problem(
                    path,
                    error,
                    f"the eligible members of {what} are unknown",
                    group.id,
                    consequence=f"eligible members of {what} unknown: "
                    f"{GROUP_ELIGIBILITIES.consequence}",
                )
                continue
            self.data.group_eligibilities[group.id] = parse_records(
                records, GroupEligibility, path, self.data
            )

    def _applications(self) -> None:
        params = {"$select": ",".join(SERVICE_PRINCIPAL_FIELDS), "$top": TOP}
        missing = "applications after it, and their assignments, are missing"
        principals = self._read(
            "/servicePrincipals", params, ServicePrincipal, missing, SERVICE_PRINCIPALS
        )
        self.data.service_principals = {sp.id: sp for sp in principals}
        params = {"$select": ",".join(APP_ROLE_ASSIGNMENT_FIELDS), "$top": TOP}
        for sp in principals:
            if not is_object_id(sp.id):
                self.data.problem(
                    "/servicePrincipals",
                    "not a directory object id",
                    sp.id,
                    consequence=f"who holds its roles is unknown: {APP_ROLES}",
                )
                continue
            assignments = self._read_all(
                f"/servicePrincipals/{segment(sp.id)}/appRoleAssignedTo",
                params,
                AppRoleAssignment,
                "/servicePrincipals/{id}/appRoleAssignedTo",
                sp.id,
                f"who holds the roles of {sp.display_name or sp.id} is",
                save_as=f"app-role-assignments/{sp.id}",
                consequence=f"holders of its app roles unknown: {APP_ROLES}",
            )
            if assignments is not None:
                self.data.app_role_assignments.extend(assignments)

    def _registrations(self) -> None:
        # This report takes only $filter (no $select, no $top), and lists no disabled user.
        path = "/reports/authenticationMethods/userRegistrationDetails"
        records, error = self._pages(path, save_as=REGISTRATIONS.name)
        if error is not None and error.status == 403:
            self.data.note(
                path,
                f"refused ({error.code}: it needs Entra ID P1 and AuditLog.Read.All): MFA "
                "registration is unknown, so no account is taken to lack MFA",
            )
            return
        if error is not None:
            self._problem(
                path,
                error,
                "MFA registration of the users after it is unknown",
                consequence=REGISTRATIONS.consequence,
            )
        details = parse_records(records, RegistrationDetails, path, self.data)
        self.data.registrations = {d.id: d for d in details}


def _pim_hint(error: GraphError) -> str:
    if error.status in {400, 403} or "License" in error.code:
        return f" ({PIM_NEEDS})"
    return ""
