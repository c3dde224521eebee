"""An Okta export: a folder that keeps Okta's API responses verbatim, read into the same records
as the live API gives (``records``), so that both give the same model.

An export is a folder of files, each holding exactly what an Okta API call returned (every page
of it, one after the other, as a loop of ``curl`` calls appending to one file writes them).
``iam-gov export`` writes this layout (``okta.layout``)::

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

Scripts name files their own way, so only the exact names above are taken by name; every other
JSON file under the folder is found by what it holds and by the id in its path
(``okta.export_index``): ``groups/<id>/members.json``, ``group_<id>_users.json``,
``apps/<id>/users.json``, ``users/<id>/factors.json``, ``roles-<id>.json``,
``okta_users.json``, ``users_page1.json`` and ``users_page2.json`` … Two files that say
different things about the same object leave it unknown, naming both; a JSON file that is not
recognised is listed in a note.

Users, groups and apps must be there. Without deactivated users they are left out (they cannot
sign in: the snapshot stays complete, with a note); any other file missing leaves what it would
say unknown, and the snapshot incomplete, each problem saying what is then not concluded. An
app's group assignments can also be told by its users' rows, each naming its group: without
app-groups those suffice. Users "that can sign in" are those whose status is ACTIVE, RECOVERY,
PASSWORD_EXPIRED, LOCKED_OUT or PROVISIONED. The password policies come from the file the
``password_policies`` option names; without it they are unknown and not judged (the access
data stays complete).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import iam_gov.connectors.okta.export_index as ix
from iam_gov.connectors.okta.export_index import IndexedFile, list_items, read_pages
from iam_gov.connectors.okta.layout import (
    APP_GROUPS,
    APP_USERS,
    APPS,
    DEPROVISIONED_USERS,
    FACTORS,
    GROUP_ROLES,
    GROUPS,
    MEMBERS,
    ROLE_ASSIGNEES,
    ROLES,
    USERS,
    PerObject,
)
from iam_gov.connectors.okta.records import (
    UNKNOWN_APPS,
    UNKNOWN_GROUPS,
    UNKNOWN_ROLES,
    UNKNOWN_USERS,
    ItemProblem,
    OktaData,
    OktaUser,
    RecordError,
    assignee_ids,
    member_ids,
    note_problems,
    parse_app,
    parse_app_group,
    parse_app_user,
    parse_each,
    parse_factor_kinds,
    parse_group,
    parse_items,
    parse_member,
    parse_password_policy,
    parse_role,
    parse_user,
)
from iam_gov.connectors.shared.files import BadFile
from iam_gov.errors import SourceError
from iam_gov.gcpause import collector_paused
from iam_gov.model import SnapshotError

__all__ = ["USERS", "list_items", "read_export", "read_pages"]

T = TypeVar("T")

# Files taken by their exact name, whatever they hold: the layout iam-gov writes.
_NAMED = {USERS: "users", DEPROVISIONED_USERS: "users", GROUPS: "groups", APPS: "apps"}
# Content kinds that are one object's part, and the kind each gives for each owner.
_PART = {
    (ix.USER_BODIES, "group"): MEMBERS,
    (ix.ROLE_BODIES, "group"): GROUP_ROLES,
    (ix.ROLE_BODIES, "user"): ROLES,
    (ix.APP_USER_ROWS, "app"): APP_USERS,
    (ix.APP_GROUP_ROWS, "app"): APP_GROUPS,
    (ix.FACTOR_BODIES, "user"): FACTORS,
}
# A file whose content says nothing (an empty list, or unreadable): the words in its path.
_WORDS = {
    "group": {"role": GROUP_ROLES, "member": MEMBERS, "user": MEMBERS},
    "app": {"group": APP_GROUPS, "user": APP_USERS, "member": APP_USERS},
    "user": {"factor": FACTORS, "role": ROLES},
}
# Not read by the index: what they hold does not decide what they are taken for.
_BY_NAME = frozenset({*_NAMED, ROLE_ASSIGNEES})
_LIST_WORDS = {"user": "users", "deprovisioned": "users", "group": "groups", "app": "apps"}
_DEPROVISIONED_WORDS = frozenset({"deprovisioned", "deactivated"})


def read_export(
    folder: Path,
    *,
    employee_id_attribute: str,
    collect_factors: bool,
    password_policies: Path | None = None,
) -> tuple[OktaData, list[Path]]:
    """Everything in an export folder, and the password policies from their own file; and
    the files of the user list (when the export was taken, when not given). ``SourceError``
    when users, groups, apps or a file named in the options cannot be read at all; a missing
    or broken file about one object leaves the snapshot incomplete."""
    if not folder.is_dir():
        raise SourceError(
            f"{folder}: not a folder (an Okta export is a folder of API responses: "
            f"{USERS}, {GROUPS}, {APPS} …)"
        )
    skip = frozenset({password_policies}) if password_policies is not None else frozenset()
    with collector_paused():
        files = ix.index_folder(folder, skip, by_name=_BY_NAME)
        reader = _ExportReader(folder, OktaData(), employee_id_attribute, files)
        reader.sort()
        user_files = reader.users()
        reader.groups()
        reader.apps()
        if collect_factors:
            reader.factors()
        reader.roles()
        reader.password_policies(password_policies)
        reader.leftovers()
    return reader.data, user_files


@dataclass
class _ExportReader:
    folder: Path
    data: OktaData
    employee_id_attribute: str
    files: list[IndexedFile]
    lists: dict[str, list[IndexedFile]] = field(default_factory=dict)
    """users, groups, apps, assignees: the files of each top-level list."""
    parts: dict[tuple[str, str], list[IndexedFile]] = field(default_factory=dict)
    """(kind, object id) -> the files that claim to hold it."""
    kinds_seen: set[str] = field(default_factory=set)
    missing_kinds: set[str] = field(default_factory=set)
    pending: list[IndexedFile] = field(default_factory=list)
    """Files left to tie to an object once the lists are read."""
    used: set[Path] = field(default_factory=set)

    def _user(self, raw: Any) -> OktaUser:
        return parse_user(raw, self.employee_id_attribute)

    def _member(self, raw: Any) -> OktaUser | str:
        return parse_member(raw, self.data.users, self.employee_id_attribute)

    # --- the index ------------------------------------------------------------------------

    def sort(self) -> None:
        """Top-level lists now (by exact name, else by content and a path without ids);
        the rest once the lists say which ids are users, groups and apps."""
        for file in self.files:
            named = _NAMED.get(file.relative)
            if file.relative == ROLE_ASSIGNEES:
                self.lists.setdefault("assignees", []).append(file)
            elif named is not None:
                self.lists.setdefault(named, []).append(file)
            elif file.ids:
                self.pending.append(file)
            elif file.kind in (ix.USER_BODIES, ix.GROUP_BODIES, ix.APP_BODIES, ix.ASSIGNEE_PAGES):
                self.lists.setdefault(file.kind, []).append(file)
            elif (file.kind == ix.EMPTY or file.error) and self._list_named(file) is not None:
                if file.error is not None:
                    raise file.error  # a top-level list that cannot be read: nothing to go on
                self.lists.setdefault(self._list_named(file) or "", []).append(file)
            else:
                self.pending.append(file)

    @staticmethod
    def _list_named(file: IndexedFile) -> str | None:
        """The top-level list a file's own name says it is (``okta_users.json``)."""
        name = file.relative.rsplit("/", 1)[-1]
        words = ix.path_tokens(name)[1]
        if "assignee" in words:
            return "assignees"
        return next((_LIST_WORDS[w] for w in words if w in _LIST_WORDS), None)

    def tie(self) -> None:
        """Each pending file to the object whose id its path holds, as the part its content
        (or, when that says nothing, its path) shows."""
        known = {"user": self.data.users, "group": self.data.groups, "app": self.data.apps}
        for file in self.pending:
            kind = self._tie(file, known)
            if kind is None:
                continue
            self.kinds_seen.add(kind[0].kind)
            self.parts.setdefault((kind[0].kind, kind[1]), []).append(file)

    def _tie(self, file: IndexedFile, known: dict[str, Any]) -> tuple[PerObject, str] | None:
        for owner in ("group", "app", "user"):
            ids = [i for i in file.ids_of(owner) if i in known[owner]]
            if not ids:
                continue
            part = _PART.get((file.kind or "", owner))
            if part is None and file.kind in (ix.EMPTY, None):
                words = _WORDS[owner]
                part = next((words[w] for w in file.words if w in words), None)
            if part is not None:
                return part, ids[-1]
        return None

    def _resolve(self, part: PerObject, object_id: str) -> IndexedFile | list[IndexedFile] | None:
        """The file holding one object's part, the pages of one in several files, or None
        (and the problem said) when none does or two disagree."""
        claims = self.parts.get((part.kind, object_id), [])
        self.used.update(f.path for f in claims)
        if len(claims) <= 1 or len({c.digest() for c in claims}) == 1:
            return claims[0] if claims else None
        numbered = [c.page_number() for c in claims]
        if all(numbered) and len({n[0] for n in numbered if n}) == 1:
            return [c for _, c in sorted(zip((n[1] for n in numbered if n), claims, strict=True))]
        paths = " and ".join(str(c.path) for c in claims)
        self.data.problem(
            str(claims[0].path),
            f"{paths} both hold {part.holds} {part.owner} {object_id}, and differ: neither is "
            "taken",
            record=object_id,
            consequence=part.consequence,
        )
        return None

    # --- one object's part ----------------------------------------------------------------

    def _per_object(self, part: PerObject, object_id: str, what: str) -> list[Any] | None:
        """The items of one object's part; None (and a problem noted) if it is not there or
        cannot be read. ``what``: the object, e.g. "group Sales"."""
        data = self.data
        found = self._resolve(part, object_id)
        if found is None:
            if (part.kind, object_id) in self.parts:
                return None  # two files disagree: said
            if part.kind not in self.kinds_seen:
                if part.kind not in self.missing_kinds:
                    self.missing_kinds.add(part.kind)
                    data.problem(
                        str(self.folder / part.folder),
                        f"not in the export: {part.every} are unknown",
                        consequence=part.consequence,
                    )
                return None
            data.problem(
                str(self.folder / part.file(object_id)),
                f"not in the export: {part.holds} {what} are unknown",
                record=object_id,
                consequence=part.consequence,
            )
            return None
        files = found if isinstance(found, list) else [found]
        items: list[Any] = []
        for file in files:
            try:
                items.extend(file.items())
            except BadFile as exc:
                problem = exc.as_problem(object_id)
                data.errors.append(problem.model_copy(update={"consequence": part.consequence}))
                data.complete = False
                return None
        return items

    def _parsed(
        self, part: PerObject, object_id: str, what: str, parse: Callable[[Any], T]
    ) -> list[T] | None:
        """The records of one object's part, each parsed; None if it cannot be read."""
        parsed: list[T | ItemProblem] | None = self._preread(part, object_id, parse)
        if parsed is None:
            items = self._per_object(part, object_id, what)
            if items is None:
                return None
            parsed = parse_each(items, parse)
        source = self._source(part, object_id)
        return note_problems(parsed, self.data, source, consequence=part.consequence)

    def _preread(self, part: PerObject, object_id: str, parse: object) -> Any:
        """What the index made of the one file holding an object's part, when it parsed it
        with ``parse`` (``ix.Preread``); else None, and the part is read as the files say."""
        claims = self.parts.get((part.kind, object_id), ())
        if len(claims) != 1 or claims[0].pre is None or claims[0].pre.parse is not parse:
            return None
        self.used.add(claims[0].path)
        return claims[0].pre.items

    def _members(self, group_id: str, what: str) -> list[str] | None:
        """A group's members: their ids as the index read them, when every one is a listed
        user's (the common case); else each member read from its record."""
        ids = self._preread(MEMBERS, group_id, ix.MEMBER_IDS)
        users = self.data.users
        if ids is not None and all(isinstance(i, str) and i in users for i in ids):
            return list(ids)
        members = self._parsed(MEMBERS, group_id, what, self._member)
        return None if members is None else member_ids(members, self.data)

    def _source(self, part: PerObject, object_id: str) -> str:
        claims = self.parts.get((part.kind, object_id))
        return str(claims[0].path) if claims else str(self.folder / part.file(object_id))

    # --- the lists ------------------------------------------------------------------------

    def _list(self, name: str) -> Iterable[tuple[IndexedFile, list[Any]]]:
        for file in self.lists.get(name, ()):
            self.used.add(file.path)
            yield file, file.items()

    def users(self) -> list[Path]:
        data = self.data
        if all(_DEPROVISIONED_WORDS & set(f.words) for f in self.lists.get("users", ())):
            # Found by no name of its own either: said as the layout's file.
            raise BadFile(self.folder / USERS, "file not found")
        deprovisioned = False
        time_files: list[Path] = []
        read_from: dict[str, str] = {}
        for file, items in self._list("users"):
            users = parse_items(items, self._user, data, str(file.path), consequence=UNKNOWN_USERS)
            data.users_complete = data.users_complete and len(users) == len(items)
            named_deprovisioned = bool(_DEPROVISIONED_WORDS & set(file.words))
            deprovisioned = deprovisioned or named_deprovisioned
            if not named_deprovisioned:
                time_files.append(file.path)
            for user in users:
                deprovisioned = deprovisioned or user.status == "DEPROVISIONED"
                earlier = data.users.get(user.id)
                if earlier is not None and earlier != user:
                    data.problem(
                        str(file.path),
                        f"user {user.login} is also in {read_from[user.id]}, and differs: "
                        "the later file is taken",
                        record=user.id,
                        consequence="this user's attributes may be out of date",
                    )
                read_from[user.id] = str(file.path)
                data.users[user.id] = user
        if not deprovisioned:
            # Deactivated users cannot sign in: leaving them out hides no access.
            data.problem(
                str(self.folder / DEPROVISIONED_USERS),
                "not in the export: deactivated users are left out",
                incomplete=False,
            )
        return time_files or [f.path for f in self.lists["users"]]

    def groups(self) -> None:
        data = self.data
        if not self.lists.get("groups"):
            raise BadFile(self.folder / GROUPS, "file not found")
        for file, items in self._list("groups"):
            for group in parse_items(
                items, parse_group, data, str(file.path), consequence=UNKNOWN_GROUPS
            ):
                data.groups[group.id] = group

    def apps(self) -> None:
        data = self.data
        if not self.lists.get("apps"):
            raise BadFile(self.folder / APPS, "file not found")
        for file, items in self._list("apps"):
            for app in parse_items(
                items, parse_app, data, str(file.path), consequence=UNKNOWN_APPS
            ):
                data.apps[app.id] = app
        self.tie()
        for group in data.groups.values():
            what = f"group {group.name}"
            members = self._members(group.id, what)
            if members is not None:
                data.members[group.id] = members
            roles = self._parsed(GROUP_ROLES, group.id, what, parse_role)
            if roles is not None:
                data.group_roles[group.id] = roles
        for app in data.apps.values():
            what = f"app {app.label}"
            users = self._parsed(APP_USERS, app.id, what, parse_app_user)
            if users is not None:
                data.app_users[app.id] = users
            self._app_groups(app.id, what)

    def _app_groups(self, app_id: str, what: str) -> None:
        """Missing group assignments are decided on later: the app users may tell them."""
        before = len(self.data.errors), self.data.complete
        groups = self._parsed(APP_GROUPS, app_id, what, parse_app_group)
        if groups is not None:
            self.data.app_groups[app_id] = groups
            return
        new = self.data.errors[before[0] :]
        if len(new) == 1 and new[0].message.startswith("not in the export"):
            del self.data.errors[before[0] :]
            self.data.complete = before[1]
            record = None if new[0].record is None else app_id
            self.data.app_groups_unread.append((record, new[0]))

    def factors(self) -> None:
        for user in sorted(self.data.users.values(), key=lambda u: u.id):
            if not user.can_sign_in:
                continue
            kinds = self._preread(FACTORS, user.id, parse_factor_kinds)
            if kinds is None:
                items = self._per_object(FACTORS, user.id, user.login)
                if items is None:
                    continue
                try:
                    kinds = parse_factor_kinds(items)
                except RecordError as exc:
                    kinds = exc
            if isinstance(kinds, RecordError):
                self.data.problem(
                    self._source(FACTORS, user.id),
                    str(kinds),
                    record=user.id,
                    consequence=FACTORS.consequence,
                )
            else:
                self.data.factors[user.id] = kinds

    def roles(self) -> None:
        """The roles of every user the assignee list names; and of any other user whose
        roles file is there (without the list, who else is an administrator is unknown)."""
        data = self.data
        assignees: list[str] = []
        if not self.lists.get("assignees"):
            data.problem(
                str(self.folder / ROLE_ASSIGNEES),
                "not in the export: the users' own admin roles are unknown",
                consequence=UNKNOWN_ROLES,
            )
        for file in self.lists.get("assignees", ()):
            self.used.add(file.path)
            if file.error is not None:
                raise file.error
            for number, page in enumerate(read_pages(file.path), start=1):
                try:
                    assignees.extend(assignee_ids(page))
                except RecordError as exc:
                    data.problem(str(file.path), f"page {number}: {exc}", consequence=UNKNOWN_ROLES)
        assignees.extend(sorted(i for kind, i in self.parts if kind == ROLES.kind))
        for user_id in dict.fromkeys(assignees):
            roles = self._parsed(ROLES, user_id, f"user {user_id}", parse_role)
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

    def leftovers(self) -> None:
        """Every JSON file not recognised, said: the user sees what was ignored, and why. A
        file recognised as an object's part that is not needed (the factors of a user who
        cannot sign in) is no news."""
        tied = {f.path for files in self.parts.values() for f in files}
        for file in self.files:
            # Password policies not named in the options: the note that they are not judged
            # says so already.
            if file.path in self.used or file.path in tied or file.kind == ix.POLICY_BODIES:
                continue
            self.data.errors.append(
                SnapshotError(source=str(file.path), message=f"not read: {self._why(file)}")
            )

    def _why(self, file: IndexedFile) -> str:
        if file.error is not None:
            return f"{file.error.message}, and the path names no object iam-gov reads"
        known = {**self.data.users, **self.data.groups, **self.data.apps}
        unknown = [i for i in file.ids if i not in known]
        if file.ids and unknown:
            return (
                f"it names {unknown[-1]}, which is not in the user, group or app lists "
                "(deleted since?)"
            )
        if file.kind is None:
            return "not recognised as what an Okta API call iam-gov reads returns"
        if file.kind == ix.EMPTY:
            return "an empty list, and its path names no user, group or app it would be about"
        return f"holds {file.kind}, which iam-gov does not read from a file named so"
