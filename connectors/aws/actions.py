"""The AWS connector's actions: disable a user, remove a grant, deactivate a credential.

Each reads the current state first, so that an action already in effect is a ``noop``."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from iam_gov.connectors.aws.client import access_keys, aws_failures, describe_aws_error
from iam_gov.connectors.aws.export import parse_credential_report
from iam_gov.errors import SourceError
from iam_gov.model import Action, ActionKind, ActionOutcome, ActionResult
from iam_gov.timeutil import as_utc

if TYPE_CHECKING:
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_iam.type_defs import AccessKeyMetadataTypeDef


@dataclass(frozen=True)
class _Principal:
    kind: str
    """``user``, ``role``, ``root`` or another IAM resource type."""
    name: str


def _principal(arn: str) -> _Principal | None:
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "iam":
        return None
    if parts[5] == "root":
        return _Principal("root", "")
    kind, _, rest = parts[5].partition("/")
    # IAM names cannot contain "/": what precedes the last one is the path.
    return _Principal(kind, rest.rsplit("/", 1)[-1]) if rest else None


def apply_action(iam: IAMClient, action: Action) -> ActionResult:
    principal = _principal(action.account_id)
    if principal is None:
        return _result(action, ActionOutcome.FAILED, f"{action.account_id} is not an IAM ARN")
    try:
        if action.kind is ActionKind.DISABLE_ACCOUNT:
            return _disable(iam, action, principal)
        if action.kind is ActionKind.REMOVE_GRANT:
            return _remove_grant(iam, action, principal)
        return _deactivate_credential(iam, action, principal)
    except iam.exceptions.NoSuchEntityException as exc:
        # The user, role, group or policy is gone (the first read fails): nothing to remove.
        return _result(action, ActionOutcome.NOOP, f"Nothing to change: {describe_aws_error(exc)}")
    except aws_failures() as exc:
        return _result(action, ActionOutcome.FAILED, describe_aws_error(exc))


def _result(action: Action, outcome: ActionOutcome, message: str, **details: Any) -> ActionResult:
    return ActionResult(action=action, outcome=outcome, message=message, details=details)


def _refuse(action: Action, principal: _Principal, *allowed: str) -> ActionResult | None:
    """FAILED when the action does not apply to this kind of principal (the root user, a role
    that has no password to remove …); None when it does."""
    if principal.kind in allowed:
        return None
    what = "the root user" if principal.kind == "root" else f"an IAM {principal.kind}"
    return _result(
        action,
        ActionOutcome.FAILED,
        f"{action.account_id} is {what}: {action.kind.value} applies to IAM "
        f"{' and '.join(kind + 's' for kind in allowed)} only.",
    )


# --- disable ------------------------------------------------------------------------------


def _disable(iam: IAMClient, action: Action, principal: _Principal) -> ActionResult:
    refused = _refuse(action, principal, "user")
    if refused is not None:
        return refused
    user = principal.name
    active = [key["AccessKeyId"] for key in access_keys(iam, user) if key["Status"] == "Active"]
    has_password = _has_login_profile(iam, user)
    if not has_password and not active:
        return _result(
            action,
            ActionOutcome.NOOP,
            f"IAM user {user} has no console password and no active access key: already disabled.",
        )
    done = []
    if has_password:
        _delete_login_profile(iam, user)
        done.append("deleted its console password")
    for key_id in active:
        iam.update_access_key(UserName=user, AccessKeyId=key_id, Status="Inactive")
    if active:
        done.append(f"deactivated access key{'s' if len(active) > 1 else ''} {', '.join(active)}")
    return _result(
        action,
        ActionOutcome.APPLIED,
        f"Disabled IAM user {user}: {' and '.join(done)}.",
        login_profile_deleted=has_password,
        deactivated_access_keys=active,
    )


def _has_login_profile(iam: IAMClient, user: str) -> bool:
    # NoSuchEntity also when the user is gone: either way there is no password to remove.
    try:
        iam.get_login_profile(UserName=user)
    except iam.exceptions.NoSuchEntityException:
        return False
    return True


def _delete_login_profile(iam: IAMClient, user: str) -> None:
    # Deleted meanwhile by someone else: the outcome we wanted.
    with contextlib.suppress(iam.exceptions.NoSuchEntityException):
        iam.delete_login_profile(UserName=user)


# --- remove grant -------------------------------------------------------------------------


def _remove_grant(iam: IAMClient, action: Action, principal: _Principal) -> ActionResult:
    entitlement = action.entitlement_id
    if not entitlement:
        return _result(action, ActionOutcome.FAILED, "remove-grant needs an entitlement_id.")
    refused = _refuse(action, principal, "user", "role")
    if refused is not None:
        return refused
    owner, marker, policy_name = entitlement.partition("#inline/")
    if marker:
        if owner == action.account_id:
            return _delete_inline(iam, action, principal, policy_name)
        owner_principal = _principal(owner)
        if principal.kind == "user" and owner_principal and owner_principal.kind == "group":
            return _held_via_groups(iam, action, principal.name, [owner])
        return _result(
            action,
            ActionOutcome.FAILED,
            f"{entitlement} is an inline policy of {owner}, not of {action.account_id}.",
        )
    target = _principal(entitlement)
    if target is not None and target.kind == "group":
        if principal.kind != "user":
            return _result(action, ActionOutcome.FAILED, "only IAM users are group members.")
        return _leave_group(iam, action, principal.name, entitlement, target.name)
    if target is not None and target.kind == "policy":
        return _detach(iam, action, principal, entitlement)
    return _result(
        action,
        ActionOutcome.FAILED,
        f"{entitlement} is not an IAM group, managed policy or inline policy.",
    )


def _user_groups(iam: IAMClient, user: str) -> dict[str, str]:
    """The user's groups: ARN -> name."""
    return {
        group["Arn"]: group["GroupName"]
        for page in iam.get_paginator("list_groups_for_user").paginate(UserName=user)
        for group in page["Groups"]
    }


