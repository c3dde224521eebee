"""An Okta export: a folder that keeps Okta's API responses verbatim, read into the same records
as the live API gives (``records``), so that both give the same model.

An export is a folder of files, each holding exactly what an Okta API call returned (every page
of it, one after the other, as a loop of ``curl`` calls appending to one file writes them)::

    users.json                  GET /api/v1/users?limit=200
    users-deprovisioned.json    GET /api/v1/users?filter=status eq "DEPROVISIONED"&limit=200
    groups.json                 GET /api/v1/groups?limit=200
    group-members/<groupId>.json  GET /api/v1/groups/{groupId}/users?limit=200
    group-roles/<groupId>.json    GET /api/v1/groups/{groupId}/roles
    apps.json                   GET /api/v1/apps?limit=200
    app-users/<appId>.json        GET /api/v1/apps/{appId}/users?limit=200
    app-groups/<appId>.json       GET /api/v1/apps/{appId}/groups?limit=200
    factors/<userId>.json         GET /api/v1/users/{userId}/factors   (users that can sign in)
    role-assignees.json         GET /api/v1/iam/assignees/users?limit=200
    roles/<userId>.json           GET /api/v1/users/{userId}/roles     (each user listed there)
    policies-password.json      GET /api/v1/policies?type=PASSWORD   (named by the options)

Users, groups and apps must be there. Without users-deprovisioned.json, deactivated users are
left out (they cannot sign in: the snapshot stays complete, with a note); any other file
missing leaves what it would say unknown, and the snapshot incomplete. Users "that can sign
in" are those whose status is ACTIVE, RECOVERY, PASSWORD_EXPIRED, LOCKED_OUT or PROVISIONED.
The password policies come from the file the ``password_policies`` option names; without it
they are unknown and not judged (the access data stays complete).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from iam_gov.connectors.okta.records import (
    OktaData,
    OktaUser,
    RecordError,
    assignee_ids,
    member_ids,
    parse_app,
    parse_app_group,
    parse_app_user,
    parse_factor_kinds,
    parse_group,
    parse_items,
    parse_member,
    parse_password_policy,
    parse_role,
    parse_user,
)
from iam_gov.connectors.shared.files import BadFile, json_documents, read_source_text
from iam_gov.errors import SourceError

USERS = "users.json"
DEPROVISIONED_USERS = "users-deprovisioned.json"
GROUPS = "groups.json"
APPS = "apps.json"
ROLE_ASSIGNEES = "role-assignees.json"
GROUP_MEMBERS = "group-members"
GROUP_ROLES = "group-roles"
APP_USERS = "app-users"
APP_GROUPS = "app-groups"
FACTORS = "factors"
ROLES = "roles"

T = TypeVar("T")


def read_pages(path: Path) -> list[Any]:
    """The response bodies in a file: one JSON document, or several one after the other.

    A single JSON array whose items are all arrays is taken to be a list of pages too (what
    ``jq -s`` makes of several)."""
    try:
        text = read_source_text(path, "an Okta API response")
    except BadFile:
        if path.exists():
            raise
        raise BadFile(path, "file not found") from None
    pages = json_documents(text, path)
    if not pages:
        raise BadFile(path, "the file is empty")
    single = pages[0] if len(pages) == 1 else None
    if isinstance(single, list) and single and all(isinstance(p, list) for p in single):
        return list(single)
    return pages


def list_items(path: Path) -> list[Any]:
    """The items of a list endpoint's file: every page must be a JSON array."""
    items: list[Any] = []
    for number, page in enumerate(read_pages(path), start=1):
        if not isinstance(page, list):
            raise BadFile(
                path,
                f"page {number} is not a JSON array (is this the output of the call the file "
                "is named after?)",
            )
        items.extend(page)
    return items


def object_file(folder: Path, kind: str, object_id: str) -> Path:
    return folder / kind / f"{object_id}.json"


def read_export(
    folder: Path,
    *,
    employee_id_attribute: str,
    collect_factors: bool,
    password_policies: Path | None = None,
) -> OktaData:
    """Everything in an export folder, and the password policies from their own file.
    ``SourceError`` when users, groups, apps or a file named in the options cannot be read
    at all; a missing or broken file about one object leaves the snapshot incomplete."""
    if not folder.is_dir():
        raise SourceError(
            f"{folder}: not a folder (an Okta export is a folder of API responses: "
            f"{USERS}, {GROUPS}, {APPS} …)"
        )
    reader = _ExportReader(folder, OktaData(), employee_id_attribute)
    reader.users()
    reader.groups()
    reader.apps()
    if collect_factors:
        reader.factors()
    reader.roles()
    reader.password_policies(password_policies)
    return reader.data


_FOLDER_HOLDS = {
    GROUP_MEMBERS: "the members of every group",
    GROUP_ROLES: "the admin roles held through groups",
    APP_USERS: "the users assigned to apps",
    APP_GROUPS: "the groups assigned to apps",
    FACTORS: "the MFA factors of every user",
    ROLES: "the users' own admin roles",
}


