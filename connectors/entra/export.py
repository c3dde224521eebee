"""Microsoft Graph's own JSON, as the live API returns it and as `az rest` or Graph Explorer
save it to files: the records the Entra connector reads, and the export folder's layout."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from iam_gov.connectors.shared.files import read_source_text
from iam_gov.errors import SourceError, location
from iam_gov.model import SnapshotError, UTCDateTime

# --- records ------------------------------------------------------------------------------

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def is_object_id(value: str) -> bool:
    """Directory object ids are GUIDs; anything else must never become a URL path or a file
    name (a directory's strings are data)."""
    return bool(_GUID.match(value))


def _no_placeholder_time(value: Any) -> Any:
    # Graph writes "0001-01-01T00:00:00Z" for "never" in some properties.
    if isinstance(value, str) and value[:4] in {"0001", "1601"}:
        return None
    return value


def _none_is_empty(value: Any) -> Any:
    return () if value is None else value


GraphTime = Annotated[UTCDateTime | None, BeforeValidator(_no_placeholder_time)]
Strings = Annotated[tuple[str, ...], BeforeValidator(_none_is_empty)]


class _Graph(BaseModel):
    # Property names are Graph's, in snake case; properties Graph adds later are not ours.
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True
    )


class SignInActivity(_Graph):
    last_sign_in_date_time: GraphTime = None
    """Last interactive sign-in attempt, successful or not."""
    last_non_interactive_sign_in_date_time: GraphTime = None
    last_successful_sign_in_date_time: GraphTime = None
    """Last successful sign-in, interactive or not (recorded since December 2023)."""


class GraphUser(_Graph):
    id: str = Field(min_length=1)
    user_principal_name: str | None = None
    mail: str | None = None
    display_name: str | None = None
    given_name: str | None = None
    surname: str | None = None
    account_enabled: bool | None = None
    user_type: str | None = None
    employee_id: str | None = None
    department: str | None = None
    job_title: str | None = None
    created_date_time: GraphTime = None
    sign_in_activity: SignInActivity | None = None
    on_premises_sync_enabled: bool | None = None
    last_password_change_date_time: GraphTime = None
    creation_type: str | None = None
    external_user_state: str | None = None
    password_policies: str | None = None


class GraphGroup(_Graph):
    id: str = Field(min_length=1)
    display_name: str | None = None
    description: str | None = None
    group_types: Strings = ()
    security_enabled: bool | None = None
    mail_enabled: bool | None = None
    is_assignable_to_role: bool | None = None
    on_premises_sync_enabled: bool | None = None
    membership_rule: str | None = None


class DirectoryObject(_Graph):
    """A member of a group: a user, a group, a device, a service principal, a contact."""

    id: str = Field(min_length=1)
    odata_type: str | None = Field(default=None, alias="@odata.type")


class RoleDefinition(_Graph):
    id: str = Field(min_length=1)
    display_name: str | None = None
    description: str | None = None
    is_built_in: bool | None = None
    template_id: str | None = None


class RoleAssignment(_Graph):
    id: str = Field(min_length=1)
    principal_id: str = Field(min_length=1)
    role_definition_id: str = Field(min_length=1)
    directory_scope_id: str = "/"


class DirectoryRole(_Graph):
    """An activated directory role, as the older ``/directoryRoles`` API shows it."""

    id: str = Field(min_length=1)
    display_name: str | None = None
    description: str | None = None
    role_template_id: str = Field(min_length=1)


class AppRole(_Graph):
    id: str = Field(min_length=1)
    value: str | None = None
    display_name: str | None = None
    description: str | None = None
    is_enabled: bool = True


class ServicePrincipal(_Graph):
    id: str = Field(min_length=1)
    app_id: str | None = None
    display_name: str | None = None
    app_roles: Annotated[tuple[AppRole, ...], BeforeValidator(_none_is_empty)] = ()
    service_principal_type: str | None = None


class AppRoleAssignment(_Graph):
    id: str = Field(min_length=1)
    principal_id: str = Field(min_length=1)
    principal_type: str | None = None
    principal_display_name: str | None = None
    resource_id: str = Field(min_length=1)
    resource_display_name: str | None = None
    app_role_id: str = Field(min_length=1)
    created_date_time: GraphTime = None


