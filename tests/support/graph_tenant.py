"""A small Entra tenant for the connector's tests (Contoso), and how tests collect it: live
through the local Graph of ``graph_server``, or from the files an operator would save."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import uuid
from pathlib import Path
from typing import Any

from tests.support.graph_server import CLIENT_ID, GraphServer, Tenant, oid

GLOBAL_ADMIN = "62e90394-69f5-4237-9190-012177145e10"
HELPDESK_ADMIN = "729827e3-9c14-49f7-bb1b-9608f156bbb8"
USER_ADMIN = "fe930be7-5e62-47db-91af-98c3a49a38b1"
APP_ADMIN = "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3"
DEFAULT_ACCESS = "00000000-0000-0000-0000-000000000000"
SALES_UNIT = oid("administrative unit: sales")


def _user_record(name: str, upn: str, **extra: Any) -> dict[str, Any]:
    first, _, last = name.partition(" ")
    record: dict[str, Any] = {
        "id": oid(upn.split("@")[0]),
        "userPrincipalName": upn,
        "mail": upn if "#EXT#" not in upn else None,
        "displayName": name,
        "givenName": first,
        "surname": last or None,
        "accountEnabled": True,
        "userType": "Member",
        "employeeId": None,
        "department": None,
        "jobTitle": None,
        "createdDateTime": "2024-01-15T09:00:00Z",
        "onPremisesSyncEnabled": None,
        "lastPasswordChangeDateTime": "2025-11-02T10:00:00Z",
        "creationType": None,
        "externalUserState": None,
        "passwordPolicies": None,
        "signInActivity": None,
        "signInSessionsValidFromDateTime": "2024-01-15T09:00:00Z",
        "businessPhones": [],
    }
    record.update(extra)
    return record


def _sign_ins(interactive: str | None, successful: str | None = None) -> dict[str, Any]:
    return {
        "lastSignInDateTime": interactive,
        "lastSignInRequestId": str(uuid.uuid4()) if interactive else None,
        "lastNonInteractiveSignInDateTime": successful,
        "lastNonInteractiveSignInRequestId": None,
        "lastSuccessfulSignInDateTime": successful,
        "lastSuccessfulSignInRequestId": None,
    }


def demo_tenant() -> Tenant:
    """Contoso: members with and without MFA, a disabled user, a synchronised user of a
    federated domain, a guest, a user who never signed in; nested groups, a role-assignable
    group, a dynamic group; directory roles (direct, through a group, scoped to an
    administrative unit, held by an application); app roles (direct, through a group, default
    access, an application permission)."""
    t = Tenant()
    users = [
        _user_record(
            "Alice Archer",
            "alice@contoso.com",
            employeeId="E001",
            department="Engineering",
            jobTitle="Staff Engineer",
            signInActivity=_sign_ins("2026-02-27T08:30:00Z", "2026-02-28T17:45:00Z"),
        ),
        _user_record(
            "Bob Baker",
            "bob@contoso.com",
            employeeId="E002",
            department="Support",
            signInActivity=_sign_ins("2026-01-10T10:00:00Z"),
        ),
        _user_record(
            "Carol Cole",
            "carol@contoso.com",
            employeeId="E003",
            accountEnabled=False,
            signInActivity=_sign_ins("2025-06-01T10:00:00Z", "2025-06-01T10:00:00Z"),
        ),
        _user_record(
            "Dave Dunn",
            "dave@corp.example.com",
            employeeId="E004",
            onPremisesSyncEnabled=True,
            signInActivity=_sign_ins("2026-02-20T07:00:00Z", "2026-02-20T07:00:00Z"),
        ),
        _user_record(
            "Eve External",
            "eve_partner.example#EXT#@contoso.onmicrosoft.com",
            userType="Guest",
            creationType="Invitation",
            externalUserState="Accepted",
            signInActivity=_sign_ins("2026-02-01T12:00:00Z", "2026-02-01T12:00:00Z"),
        ),
        _user_record(
            "Frank Fox",
            "frank@contoso.com",
            employeeId="E006",
            createdDateTime="2023-03-01T09:00:00Z",
            lastPasswordChangeDateTime=None,
        ),
    ]
    t.users = {u["id"]: u for u in users}
    alice, bob, carol, dave, eve, frank = (u["id"] for u in users)

    def group(name: str, **extra: Any) -> str:
        record = {
            "id": oid(f"group: {name}"),
            "displayName": name,
            "description": f"{name} group",
            "groupTypes": [],
            "securityEnabled": True,
            "mailEnabled": False,
            "isAssignableToRole": False,
            "onPremisesSyncEnabled": None,
            "membershipRule": None,
            **extra,
        }
        t.groups[record["id"]] = record
        return str(record["id"])

    staff = group("All Staff")
    engineering = group("Engineering")
    platform = group("Platform")
    helpdesk = group("Helpdesk Admins", isAssignableToRole=True)
    sales = group(
        "Sales", groupTypes=["DynamicMembership"], membershipRule='user.department -eq "Sales"'
    )
    laptop = oid("device: laptop-17")
    t.devices.add(laptop)
    t.members = {
        staff: [engineering, carol, laptop],
        engineering: [alice, bob, platform],
        platform: [frank],
        helpdesk: [bob],
        sales: [eve],
    }

    for role_id, name in (
        (GLOBAL_ADMIN, "Global Administrator"),
        (HELPDESK_ADMIN, "Helpdesk Administrator"),
        (USER_ADMIN, "User Administrator"),
        (APP_ADMIN, "Application Administrator"),
    ):
        t.role_definitions[role_id] = {
            "id": role_id,
            "displayName": name,
            "description": f"Can do what a {name} does.",
            "isBuiltIn": True,
            "isEnabled": True,
            "templateId": role_id,
        }

    wiki_sp = oid("sp: wiki")
    salesforce_sp = oid("sp: salesforce")
    graph_sp = oid("sp: microsoft graph")
    automation_sp = oid("sp: automation")

    def role_assignment(role: str, principal: str, scope: str = "/") -> None:
        t.role_assignments.append(
            {
                "id": f"{role[:8]}-{principal[:8]}-{len(t.role_assignments)}",
                "principalId": principal,
                "roleDefinitionId": role,
                "directoryScopeId": scope,
            }
        )

    role_assignment(GLOBAL_ADMIN, alice)
    role_assignment(HELPDESK_ADMIN, helpdesk)
    role_assignment(USER_ADMIN, dave, f"/administrativeUnits/{SALES_UNIT}")
    role_assignment(APP_ADMIN, automation_sp)

    sf_admin, sf_user = oid("approle: salesforce admin"), oid("approle: salesforce user")
    graph_read = oid("approle: graph user.read.all")

    def app(sp_id: str, name: str, roles: list[tuple[str, str]], kind: str = "Application") -> None:
        t.service_principals[sp_id] = {
            "id": sp_id,
            "appId": oid(f"appid: {name}"),
            "displayName": name,
            "servicePrincipalType": kind,
            "appRoles": [
                {
                    "id": role_id,
                    "value": value,
                    "displayName": value.title(),
                    "description": f"{value} of {name}",
                    "isEnabled": True,
                    "allowedMemberTypes": ["User"],
                }
                for role_id, value in roles
            ],
        }

    # PIM: Bob may activate Global Administrator; Dave may activate membership of Helpdesk
    # Admins (and with it its role); Alice may activate ownership of Engineering, which is
    # no access.
    t.role_eligibilities.append(
        {
            "id": f"elig-{GLOBAL_ADMIN[:8]}-{bob[:8]}",
            "principalId": bob,
            "roleDefinitionId": GLOBAL_ADMIN,
            "directoryScopeId": "/",
            "appScopeId": None,
            "startDateTime": "2025-09-01T09:00:00Z",
            "endDateTime": None,
            "memberType": "Direct",
            "roleEligibilityScheduleId": oid("schedule: bob global admin"),
        }
    )
    for principal, group_id, access in ((dave, helpdesk, "member"), (alice, engineering, "owner")):
        t.group_eligibilities.append(
            {
                "id": oid(f"group eligibility: {principal} {group_id} {access}"),
                "accessId": access,
                "groupId": group_id,
                "principalId": principal,
                "memberType": "direct",
                "startDateTime": "2025-10-01T09:00:00Z",
                "endDateTime": "2026-10-01T09:00:00Z",
                "eligibilityScheduleId": oid(f"group schedule: {principal} {group_id}"),
            }
        )

    app(wiki_sp, "Wiki", [])
    app(salesforce_sp, "Salesforce", [(sf_admin, "Admin"), (sf_user, "User")])
    app(graph_sp, "Microsoft Graph", [(graph_read, "User.Read.All")])
    app(automation_sp, "Automation", [])

    def assign(principal: str, kind: str, resource: str, role: str, when: str) -> None:
        holder = (
            t.users.get(principal) or t.groups.get(principal) or t.service_principals[principal]
        )
        assignment_id = base64.urlsafe_b64encode(
            hashlib.sha256(f"{principal}{resource}{role}".encode()).digest()[:24]
        ).decode()
        t.app_role_assignments[assignment_id] = {
            "id": assignment_id,
            "principalId": principal,
            "principalType": kind,
            "principalDisplayName": holder["displayName"],
            "resourceId": resource,
            "resourceDisplayName": t.service_principals[resource]["displayName"],
            "appRoleId": role,
            "createdDateTime": when,
            "deletedDateTime": None,
        }

    assign(alice, "User", salesforce_sp, sf_admin, "2025-03-01T09:00:00Z")
    assign(engineering, "Group", salesforce_sp, sf_user, "2025-04-01T09:00:00Z")
    assign(eve, "User", wiki_sp, DEFAULT_ACCESS, "2025-05-01T09:00:00Z")
    assign(automation_sp, "ServicePrincipal", graph_sp, graph_read, "2025-06-01T09:00:00Z")

    def registered(user: str, methods: list[str], mfa: bool) -> None:
        t.registrations[user] = {
            "id": user,
            "userPrincipalName": t.users[user]["userPrincipalName"],
            "userDisplayName": t.users[user]["displayName"],
            "userType": "member",
            "isAdmin": user == alice,
            "isMfaCapable": mfa,
            "isMfaRegistered": mfa,
            "isPasswordlessCapable": False,
            "isSsprCapable": bool(methods),
            "isSsprEnabled": True,
            "isSsprRegistered": bool(methods),
            "methodsRegistered": methods,
            "defaultMfaMethod": methods[0] if mfa else "none",
            "lastUpdatedDateTime": "2026-02-28T00:00:00Z",
        }

    registered(alice, ["microsoftAuthenticatorPush", "softwareOneTimePasscode", "email"], True)
    registered(bob, ["email"], False)
    registered(carol, ["mobilePhone"], True)  # disabled: the report leaves her out
    registered(dave, [], False)
    registered(eve, ["fido2SecurityKey"], True)
    registered(frank, [], False)

    t.domains = [
        {"id": "contoso.com", "authenticationType": "Managed", "isVerified": True},
        {"id": "contoso.onmicrosoft.com", "authenticationType": "Managed", "isVerified": True},
        {"id": "corp.example.com", "authenticationType": "Federated", "isVerified": True},
    ]
    return t


# --- collecting it ------------------------------------------------------------------------

SECRET_ENV = "IAM_GOV_TEST_ENTRA_SECRET"
NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


def live_connector(
    server: GraphServer,
    *,
    waits: list[float] | None = None,
    token_provider: Any = None,
    sleep: Any = None,
    **extra: Any,
) -> Any:
    """A live connector for ``server``'s tenant, signing in with the client secret in
    ``SECRET_ENV`` (which the test sets). ``waits`` records the pauses Graph asked for (no
    time passes); ``sleep`` (``time.sleep``) makes them real."""
    from iam_gov.connectors.entra.connector import EntraConnector, EntraOptions

    options = EntraOptions.model_validate(
        {
            "type": "entra",
            "mode": "live",
            "tenant_id": server.tenant_id,
            "client_id": CLIENT_ID,
            "client_secret": {"env": SECRET_ENV},
            "authority_host": server.url,
            "graph_url": server.url,
            **extra,
        }
    )
    if sleep is None:
        sleep = waits.append if waits is not None else (lambda seconds: None)
    return EntraConnector(
        "entra-prod", options, clock=lambda: NOW, token_provider=token_provider, sleep=sleep
    )


def export_tenant(server: GraphServer, folder: Path) -> None:
    """Save the tenant the way an operator would with `az rest`: every page followed, with
    the same $select as the connector, in the layout the connector reads. Files take each of
    the accepted shapes: a plain list, one page, a list of pages."""
    import httpx

    from iam_gov.connectors.entra import live

    token = server.issue_token()

    def pages(path: str, params: dict[str, str] | None = None) -> list[dict[str, Any]]:
        found, url = [], f"{server.url}/v1.0{path}"
        with httpx.Client(headers={"Authorization": f"Bearer {token}"}) as client:
            first = True
            while url:
                page = client.get(url, params=params if first else None).raise_for_status().json()
                first = False
                found.append(page)
                url = page.get("@odata.nextLink")
        return found

    def records(path: str, params: dict[str, str] | None = None) -> list[dict[str, Any]]:
        return [item for page in pages(path, params) for item in page["value"]]

    def write(name: str, content: Any) -> None:
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(content, indent=2))

    def one_page(path: str, params: dict[str, str] | None = None) -> dict[str, Any]:
        return {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#x",
                "value": records(path, params)}  # fmt: skip

    select = ",".join((*live.USER_FIELDS, "signInActivity"))
    write("users.json", records("/users", {"$select": select}))
    groups = records("/groups", {"$select": ",".join(live.GROUP_FIELDS)})
    write("groups.json", {"value": groups})
    for group in groups:
        write(
            f"group-members/{group['id']}.json",
            one_page(f"/groups/{group['id']}/members", {"$select": "id"}),
        )
    write("role-definitions.json", records("/roleManagement/directory/roleDefinitions"))
    write("role-assignments.json", pages("/roleManagement/directory/roleAssignments"))
    principals = records("/servicePrincipals", {"$select": ",".join(live.SERVICE_PRINCIPAL_FIELDS)})
    write("service-principals.json", principals)
    for sp in principals:
        assigned = pages(f"/servicePrincipals/{sp['id']}/appRoleAssignedTo")
        write(f"app-role-assignments/{sp['id']}.json", assigned)
    write(
        "user-registration-details.json",
        one_page("/reports/authenticationMethods/userRegistrationDetails"),
    )
    write("domains.json", records("/domains"))
    write(
        "role-eligibilities.json",
        one_page(live.ROLE_ELIGIBILITIES_PATH, {"$select": ",".join(live.ROLE_ELIGIBILITY_FIELDS)}),
    )
    for group in _pim_groups(groups):
        write(
            f"group-eligibilities/{group['id']}.json",
            one_page(live.GROUP_ELIGIBILITIES_PATH, {"$filter": f"groupId eq '{group['id']}'"}),
        )


def _pim_groups(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The groups PIM for Groups can govern (not dynamic, not synchronised)."""
    return [
        g
        for g in groups
        if "DynamicMembership" not in (g.get("groupTypes") or [])
        and not g.get("membershipRule")
        and not g.get("onPremisesSyncEnabled")
    ]


