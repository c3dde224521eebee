"""The LDAP connector's actions: disable an account, remove a user from a group.

Each reads the entry first, so that an action already in effect is a ``noop``; entries are
found by their stable id through filters built from escaped values only."""

from __future__ import annotations

from typing import Any

from iam_gov.connectors.ldap.ad import ACCOUNTDISABLE, sid_text, split_sid
from iam_gov.connectors.ldap.client import (
    NO_SUCH_ATTRIBUTE,
    Directory,
    SearchFailed,
)
from iam_gov.connectors.ldap.entry import (
    Entry,
    Scope,
    all_of,
    any_of,
    decode_text,
    dn_key,
    equals,
)
from iam_gov.connectors.ldap.openldap import PERMANENTLY_LOCKED, strip_unique_member_uid
from iam_gov.model import Action, ActionKind, ActionOutcome, ActionResult

_MAX_NESTING_SEARCHES = 500
OBJECT_CLASS_VIOLATION = 65


def apply_action(directory: Directory, scope: Scope, action: Action) -> ActionResult:
    try:
        if action.kind is ActionKind.DISABLE_ACCOUNT:
            return _disable(directory, scope, action)
        return _remove_grant(directory, scope, action)
    except SearchFailed as exc:
        return _result(action, ActionOutcome.FAILED, f"The directory refused a search: {exc}.")


def _result(action: Action, outcome: ActionOutcome, message: str, **details: Any) -> ActionResult:
    return ActionResult(action=action, outcome=outcome, message=message, details=details)


def _find(
    directory: Directory,
    base: str,
    kind_filter: str,
    scope: Scope,
    native_id: str,
    attributes: list[str],
) -> Entry | None:
    id_filter = scope.flavor.id_filter(native_id)  # ValueError: not an id of this directory
    return next(directory.search(base, all_of(kind_filter, id_filter), attributes), None)


def _user(
    directory: Directory, scope: Scope, action: Action, attributes: list[str]
) -> Entry | ActionResult:
    try:
        user = _find(
            directory, scope.user_base, scope.user_filter, scope, action.account_id, attributes
        )
    except ValueError:
        return _result(
            action,
            ActionOutcome.FAILED,
            f"{action.account_id!r} is not an {scope.flavor.id_attribute}: "
            "the account is not one of this directory's.",
        )
    if user is None:
        what = "disable" if action.kind is ActionKind.DISABLE_ACCOUNT else "remove"
        return _result(
            action,
            ActionOutcome.NOOP,
            f"No account with {scope.flavor.id_attribute} {action.account_id} under "
            f"{scope.user_base}: nothing to {what}.",
        )
    return user


def _who(scope: Scope, user: Entry) -> str:
    return f"{scope.flavor.login_of(user)} ({user.dn})"


# --- disable ------------------------------------------------------------------------------


def _disable(directory: Directory, scope: Scope, action: Action) -> ActionResult:
    state = "userAccountControl" if scope.ad else "pwdAccountLockedTime"
    found = _user(directory, scope, action, [scope.flavor.login_attribute, state])
    if isinstance(found, ActionResult):
        return found
    if scope.ad:
        return _disable_ad(directory, scope, action, found)
    return _lock(directory, scope, action, found)


def _disable_ad(directory: Directory, scope: Scope, action: Action, user: Entry) -> ActionResult:
    who = _who(scope, user)
    for attempt in range(2):
        text = user.text("userAccountControl")
        try:
            control = int(text or "")
        except ValueError:
            return _result(
                action,
                ActionOutcome.FAILED,
                f"userAccountControl of {who} cannot be read: the credential needs read access.",
            )
        if control & ACCOUNTDISABLE:
            return _result(
                action,
                ActionOutcome.NOOP,
                f"{who} is already disabled (userAccountControl {control:#x}).",
            )
        new = control | ACCOUNTDISABLE
        # Delete the value read and add the new one in one modify: if someone changed the
        # flags in between, the delete fails instead of overwriting their change.
        code, reason = directory.modify(
            user.dn,
            {
                "userAccountControl": [
                    ("MODIFY_DELETE", [str(control)]),
                    ("MODIFY_ADD", [str(new)]),
                ]
            },
        )
        if code == 0:
            return _result(
                action,
                ActionOutcome.APPLIED,
                f"Disabled {who}: set ACCOUNTDISABLE in userAccountControl "
                f"({control:#x} -> {new:#x}), its other flags kept.",
                user_account_control=new,
            )
        if code != NO_SUCH_ATTRIBUTE or attempt:
            break
        reread = directory.read(user.dn, [scope.flavor.login_attribute, "userAccountControl"])
        if reread is None:
            return _result(action, ActionOutcome.NOOP, f"{who} was deleted meanwhile.")
        user = reread
    return _result(action, ActionOutcome.FAILED, f"Could not disable {who}: {reason}.")


def _lock(directory: Directory, scope: Scope, action: Action, user: Entry) -> ActionResult:
    who = _who(scope, user)
    if (user.text("pwdAccountLockedTime") or "").strip() == PERMANENTLY_LOCKED:
        return _result(action, ActionOutcome.NOOP, f"{who} is already locked by an administrator.")
    code, reason = directory.modify(
        user.dn, {"pwdAccountLockedTime": [("MODIFY_REPLACE", [PERMANENTLY_LOCKED])]}
    )
    if code != 0:
        return _result(action, ActionOutcome.FAILED, f"Could not lock {who}: {reason}.")
    return _result(
        action,
        ActionOutcome.APPLIED,
        f"Locked {who}: pwdAccountLockedTime = {PERMANENTLY_LOCKED}. The ppolicy overlay "
        "refuses its binds where its password policy has pwdLockout: TRUE.",
    )