@dataclass
class _ExportReader:
    folder: Path
    data: OktaData
    employee_id_attribute: str
    missing_folders: set[str] = field(default_factory=set)

    def _user(self, raw: Any) -> OktaUser:
        return parse_user(raw, self.employee_id_attribute)

    def _member(self, raw: Any) -> OktaUser | str:
        return parse_member(raw, self.data.users, self.employee_id_attribute)

    def _per_object(self, kind: str, object_id: str, what: str) -> list[Any] | None:
        """The items in ``kind/<object_id>.json``; None (and a problem noted) if unreadable.
        ``what``: what the file says, e.g. "the members of group Sales"."""
        path = object_file(self.folder, kind, object_id)
        if not path.parent.is_dir():
            if kind not in self.missing_folders:
                self.missing_folders.add(kind)
                self.data.problem(
                    str(path.parent), f"not in the export: {_FOLDER_HOLDS[kind]} are unknown"
                )
            return None
        try:
            return list_items(path)
        except BadFile as exc:
            if not path.exists():
                self.data.problem(
                    str(path), f"not in the export: {what} are unknown", record=object_id
                )
            else:
                self.data.errors.append(exc.as_problem(object_id))
                self.data.complete = False
            return None

    def _parsed(
        self, kind: str, object_id: str, what: str, parse: Callable[[Any], T]
    ) -> list[T] | None:
        """The records in ``kind/<object_id>.json``, each parsed; None if the file is unreadable."""
        items = self._per_object(kind, object_id, what)
        if items is None:
            return None
        return parse_items(items, parse, self.data, str(object_file(self.folder, kind, object_id)))

    def users(self) -> None:
        data = self.data
        deprovisioned = self.folder / DEPROVISIONED_USERS
        names = [USERS, DEPROVISIONED_USERS] if deprovisioned.exists() else [USERS]
        for name in names:
            items = list_items(self.folder / name)
            users = parse_items(items, self._user, data, str(self.folder / name))
            data.add_users(users)
            data.users_complete = data.users_complete and len(users) == len(items)
        if not deprovisioned.exists():
            # Deactivated users cannot sign in: leaving them out hides no access.
            data.problem(
                str(deprovisioned),
                "not in the export: deactivated users are left out",
                incomplete=False,
            )

    def groups(self) -> None:
        data, source = self.data, str(self.folder / GROUPS)
        for group in parse_items(list_items(self.folder / GROUPS), parse_group, data, source):
            data.groups[group.id] = group
            what = f"group {group.name}"
            members = self._parsed(GROUP_MEMBERS, group.id, f"the members of {what}", self._member)
            if members is not None:
                data.members[group.id] = member_ids(members, data)
            roles = self._parsed(GROUP_ROLES, group.id, f"the admin roles of {what}", parse_role)
            if roles is not None:
                data.group_roles[group.id] = roles

    def apps(self) -> None:
        data, source = self.data, str(self.folder / APPS)
        for app in parse_items(list_items(self.folder / APPS), parse_app, data, source):
            data.apps[app.id] = app
            what = f"app {app.label}"
            users = self._parsed(APP_USERS, app.id, f"the users assigned to {what}", parse_app_user)
            if users is not None:
                data.app_users[app.id] = users
            groups = self._parsed(
                APP_GROUPS, app.id, f"the groups assigned to {what}", parse_app_group
            )
            if groups is not None:
                data.app_groups[app.id] = groups

    def factors(self) -> None:
        for user in sorted(self.data.users.values(), key=lambda u: u.id):
            if not user.can_sign_in:
                continue
            items = self._per_object(FACTORS, user.id, f"the MFA factors of {user.login}")
            if items is None:
                continue
            try:
                self.data.factors[user.id] = parse_factor_kinds(items)
            except RecordError as exc:
                path = object_file(self.folder, FACTORS, user.id)
                self.data.problem(str(path), str(exc), record=user.id)

    def roles(self) -> None:
        data, path = self.data, self.folder / ROLE_ASSIGNEES
        if not path.exists():
            data.problem(str(path), "not in the export: the users' own admin roles are unknown")
            return
        assignees: list[str] = []
        for number, page in enumerate(read_pages(path), start=1):
            try:
                assignees.extend(assignee_ids(page))
            except RecordError as exc:
                data.problem(str(path), f"page {number}: {exc}")
        for user_id in dict.fromkeys(assignees):
            roles = self._parsed(ROLES, user_id, f"the admin roles of user {user_id}", parse_role)
            if roles is not None:
                data.user_roles[user_id] = roles

    def password_policies(self, path: Path | None) -> None:
        """A policy left unknown is not judged; the access data stays complete."""
        data = self.data
        if path is None:
            data.problem(
                "password_policies",
                "no file given: the org's password policies are unknown and not judged",
                incomplete=False,
            )
            return
        data.password_policies = parse_items(
            list_items(path), parse_password_policy, data, str(path), incomplete=False
        )