def _leave_group(
    iam: IAMClient, action: Action, user: str, group_arn: str, group: str
) -> ActionResult:
    if group_arn not in _user_groups(iam, user):
        return _result(action, ActionOutcome.NOOP, f"IAM user {user} is not in group {group}.")
    iam.remove_user_from_group(GroupName=group, UserName=user)
    return _result(action, ActionOutcome.APPLIED, f"Removed IAM user {user} from group {group}.")


def _detach(iam: IAMClient, action: Action, principal: _Principal, policy_arn: str) -> ActionResult:
    name, kind = principal.name, principal.kind
    if policy_arn in _attached_policies(iam, kind, name):
        if kind == "role":
            iam.detach_role_policy(RoleName=name, PolicyArn=policy_arn)
        else:
            iam.detach_user_policy(UserName=name, PolicyArn=policy_arn)
        return _result(
            action, ActionOutcome.APPLIED, f"Detached {policy_arn} from IAM {kind} {name}."
        )
    if kind == "role":
        return _result(
            action, ActionOutcome.NOOP, f"{policy_arn} is not attached to IAM role {name}."
        )
    granting = [
        group_arn
        for group_arn, group in _user_groups(iam, name).items()
        if policy_arn in _attached_policies(iam, "group", group)
    ]
    return _held_via_groups(iam, action, name, granting, checked=True)


def _attached_policies(iam: IAMClient, kind: str, name: str) -> set[str]:
    """The ARNs of the managed policies attached to a user, group or role."""
    pages: Iterable[Mapping[str, Any]]
    if kind == "role":
        pages = iam.get_paginator("list_attached_role_policies").paginate(RoleName=name)
    elif kind == "group":
        pages = iam.get_paginator("list_attached_group_policies").paginate(GroupName=name)
    else:
        pages = iam.get_paginator("list_attached_user_policies").paginate(UserName=name)
    return {policy["PolicyArn"] for page in pages for policy in page["AttachedPolicies"]}


def _held_via_groups(
    iam: IAMClient, action: Action, user: str, groups: list[str], *, checked: bool = False
) -> ActionResult:
    """A grant that comes with a group can only go with the group membership."""
    if not checked:
        member_of = _user_groups(iam, user)
        groups = [group for group in groups if group in member_of]
    entitlement = action.entitlement_id
    if not groups:
        return _result(action, ActionOutcome.NOOP, f"IAM user {user} does not hold {entitlement}.")
    names = ", ".join(group.rsplit("/", 1)[-1] for group in groups)
    return _result(
        action,
        ActionOutcome.FAILED,
        f"IAM user {user} holds {entitlement} through group {names}, not directly: "
        "remove the group membership instead.",
        via=groups,
    )


