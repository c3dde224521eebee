"""The Entra connector's actions: disable a user, revoke their sessions, remove a grant.

Each reads the current state first, so that an action already in effect is a ``noop``; a
refusal by Graph is a ``failed`` result naming the reason, never an exception."""

from __future__ import annotations

from typing import Any

from iam_gov.connectors.entra.client import GraphClient, GraphError, segment
from iam_gov.connectors.entra.records import is_object_id
from iam_gov.connectors.entra.to_model import (
    DEFAULT_APP_ROLE,
    app_role_entitlement,
    group_entitlement,
)
from iam_gov.model import Action, ActionKind, ActionOutcome, ActionResult

_NOT_FOUND = 404


def apply_action(graph: GraphClient, action: Action) -> ActionResult:
    if not is_object_id(action.account_id):
        return _result(
            action, ActionOutcome.FAILED, f"{action.account_id} is not an Entra user id."
        )
    try:
        if action.kind is ActionKind.DISABLE_ACCOUNT:
            return _disable(graph, action)
        if action.kind is ActionKind.REVOKE_SESSIONS:
            return _revoke_sessions(graph, action)
        return _remove_grant(graph, action)
    except GraphError as exc:
        return _result(action, ActionOutcome.FAILED, f"Graph refused: {exc.describe()}")


def _result(action: Action, outcome: ActionOutcome, message: str, **details: Any) -> ActionResult:
    return ActionResult(action=action, outcome=outcome, message=message, details=details)


def _user(graph: GraphClient, user_id: str, fields: str) -> dict[str, Any] | None:
    """The user, or None when the tenant no longer has it."""
    try:
        return graph.get(f"/users/{segment(user_id)}", {"$select": fields})
    except GraphError as exc:
        if exc.status == _NOT_FOUND:
            return None
        raise


def _name(user: dict[str, Any]) -> str:
    return str(user.get("userPrincipalName") or user.get("id"))


def _gone(action: Action, what: str) -> ActionResult:
    return _result(
        action,
        ActionOutcome.NOOP,
        f"Entra has no user {action.account_id} (deleted?): nothing to {what}.",
    )


# --- disable ------------------------------------------------------------------------------


def _disable(graph: GraphClient, action: Action) -> ActionResult:
    user = _user(
        graph, action.account_id, "id,userPrincipalName,accountEnabled,onPremisesSyncEnabled"
    )
    if user is None:
        return _gone(action, "disable")
    name = _name(user)
    if user.get("accountEnabled") is False:
        return _result(action, ActionOutcome.NOOP, f"Entra user {name} is already disabled.")
    if user.get("onPremisesSyncEnabled") is True:
        return _result(
            action,
            ActionOutcome.FAILED,
            f"Entra user {name} is synchronised from on-premises Active Directory: disable it "
            "there, or the next synchronisation enables it again.",
        )
    graph.request("PATCH", f"/users/{segment(action.account_id)}", json={"accountEnabled": False})
    return _result(
        action,
        ActionOutcome.APPLIED,
        f"Disabled Entra user {name}: it can no longer sign in. Sessions it already has last "
        "until their tokens expire; revoke-sessions ends them now.",
    )


# --- revoke sessions ----------------------------------------------------------------------


def _revoke_sessions(graph: GraphClient, action: Action) -> ActionResult:
    # Always applied when the user exists: Graph cannot tell whether a session or refresh token
    # was issued since the last revocation (sign-in activity lags by hours and needs P1), so a
    # revocation is never known to be still in effect. Revoking again is harmless.
    user = _user(graph, action.account_id, "id,userPrincipalName,signInSessionsValidFromDateTime")
    if user is None:
        return _gone(action, "revoke")
    before = user.get("signInSessionsValidFromDateTime")
    graph.request("POST", f"/users/{segment(action.account_id)}/revokeSignInSessions")
    return _result(
        action,
        ActionOutcome.APPLIED,
        f"Revoked the sign-in sessions and refresh tokens of Entra user {_name(user)}: every "
        "app asks it to sign in again (access tokens already issued last up to an hour).",
        previously_valid_from=before,
    )


# --- remove grant -------------------------------------------------------------------------


def _remove_grant(graph: GraphClient, action: Action) -> ActionResult:
    entitlement = action.entitlement_id or ""
    parts = entitlement.split("/")
    if len(parts) == 2 and parts[0] == "groups" and is_object_id(parts[1]):
        return _leave_group(graph, action, parts[1])
    if (
        len(parts) == 4
        and parts[0] == "servicePrincipals"
        and parts[2] == "appRoles"
        and is_object_id(parts[1])
        and is_object_id(parts[3])
    ):
        return _remove_app_role(graph, action, parts[1], parts[3])
    if entitlement.startswith("roleDefinitions/"):
        return _result(
            action,
            ActionOutcome.FAILED,
            "iam-gov does not remove directory role assignments: that needs "
            "RoleManagement.ReadWrite.Directory, with which an application can make anyone a "
            "Global Administrator. Remove it in Entra (Roles and administrators, or PIM).",
        )
    return _result(
        action,
        ActionOutcome.FAILED,
        f"{entitlement or '(no entitlement given)'} is not an Entra group or app role.",
    )


def _direct_members(graph: GraphClient, group_id: str) -> list[dict[str, Any]]:
    return graph.fetch_all(f"/groups/{segment(group_id)}/members", {"$select": "id", "$top": "999"})