class RegistrationDetails(_Graph):
    id: str = Field(min_length=1)
    is_mfa_registered: bool | None = None
    methods_registered: Strings = ()
    default_mfa_method: str | None = None


class Domain(_Graph):
    id: str = Field(min_length=1)
    authentication_type: str | None = None


M = TypeVar("M", bound=_Graph)


@dataclass
class TenantData:
    """Everything read from one tenant, live or from files, before it becomes the model."""

    users: list[GraphUser] = field(default_factory=list)
    sign_in_activity: bool = True
    """False when the users were read without sign-in activity (no P1 licence, no consent)."""
    groups: list[GraphGroup] = field(default_factory=list)
    members: dict[str, list[DirectoryObject]] = field(default_factory=dict)
    """Group id -> its direct members; a group missing here has unknown members."""
    role_definitions: dict[str, RoleDefinition] = field(default_factory=dict)
    role_assignments: list[RoleAssignment] = field(default_factory=list)
    service_principals: dict[str, ServicePrincipal] = field(default_factory=dict)
    app_role_assignments: list[AppRoleAssignment] = field(default_factory=list)
    registrations: dict[str, RegistrationDetails] | None = None
    """User id -> MFA registration; None when the report could not be read at all."""
    domains: dict[str, str] | None = None
    """Lower-case domain name -> authenticationType (Managed, Federated); None when unknown."""
    errors: list[SnapshotError] = field(default_factory=list)
    complete: bool = True

    def problem(self, source: str, message: str, record: str | None = None) -> None:
        """Something is missing: the snapshot is incomplete."""
        self.complete = False
        self.errors.append(SnapshotError(source=source, record=record, message=message))

    def note(self, source: str, message: str, record: str | None = None) -> None:
        """Worth knowing, but no access is missing because of it."""
        self.errors.append(SnapshotError(source=source, record=record, message=message))


def parse_records(
    items: Iterable[Mapping[str, Any]], model: type[M], source: str, data: TenantData
) -> list[M]:
    """Records that fit ``model``; one that does not is reported and left out. The same id
    twice (a page read twice) is kept once."""
    records: list[M] = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        raw_id = item.get("id") if isinstance(item, Mapping) else None
        record = raw_id if isinstance(raw_id, str) and raw_id else f"item {index + 1}"
        try:
            parsed = model.model_validate(item)
        except ValidationError as exc:
            data.problem(source, _validation_problem(exc), record)
            continue
        key = getattr(parsed, "id", None)
        if isinstance(key, str):
            if key in seen:
                data.note(source, "listed twice; read once", record)
                continue
            seen.add(key)
        records.append(parsed)
    return records


