"""The records iam-gov reads from Okta's API JSON, and their parsers: the same for the live API
and for an export folder, so that both give the same model."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from iam_gov.model import SnapshotError
from iam_gov.timeutil import as_utc

# Statuses in which a user can sign in now, or will once a reset or lockout runs its course.
SIGN_IN_STATUSES = frozenset(
    {"ACTIVE", "RECOVERY", "PASSWORD_EXPIRED", "LOCKED_OUT", "PROVISIONED"}
)

# Okta ids are short alphanumeric strings; anything else in an id field is not used to build a
# URL or a file name (an id such as "../x" must never reach either).
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def is_okta_id(value: object) -> bool:
    return isinstance(value, str) and _ID.match(value) is not None


T = TypeVar("T")

# What each kind of data, left unknown, keeps iam-gov from concluding: the ``consequence`` of
# every problem that leaves it unknown, the same live and from an export.
UNKNOWN_USERS = (
    "users unknown: leaver, orphan and dormant-account findings are not concluded for the users "
    "left out"
)
UNKNOWN_GROUPS = "groups unknown: grants through the groups left out are not concluded"
UNKNOWN_MEMBERS = (
    "group members unknown: grants of the group, and of the apps and admin roles it brings, are "
    "not concluded for its members"
)
UNKNOWN_GROUP_ROLES = (
    "admin roles held through groups unknown: privileged-access findings for okta roles are not "
    "concluded"
)
UNKNOWN_APPS = (
    "apps unknown: excess and leaver findings for the okta apps left out are not concluded"
)
UNKNOWN_APP_USERS = (
    "app assignments unknown: excess and leaver findings for okta apps are not concluded"
)
UNKNOWN_APP_GROUPS = (
    "group-scoped app assignments unknown: excess and leaver findings for okta apps are not "
    "concluded"
)
UNKNOWN_FACTORS = "MFA factors unknown: mfa-missing is not concluded for these users"
UNKNOWN_ROLES = "admin roles unknown: privileged-access findings for okta roles are not concluded"
UNKNOWN_ROLE_TARGETS = (
    "admin role targets unknown: the scoped role is taken as org-wide, so which groups or apps "
    "it administers is not concluded"
)

# Standard roles Okta lets an org scope to some groups or apps (their "targets"); without
# targets they cover the whole org.
GROUP_TARGET_ROLES = frozenset({"USER_ADMIN", "HELP_DESK_ADMIN", "GROUP_MEMBERSHIP_ADMIN"})
APP_TARGET_ROLES = frozenset({"APP_ADMIN"})


class RecordError(ValueError):
    """One record (a user, a group …) that cannot be read; the rest still can."""


# --- records --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OktaUser:
    id: str
    status: str
    login: str
    email: str | None
    display_name: str | None
    employee_id: str | None
    created: datetime | None
    last_login: datetime | None
    password_changed: datetime | None
    has_password: bool
    provider_type: str | None
    provider_name: str | None

    @property
    def can_sign_in(self) -> bool:
        return self.status in SIGN_IN_STATUSES


@dataclass(frozen=True, slots=True)
class OktaGroup:
    id: str
    name: str
    type: str
    description: str | None


@dataclass(frozen=True, slots=True)
class OktaApp:
    id: str
    label: str
    name: str
    status: str


@dataclass(frozen=True, slots=True)
class AppAssignment:
    user_id: str
    scope: str
    """``USER`` (assigned directly) or ``GROUP`` (through a group assignment)."""
    created: datetime | None
    group_id: str | None = None
    """For ``GROUP``: the group the row's ``_links.group`` names (the group the user holds the
    app through), when Okta gives it."""


@dataclass(frozen=True, slots=True)
class OktaRole:
    """One admin role assignment, to a user or to a group."""

    assignment_id: str
    type: str
    label: str
    assignment_type: str
    custom_role: str | None
    resource_set: str | None
    created: datetime | None

    @property
    def target_kind(self) -> str | None:
        """``groups`` or ``apps`` for a role Okta can scope, else None."""
        if self.type in GROUP_TARGET_ROLES:
            return "groups"
        if self.type in APP_TARGET_ROLES:
            return "apps"
        return None

    @property
    def entitlement_id(self) -> str:
        if self.custom_role:
            return f"role:{self.custom_role}:{self.resource_set or '-'}"
        return f"role:{self.type}"

    @property
    def name(self) -> str:
        # Standard roles are named by their type (SUPER_ADMIN …), which policies can rely on;
        # custom roles only have the label their creator gave them.
        return self.label if self.custom_role else self.type


@dataclass(frozen=True, slots=True)
class RoleTarget:
    """What a scoped admin role administers: a group, an app instance, or every instance of
    a catalog app (``kind`` ``group``, ``app``, ``catalog-app``)."""

    kind: str
    id: str
    """The group's or app's Okta id; the catalog app's name."""
    name: str
    """Its name as Okta gave it with the target (the model prefers the listed name)."""


