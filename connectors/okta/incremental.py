"""Incremental collect from an Okta org: the previous read (the baseline, kept in the export
layout) plus what changed since, instead of one factor call per user every night.

What changed is asked three ways:

- users whose record changed (profile, status, password): ``GET /api/v1/users?filter=
  lastUpdated gt "<cursor>"``; a user who can sign in and could not before has their factors
  read, one who no longer can has none (as a full read);
- groups renamed, created or whose members changed: ``GET /api/v1/groups?filter=lastUpdated
  gt "<cursor>" or lastMembershipUpdated gt "<cursor>"``, whose members are read again (and the
  users of the apps assigned to them, which hold the group's members);
- what has no timestamp on the object, from the System Log (``GET /api/v1/logs?since=…&until=…
  &sortOrder=ASCENDING``): factor enrolments and resets (that user's factors), sign-ins (that
  user's ``lastLogin``), deactivations, app assignments (that app's users and groups), admin
  roles granted to or taken from a group (its roles), deletions of users, groups and apps.

Always read again, being few: the app list, the admin-role holders and their roles (a role
held through a group changes with the group's members), and the password policies.

The cursor is taken ``LAG`` before the read starts (the System Log may publish an event a
little late): changes are read twice rather than missed, and reading one twice is harmless. A
cursor older than the System Log keeps (90 days), or a log request refused, is
``ChangeFeedLost``: a full read follows.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import iam_gov.connectors.okta.layout as layout
from iam_gov.connectors.okta.client import ApiError
from iam_gov.connectors.okta.export import read_export
from iam_gov.connectors.okta.live import (
    _USER_LIST_HEADERS,
    APPS,
    B_APP_GROUPS,
    B_APP_USERS,
    B_APPS,
    B_FACTORS,
    B_GROUP_ROLES,
    B_GROUPS,
    B_MEMBERS,
    B_USER,
    B_USERS,
    GROUPS,
    PAGE,
    USERS,
    LiveCollector,
)
from iam_gov.connectors.okta.records import (
    UNKNOWN_USERS,
    AppAssignment,
    OktaData,
    OktaPasswordPolicy,
    OktaRole,
    OktaUser,
    RecordError,
    RoleTarget,
    parse_app,
    parse_group,
    parse_items,
)
from iam_gov.connectors.okta.write_export import ExportWriter
from iam_gov.connectors.shared.incremental import ChangeFeedLost
from iam_gov.retrying import GaveUp

LOGS = "/api/v1/logs"
B_LOGS = "/api/v1/logs"
LOG_PAGE = 1000
LOG_RETENTION = timedelta(days=90)
LAG = timedelta(minutes=5)
"""How long before a read its cursor is taken: the System Log may publish an event late."""
ROLE_TARGETS = "role-targets.jsonl"
"""Beside the export layout in the baseline (not ``.json``: the export reader does not look at
it): the targets of scoped admin roles, which the layout has no place for."""

# System Log event types (Okta's event type catalog), by what they make us read again.
FACTOR_EVENTS = frozenset(
    {
        "user.mfa.factor.activate",
        "user.mfa.factor.deactivate",
        "user.mfa.factor.reset_all",
        "user.mfa.factor.update",
        "user.mfa.factor.suspend",
        "user.mfa.factor.unsuspend",
    }
)
USER_EVENTS = frozenset(
    {
        "user.session.start",
        "user.lifecycle.activate",
        "user.lifecycle.reactivate",
        "user.lifecycle.deactivate",
        "user.lifecycle.suspend",
        "user.lifecycle.unsuspend",
        "user.lifecycle.create",
    }
)
"""Re-read the user (a sign-in moves ``lastLogin`` but not ``lastUpdated``)."""
USER_DELETED = frozenset({"user.lifecycle.delete.initiated", "user.lifecycle.delete.completed"})
GROUP_DELETED = frozenset({"group.lifecycle.delete"})
GROUP_ROLE_EVENTS = frozenset({"group.privilege.grant", "group.privilege.revoke"})
APP_EVENTS = frozenset(
    {
        "application.user_membership.add",
        "application.user_membership.remove",
        "application.user_membership.change_username",
        "application.user_membership.update",
        "group.application_assignment.add",
        "group.application_assignment.remove",
        "group.application_assignment.update",
        "application.lifecycle.create",
        "application.lifecycle.delete",
    }
)


def okta_time(value: datetime) -> str:
    """``2026-01-02T03:04:05.000Z``, as Okta writes times and its filters compare them."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def cursor_at(started: datetime) -> dict[str, Any]:
    return {"since": okta_time(started - LAG)}