def _validation_problem(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors()[:3]:
        where = ".".join(str(p) for p in error["loc"]) or "record"
        parts.append(f"{where}: {error['msg']}")
    return "not a Graph record of the expected kind (" + "; ".join(parts) + ")"


# --- the export folder --------------------------------------------------------------------

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
        raise SourceError(f"{location(path, exc.lineno)}: not JSON ({exc.msg})") from None
    if _is_page(content):
        return GraphFile(_objects(content["value"], path), _has_next(content))
    if isinstance(content, list):
        if content and all(_is_page(item) for item in content):
            records = [record for page in content for record in _objects(page["value"], path)]
            return GraphFile(records, _has_next(content[-1]))
        return GraphFile(_objects(content, path), False)
    raise SourceError(
        f"{path}: expected Graph records: a list, or a saved page with a value list "
        f'({{"value": [...]}})'
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
        raise SourceError(f"{path}: item {bad + 1} is not a JSON object")
    return list(items)


@dataclass
class _Reader:
    folder: Path
    data: TenantData = field(default_factory=TenantData)
    files: list[str] = field(default_factory=list)

    def records(self, relative: str) -> list[dict[str, Any]] | None:
        path = self.folder / relative
        if not path.is_file():
            return None
        loaded = load_graph_json(path)
        self.files.append(relative)
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


def read_export(folder: Path) -> tuple[TenantData, list[str]]:
    """The export folder's records, and the files read. Only ``users.json`` is required; a
    missing file that holds access makes the data incomplete, one that only describes
    accounts (MFA registration, domains) is noted."""
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
    return data, reader.files


def _missing(reader: _Reader, relative: str, what: str) -> None:
    reader.data.problem(str(reader.folder / relative), f"no such file: {what} unknown")


def _read_groups(reader: _Reader) -> None:
    groups = reader.parsed(GROUPS, GraphGroup)
    if groups is None:
        _missing(reader, GROUPS, "groups and group memberships are")
        return
    reader.data.groups = groups
    for group in groups:
        if not is_object_id(group.id):
            reader.data.problem(str(reader.folder / GROUPS), "not a directory object id", group.id)
            continue
        relative = f"{GROUP_MEMBERS}/{group.id}.json"
        members = reader.parsed(relative, DirectoryObject)
        if members is None:
            _missing(reader, relative, f"the members of group {group.display_name or group.id} are")
        else:
            reader.data.members[group.id] = members


def _read_roles(reader: _Reader) -> None:
    data = reader.data
    assignments = reader.parsed(ROLE_ASSIGNMENTS, RoleAssignment)
    if assignments is not None:
        data.role_assignments = assignments
        definitions = reader.parsed(ROLE_DEFINITIONS, RoleDefinition)
        if definitions is None:
            data.note(
                str(reader.folder / ROLE_DEFINITIONS),
                "no such file: directory roles are named by their ids",
            )
        else:
            data.role_definitions = {d.id: d for d in definitions}
        return
    roles = reader.parsed(DIRECTORY_ROLES, DirectoryRole)
    if roles is None:
        _missing(reader, ROLE_ASSIGNMENTS, f"directory roles are (nor is there {DIRECTORY_ROLES})")
        return
    # The older API: one list per activated role. Its roles are named by template id, which
    # is the role definition id the newer API uses for built-in roles.
    for role in roles:
        if not is_object_id(role.id):
            data.problem(str(reader.folder / DIRECTORY_ROLES), "not a directory object id", role.id)
            continue
        data.role_definitions[role.role_template_id] = RoleDefinition(
            id=role.role_template_id,
            display_name=role.display_name,
            description=role.description,
            is_built_in=True,
            template_id=role.role_template_id,
        )
        relative = f"{DIRECTORY_ROLE_MEMBERS}/{role.id}.json"
        members = reader.parsed(relative, DirectoryObject)
        if members is None:
            _missing(reader, relative, f"the members of directory role {role.display_name} are")
            continue
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
    principals = reader.parsed(SERVICE_PRINCIPALS, ServicePrincipal)
    if principals is None:
        data.note(
            str(reader.folder / SERVICE_PRINCIPALS),
            "no such file: applications and app roles are named by their ids",
        )
    else:
        data.service_principals = {sp.id: sp for sp in principals}
    folder = reader.folder / APP_ROLE_ASSIGNMENTS
    if not folder.is_dir():
        _missing(reader, APP_ROLE_ASSIGNMENTS, "app role assignments are")
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


def newest_mtime(folder: Path, files: Iterable[str]) -> datetime | None:
    times = [(folder / name).stat().st_mtime for name in files]
    return datetime.fromtimestamp(max(times), UTC) if times else None


# --- entitlement ids ------------------------------------------------------------------------
# Graph-like paths, so that an action can tell from the id alone what it is asked to remove.

DEFAULT_APP_ROLE = "00000000-0000-0000-0000-000000000000"
"""The app role id of "default access", for applications that define no roles."""


def group_entitlement(group_id: str) -> str:
    return f"groups/{group_id}"


def role_entitlement(role_definition_id: str, scope: str = "/") -> str:
    base = f"roleDefinitions/{role_definition_id}"
    return base if scope == "/" else f"{base}@{scope}"


def app_role_entitlement(resource_id: str, app_role_id: str) -> str:
    return f"servicePrincipals/{resource_id}/appRoles/{app_role_id}"