@dataclass(frozen=True, slots=True)
class OktaPasswordPolicy:
    """One password policy as Okta states it; None where a value is not stated."""

    id: str
    name: str
    status: str
    priority: int | None
    system: bool
    """The org's Default Policy, which applies to everyone no other policy catches."""
    provider: str
    """Whose passwords it governs: ``OKTA`` (passwords Okta keeps), ``ACTIVE_DIRECTORY`` or
    ``LDAP`` (delegated: that directory enforces its own length and complexity)."""
    group_ids: tuple[str, ...]
    min_length: int | None
    min_lower_case: int | None
    min_upper_case: int | None
    min_number: int | None
    min_symbol: int | None
    history_count: int | None
    max_age_days: int | None
    """0: passwords never expire."""
    max_attempts: int | None
    """0: accounts never lock."""


@dataclass
class OktaData:
    """Everything read from one org, live or from an export, before it becomes the model."""

    users: dict[str, OktaUser] = field(default_factory=dict)
    member_users: dict[str, OktaUser] = field(default_factory=dict)
    """Users seen only as group members (created while the users were being listed)."""
    groups: dict[str, OktaGroup] = field(default_factory=dict)
    members: dict[str, list[str]] = field(default_factory=dict)
    group_roles: dict[str, list[OktaRole]] = field(default_factory=dict)
    apps: dict[str, OktaApp] = field(default_factory=dict)
    app_users: dict[str, list[AppAssignment]] = field(default_factory=dict)
    app_groups: dict[str, list[str]] = field(default_factory=dict)
    factors: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """User id -> the kinds of their ACTIVE factors; a user missing here is unknown."""
    user_roles: dict[str, list[OktaRole]] = field(default_factory=dict)
    role_targets: dict[str, tuple[RoleTarget, ...]] = field(default_factory=dict)
    """Role assignment id -> the targets of a scoped role (none: the whole org). A scoped
    role missing here has unknown targets: in ``role_targets_unread`` when the problem is
    already said."""
    role_targets_unread: set[str] = field(default_factory=set)
    password_policies: list[OktaPasswordPolicy] | None = None
    """None: not read (unknown, so not judged)."""
    app_groups_unread: list[tuple[str | None, SnapshotError]] = field(default_factory=list)
    """Why an app's group assignments could not be read (app id, or None: every app whose are
    missing). Whether that leaves the snapshot incomplete is decided once the app users are
    known too: their ``GROUP`` rows may name the groups themselves (``to_model``)."""
    errors: list[SnapshotError] = field(default_factory=list)
    complete: bool = True
    users_complete: bool = True
    """False when a page or record of the user list could not be read: users missing from it
    are then no surprise, and not reported one by one."""

    def problem(
        self,
        source: str,
        message: str,
        *,
        record: str | None = None,
        incomplete: bool = True,
        consequence: str | None = None,
    ) -> None:
        """Note a problem; ``incomplete``: something the org holds may be missing, and
        ``consequence`` says what cannot be concluded because of it."""
        self.errors.append(
            SnapshotError(source=source, record=record, message=message, consequence=consequence)
        )
        if incomplete:
            self.complete = False

    def add_users(self, users: Iterable[OktaUser]) -> None:
        for user in users:
            self.users[user.id] = user