@dataclass
class ChangeReader(LiveCollector):
    """Applies the changes since a cursor to the records of the last read (``data``), with
    the live collector's own calls for each object, so that both give the same records."""

    counts: dict[str, int] = field(default_factory=dict)

    async def apply(self, since: datetime, until: datetime) -> None:
        self._jobs = asyncio.Queue(maxsize=self.workers * 4)
        await self._with_workers(self._changes(since, until))

    def _count(self, kind: str, number: int = 1) -> None:
        if number:
            self.counts[kind] = self.counts.get(kind, 0) + number

    async def _log(self, since: datetime, until: datetime) -> list[dict[str, Any]]:
        params: dict[str, str | int] = {
            "since": okta_time(since),
            "until": okta_time(until),
            "sortOrder": "ASCENDING",
            "limit": LOG_PAGE,
        }
        events: list[dict[str, Any]] = []
        try:
            async for page in self.api.pages(LOGS, bucket=B_LOGS, params=params):
                if not isinstance(page, list):
                    raise ChangeFeedLost("a page of the System Log is not a JSON array")
                events.extend(e for e in page if isinstance(e, dict))
        except ApiError as exc:
            raise ChangeFeedLost(f"the System Log could not be read ({exc})") from None
        return events

    async def _changes(self, since: datetime, until: datetime) -> None:
        data = self.data
        events = await self._log(since, until)
        self._count("log events", len(events))
        users: set[str] = set()
        factors: set[str] = set()
        deleted_users: set[str] = set()
        groups_gone: set[str] = set()
        roles_of: set[str] = set()
        apps_of: set[str] = set()
        for event in events:
            kind = event.get("eventType")
            targets = _targets(event)
            if kind in FACTOR_EVENTS:
                factors.update(targets.get("User", ()))
            elif kind == "user.session.start":
                actor = event.get("actor")
                if isinstance(actor, dict) and isinstance(actor.get("id"), str):
                    users.add(actor["id"])
            elif kind in USER_EVENTS:
                users.update(targets.get("User", ()))
            elif kind in USER_DELETED:
                deleted_users.update(targets.get("User", ()))
            elif kind in GROUP_DELETED:
                groups_gone.update(targets.get("UserGroup", ()))
            elif kind in GROUP_ROLE_EVENTS:
                roles_of.update(targets.get("UserGroup", ()))
            elif kind in APP_EVENTS:
                apps_of.update(targets.get("AppInstance", ()))
        # Deletions first: a user deleted is not read again.
        for user_id in deleted_users:
            self._forget_user(user_id)
        users -= deleted_users
        factors -= deleted_users
        # Users whose record changed, and those the log names.
        before = dict(data.users)
        stamp = okta_time(since)
        changed = await self._changed_users(f'lastUpdated gt "{stamp}"')
        for user_id in sorted(users - changed):
            await self._reread_user(user_id)
        touched = changed | users
        self._count("users", len(touched))
        for user_id in touched:
            user = data.users.get(user_id)
            if user is None:
                continue
            old = before.get(user_id)
            if not user.can_sign_in:
                data.factors.pop(user_id, None)
            elif self.collect_factors and (
                old is None or not old.can_sign_in or user_id not in data.factors
            ):
                factors.add(user_id)
            if old is not None and old.status == "DEPROVISIONED" != user.status:
                # Reactivated: what Okta gives back is not in the baseline, ask every app.
                apps_of.update(data.apps)
            elif old is None or old.status != user.status:
                # Deactivation takes a user's app assignments away.
                apps_of.update(self._apps_holding(user_id))
        if self.collect_factors:
            for user_id in sorted(factors):
                user = data.users.get(user_id)
                if user is not None and user.can_sign_in:
                    await self._enqueue(B_FACTORS, user_id, self._factors)
            self._count("factors", len(factors))
        # Groups.
        for group_id in groups_gone:
            # The apps it was assigned to lose the rows of its members, the roles scoped to it
            # their target: read them again.
            apps_of.update(a for a, gs in data.app_groups.items() if group_id in gs)
            roles_of.update(
                holder
                for holder, roles in data.group_roles.items()
                if any(
                    t.id == group_id
                    for r in roles
                    for t in data.role_targets.get(r.assignment_id, ())
                )
            )
            self._forget_group(group_id)
        expression = f'lastUpdated gt "{stamp}" or lastMembershipUpdated gt "{stamp}"'
        params: dict[str, str | int] = {"filter": expression, "limit": PAGE}
        changed_groups: list[str] = []
        listed = await self._listing(self._changed_groups(params, changed_groups, roles_of), GROUPS)
        if not listed:
            return
        self._count("groups", len(changed_groups))
        for group_id in changed_groups:
            apps_of.update(a for a, gs in data.app_groups.items() if group_id in gs)
        for group_id in sorted(roles_of - groups_gone):
            if group_id in data.groups:
                await self._enqueue(B_GROUP_ROLES, group_id, self._group_roles)
        # Apps: the list again (few), the assignments of new apps and of those changed.
        apps_before = set(data.apps)
        listed_apps: dict[str, Any] = {}
        if not await self._listing(self._all_apps(listed_apps), APPS):
            return
        for app_id in set(data.apps) - set(listed_apps):
            for part in (data.app_users, data.app_groups):
                part.pop(app_id, None)
        data.apps = listed_apps
        apps_of |= set(listed_apps) - apps_before
        apps_of &= set(listed_apps)
        self._count("apps", len(apps_of))
        for app_id in sorted(apps_of):
            await self._enqueue(B_APP_USERS, app_id, self._app_users)
            await self._enqueue(B_APP_GROUPS, app_id, self._app_groups)
        # Admin roles: their holders, each time (a role held through a group follows its
        # members); then the targets of the roles that remain.
        data.user_roles = {}
        await self._listing(self._assignees(), "/api/v1/iam/assignees/users")
        data.password_policies = None
        await self._password_policies()

    async def _changed_users(self, expression: str) -> set[str]:
        """Users the filter lists, put in place of the old records."""
        found: set[str] = set()
        params: dict[str, str | int] = {"filter": expression, "limit": PAGE}
        pages = self.api.pages(USERS, bucket=B_USERS, params=params, headers=_USER_LIST_HEADERS)
        try:
            async for page in pages:
                if not isinstance(page, list):
                    raise ApiError("a page of users is not a JSON array")
                users = parse_items(page, self._user, self.data, USERS, consequence=UNKNOWN_USERS)
                self.data.add_users(users)
                found.update(u.id for u in users)
        except GaveUp as exc:
            self._gave_up = self._gave_up or exc
        except ApiError as exc:
            self.data.problem(
                USERS, f"the changed users could not be listed: {exc}", consequence=UNKNOWN_USERS
            )
        return found

    async def _reread_user(self, user_id: str) -> None:
        try:
            response = await self.api.request(
                "GET", self.api.url(f"{USERS}/{user_id}"), bucket=B_USER
            )
            self.data.add_users([self._user(response.body)])
        except GaveUp as exc:
            self._gave_up = self._gave_up or exc
        except ApiError as exc:
            if exc.status == 404:
                self._forget_user(user_id)
                return
            self.data.problem(
                f"{USERS}/{user_id}",
                f"the user could not be read again: {exc}",
                record=user_id,
                consequence=UNKNOWN_USERS,
            )
        except RecordError as exc:
            self.data.problem(
                f"{USERS}/{user_id}", str(exc), record=user_id, consequence=UNKNOWN_USERS
            )

    async def _changed_groups(
        self, params: dict[str, str | int], changed: list[str], new: set[str]
    ) -> None:
        async for page in self.api.pages(GROUPS, bucket=B_GROUPS, params=params):
            if not isinstance(page, list):
                raise ApiError("a page of groups is not a JSON array")
            for group in parse_items(page, parse_group, self.data, GROUPS):
                if group.id not in self.data.groups:
                    new.add(group.id)
                self.data.groups[group.id] = group
                changed.append(group.id)
                await self._enqueue(B_MEMBERS, group.id, self._members)

    async def _all_apps(self, into: dict[str, Any]) -> None:
        async for page in self.api.pages(APPS, bucket=B_APPS, params={"limit": PAGE}):
            if not isinstance(page, list):
                raise ApiError("a page of apps is not a JSON array")
            for app in parse_items(page, parse_app, self.data, APPS):
                into[app.id] = app

    def _apps_holding(self, user_id: str) -> set[str]:
        groups = {g for g, members in self.data.members.items() if user_id in members}
        return {
            app_id
            for app_id in self.data.apps
            if any(a.user_id == user_id for a in self.data.app_users.get(app_id, ()))
            or groups & set(self.data.app_groups.get(app_id, ()))
        }

    def _forget_user(self, user_id: str) -> None:
        data = self.data
        if data.users.pop(user_id, None) is not None:
            self._count("users deleted")
        data.member_users.pop(user_id, None)
        data.factors.pop(user_id, None)
        data.user_roles.pop(user_id, None)
        for group_id, members in data.members.items():
            if user_id in members:
                data.members[group_id] = [m for m in members if m != user_id]
        for app_id, rows in data.app_users.items():
            data.app_users[app_id] = [r for r in rows if r.user_id != user_id]

    def _forget_group(self, group_id: str) -> None:
        data = self.data
        if data.groups.pop(group_id, None) is not None:
            self._count("groups deleted")
        data.members.pop(group_id, None)
        data.group_roles.pop(group_id, None)
        for app_id, groups in data.app_groups.items():
            data.app_groups[app_id] = [g for g in groups if g != group_id]