# --- remove grant -------------------------------------------------------------------------


def _remove_grant(directory: Directory, scope: Scope, action: Action) -> ActionResult:
    if not action.entitlement_id:
        return _result(action, ActionOutcome.FAILED, "remove-grant needs an entitlement_id.")
    flavor = scope.flavor
    user_attributes = [flavor.login_attribute] + (
        ["objectSid", "primaryGroupID"] if scope.ad else []
    )
    found = _user(directory, scope, action, user_attributes)
    if isinstance(found, ActionResult):
        return found
    user = found
    group_attributes = [
        *scope.group_name_attributes,
        *flavor.group_member_attributes,
        *(["objectSid"] if scope.ad else []),
    ]
    try:
        group = _find(
            directory,
            scope.group_base,
            scope.group_filter,
            scope,
            action.entitlement_id,
            group_attributes,
        )
    except ValueError:
        return _result(
            action,
            ActionOutcome.FAILED,
            f"{action.entitlement_id!r} is not an {flavor.id_attribute}: not a group of this "
            "directory.",
        )
    who = _who(scope, user)
    if group is None:
        return _result(
            action,
            ActionOutcome.NOOP,
            f"No group with {flavor.id_attribute} {action.entitlement_id} under "
            f"{scope.group_base}: nothing to remove {who} from.",
        )
    name = _group_name(scope, group)
    held = _held_values(scope, group, user)
    if held:
        code, reason = directory.modify(
            group.dn, {attribute: [("MODIFY_DELETE", values)] for attribute, values in held.items()}
        )
        if code == 0:
            return _result(action, ActionOutcome.APPLIED, f"Removed {who} from group {name}.")
        if code == NO_SUCH_ATTRIBUTE:
            return _result(
                action, ActionOutcome.NOOP, f"{who} was removed from group {name} meanwhile."
            )
        hint = ""
        if code == OBJECT_CLASS_VIOLATION:
            hint = (
                " (a groupOfNames or groupOfUniqueNames must keep a member: add another one "
                "first, or delete the group)"
            )
        return _result(
            action,
            ActionOutcome.FAILED,
            f"Could not remove {who} from group {name}: {reason}{hint}.",
        )
    if scope.ad and _is_primary_group(user, group):
        return _result(
            action,
            ActionOutcome.FAILED,
            f"Group {name} is the primary group of {who} (primaryGroupID), which AD does not "
            "list in member: give the user another primary group first.",
        )
    through = _nested_through(directory, scope, user, group)
    if through:
        names = ", ".join(_group_name(scope, g) for g in through)
        return _result(
            action,
            ActionOutcome.FAILED,
            f"{who} holds group {name} through nested group {names}, not directly: remove "
            f"the membership in {names} instead.",
            via=[flavor.native_id(g) for g in through],
        )
    return _result(action, ActionOutcome.NOOP, f"{who} is not a member of group {name}.")


def _group_name(scope: Scope, group: Entry) -> str:
    return next((t for a in scope.group_name_attributes if (t := group.text(a))), group.dn)


def _held_values(scope: Scope, group: Entry, user: Entry) -> dict[str, list[bytes]]:
    """The values through which ``group`` lists ``user``, exactly as stored, by attribute."""
    key = dn_key(user.dn)
    login = scope.flavor.login_of(user).casefold()
    held: dict[str, list[bytes]] = {}
    for attribute in scope.flavor.group_member_attributes:
        for raw in group.values(attribute):
            value = decode_text(raw)
            if attribute == "memberUid":
                matches = value.casefold() == login
            elif attribute == "uniqueMember":
                matches = dn_key(strip_unique_member_uid(value)) == key
            else:
                matches = dn_key(value) == key
            if matches:
                held.setdefault(attribute, []).append(raw)
    return held


def _is_primary_group(user: Entry, group: Entry) -> bool:
    user_sid, group_sid, primary = (
        user.raw("objectSid"),
        group.raw("objectSid"),
        user.text("primaryGroupID"),
    )
    if user_sid is None or group_sid is None or primary is None:
        return False
    try:
        domain, _ = split_sid(sid_text(user_sid))
        return (domain, int(primary)) == split_sid(sid_text(group_sid))
    except ValueError:
        return False


def _nested_through(directory: Directory, scope: Scope, user: Entry, target: Entry) -> list[Entry]:
    """The user's own groups through which it is (transitively) in ``target``."""
    member_of = [equals(a, user.dn) for a in scope.member_dn_attributes]
    if "memberUid" in scope.flavor.group_member_attributes:
        member_of.append(equals("memberUid", scope.flavor.login_of(user)))
    attributes = [scope.flavor.id_attribute, *scope.group_name_attributes]
    own = list(
        directory.search(
            scope.group_base, all_of(scope.group_filter, any_of(*member_of)), attributes
        )
    )
    target_key = dn_key(target.dn)
    budget = [_MAX_NESTING_SEARCHES]
    return [group for group in own if _reaches(directory, scope, group.dn, target_key, budget)]


def _reaches(
    directory: Directory, scope: Scope, start: str, target_key: str, budget: list[int]
) -> bool:
    seen = {dn_key(start)}
    frontier = [start]
    while frontier and budget[0] > 0:
        dn = frontier.pop()
        budget[0] -= 1
        nested_in = any_of(*(equals(a, dn) for a in scope.member_dn_attributes))
        for parent in directory.search(scope.group_base, all_of(scope.group_filter, nested_in), []):
            key = dn_key(parent.dn)
            if key == target_key:
                return True
            if key not in seen:
                seen.add(key)
                frontier.append(parent.dn)
    return False