# --- parsing --------------------------------------------------------------------------------


def _str(obj: Mapping[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if type(value) is not str:  # the common case first: checked in the hot loop of a big org
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise RecordError(f"{key} is not a string")
        value = str(value)
    text = value.strip()
    return text or None


def _required(obj: Mapping[str, Any], key: str, what: str) -> str:
    value = _str(obj, key)
    if value is None:
        raise RecordError(f"{what} has no {key}")
    return value


def _id(obj: Mapping[str, Any], what: str) -> str:
    value = obj.get("id")
    if not is_okta_id(value):
        shown = "no id" if value is None else f"an id that is not an Okta id: {str(value)[:80]!r}"
        raise RecordError(f"{what} has {shown}")
    assert isinstance(value, str)
    return value


def _time(obj: Mapping[str, Any], key: str) -> datetime | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise RecordError(f"{key} is not a date and time")
    try:
        return as_utc(datetime.fromisoformat(value))
    except ValueError:
        raise RecordError(f"{key}: {value[:40]!r} is not a date and time") from None


def _object(value: Any, what: str) -> Mapping[str, Any]:
    if type(value) is not dict and not isinstance(value, Mapping):
        raise RecordError(f"{what} is not a JSON object")
    return value


def _sub(obj: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = obj.get(key)
    if value is None:
        return {}
    if type(value) is not dict and not isinstance(value, Mapping):
        raise RecordError(f"{key} is not a JSON object")
    return value


def parse_user(raw: Any, employee_id_attribute: str) -> OktaUser:
    obj = _object(raw, "the user")
    user_id = _id(obj, "the user")
    profile = _sub(obj, "profile")
    credentials = _sub(obj, "credentials")
    provider = _sub(credentials, "provider")
    display = _str(profile, "displayName")
    if display is None:
        display = " ".join(filter(None, (_str(profile, "firstName"), _str(profile, "lastName"))))
    return OktaUser(
        id=user_id,
        status=_required(obj, "status", "the user"),
        login=_required(profile, "login", "the user's profile"),
        email=_str(profile, "email"),
        display_name=display or None,
        employee_id=_str(profile, employee_id_attribute),
        created=_time(obj, "created"),
        last_login=_time(obj, "lastLogin"),
        password_changed=_time(obj, "passwordChanged"),
        has_password=isinstance(credentials.get("password"), Mapping),
        provider_type=_str(provider, "type"),
        provider_name=_str(provider, "name"),
    )


def parse_member(
    raw: Any, known: Mapping[str, OktaUser], employee_id_attribute: str
) -> OktaUser | str:
    """A group member: the id of a user already listed (the common case, and cheap), or the
    user, read from the member record (a user created while the users were being listed)."""
    user_id = raw.get("id") if isinstance(raw, Mapping) else None
    if isinstance(user_id, str) and user_id in known:
        return user_id
    return parse_user(raw, employee_id_attribute)


def member_ids(members: Iterable[OktaUser | str], data: OktaData) -> list[str]:
    """The ids of parsed members; those not listed as users are kept in ``member_users``."""
    ids = []
    for member in members:
        if isinstance(member, OktaUser):
            if member.id not in data.users:
                data.member_users[member.id] = member
            member = member.id
        ids.append(member)
    return ids


def parse_group(raw: Any) -> OktaGroup:
    obj = _object(raw, "the group")
    profile = _sub(obj, "profile")
    return OktaGroup(
        id=_id(obj, "the group"),
        name=_required(profile, "name", "the group's profile"),
        type=_str(obj, "type") or "OKTA_GROUP",
        description=_str(profile, "description"),
    )


def parse_app(raw: Any) -> OktaApp:
    obj = _object(raw, "the app")
    return OktaApp(
        id=_id(obj, "the app"),
        label=_required(obj, "label", "the app"),
        name=_str(obj, "name") or "",
        status=_str(obj, "status") or "ACTIVE",
    )


def parse_app_user(raw: Any) -> AppAssignment:
    obj = _object(raw, "the app user")
    scope = (_str(obj, "scope") or "USER").upper()
    return AppAssignment(
        user_id=_id(obj, "the app user"),
        scope=scope,
        created=_time(obj, "created"),
        group_id=_link_id(obj, "group") if scope == "GROUP" else None,
    )


def parse_app_group(raw: Any) -> str:
    return _id(_object(raw, "the app group"), "the app group")


# Identity Engine orgs list the e-mail authenticator as an ACTIVE factor, and security
# questions are knowledge factors like the password: neither makes a sign-in multi-factor
# (the Entra connector leaves out e-mail and security questions the same way).
NOT_A_SECOND_FACTOR = frozenset({"email", "question"})


def parse_factor_kinds(raw: Any) -> tuple[str, ...]:
    """The kinds (``push``, ``token:software:totp`` …) of the ACTIVE factors in a factor list."""
    if not isinstance(raw, list):
        raise RecordError("the factor list is not a JSON array")
    kinds = set()
    for item in raw:
        factor = _object(item, "a factor")
        if _str(factor, "status") == "ACTIVE":
            kind = _str(factor, "factorType")
            if kind and kind not in NOT_A_SECOND_FACTOR:
                kinds.add(kind)
    return tuple(sorted(kinds))


def parse_role(raw: Any) -> OktaRole:
    obj = _object(raw, "the role assignment")
    role_type = _required(obj, "type", "the role assignment")
    custom = _str(obj, "role") if role_type == "CUSTOM" else None
    if role_type == "CUSTOM" and custom is None:
        custom = _link_id(obj, "role")
    return OktaRole(
        assignment_id=_id(obj, "the role assignment"),
        type=role_type,
        label=_str(obj, "label") or role_type,
        assignment_type=(_str(obj, "assignmentType") or "USER").upper(),
        custom_role=custom,
        resource_set=_str(obj, "resource-set") or _link_id(obj, "resource-set"),
        created=_time(obj, "created"),
    )


def parse_roles(raw: Any) -> list[OktaRole]:
    if not isinstance(raw, list):
        raise RecordError("the role list is not a JSON array")
    return [parse_role(item) for item in raw]


def _link_id(obj: Mapping[str, Any], name: str) -> str | None:
    links = obj.get("_links")
    link = links.get(name) if isinstance(links, Mapping) else None
    href = link.get("href") if isinstance(link, Mapping) else None
    if not isinstance(href, str):
        return None
    last = href.rstrip("/").rsplit("/", 1)[-1]
    return last if is_okta_id(last) else None


def _count(obj: Mapping[str, Any], key: str) -> int | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise RecordError(f"{key} is not a number of 0 or more: {str(value)[:40]!r}")
    return value


def parse_password_policy(raw: Any) -> OktaPasswordPolicy:
    """One item of ``GET /api/v1/policies?type=PASSWORD``."""
    obj = _object(raw, "the policy")
    policy_type = _str(obj, "type")
    if policy_type is not None and policy_type != "PASSWORD":
        raise RecordError(f"is a {policy_type[:40]} policy, not a password policy")
    conditions = _sub(obj, "conditions")
    include = _sub(_sub(conditions, "people"), "groups").get("include") or []
    if not isinstance(include, list) or not all(is_okta_id(g) for g in include):
        raise RecordError("conditions.people.groups.include is not a list of group ids")
    password = _sub(_sub(obj, "settings"), "password")
    complexity, age = _sub(password, "complexity"), _sub(password, "age")
    return OktaPasswordPolicy(
        id=_id(obj, "the policy"),
        name=_required(obj, "name", "the policy"),
        status=(_str(obj, "status") or "ACTIVE").upper(),
        priority=_count(obj, "priority"),
        system=obj.get("system") is True,
        provider=(_str(_sub(conditions, "authProvider"), "provider") or "OKTA").upper(),
        group_ids=tuple(include),
        min_length=_count(complexity, "minLength"),
        min_lower_case=_count(complexity, "minLowerCase"),
        min_upper_case=_count(complexity, "minUpperCase"),
        min_number=_count(complexity, "minNumber"),
        min_symbol=_count(complexity, "minSymbol"),
        history_count=_count(age, "historyCount"),
        max_age_days=_count(age, "maxAgeDays"),
        max_attempts=_count(_sub(password, "lockout"), "maxAttempts"),
    )


def parse_group_target(raw: Any) -> RoleTarget:
    """An item of ``…/roles/{roleId}/targets/groups``: a group."""
    group = parse_group(raw)
    return RoleTarget("group", group.id, group.name)


def parse_app_target(raw: Any) -> RoleTarget:
    """An item of ``…/roles/{roleId}/targets/catalog/apps``: one app instance (with its
    ``id``), or a catalog app: every instance of it, named by its catalog ``name``
    (``box``), which is stable, not its display name."""
    obj = _object(raw, "the app target")
    name = _required(obj, "name", "the app target")
    if obj.get("id") is not None:
        return RoleTarget("app", _id(obj, "the app target"), _str(obj, "displayName") or name)
    return RoleTarget("catalog-app", name[:100], name[:100])


def assignee_ids(page: Any) -> list[str]:
    """User ids in one page of ``/api/v1/iam/assignees/users`` (``{"value": [...]}``)."""
    obj = _object(page, "the page")
    values = obj.get("value")
    if not isinstance(values, list):
        raise RecordError("the page has no value list")
    return [_id(_object(item, "an assignee"), "an assignee") for item in values]


@dataclass(frozen=True, slots=True)
class ItemProblem:
    """An item that could not be parsed: why, and the record it names (its id, else its
    number in the list)."""

    error: RecordError
    record: str


def parse_each(items: Iterable[Any], parse: Callable[[Any], T]) -> list[T | ItemProblem]:
    """Each item parsed, or the problem it has, in order (``parse_items`` without the
    notes: an export's index parses a file once, and its problems are noted when used)."""
    parsed: list[T | ItemProblem] = []
    for number, item in enumerate(items, start=1):
        try:
            parsed.append(parse(item))
        except RecordError as exc:
            record = item.get("id") if isinstance(item, Mapping) else None
            label = str(record)[:80] if is_okta_id(record) else f"item {number}"
            parsed.append(ItemProblem(exc, label))
    return parsed


def note_problems(
    parsed: Iterable[T | ItemProblem],
    data: OktaData,
    source: str,
    *,
    incomplete: bool = True,
    consequence: str | None = None,
) -> list[T]:
    """The records of ``parse_each``; each problem noted, as ``parse_items`` says."""
    records: list[T] = []
    for item in parsed:
        if isinstance(item, ItemProblem):
            data.problem(
                source,
                f"{item.error}: the record is left out",
                record=item.record,
                incomplete=incomplete,
                consequence=consequence,
            )
        else:
            records.append(item)
    return records


def parse_items(
    items: Iterable[Any],
    parse: Callable[[Any], T],
    data: OktaData,
    source: str,
    *,
    incomplete: bool = True,
    consequence: str | None = None,
) -> list[T]:
    """Parse each item; one that cannot be read is a problem, not the end of the list
    (``incomplete``: nor of the access data, when it is not about access; ``consequence``:
    what the record left out keeps from being concluded)."""
    return note_problems(
        parse_each(items, parse), data, source, incomplete=incomplete, consequence=consequence
    )