def _targets(event: dict[str, Any]) -> dict[str, list[str]]:
    """An event's targets by type (``User``, ``UserGroup``, ``AppInstance``): their ids."""
    found: dict[str, list[str]] = {}
    targets = event.get("target")
    for target in targets if isinstance(targets, list) else ():
        if isinstance(target, dict):
            kind, target_id = target.get("type"), target.get("id")
            if isinstance(kind, str) and isinstance(target_id, str):
                found.setdefault(kind, []).append(target_id)
    return found


def since_of(cursor: dict[str, Any], now: datetime) -> datetime:
    """The cursor's time; ``ChangeFeedLost`` when the System Log no longer reaches it."""
    try:
        since = datetime.fromisoformat(str(cursor["since"]))
    except (KeyError, ValueError):
        raise ChangeFeedLost("the baseline has no cursor to read changes from") from None
    if now - since >= LOG_RETENTION:
        raise ChangeFeedLost(
            f"the last read was {(now - since).days} days ago and the System Log keeps "
            f"{LOG_RETENTION.days} days of events"
        )
    return since


def prune_targets(data: OktaData) -> None:
    """Keep the targets of the role assignments that still exist."""
    held = {r.assignment_id for roles in data.user_roles.values() for r in roles}
    held |= {r.assignment_id for roles in data.group_roles.values() for r in roles}
    data.role_targets = {k: v for k, v in data.role_targets.items() if k in held}


