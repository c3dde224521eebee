"""Okta actions: suspend, deactivate, end the sessions, and remove a group membership or an app
assignment.

Each reads the current state first, so that an action already in effect is a no-op (sessions
excepted: Okta cannot tell whether a user has any), and an API refusal is a FAILED result with
Okta's reason, never an exception.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from iam_gov.connectors.okta.client import ApiError, OktaApi
from iam_gov.connectors.okta.records import is_okta_id
from iam_gov.model import Action, ActionKind, ActionOutcome, ActionResult

B_USER = "/api/v1/users/{id}"
B_USER_GROUPS = "/api/v1/users/{id}/groups"
B_LIFECYCLE = "/api/v1/users/{id}/lifecycle"
B_SESSIONS = "/api/v1/users/{id}/sessions"
B_GROUP = "/api/v1/groups/{id}"
B_MEMBER = "/api/v1/groups/{id}/users/{id}"
B_APP = "/api/v1/apps/{id}"
B_APP_USER = "/api/v1/apps/{id}/users/{id}"
B_APP_GROUPS = "/api/v1/apps/{id}/groups"
_PAGE = 200
_NOT_FOUND = 404


def _result(action: Action, outcome: ActionOutcome, message: str, **details: Any) -> ActionResult:
    return ActionResult(action=action, outcome=outcome, message=message, details=details)


def _name(obj: Mapping[str, Any], *path: str, default: str) -> str:
    value: Any = obj
    for key in path:
        value = value.get(key) if isinstance(value, Mapping) else None
    return str(value) if isinstance(value, str) and value else default


async def apply_action(api: OktaApi, action: Action) -> ActionResult:
    if not is_okta_id(action.account_id):
        return _result(action, ActionOutcome.FAILED, f"{action.account_id!r} is not an Okta id.")
    try:
        user = await _get(api, f"/api/v1/users/{action.account_id}", B_USER)
        if user is None:
            return _result(
                action,
                ActionOutcome.NOOP,
                f"Okta has no user {action.account_id} (deleted?): nothing to change.",
            )
        if action.kind is ActionKind.REMOVE_GRANT:
            return await _remove_grant(api, action, user)
        if action.kind is ActionKind.REVOKE_SESSIONS:
            return await _revoke_sessions(api, action, user)
        return await _lifecycle(api, action, user)
    except ApiError as exc:
        why = "Okta refused" if exc.status is not None else "Okta could not be reached"
        return _result(action, ActionOutcome.FAILED, f"{why}: {exc}", status=exc.status)


async def _get(api: OktaApi, path: str, bucket: str) -> Any:
    """The object at ``path``, or None when Okta says there is none."""
    try:
        return (await api.request("GET", api.url(path), bucket=bucket)).body
    except ApiError as exc:
        if exc.status == _NOT_FOUND:
            return None
        raise


async def _change(
    api: OktaApi, method: str, url: str, bucket: str, done: Callable[[], Awaitable[bool]]
) -> None:
    """One change. When Okta's answer is an error, the state is read again: a change that
    took effect anyway (a first answer lost, the retry refused because it was done) is not a
    failure."""
    try:
        await api.request(method, url, bucket=bucket)
    except ApiError:
        try:
            if await done():
                return
        except ApiError:
            pass  # the first error is the one to tell
        raise


async def _status_is(api: OktaApi, user_id: str, status: str) -> bool:
    user = await _get(api, f"/api/v1/users/{user_id}", B_USER)
    return user is not None and user.get("status") == status


async def _list(api: OktaApi, path: str, bucket: str) -> list[Mapping[str, Any]]:
    items: list[Mapping[str, Any]] = []
    async for page in api.pages(path, bucket=bucket, params={"limit": _PAGE}):
        if isinstance(page, list):
            items.extend(item for item in page if isinstance(item, Mapping))
    return items


# --- suspend and deactivate -------------------------------------------------------------------


_LIFECYCLE: dict[ActionKind, tuple[str, dict[str, str | int], str]] = {
    # Okta suspends ACTIVE users only; any other status is refused with its reason.
    ActionKind.SUSPEND_ACCOUNT: ("suspend", {}, "SUSPENDED"),
    ActionKind.DISABLE_ACCOUNT: ("deactivate", {"sendEmail": "false"}, "DEPROVISIONED"),
}
"""Action -> (lifecycle operation, its query, the status it leaves the user in)."""


async def _lifecycle(api: OktaApi, action: Action, user: Mapping[str, Any]) -> ActionResult:
    login = _name(user, "profile", "login", default=action.account_id)
    status = user.get("status")
    if status == "DEPROVISIONED":
        return _result(
            action, ActionOutcome.NOOP, f"Okta user {login} is already deactivated.", status=status
        )
    suspend = action.kind is ActionKind.SUSPEND_ACCOUNT
    if suspend and status == "SUSPENDED":
        return _result(
            action, ActionOutcome.NOOP, f"Okta user {login} is already suspended.", status=status
        )
    operation, query, after = _LIFECYCLE[action.kind]
    user_id = action.account_id
    await _change(
        api,
        "POST",
        api.url(f"/api/v1/users/{user_id}/lifecycle/{operation}", query),
        B_LIFECYCLE,
        lambda: _status_is(api, user_id, after),
    )
    if suspend:
        message = (
            f"Suspended Okta user {login} (was {status}): sign-in is blocked, assignments kept."
        )
    else:
        message = f"Deactivated Okta user {login} (was {status})."
    return _result(action, ActionOutcome.APPLIED, message, previous_status=status)


# --- revoke sessions ------------------------------------------------------------------------


async def _revoke_sessions(api: OktaApi, action: Action, user: Mapping[str, Any]) -> ActionResult:
    """End every Okta session of the user and revoke the OAuth 2.0 / OIDC refresh and access
    tokens issued to it (``DELETE /api/v1/users/{id}/sessions?oauthTokens=true``): the next
    request of any of its devices must sign in again, which a deactivated or suspended user
    cannot. Sessions that apps keep of their own are not Okta's to end.

    Okta has no call that tells whether a user has sessions or tokens, so there is no state to
    read first: the action is APPLIED each time it runs for a user Okta has. Clearing again is
    harmless (the effect is the same), and "applied" is honest, since the call was made and
    Okta took it. For the same reason an error answer is not checked against the state, as
    ``_change`` does: the error is the result."""
    login = _name(user, "profile", "login", default=action.account_id)
    url = api.url(f"/api/v1/users/{action.account_id}/sessions", {"oauthTokens": "true"})
    await api.request("DELETE", url, bucket=B_SESSIONS)
    return _result(
        action,
        ActionOutcome.APPLIED,
        f"Ended every Okta session of {login} and revoked its OAuth tokens.",
    )


# --- remove grant ---------------------------------------------------------------------------


async def _remove_grant(api: OktaApi, action: Action, user: Mapping[str, Any]) -> ActionResult:
    login = _name(user, "profile", "login", default=action.account_id)
    entitlement = action.entitlement_id or ""
    if entitlement.startswith("role:"):
        return _result(
            action,
            ActionOutcome.FAILED,
            f"{entitlement} is an admin role: iam-gov does not unassign admin roles (its "
            "credential has no okta.roles.manage); unassign it in the Admin Console under "
            "Security > Administrators.",
        )
    if not is_okta_id(entitlement):
        return _result(
            action,
            ActionOutcome.FAILED,
            f"{entitlement or '(no entitlement_id)'} is not an Okta group or app id.",
        )
    group = await _get(api, f"/api/v1/groups/{entitlement}", B_GROUP)
    if group is not None:
        return await _leave_group(api, action, login, group)
    app = await _get(api, f"/api/v1/apps/{entitlement}", B_APP)
    if app is not None:
        return await _unassign_app(api, action, login, app)
    return _result(
        action,
        ActionOutcome.NOOP,
        f"Okta has no group or app {entitlement} (deleted?): {login} cannot hold it.",
    )


async def _user_groups(api: OktaApi, user_id: str) -> dict[str, str]:
    """The user's groups: id -> name."""
    groups = await _list(api, f"/api/v1/users/{user_id}/groups", B_USER_GROUPS)
    return {
        str(group["id"]): _name(group, "profile", "name", default=str(group["id"]))
        for group in groups
        if is_okta_id(group.get("id"))
    }


