"""Microsoft Graph's own JSON, as the live API returns it and as `az rest` or Graph Explorer
save it: the records the Entra connector reads, and ``TenantData``, what one tenant holds."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from iam_gov.model import SnapshotError, UTCDateTime

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


class RoleEligibility(_Graph):
    """PIM: a principal that may activate a directory role (unifiedRoleEligibilityScheduleInstance):
    an administrator for every review and leaver purpose, though not active right now."""

    id: str = Field(min_length=1)
    principal_id: str = Field(min_length=1)
    role_definition_id: str = Field(min_length=1)
    directory_scope_id: str = "/"
    start_date_time: GraphTime = None
    end_date_time: GraphTime = None
    member_type: str | None = None
    role_definition: RoleDefinition | None = None
    """Present when read with ``$expand=roleDefinition``."""


class GroupEligibility(_Graph):
    """PIM for Groups: a principal that may activate membership (or ownership) of a group
    (privilegedAccessGroupEligibilityScheduleInstance)."""

    id: str = Field(min_length=1)
    group_id: str = Field(min_length=1)
    principal_id: str = Field(min_length=1)
    access_id: str | None = None
    """``member`` or ``owner``."""
    member_type: str | None = None
    start_date_time: GraphTime = None
    end_date_time: GraphTime = None


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


def pim_capable(group: GraphGroup) -> bool:
    """Whether PIM for Groups can govern the group: not dynamic membership groups, nor groups
    synchronised from an on-premises directory (Microsoft's "PIM for Groups" limits)."""
    dynamic = "DynamicMembership" in group.group_types or bool(group.membership_rule)
    return not dynamic and group.on_premises_sync_enabled is not True


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
    role_eligibilities: list[RoleEligibility] = field(default_factory=list)
    """PIM's eligible role assignments; when they could not be read, a problem says so."""
    group_eligibilities: dict[str, list[GroupEligibility]] = field(default_factory=dict)
    """Group id -> PIM eligibilities for it; a group missing here has them unknown (or cannot
    have any: dynamic and synchronised groups)."""
    service_principals: dict[str, ServicePrincipal] = field(default_factory=dict)
    app_role_assignments: list[AppRoleAssignment] = field(default_factory=list)
    registrations: dict[str, RegistrationDetails] | None = None
    """User id -> MFA registration; None when the report could not be read at all."""
    domains: dict[str, str] | None = None
    """Lower-case domain name -> authenticationType (Managed, Federated); None when unknown."""
    errors: list[SnapshotError] = field(default_factory=list)
    problems: list[SnapshotError] = field(default_factory=list)
    """The errors that make the data incomplete (``errors`` holds the notes too)."""
    complete: bool = True

    def problem(
        self,
        source: str,
        message: str,
        record: str | None = None,
        *,
        consequence: str | None = None,
        line: int | None = None,
    ) -> None:
        """Something is missing: the snapshot is incomplete; ``consequence`` says what cannot
        be concluded because of it."""
        self.complete = False
        error = SnapshotError(
            source=source, line=line, record=record, message=message, consequence=consequence
        )
        self.errors.append(error)
        self.problems.append(error)

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
    # What model_validate calls, without its frame per record (a tenant has 100,000s).
    validate = model.__pydantic_validator__.validate_python
    for index, item in enumerate(items):
        try:
            parsed = validate(item)
        except ValidationError as exc:
            data.problem(
                source,
                _validation_problem(exc),
                _record_name(item, index),
                consequence="left out: the account or access it would show is not concluded",
            )
            continue
        key = getattr(parsed, "id", None)
        if isinstance(key, str):
            if key in seen:
                data.note(source, "listed twice; read once", _record_name(item, index))
                continue
            seen.add(key)
        records.append(parsed)
    return records


def _record_name(item: Any, index: int) -> str:
    raw_id = item.get("id") if isinstance(item, Mapping) else None
    return raw_id if isinstance(raw_id, str) and raw_id else f"item {index + 1}"


def _validation_problem(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors()[:3]:
        where = ".".join(str(p) for p in error["loc"]) or "record"
        parts.append(f"{where}: {error['msg']}")
    return "not a Graph record of the expected kind (" + "; ".join(parts) + ")"


PIM_OFF = (
    "not read (pim = false: the tenant has no Entra ID P2): eligible directory roles and "
    "eligible group memberships are not seen; an eligible Global Administrator would not be "
    "reported"
)
