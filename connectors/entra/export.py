"""An Entra export: a folder of the Graph JSON that `az rest`, Graph Explorer or a script
save (every page, any of the usual file names, ``$expand``ed relations), read into the same
``TenantData`` as the live API gives, so that both give the same model."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from iam_gov.connectors.entra.dump import (
    APP_ROLE_ASSIGNMENTS,
    DIRECTORY_ROLES,
    DOMAINS,
    GROUP_ELIGIBILITIES,
    GROUPS,
    MEMBERS,
    ORGANIZATION,
    REGISTRATIONS,
    ROLE_ASSIGNMENTS,
    ROLE_DEFINITIONS,
    ROLE_ELIGIBILITIES,
    SERVICE_PRINCIPALS,
    USERS,
    GraphList,
    Kind,
    NotAList,
    SavedFile,
    classify,
    gather,
    name_kind,
    read_pages,
)
from iam_gov.connectors.entra.records import (
    PIM_OFF,
    AppRoleAssignment,
    DirectoryObject,
    DirectoryRole,
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
from iam_gov.connectors.shared.files import BadFile
from iam_gov.errors import SourceError
from iam_gov.gcpause import collector_paused

# The names ``iam-gov export`` writes, and missing files are reported under; any of the usual
# names of such dumps is read too (``dump.py``).
USERS_FILE = "users.json"
GROUPS_FILE = "groups.json"
GROUP_MEMBERS = "group-members"
ROLE_DEFINITIONS_FILE = "role-definitions.json"
ROLE_ASSIGNMENTS_FILE = "role-assignments.json"
DIRECTORY_ROLES_FILE = "directory-roles.json"
DIRECTORY_ROLE_MEMBERS = "directory-role-members"
SERVICE_PRINCIPALS_FILE = "service-principals.json"
APP_ROLE_ASSIGNMENTS_FOLDER = "app-role-assignments"
REGISTRATION_DETAILS = "user-registration-details.json"
DOMAINS_FILE = "domains.json"
ROLE_ELIGIBILITIES_FILE = "role-eligibilities.json"
GROUP_ELIGIBILITIES_FOLDER = "group-eligibilities"
APP_ROLE_FOLDERS = frozenset({"approleassignments", "approleassignedto"})
_SEPARATORS = re.compile(r"[-_. ]+")


EXPANDED_LIMIT = 20
"""Graph gives at most this many objects of a relation expanded with ``$expand``."""


def expanded(record: Mapping[str, Any], relation: str) -> tuple[list[dict[str, Any]] | None, bool]:
    """The objects of ``relation`` saved inside ``record`` with ``$expand`` (None when it was
    not expanded), and whether the list may be cut short: Graph stops at 20, and says so only
    sometimes (``members@odata.nextLink``)."""
    value = record.get(relation)
    if not isinstance(value, list):
        return None, False
    objects = [item for item in value if isinstance(item, dict)]
    capped = len(objects) >= EXPANDED_LIMIT or bool(record.get(f"{relation}@odata.nextLink"))
    return objects, capped


@dataclass
class _Reader:
    folder: Path
    data: TenantData = field(default_factory=TenantData)
    files: list[Path] = field(default_factory=list)
    lists: dict[tuple[str, str | None], GraphList] = field(default_factory=dict)
    unrecognised: list[SavedFile] = field(default_factory=list)
    used: set[tuple[str, str | None]] = field(default_factory=set)

    # the folder's files

    def inventory(self) -> None:
        """Every JSON file read and told apart; one that cannot be read is a problem (the
        users' file: an error, since nothing can be said without it)."""
        classified: list[SavedFile] = []
        for path in sorted(p for p in self.folder.rglob("*") if p.suffix.lower() == ".json"):
            if not path.is_file():
                continue
            relative = path.relative_to(self.folder).as_posix()
            try:
                pages = read_pages(path)
            except BadFile as exc:
                kind = name_kind(relative)[0]
                if kind is USERS:
                    raise
                if kind is None and isinstance(exc, NotAList):
                    # Valid JSON of no known name that is no Graph list: a script's own notes.
                    self.data.note(str(path), f"{exc.message}: not read")
                    continue
                self.data.problem(
                    str(path),
                    exc.message,
                    line=exc.line,
                    consequence=(
                        f"the {kind.what} are unknown: {kind.consequence}"
                        if kind is not None
                        else "what it holds is unknown: access it lists is not in the snapshot"
                    ),
                )
                continue
            self.files.append(path)
            saved = SavedFile(path, relative, pages)
            classify(saved)
            if saved.kind is None or (saved.kind.keyed and saved.key is None):
                self.unrecognised.append(saved)
            else:
                classified.append(saved)
        self.lists = {(listed.kind.name, listed.key): listed for listed in gather(classified)}

    def take(self, kind: Kind, key: str | None = None) -> GraphList | None:
        """The saved list, its problems reported once."""
        listed = self.lists.get((kind.name, key))
        if listed is None or (kind.name, key) in self.used:
            return listed
        self.used.add((kind.name, key))
        for source, message, consequence in listed.problems:
            self.data.problem(source, message, consequence=consequence)
        for source, message in listed.notes:
            self.data.note(source, message)
        return listed

    def take_all(self, kind: Kind) -> list[GraphList]:
        keys = sorted((k for n, k in self.lists if n == kind.name), key=lambda k: k or "")
        return [listed for key in keys if (listed := self.take(kind, key)) is not None]

    def parsed(self, kind: Kind, model: type[M], key: str | None = None) -> list[M] | None:
        listed = self.take(kind, key)
        if listed is None:
            return None
        return parse_records(listed.records, model, listed.source, self.data)

    def missing(self, relative: str, what: str, consequence: str) -> None:
        self.data.problem(
            str(self.folder / relative), f"no such file: {what} unknown", consequence=consequence
        )

    def members(
        self, listed_in: str, kind: str, object_id: str, what: str
    ) -> list[DirectoryObject] | None:
        """The members of the group or role ``object_id`` that ``listed_in`` lists, saved in a
        file of their own; None (and a problem noted) when they cannot be known."""
        if not is_object_id(object_id):
            self.data.problem(str(self.folder / listed_in), "not a directory object id", object_id)
            return None
        members = self.parsed(MEMBERS, DirectoryObject, object_id)
        if members is None:
            self.missing(
                f"{kind}/{object_id}.json",
                f"the members of {what} are",
                f"access held through {what} is not concluded",
            )
        return members

    def note_unused(self) -> None:
        for saved in self.unrecognised:
            if saved.kind is None:
                self.data.note(
                    str(saved.path),
                    "not a Graph list the Entra export reads (no known @odata.context, file "
                    "name or records): not read",
                )
            else:
                self.data.note(
                    str(saved.path),
                    f"a list of {saved.kind.what}, but neither its name nor its content says "
                    "of which object: not read",
                )
        for (_, key), listed in sorted(self.lists.items(), key=lambda item: item[1].source):
            if (listed.kind.name, key) not in self.used:
                self.data.note(
                    listed.source,
                    f"{listed.kind.what}{f' of {key}' if key else ''}: no group, role or "
                    "application read from this export has it: not read",
                )


def read_export(folder: Path, *, pim: bool = True) -> tuple[TenantData, list[Path]]:
    """The export folder's records, and the files read. Only the users are required; a
    missing list that holds access makes the data incomplete, one that only describes
    accounts (sign-in activity, MFA registration, domains) is noted."""
    if not folder.is_dir():
        raise SourceError(f"{folder}: no such folder (the Entra export folder)")
    with collector_paused():
        return _read(folder, pim)


def _read(folder: Path, pim: bool) -> tuple[TenantData, list[Path]]:
    reader = _Reader(folder)
    reader.inventory()
    data = reader.data
    users = reader.take(USERS)
    if users is None:
        raise SourceError(
            f"{folder / USERS_FILE}: no such file; the export needs at least the users "
            "(GET /users with the $select in the README)"
        )
    raw_users = users.records
    data.users = parse_records(raw_users, GraphUser, users.source, data)
    data.sign_in_activity = any("signInActivity" in user for user in raw_users)
    _read_groups(reader, users)
    _read_roles(reader)
    if pim:
        _read_eligibilities(reader)
    else:
        data.note("pim", PIM_OFF)
    _read_apps(reader)
    registrations = reader.parsed(REGISTRATIONS, RegistrationDetails)
    if registrations is not None:
        data.registrations = {r.id: r for r in registrations}
    _read_domains(reader)
    reader.note_unused()
    _note_what_is_unknown(data, folder)
    return data, reader.files


def _read_groups(reader: _Reader, users: GraphList) -> None:
    data = reader.data
    listed = reader.take(GROUPS)
    if listed is None:
        reader.missing(GROUPS_FILE, "groups and group memberships are", GROUPS.consequence)
        return
    raw = {r["id"]: r for r in listed.records if isinstance(r.get("id"), str)}
    data.groups = parse_records(listed.records, GraphGroup, listed.source, data)
    member_of = _member_of(reader, users, listed)
    for group in data.groups:
        what = f"group {group.display_name or group.id}"
        if not is_object_id(group.id):
            data.problem(listed.source, "not a directory object id", group.id)
            continue
        inside, capped = expanded(raw.get(group.id, {}), "members")
        if (key := (MEMBERS.name, group.id)) in reader.lists or (inside is None or capped):
            if inside is not None and capped and key not in reader.lists:
                data.problem(
                    listed.source,
                    f"the members of {what} were saved with $expand=members, which gives at "
                    "most 20, and no file holds its member list",
                    group.id,
                    consequence=f"members of {what} beyond the first 20 unknown: access held "
                    f"through {what} is not concluded",
                )
                continue
            if key not in reader.lists and member_of is not None:
                data.members[group.id] = member_of.get(group.id, [])
                continue
            members = reader.members(GROUPS_FILE, GROUP_MEMBERS, group.id, what)
        else:
            members = parse_records(inside, DirectoryObject, listed.source, data)
        if members is not None:
            data.members[group.id] = members


def _member_of(
    reader: _Reader, users: GraphList, groups: GraphList
) -> dict[str, list[DirectoryObject]] | None:
    """Group id -> members, from ``/users?$expand=memberOf`` (and ``/groups?$expand=memberOf``
    for groups in groups); None when the users were saved without it."""
    data = reader.data
    if not any("memberOf" in user for user in users.records):
        return None
    found: dict[str, list[DirectoryObject]] = {}
    for kind, listed in (("user", users), ("group", groups)):
        for record in listed.records:
            object_id = record.get("id")
            if not isinstance(object_id, str):
                continue
            parents, capped = expanded(record, "memberOf")
            if parents is None:
                if kind == "user":
                    data.problem(
                        listed.source,
                        "saved without memberOf while other users have it",
                        object_id,
                        consequence="the groups of this user are unknown: access held through "
                        "them is not concluded",
                    )
                continue
            if capped:
                data.problem(
                    listed.source,
                    "memberOf was saved with $expand, which gives at most 20",
                    object_id,
                    consequence=f"the groups of this {kind} beyond the first 20 are unknown: "
                    "access held through them is not concluded",
                )
            for parent in parents:
                parent_id = parent.get("id")
                if isinstance(parent_id, str):
                    found.setdefault(parent_id, []).append(
                        DirectoryObject(id=object_id, odata_type=f"#microsoft.graph.{kind}")
                    )
    if not any("memberOf" in group for group in groups.records):
        data.problem(
            groups.source,
            "group members are known only from the users' memberOf, and the groups were saved "
            "without $expand=memberOf: groups that are members of other groups are unknown",
            consequence="access held through nested groups is not concluded",
        )
    return found


def _read_eligibilities(reader: _Reader) -> None:
    """PIM's eligible role assignments and group memberships. An export without them (saved
    before they were read, or by a script that does not save them) leaves eligible
    administrators unknown: said, never taken as none."""
    data = reader.data
    roles = reader.parsed(ROLE_ELIGIBILITIES, RoleEligibility)
    if roles is None:
        reader.missing(
            ROLE_ELIGIBILITIES_FILE,
            "eligible role assignments (PIM, GET /roleManagement/directory/"
            "roleEligibilityScheduleInstances) are",
            f"eligible role assignments unknown: {ROLE_ELIGIBILITIES.consequence}",
        )
    else:
        data.role_eligibilities = roles
        for eligibility in roles:
            if eligibility.role_definition is not None:
                data.role_definitions.setdefault(
                    eligibility.role_definition_id, eligibility.role_definition
                )
    capable = [g for g in data.groups if is_object_id(g.id) and pim_capable(g)]
    if not capable:
        return
    if not any(name == GROUP_ELIGIBILITIES.name for name, _ in reader.lists):
        reader.missing(
            f"{GROUP_ELIGIBILITIES_FOLDER}/",
            "eligible group memberships (PIM for Groups, GET /identityGovernance/"
            "privilegedAccess/group/eligibilityScheduleInstances?$filter=groupId eq '{id}', "
            "one file per group) are",
            "eligible group memberships unknown: access that eligible members of any group "
            "can activate is not concluded",
        )
        return
    for group in capable:
        found = reader.parsed(GROUP_ELIGIBILITIES, GroupEligibility, group.id)
        if found is None:
            what = f"group {group.display_name or group.id}"
            reader.missing(
                f"{GROUP_ELIGIBILITIES_FOLDER}/{group.id}.json",
                f"the eligible members of {what} are",
                f"eligible members of {what} unknown: {GROUP_ELIGIBILITIES.consequence}",
            )
            continue
        data.group_eligibilities[group.id] = found


def _read_roles(reader: _Reader) -> None:
    data = reader.data
    listed = reader.take(ROLE_ASSIGNMENTS)
    if listed is not None:
        data.role_assignments = parse_records(listed.records, RoleAssignment, listed.source, data)
        _role_names(reader, listed)
        return
    roles = reader.parsed(DIRECTORY_ROLES, DirectoryRole)
    if roles is None:
        reader.missing(
            ROLE_ASSIGNMENTS_FILE,
            f"directory role holders are (nor is there {DIRECTORY_ROLES_FILE})",
            ROLE_ASSIGNMENTS.consequence,
        )
        return
    # The older API: one list per activated role. Its roles are named by template id, which
    # is the role definition id the newer API uses for built-in roles.
    for role in roles:
        what = f"directory role {role.display_name}"
        members = reader.members(DIRECTORY_ROLES_FILE, DIRECTORY_ROLE_MEMBERS, role.id, what)
        if members is None:
            continue
        data.role_definitions[role.role_template_id] = _template(role)
        data.role_assignments.extend(
            RoleAssignment(
                id=f"{role.id}/{member.id}",
                principal_id=member.id,
                role_definition_id=role.role_template_id,
                directory_scope_id="/",
            )
            for member in members
        )


def _template(role: DirectoryRole) -> RoleDefinition:
    return RoleDefinition(
        id=role.role_template_id,
        display_name=role.display_name,
        description=role.description,
        is_built_in=True,
        template_id=role.role_template_id,
    )


def _role_names(reader: _Reader, assignments: GraphList) -> None:
    """Role names from ``$expand=roleDefinition``, the role definitions, else the activated
    directory roles (built-in roles only); a role held by an account without a name is a
    problem, since a policy names roles."""
    data = reader.data
    definitions = reader.parsed(ROLE_DEFINITIONS, RoleDefinition)
    for definition in definitions or []:
        data.role_definitions[definition.id] = definition
    for record in assignments.records:
        inside = record.get("roleDefinition")
        if isinstance(inside, dict) and inside.get("id") not in data.role_definitions:
            named = parse_records([inside], RoleDefinition, assignments.source, data)
            data.role_definitions.update((d.id, d) for d in named)
    roles = reader.parsed(DIRECTORY_ROLES, DirectoryRole)
    for role in roles or []:
        data.role_definitions.setdefault(role.role_template_id, _template(role))
    accounts = {u.id for u in data.users} | {g.id for g in data.groups}
    unnamed = sorted(
        {
            a.role_definition_id
            for a in data.role_assignments
            if a.principal_id in accounts and a.role_definition_id not in data.role_definitions
        }
    )
    if not unnamed:
        return
    where = (
        reader.lists[(ROLE_DEFINITIONS.name, None)].source
        if definitions is not None
        else str(reader.folder / ROLE_DEFINITIONS_FILE)
    )
    why = (
        "it does not hold them"
        if definitions is not None
        else "no such file, and the role assignments were saved without $expand=roleDefinition"
    )
    data.problem(
        where,
        f"{why}: {len(unnamed)} directory roles held by users or groups are named by their "
        f"ids ({', '.join(unnamed[:3])}{' …' if len(unnamed) > 3 else ''})",
        consequence=f"directory role names unknown: {ROLE_DEFINITIONS.consequence}",
    )


def _read_apps(reader: _Reader) -> None:
    data = reader.data
    listed = reader.take(SERVICE_PRINCIPALS)
    if listed is None:
        data.note(
            str(reader.folder / SERVICE_PRINCIPALS_FILE),
            "no such file: applications and app roles are named by their ids",
        )
        raw: list[dict[str, Any]] = []
    else:
        raw = listed.records
        principals = parse_records(raw, ServicePrincipal, listed.source, data)
        data.service_principals = {sp.id: sp for sp in principals}
    seen: set[str] = set()

    def add(records: list[dict[str, Any]], source: str) -> None:
        for assignment in parse_records(records, AppRoleAssignment, source, data):
            if assignment.id not in seen:
                seen.add(assignment.id)
                data.app_role_assignments.append(assignment)

    saved = reader.take_all(APP_ROLE_ASSIGNMENTS)
    keys = {s.key for s in saved}
    any_expanded = False
    for record in raw:
        inside, capped = expanded(record, "appRoleAssignedTo")
        if inside is None:
            continue
        any_expanded = True
        sp_id = record.get("id")
        if not capped:
            add(inside, listed.source if listed else "")
        elif sp_id not in keys:
            data.problem(
                listed.source if listed else "",
                "appRoleAssignedTo was saved with $expand, which gives at most 20, and no "
                "file holds its assignments",
                str(sp_id),
                consequence="holders of this application's roles beyond the first 20 are "
                "unknown: excess and leaver findings for its app roles are not concluded",
            )
    # Files per service principal (appRoleAssignedTo) or per user and group
    # (appRoleAssignments) hold the same objects: any mix is read, each assignment once.
    for assignments in saved:
        add(assignments.records, assignments.source)
    # A folder of assignment files, empty when the tenant has none, also says "none".
    folder = any(
        path.is_dir() and _SEPARATORS.sub("", path.name.lower()) in APP_ROLE_FOLDERS
        for path in reader.folder.iterdir()
    )
    if not saved and not any_expanded and not folder:
        reader.missing(
            APP_ROLE_ASSIGNMENTS_FOLDER,
            "app role assignments are",
            APP_ROLE_ASSIGNMENTS.consequence,
        )


def _read_domains(reader: _Reader) -> None:
    data = reader.data
    domains = reader.parsed(DOMAINS, Domain)
    if domains is not None:
        data.domains = {d.id.lower(): d.authentication_type or "" for d in domains}
        return
    organization = reader.take(ORGANIZATION)
    if organization is None:
        return
    # GET /organization: each verified domain with its type, Managed or Federated.
    found: dict[str, str] = {}
    for record in organization.records:
        for domain in record.get("verifiedDomains") or []:
            if isinstance(domain, dict) and isinstance(domain.get("name"), str):
                found[domain["name"].lower()] = str(domain.get("type") or "")
    data.domains = found


def _note_what_is_unknown(data: TenantData, folder: Path) -> None:
    """What the export does not say about the accounts: noted, since no access is missing."""
    if not data.sign_in_activity:
        data.note(
            str(folder / USERS_FILE),
            "no signInActivity in the export (it needs Entra ID P1 and $select="
            "signInActivity): last sign-in is unknown for every user",
        )
    if data.registrations is None:
        data.note(
            str(folder / REGISTRATION_DETAILS),
            "no such file: MFA registration is unknown, so no account is taken to lack MFA",
        )
    if data.domains is None:
        data.note(
            str(folder / DOMAINS_FILE),
            "no such file: users of federated domains are taken to have a password in Entra",
        )
