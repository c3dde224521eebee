"""Entra ID as an operator's own script saves it: each Microsoft Graph answer byte for byte as
Graph sends it (``curl -o``), every ``@odata.nextLink`` followed into a file of its own, and
relations fetched with ``$expand`` instead of one call per object.

What the script runs, and the files it leaves:

- ``GET /users?$select=…,signInActivity&$top=…`` → ``users.json``, ``users_2.json`` …;
- ``GET /groups?$select=…&$expand=members($select=id)&$top=…`` → ``groups/page-001.json`` …;
  Graph expands at most 20 members, so for a group with 20 or more the script also saves
  ``GET /groups/{id}/members?$select=id&$top=…`` → ``{id}_members.json``, ``{id}_members_2.json``;
- ``GET /roleManagement/directory/roleAssignments?$expand=roleDefinition,principal`` →
  ``roleManagement_directory_roleAssignments.json`` (so no role definitions of their own);
- ``GET /servicePrincipals?$select=…&$expand=appRoleAssignedTo`` → ``servicePrincipals.json``;
- ``GET /reports/authenticationMethods/userRegistrationDetails`` →
  ``reports_authenticationMethods_userRegistrationDetails.json`` (Graph's own page size:
  the report takes no ``$top``);
- ``GET /domains`` → ``domains.json``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Sequence
from typing import Any

from iam_gov.samplegen.company import DOMAIN
from iam_gov.samplegen.directories import TENANT_DOMAIN, Directories, DirectoryUser
from iam_gov.samplegen.directory_files import (
    GLOBAL_ADMIN,
    entra_group_id,
    entra_registration,
    entra_user_id,
    entra_user_record,
    iso_time,
    stable_uuid,
)

GRAPH = "https://graph.microsoft.com/v1.0"
SMALL_TENANT = 1000
"""Below this many users the script asks for pages of ``SMALL_TOP``, so that even the demo's
fifty users take three pages; above it, for Graph's largest pages (fewer calls and files)."""
SMALL_TOP = 25
TOP = 999
"""Graph's largest page of users, groups and members."""
TOP_WITH_SIGN_IN = 500
"""Graph's largest page of users when ``signInActivity`` is selected."""
REPORT_PAGE_SIZE = 100
"""Graph's own page size, for the calls that take no ``$top``."""
EXPAND_LIMIT = 20
"""Graph gives at most this many objects of a relation expanded with ``$expand``."""