# --- the baseline in the export layout --------------------------------------------------------


def write_baseline(data: OktaData, folder: Path, employee_id_attribute: str) -> None:
    """The records as the Okta API answers them (the fields iam-gov reads), in the export
    layout, with the same writer ``iam-gov export`` uses: ``read_baseline`` reads them back
    into the same records."""
    writer = ExportWriter(folder)

    def put(name: str, items: Iterable[Any]) -> None:
        writer.page(name, list(items))
        writer.done(name)

    try:
        users = sorted(data.users.values(), key=lambda u: u.id)
        put(
            layout.USERS,
            (_user(u, employee_id_attribute) for u in users if u.status != "DEPROVISIONED"),
        )
        put(
            layout.DEPROVISIONED_USERS,
            (_user(u, employee_id_attribute) for u in users if u.status == "DEPROVISIONED"),
        )
        put(
            layout.GROUPS,
            (
                {
                    "id": g.id,
                    "type": g.type,
                    "profile": {"name": g.name, "description": g.description},
                }
                for g in data.groups.values()
            ),
        )
        put(
            layout.APPS,
            (
                {"id": a.id, "label": a.label, "name": a.name, "status": a.status}
                for a in data.apps.values()
            ),
        )
        everyone = {**data.member_users, **data.users}
        for group_id, members in data.members.items():
            put(
                layout.MEMBERS.file(group_id),
                (_user(everyone[m], employee_id_attribute) for m in members if m in everyone),
            )
        for group_id, roles in data.group_roles.items():
            put(layout.GROUP_ROLES.file(group_id), (_role(r) for r in roles))
        for app_id, rows in data.app_users.items():
            put(layout.APP_USERS.file(app_id), (_app_user(r) for r in rows))
        for app_id, group_ids in data.app_groups.items():
            put(layout.APP_GROUPS.file(app_id), ({"id": g} for g in group_ids))
        for user_id, kinds in data.factors.items():
            put(
                layout.FACTORS.file(user_id),
                ({"factorType": k, "status": "ACTIVE"} for k in kinds),
            )
        writer.page(layout.ROLE_ASSIGNEES, {"value": [{"id": u} for u in data.user_roles]})
        writer.done(layout.ROLE_ASSIGNEES)
        for user_id, roles in data.user_roles.items():
            put(layout.ROLES.file(user_id), (_role(r) for r in roles))
        if data.password_policies is not None:
            put(layout.PASSWORD_POLICIES, (_policy(p) for p in data.password_policies))
        targets = {
            k: [[t.kind, t.id, t.name] for t in v] for k, v in sorted(data.role_targets.items())
        }
        (folder / ROLE_TARGETS).write_text(json.dumps(targets), encoding="utf-8")
    finally:
        writer.close()