def _is_group(member: dict[str, Any]) -> bool:
    return str(member.get("@odata.type", "")).lower() == "#microsoft.graph.group"


def _leave_group(graph: GraphClient, action: Action, group_id: str) -> ActionResult:
    try:
        group = graph.get(
            f"/groups/{segment(group_id)}",
            {"$select": "id,displayName,groupTypes,onPremisesSyncEnabled"},
        )
    except GraphError as exc:
        if exc.status != _NOT_FOUND:
            raise
        return _result(
            action, ActionOutcome.NOOP, f"Entra has no group {group_id}: nothing to leave."
        )
    name = str(group.get("displayName") or group_id)
    user = action.account_id
    members = _direct_members(graph, group_id)
    through = _nested_groups_holding(graph, user, [m for m in members if _is_group(m)])
    names = ", ".join(label for _, label in through)
    if any(m.get("id") == user for m in members):
        if "DynamicMembership" in (group.get("groupTypes") or []):
            return _result(
                action,
                ActionOutcome.FAILED,
                f"Group {name} is dynamic: its rule decides who is a member. Change the user's "
                "attributes or the rule.",
            )
        if group.get("onPremisesSyncEnabled") is True:
            return _result(
                action,
                ActionOutcome.FAILED,
                f"Group {name} is synchronised from on-premises Active Directory: remove the "
                "member there.",
            )
        graph.request("DELETE", f"/groups/{segment(group_id)}/members/{segment(user)}/$ref")
        message = f"Removed user {user} from group {name}."
        if through:
            message += f" It is still a member through group {names}."
        return _result(action, ActionOutcome.APPLIED, message)
    if through:
        return _result(
            action,
            ActionOutcome.FAILED,
            f"User {user} is in group {name} through group {names}, not directly: remove that "
            "membership instead.",
            via=[group_entitlement(group) for group, _ in through],
        )
    return _result(action, ActionOutcome.NOOP, f"User {user} is not a member of group {name}.")


def _nested_groups_holding(
    graph: GraphClient, user: str, nested: list[dict[str, Any]]
) -> list[tuple[str, str]]:
    """The groups below the one asked about that have ``user`` as a direct member: (id, name).

    Walked group by group with the group read permission only (a user's own memberships would
    need Directory.Read.All)."""
    found: list[tuple[str, str]] = []
    seen: set[str] = set()
    todo = [str(m.get("id")) for m in nested]
    while todo:
        group_id = todo.pop(0)
        if group_id in seen or not is_object_id(group_id):
            continue
        seen.add(group_id)
        members = _direct_members(graph, group_id)
        if any(m.get("id") == user for m in members):
            group = graph.get(f"/groups/{segment(group_id)}", {"$select": "id,displayName"})
            found.append((group_id, str(group.get("displayName") or group_id)))
        todo.extend(str(m.get("id")) for m in members if _is_group(m))
    return sorted(found)


def _remove_app_role(graph: GraphClient, action: Action, resource: str, role: str) -> ActionResult:
    user = action.account_id
    try:
        # Also lists what the user's direct groups are assigned; ConsistencyLevel and $count
        # make the list complete for users with many of those.
        assignments = graph.fetch_all(
            f"/users/{segment(user)}/appRoleAssignments",
            {"$count": "true"},
            headers={"ConsistencyLevel": "eventual"},
        )
    except GraphError as exc:
        if exc.status != _NOT_FOUND:
            raise
        return _gone(action, "remove")
    matching = [
        a for a in assignments if a.get("resourceId") == resource and a.get("appRoleId") == role
    ]
    direct = [a for a in matching if a.get("principalId") == user]
    via = [a for a in matching if a.get("principalId") != user]
    what = _app_role_label(matching, role)
    if direct:
        for assignment in direct:
            assignment_id = str(assignment.get("id"))
            try:
                graph.request(
                    "DELETE",
                    f"/servicePrincipals/{segment(resource)}/appRoleAssignedTo/{segment(assignment_id)}",
                )
            except GraphError as exc:
                if exc.status != _NOT_FOUND:  # removed meanwhile: the outcome we wanted
                    raise
        message = f"Removed {what} from user {user}."
        if via:
            message += f" It still holds it through group {_group_names(via)}."
        return _result(
            action,
            ActionOutcome.APPLIED,
            message,
            assignments=sorted(str(a.get("id")) for a in direct),
        )
    if via:
        return _result(
            action,
            ActionOutcome.FAILED,
            f"User {user} holds {what} through group {_group_names(via)}, not directly: remove "
            "that group membership instead.",
            via=sorted(group_entitlement(str(a.get("principalId"))) for a in via),
        )
    return _result(
        action,
        ActionOutcome.NOOP,
        f"User {user} does not hold {app_role_entitlement(resource, role)}.",
    )


def _app_role_label(assignments: list[dict[str, Any]], role: str) -> str:
    app = next(
        (str(a["resourceDisplayName"]) for a in assignments if a.get("resourceDisplayName")), None
    )
    label = "default access" if role == DEFAULT_APP_ROLE else f"app role {role}"
    return f"{label} to {app}" if app else label


def _group_names(assignments: list[dict[str, Any]]) -> str:
    return ", ".join(
        sorted({str(a.get("principalDisplayName") or a.get("principalId")) for a in assignments})
    )
