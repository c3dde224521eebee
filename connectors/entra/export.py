"""An Entra export: a folder of the Graph JSON that `az rest` or Graph Explorer save, read into
the same ``TenantData`` as the live API gives, so that both give the same model."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from iam_gov.connectors.entra.records import (
    AppRoleAssignment,
    DirectoryObject,
    DirectoryRole,
    Domain,
    GraphGroup,
    GraphUser,
    M,
    RegistrationDetails,
    RoleAssignment,
    RoleDefinition,
    ServicePrincipal,
    TenantData,
    is_object_id,
    parse_records,
)
from iam_gov.connectors.shared.files import BadFile, read_source_text
from iam_gov.errors import SourceError

USERS = "users.json"
GROUPS = "groups.json"
GROUP_MEMBERS = "group-members"
ROLE_DEFINITIONS = "role-definitions.json"
ROLE_ASSIGNMENTS = "role-assignments.json"
DIRECTORY_ROLES = "directory-roles.json"
DIRECTORY_ROLE_MEMBERS = "directory-role-members"
SERVICE_PRINCIPALS = "service-principals.json"
APP_ROLE_ASSIGNMENTS = "app-role-assignments"
REGISTRATION_DETAILS = "user-registration-details.json"
DOMAINS = "domains.json"


@dataclass(frozen=True)
class GraphFile:
    records: list[dict[str, Any]]
    truncated: bool
    """A saved page still says more follow (``@odata.nextLink``)."""


def load_graph_json(path: Path) -> GraphFile:
    """A file of Graph records: a plain list, one saved page ``{"value": [...]}`` or a list of
    such pages. Anything else is unusable as a whole."""
    text = read_source_text(path, "Microsoft Graph JSON")
    try:
        content = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadFile(path, f"not JSON ({exc.msg})", exc.lineno) from None
    if _is_page(content):
        return GraphFile(_objects(content["value"], path), _has_next(content))
    if isinstance(content, list):
        if content and all(_is_page(item) for item in content):
            records = [record for page in content for record in _objects(page["value"], path)]
            return GraphFile(records, _has_next(content[-1]))
        return GraphFile(_objects(content, path), False)
    raise BadFile(
        path,
        'expected Graph records: a list, or a saved page with a value list ({"value": [...]})',
    )


def _is_page(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and isinstance(value.get("value"), list)
        and all(key == "value" or key.startswith("@odata.") for key in value)
    )


def _has_next(page: Any) -> bool:
    return isinstance(page, dict) and bool(page.get("@odata.nextLink"))


def _objects(items: Sequence[Any], path: Path) -> list[dict[str, Any]]:
    bad = next((i for i, item in enumerate(items) if not isinstance(item, dict)), None)
    if bad is not None:
        raise BadFile(path, f"item {bad + 1} is not a JSON object")
    return list(items)


@dataclass
class _Reader:
    folder: Path
    data: TenantData = field(default_factory=TenantData)
    files: list[Path] = field(default_factory=list)

    def records(self, relative: str) -> list[dict[str, Any]] | None:
        path = self.folder / relative
        if not path.is_file():
            return None
        loaded = load_graph_json(path)
        self.files.append(path)
        if loaded.truncated:
            self.data.problem(
                str(path),
                "the saved page says more pages follow (@odata.nextLink): the export is cut "
                "short; save every page",
            )
        return loaded.records

    def parsed(self, relative: str, model: type[M]) -> list[M] | None:
        records = self.records(relative)
        if records is None:
            return None
        return parse_records(records, model, str(self.folder / relative), self.data)

    def naming(self, relative: str, model: type[M], what: str) -> list[M]:
        """The records of a file that only names things: without it (noted), ``what`` are
        named by their ids."""
        records = self.parsed(relative, model)
        if records is None:
            self.data.note(str(self.folder / relative), f"no such file: {what} named by their ids")
        return records or []

    def missing(self, relative: str, what: str) -> None:
        self.data.problem(str(self.folder / relative), f"no such file: {what} unknown")

    def members(
        self, listed_in: str, kind: str, object_id: str, what: str
    ) -> list[DirectoryObject] | None:
        """The members saved in ``kind/<object_id>.json``, of the group or role ``listed_in``
        that file lists; None (and a problem noted) when they cannot be known."""
        if not is_object_id(object_id):
            self.data.problem(str(self.folder / listed_in), "not a directory object id", object_id)
            return None
        relative = f"{kind}/{object_id}.json"
        members = self.parsed(relative, DirectoryObject)
        if members is None:
            self.missing(relative, f"the members of {what} are")
        return members


def read_export(folder: Path) -> tuple[TenantData, list[Path]]:
    """The export folder's records, and the files read. Only ``users.json`` is required; a
    missing file that holds access makes the data incomplete, one that only describes
    accounts (sign-in activity, MFA registration, domains) is noted."""
    if not folder.is_dir():
        raise SourceError(f"{folder}: no such folder (the Entra export folder)")
    reader = _Reader(folder)
    data = reader.data
    raw_users = reader.records(USERS)
    if raw_users is None:
        raise SourceError(
            f"{folder / USERS}: no such file; the export needs at least the users "
            "(GET /users with the $select in the README)"
        )
    data.users = parse_records(raw_users, GraphUser, str(folder / USERS), data)
    data.sign_in_activity = any("signInActivity" in user for user in raw_users)
    _read_groups(reader)
    _read_roles(reader)
    _read_apps(reader)
    registrations = reader.parsed(REGISTRATION_DETAILS, RegistrationDetails)
    if registrations is not None:
        data.registrations = {r.id: r for r in registrations}
    domains = reader.parsed(DOMAINS, Domain)
    if domains is not None:
        data.domains = {d.id.lower(): d.authentication_type or "" for d in domains}
    _note_what_is_unknown(data, folder)
    return data, reader.files


def _read_groups(reader: _Reader) -> None:
    groups = reader.parsed(GROUPS, GraphGroup)
    if groups is None:
        reader.missing(GROUPS, "groups and group memberships are")
        return
    reader.data.groups = groups
    for group in groups:
        what = f"group {group.display_name or group.id}"
        members = reader.members(GROUPS, GROUP_MEMBERS, group.id, what)
        if members is not None:
            reader.data.members[group.id] = members


def _read_roles(reader: _Reader) -> None:
    data = reader.data
    assignments = reader.parsed(ROLE_ASSIGNMENTS, RoleAssignment)
    if assignments is not None:
        data.role_assignments = assignments
        definitions = reader.naming(ROLE_DEFINITIONS, RoleDefinition, "directory roles are")
        data.role_definitions = {d.id: d for d in definitions}
        return
    roles = reader.parsed(DIRECTORY_ROLES, DirectoryRole)
    if roles is None:
        reader.missing(ROLE_ASSIGNMENTS, f"directory roles are (nor is there {DIRECTORY_ROLES})")
        return
    # The older API: one list per activated role. Its roles are named by template id, which
    # is the role definition id the newer API uses for built-in roles.
    for role in roles:
        what = f"directory role {role.display_name}"
        members = reader.members(DIRECTORY_ROLES, DIRECTORY_ROLE_MEMBERS, role.id, what)
        if members is None:
            continue
        data.role_definitions[role.role_template_id] = RoleDefinition(
            id=role.role_template_id,
            display_name=role.display_name,
            description=role.description,
            is_built_in=True,
            template_id=role.role_template_id,
        )
        data.role_assignments.extend(
            RoleAssignment(
                id=f"{role.id}/{member.id}",
                principal_id=member.id,
                role_definition_id=role.role_template_id,
                directory_scope_id="/",
            )
            for member in members
        )


def _read_apps(reader: _Reader) -> None:
    data = reader.data
    principals = reader.naming(
        SERVICE_PRINCIPALS, ServicePrincipal, "applications and app roles are"
    )
    data.service_principals = {sp.id: sp for sp in principals}
    folder = reader.folder / APP_ROLE_ASSIGNMENTS
    if not folder.is_dir():
        reader.missing(APP_ROLE_ASSIGNMENTS, "app role assignments are")
        return
    seen: set[str] = set()
    # Files per service principal (appRoleAssignedTo) or per user and group
    # (appRoleAssignments) hold the same objects: any mix is read, each assignment once.
    for path in sorted(folder.glob("*.json")):
        relative = f"{APP_ROLE_ASSIGNMENTS}/{path.name}"
        for assignment in reader.parsed(relative, AppRoleAssignment) or []:
            if assignment.id not in seen:
                seen.add(assignment.id)
                data.app_role_assignments.append(assignment)


def _note_what_is_unknown(data: TenantData, folder: Path) -> None:
    """What the export does not say about the accounts: noted, since no access is missing."""
    if not data.sign_in_activity:
        data.note(
            str(folder / USERS),
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
            str(folder / DOMAINS),
            "no such file: users of federated domains are taken to have a password in Entra",
        )