USER_SELECT = (
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
    "signInActivity",
)
GROUP_SELECT = (
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
SERVICE_PRINCIPAL_SELECT = ("id", "appId", "displayName", "appRoles", "servicePrincipalType")

# Microsoft Graph's own service principal is in every tenant; its application id and these
# application permissions' ids are the same everywhere.
MICROSOFT_GRAPH_APP = "00000003-0000-0000-c000-000000000000"
GRAPH_APP_ROLES = (
    ("df021288-bdef-4463-88db-98f22de89214", "User.Read.All", "Read all users' full profiles"),
    ("5b567255-7703-4780-807c-7be8301ae99b", "Group.Read.All", "Read all groups"),
    ("7ab1d382-f21e-4acd-a863-ba3e13f7da61", "Directory.Read.All", "Read directory data"),
)
GLOBAL_ADMIN_ACTIONS = (
    "microsoft.directory/applications/allProperties/allTasks",
    "microsoft.directory/groups/allProperties/allTasks",
    "microsoft.directory/roleAssignments/allProperties/allTasks",
    "microsoft.directory/users/allProperties/allTasks",
)


def graph_dump_files(directories: Directories) -> Iterator[tuple[str, str]]:
    """The files of the script's dump of the tenant, each as Graph's answer text."""
    users = directories.entra
    small = len(users) < SMALL_TENANT
    top, user_top = (SMALL_TOP, SMALL_TOP) if small else (TOP, TOP_WITH_SIGN_IN)
    yield from _saved(
        "users",
        _pages(
            "users",
            [_user(u) for u in users],
            {"$select": ",".join(USER_SELECT), "$top": str(user_top)},
            context=f"users({','.join(USER_SELECT)})",
            token="User",
            size=user_top,
        ),
    )
    members: dict[str, list[DirectoryUser]] = {g: [] for g in directories.entra_groups}
    for user in users:
        for group in user.groups:
            members.setdefault(group, []).append(user)
    groups = [_group(name, members[name]) for name in sorted(members)]
    pages = _pages(
        "groups",
        groups,
        {
            "$select": ",".join(GROUP_SELECT),
            "$expand": "members($select=id)",
            "$top": str(top),
        },
        context=f"groups({','.join(GROUP_SELECT)},members(id))",
        token="Group",
        size=top,
    )
    for number, body in enumerate(pages, start=1):
        yield f"groups/page-{number:03}.json", _graph_text(body)
    for name in sorted(members):
        if len(members[name]) < EXPAND_LIMIT:
            continue
        group_id = entra_group_id(name)
        yield from _saved(
            f"{group_id}_members",
            _pages(
                f"groups/{group_id}/members",
                [_member(u) for u in members[name]],
                {"$select": "id", "$top": str(top)},
                context="directoryObjects(id)",
                token="DirectoryObject",
                size=top,
            ),
        )
    assignments = [_role_assignment(user, role) for user in users for role in user.admin_roles]
    yield from _saved(
        "roleManagement_directory_roleAssignments",
        _pages(
            "roleManagement/directory/roleAssignments",
            assignments,
            {"$expand": "roleDefinition,principal"},
            context="roleManagement/directory/roleAssignments(roleDefinition(),principal())",
            token="RoleAssignment",
            size=None,
        ),
    )
    # PIM: the company's admin roles are all active; nobody is only eligible (the script
    # saves the answers all the same, so that "nobody eligible" is known, not assumed)
    yield from _saved(
        "roleManagement_directory_roleEligibilityScheduleInstances",
        _pages(
            "roleManagement/directory/roleEligibilityScheduleInstances",
            [],
            {"$expand": "roleDefinition,principal"},
            context=(
                "roleManagement/directory/roleEligibilityScheduleInstances"
                "(roleDefinition(),principal())"
            ),
            token="RoleEligibilityScheduleInstance",
            size=None,
        ),
    )
    for name in sorted(members):
        group_id = entra_group_id(name)
        yield from _saved(
            f"group-eligibilities/{group_id}_eligibilityScheduleInstances",
            _pages(
                "identityGovernance/privilegedAccess/group/eligibilityScheduleInstances",
                [],
                {"$filter": f"groupId eq '{group_id}'"},
                context="identityGovernance/privilegedAccess/group/eligibilityScheduleInstances",
                token="PrivilegedAccessGroupEligibilityScheduleInstance",
                size=None,
            ),
        )
    yield from _saved(
        "servicePrincipals",
        _pages(
            "servicePrincipals",
            [_graph_service_principal()],
            {
                "$select": ",".join(SERVICE_PRINCIPAL_SELECT),
                "$expand": "appRoleAssignedTo",
                "$top": str(top),
            },
            context=(
                f"servicePrincipals({','.join(SERVICE_PRINCIPAL_SELECT)},appRoleAssignedTo())"
            ),
            token="ServicePrincipal",
            size=top,
        ),
    )
    yield from _saved(
        "reports_authenticationMethods_userRegistrationDetails",
        _pages(
            "reports/authenticationMethods/userRegistrationDetails",
            [_registration(u) for u in users if u.enabled and not u.guest],
            {},
            context="reports/authenticationMethods/userRegistrationDetails",
            token="UserRegistrationDetails",
            size=REPORT_PAGE_SIZE,
        ),
    )
    yield from _saved(
        "domains",
        _pages(
            "domains",
            [_domain(DOMAIN, default=True), _domain(TENANT_DOMAIN, initial=True)],
            {},
            context="domains",
            token="Domain",
            size=None,
        ),
    )


# --- one answer per page ----------------------------------------------------------------------


def _pages(
    path: str,
    records: Sequence[dict[str, Any]],
    query: dict[str, str],
    *,
    context: str,
    token: str,
    size: int | None,
) -> list[dict[str, Any]]:
    """Graph's answers to ``GET path?query``: ``size`` records a page (None: one page), each
    page but the last with the link to the next."""
    step = size or max(len(records), 1)
    chunks = [records[i : i + step] for i in range(0, len(records), step)] or [[]]
    bodies = []
    for number, chunk in enumerate(chunks, start=1):
        body: dict[str, Any] = {"@odata.context": f"{GRAPH}/$metadata#{context}"}
        if number < len(chunks):
            asked = "&".join(f"{k}={v}" for k, v in query.items())
            body["@odata.nextLink"] = (
                f"{GRAPH}/{path}?{asked}{'&' if asked else ''}"
                f"$skiptoken={_skiptoken(token, str(chunk[-1]['id']))}"
            )
        body["value"] = list(chunk)
        bodies.append(body)
    return bodies


def _skiptoken(kind: str, last_id: str) -> str:
    """An opaque continuation token shaped like the directory's (``RFNwdAIAAQAAA…``)."""
    where = f"{kind}_{last_id}".encode()
    raw = b"DSpt\x02\x00\x01\x00\x00\x00" + bytes([len(where)]) + where + b"\x00" * 8
    return base64.b64encode(raw).decode().rstrip("=")


def _saved(stem: str, bodies: list[dict[str, Any]]) -> Iterator[tuple[str, str]]:
    """``stem.json`` for the first page and ``stem_2.json`` … for the pages after it."""
    for number, body in enumerate(bodies, start=1):
        yield f"{stem}.json" if number == 1 else f"{stem}_{number}.json", _graph_text(body)


def _graph_text(body: dict[str, Any]) -> str:
    # Graph answers in compact UTF-8 JSON, with no line break at the end.
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


# --- the records ------------------------------------------------------------------------------


def _user(user: DirectoryUser) -> dict[str, Any]:
    record = entra_user_record(user)
    uid = record["id"]
    signed_in = user.last_login is not None
    record["signInActivity"] = {
        "lastSignInDateTime": iso_time(user.last_login),
        "lastSignInRequestId": str(stable_uuid("sign-in", uid)) if signed_in else None,
        "lastNonInteractiveSignInDateTime": None,
        "lastNonInteractiveSignInRequestId": None,
        "lastSuccessfulSignInDateTime": iso_time(user.last_login),
        "lastSuccessfulSignInRequestId": str(stable_uuid("sign-in", uid)) if signed_in else None,
    }
    return {name: record.get(name) for name in USER_SELECT}


def _member(user: DirectoryUser) -> dict[str, Any]:
    return {"@odata.type": "#microsoft.graph.user", "id": entra_user_id(user)}


def _group(name: str, members: list[DirectoryUser]) -> dict[str, Any]:
    return {
        "id": entra_group_id(name),
        "displayName": name,
        "description": None,
        "groupTypes": [],
        "securityEnabled": True,
        "mailEnabled": False,
        "isAssignableToRole": None,
        "onPremisesSyncEnabled": None,
        "membershipRule": None,
        "members": [_member(u) for u in members[:EXPAND_LIMIT]],
    }


def _role_assignment(user: DirectoryUser, role: str) -> dict[str, Any]:
    assert role == "Global Administrator"
    uid = entra_user_id(user)
    return {
        "id": str(stable_uuid("entra-role", user.login, role)),
        "principalId": uid,
        "directoryScopeId": "/",
        "roleDefinitionId": GLOBAL_ADMIN,
        "appScopeId": None,
        "condition": None,
        "roleDefinition": {
            "id": GLOBAL_ADMIN,
            "description": "Can manage all aspects of Microsoft Entra ID and Microsoft "
            "services that use Microsoft Entra identities.",
            "displayName": "Global Administrator",
            "isBuiltIn": True,
            "isEnabled": True,
            "resourceScopes": ["/"],
            "templateId": GLOBAL_ADMIN,
            "version": "1",
            "rolePermissions": [
                {"allowedResourceActions": list(GLOBAL_ADMIN_ACTIONS), "condition": None}
            ],
            "inheritsPermissionsFrom": [],
        },
        "principal": {
            "@odata.type": "#microsoft.graph.user",
            "id": uid,
            "businessPhones": [],
            "displayName": user.display_name,
            "givenName": user.first,
            "jobTitle": None,
            "mail": user.email,
            "mobilePhone": None,
            "officeLocation": None,
            "preferredLanguage": None,
            "surname": user.last or None,
            "userPrincipalName": user.login,
        },
    }


def _graph_service_principal() -> dict[str, Any]:
    return {
        "id": str(stable_uuid("entra-sp", MICROSOFT_GRAPH_APP)),
        "appId": MICROSOFT_GRAPH_APP,
        "displayName": "Microsoft Graph",
        "appRoles": [
            {
                "allowedMemberTypes": ["Application"],
                "description": f"Allows the app to {what[0].lower()}{what[1:]}.",
                "displayName": what,
                "id": role_id,
                "isEnabled": True,
                "origin": "Application",
                "value": value,
            }
            for role_id, value, what in GRAPH_APP_ROLES
        ],
        "servicePrincipalType": "Application",
        "appRoleAssignedTo": [],
    }


def _registration(user: DirectoryUser) -> dict[str, Any]:
    canonical = entra_registration(user)
    methods = [{"fido2": "fido2SecurityKey"}.get(m, m) for m in canonical["methodsRegistered"]]
    mfa = canonical["isMfaRegistered"]
    return {
        "id": canonical["id"],
        "userPrincipalName": user.login,
        "userDisplayName": user.display_name,
        "userType": "member",
        "isAdmin": bool(user.admin_roles),
        "isSsprRegistered": mfa,
        "isSsprEnabled": True,
        "isSsprCapable": mfa,
        "isMfaRegistered": mfa,
        "isMfaCapable": mfa,
        "isPasswordlessCapable": "fido2SecurityKey" in methods,
        "methodsRegistered": methods,
        "isSystemPreferredAuthenticationMethodEnabled": True,
        "systemPreferredAuthenticationMethods": methods[:1],
        "userPreferredMethodForSecondaryAuthentication": (
            "push" if "microsoftAuthenticatorPush" in methods else "none"
        ),
        "lastUpdatedDateTime": iso_time(user.created),
    }


def _domain(name: str, *, default: bool = False, initial: bool = False) -> dict[str, Any]:
    return {
        "authenticationType": "Managed",
        "availabilityStatus": None,
        "id": name,
        "isAdminManaged": True,
        "isDefault": default,
        "isInitial": initial,
        "isRoot": True,
        "isVerified": True,
        "supportedServices": ["Email", "OfficeCommunicationsOnline"] if default else [],
        "passwordValidityPeriodInDays": 2147483647,
        "passwordNotificationWindowInDays": 14,
        "state": None,
    }


__all__ = ["graph_dump_files"]