def script_dump(server: GraphServer, folder: Path) -> dict[str, list[str]]:
    """Save the tenant the way an operator's own script does: raw Graph bodies, relations
    with ``$expand`` instead of one call per object, every ``@odata.nextLink`` followed and
    saved under the names such scripts use. Returns the files of each list, in page order.

    - users: ``users.json``, ``users_2.json``, ``users_3.json`` … (one body per file);
    - groups with ``$expand=members``: ``groups/page-001.json`` …; a group with more than the
      20 members Graph expands also gets ``<id>_members.json`` (``/groups/{id}/members``);
    - role assignments with ``$expand=roleDefinition,principal``: the bodies one after the
      other in ``roleManagement_directory_roleAssignments.json`` (no role definitions);
    - service principals with ``$expand=appRoleAssignedTo``: a JSON array of the bodies in
      ``servicePrincipals.json``;
    - ``reports_authenticationMethods_userRegistrationDetails.json`` and ``domains.json``;
    - PIM: ``roleManagement_directory_roleEligibilityScheduleInstances.json`` (with
      ``$expand=roleDefinition,principal``) and, per group,
      ``<id>_eligibilityScheduleInstances.json``.
    """
    import httpx

    from iam_gov.connectors.entra import live

    token = server.issue_token()
    written: dict[str, list[str]] = {}

    def bodies(path: str, params: dict[str, str] | None = None) -> list[dict[str, Any]]:
        found, url = [], f"{server.url}/v1.0{path}"
        with httpx.Client(headers={"Authorization": f"Bearer {token}"}) as client:
            first = True
            while url:
                page = client.get(url, params=params if first else None).raise_for_status().json()
                first = False
                found.append(page)
                url = page.get("@odata.nextLink")
        return found

    def save(list_name: str, name: str, text: str) -> None:
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        written.setdefault(list_name, []).append(name)

    select = ",".join((*live.USER_FIELDS, "signInActivity"))
    for number, body in enumerate(bodies("/users", {"$select": select}), start=1):
        save("users", "users.json" if number == 1 else f"users_{number}.json", json.dumps(body))
    groups = bodies("/groups", {"$select": ",".join(live.GROUP_FIELDS), "$expand": "members"})
    for number, body in enumerate(groups, start=1):
        save("groups", f"groups/page-{number:03}.json", json.dumps(body, indent=2))
        for group in body["value"]:
            if len(group["members"]) >= 20:
                pages = bodies(f"/groups/{group['id']}/members", {"$select": "id"})
                save("members", f"{group['id']}_members.json", json.dumps(pages))
    assignments = bodies(
        "/roleManagement/directory/roleAssignments", {"$expand": "roleDefinition,principal"}
    )
    save(
        "role-assignments",
        "roleManagement_directory_roleAssignments.json",
        "\n".join(json.dumps(body) for body in assignments),  # `>>` after each call
    )
    principals = bodies(
        "/servicePrincipals",
        {"$select": ",".join(live.SERVICE_PRINCIPAL_FIELDS), "$expand": "appRoleAssignedTo"},
    )
    save("service-principals", "servicePrincipals.json", json.dumps(principals, indent=2))
    registrations = bodies("/reports/authenticationMethods/userRegistrationDetails")
    save(
        "registrations",
        "reports_authenticationMethods_userRegistrationDetails.json",
        json.dumps(registrations[0] if len(registrations) == 1 else registrations),
    )
    save("domains", "domains.json", json.dumps(bodies("/domains")))
    eligible = bodies(live.ROLE_ELIGIBILITIES_PATH, {"$expand": "roleDefinition,principal"})
    save(
        "role-eligibilities",
        "roleManagement_directory_roleEligibilityScheduleInstances.json",
        json.dumps(eligible[0] if len(eligible) == 1 else eligible),
    )
    all_groups = [g for body in groups for g in body["value"]]
    for group in _pim_groups(all_groups):
        pages = bodies(live.GROUP_ELIGIBILITIES_PATH, {"$filter": f"groupId eq '{group['id']}'"})
        save(
            "group-eligibilities",
            f"{group['id']}_eligibilityScheduleInstances.json",
            json.dumps(pages[0] if len(pages) == 1 else pages),
        )
    return written