async def _leave_group(
    api: OktaApi, action: Action, login: str, group: Mapping[str, Any]
) -> ActionResult:
    group_id = str(action.entitlement_id)
    name = _name(group, "profile", "name", default=group_id)
    if group_id not in await _user_groups(api, action.account_id):
        return _result(action, ActionOutcome.NOOP, f"{login} is not in Okta group {name}.")
    kind = group.get("type")
    if kind == "BUILT_IN":
        return _result(
            action,
            ActionOutcome.FAILED,
            f"Okta group {name} is built in: every user is in it. Deactivate {login} instead.",
        )
    if kind == "APP_GROUP":
        return _result(
            action,
            ActionOutcome.FAILED,
            f"Okta group {name} is imported from a directory or app: remove {login} from "
            "it there, and the next import removes it in Okta.",
        )

    async def left() -> bool:
        return group_id not in await _user_groups(api, action.account_id)

    url = api.url(f"/api/v1/groups/{group_id}/users/{action.account_id}")
    await _change(api, "DELETE", url, B_MEMBER, left)
    return _result(action, ActionOutcome.APPLIED, f"Removed {login} from Okta group {name}.")


async def _unassign_app(
    api: OktaApi, action: Action, login: str, app: Mapping[str, Any]
) -> ActionResult:
    app_id = str(action.entitlement_id)
    label = _name(app, "label", default=app_id)
    path = f"/api/v1/apps/{app_id}/users/{action.account_id}"
    assignment = await _get(api, path, B_APP_USER)
    if assignment is None:
        return _result(action, ActionOutcome.NOOP, f"{login} is not assigned to Okta app {label}.")
    via = await _assigning_groups(api, app_id, action.account_id)
    if str(assignment.get("scope", "USER")).upper() == "GROUP":
        names = ", ".join(via.values()) or "a group"
        return _result(
            action,
            ActionOutcome.FAILED,
            f"{login} has Okta app {label} through group {names}, not directly: remove the "
            "group membership instead.",
            via=sorted(via),
        )

    async def unassigned() -> bool:
        now = await _get(api, path, B_APP_USER)
        return now is None or str(now.get("scope", "USER")).upper() == "GROUP"

    await _change(api, "DELETE", api.url(path), B_APP_USER, unassigned)
    message = f"Removed the direct assignment of Okta app {label} to {login}."
    if via:
        message += f" It still has the app through group {', '.join(via.values())}."
    return _result(action, ActionOutcome.APPLIED, message, via=sorted(via))


async def _assigning_groups(api: OktaApi, app_id: str, user_id: str) -> dict[str, str]:
    """The user's groups that the app is assigned to: id -> name."""
    assigned = {
        str(item.get("id"))
        for item in await _list(api, f"/api/v1/apps/{app_id}/groups", B_APP_GROUPS)
    }
    if not assigned:
        return {}
    return {
        gid: name for gid, name in (await _user_groups(api, user_id)).items() if gid in assigned
    }