def _delete_inline(
    iam: IAMClient, action: Action, principal: _Principal, policy_name: str
) -> ActionResult:
    name = principal.name
    pages: Iterable[Mapping[str, Any]]
    if principal.kind == "role":
        pages = iam.get_paginator("list_role_policies").paginate(RoleName=name)
    else:
        pages = iam.get_paginator("list_user_policies").paginate(UserName=name)
    who = f"IAM {principal.kind} {name}"
    if policy_name not in {policy for page in pages for policy in page["PolicyNames"]}:
        return _result(action, ActionOutcome.NOOP, f"{who} has no inline policy {policy_name}.")
    if principal.kind == "role":
        iam.delete_role_policy(RoleName=name, PolicyName=policy_name)
    else:
        iam.delete_user_policy(UserName=name, PolicyName=policy_name)
    return _result(action, ActionOutcome.APPLIED, f"Deleted inline policy {policy_name} of {who}.")


# --- deactivate credential ----------------------------------------------------------------

_KEY_SUFFIX = re.compile(r"access_key_([12])")


def _deactivate_credential(iam: IAMClient, action: Action, principal: _Principal) -> ActionResult:
    refused = _refuse(action, principal, "user")
    if refused is not None:
        return refused
    credential = action.credential_id or ""
    owner, _, suffix = credential.rpartition("#")
    if owner != action.account_id:
        return _result(
            action,
            ActionOutcome.FAILED,
            f"credential {credential or '(none given)'} is not one of {action.account_id}.",
        )
    user = principal.name
    if suffix == "password":
        if not _has_login_profile(iam, user):
            return _result(action, ActionOutcome.NOOP, f"IAM user {user} has no console password.")
        _delete_login_profile(iam, user)
        return _result(
            action, ActionOutcome.APPLIED, f"Deleted the console password of IAM user {user}."
        )
    match = _KEY_SUFFIX.fullmatch(suffix)
    if match is None:
        return _result(action, ActionOutcome.FAILED, f"{credential} is not a known credential.")
    number = int(match.group(1))
    keys = access_keys(iam, user)
    key = _pick_key(keys, number, _reported_creation(iam, action.account_id, number))
    if key is None:
        return _result(
            action, ActionOutcome.NOOP, f"IAM user {user}'s access key {number} no longer exists."
        )
    key_id = key["AccessKeyId"]
    if key["Status"] != "Active":
        return _result(
            action,
            ActionOutcome.NOOP,
            f"Access key {key_id} of IAM user {user} is already inactive.",
            access_key_id=key_id,
        )
    iam.update_access_key(UserName=user, AccessKeyId=key_id, Status="Inactive")
    return _result(
        action,
        ActionOutcome.APPLIED,
        f"Deactivated access key {key_id} (access key {number}) of IAM user {user}.",
        access_key_id=key_id,
    )


def _reported_creation(iam: IAMClient, user_arn: str, number: int) -> datetime | None:
    """When the credential report says access key ``number`` was created, if it knows.

    The report does not show key ids; the creation time is how its "access key 1" and
    "access key 2" are found again among the user's keys."""
    try:
        content = iam.get_credential_report()["Content"].decode("utf-8", errors="replace")
        row = parse_credential_report(content, lambda line: f"report line {line}").get(user_arn)
    except aws_failures() + (SourceError,):
        return None  # no report, or none readable: fall back to the key's position
    if row is None:
        return None
    return next((key.created_at for key in row.keys if key.number == number), None)


def _pick_key(
    keys: list[AccessKeyMetadataTypeDef], number: int, reported: datetime | None
) -> AccessKeyMetadataTypeDef | None:
    by_position = keys[number - 1] if len(keys) >= number else None
    if reported is None:
        return by_position
    # The report gives whole seconds; two keys created in the same second are told apart by
    # their order, as the report itself orders them.
    same = [key for key in keys if _second(key["CreateDate"]) == _second(reported)]
    if by_position is not None and by_position in same:
        return by_position
    return same[0] if same else None


def _second(value: datetime) -> datetime:
    return as_utc(value).replace(microsecond=0)