def read_baseline(folder: Path, employee_id_attribute: str, collect_factors: bool) -> OktaData:
    policies = folder / layout.PASSWORD_POLICIES
    data, _ = read_export(
        folder,
        employee_id_attribute=employee_id_attribute,
        collect_factors=collect_factors,
        password_policies=policies if policies.exists() else None,
    )
    raw = json.loads((folder / ROLE_TARGETS).read_text(encoding="utf-8"))
    data.role_targets = {k: tuple(RoleTarget(*t) for t in v) for k, v in raw.items()}
    # The notes of reading a folder back are not the org's: the live read says its own.
    data.errors = []
    data.complete = True
    return data


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _user(user: OktaUser, employee_id_attribute: str) -> dict[str, Any]:
    profile: dict[str, Any] = {"login": user.login, "email": user.email}
    if user.display_name is not None:
        profile["displayName"] = user.display_name
    if user.employee_id is not None:
        profile[employee_id_attribute] = user.employee_id
    credentials: dict[str, Any] = {
        "provider": {"type": user.provider_type, "name": user.provider_name}
    }
    if user.has_password:
        credentials["password"] = {}
    return {
        "id": user.id,
        "status": user.status,
        "created": _time(user.created),
        "lastLogin": _time(user.last_login),
        "passwordChanged": _time(user.password_changed),
        "profile": profile,
        "credentials": credentials,
    }


def _role(role: OktaRole) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "id": role.assignment_id,
        "type": role.type,
        "label": role.label,
        "assignmentType": role.assignment_type,
        "created": _time(role.created),
    }
    if role.custom_role is not None:
        raw["role"] = role.custom_role
    if role.resource_set is not None:
        raw["resource-set"] = role.resource_set
    return raw


def _app_user(row: AppAssignment) -> dict[str, Any]:
    raw: dict[str, Any] = {"id": row.user_id, "scope": row.scope, "created": _time(row.created)}
    if row.group_id is not None:
        raw["_links"] = {"group": {"href": f"/api/v1/groups/{row.group_id}"}}
    return raw


def _policy(policy: OktaPasswordPolicy) -> dict[str, Any]:
    return {
        "id": policy.id,
        "type": "PASSWORD",
        "name": policy.name,
        "status": policy.status,
        "priority": policy.priority,
        "system": policy.system,
        "conditions": {
            "people": {"groups": {"include": list(policy.group_ids)}},
            "authProvider": {"provider": policy.provider},
        },
        "settings": {
            "password": {
                "complexity": {
                    "minLength": policy.min_length,
                    "minLowerCase": policy.min_lower_case,
                    "minUpperCase": policy.min_upper_case,
                    "minNumber": policy.min_number,
                    "minSymbol": policy.min_symbol,
                },
                "age": {"historyCount": policy.history_count, "maxAgeDays": policy.max_age_days},
                "lockout": {"maxAttempts": policy.max_attempts},
            }
        },
    }
