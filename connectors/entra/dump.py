"""The files of a saved Graph dump: which list each file holds (its ``@odata.context``, its
name, else its records), the pages of one list gathered across files, and what is missing."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from iam_gov.connectors.shared.files import BadFile, json_documents, read_source

GUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_GUID = re.compile(GUID)


@dataclass(frozen=True)
class Kind:
    """One kind of Graph list an export holds."""

    name: str
    what: str
    """What its records are, in a sentence's words ("users", "directory role holders")."""
    consequence: str
    """What is not concluded when some of them are unknown."""
    keyed: bool = False
    """One list per directory object (the members of one group): its id is in the name."""


USERS = Kind(
    "users",
    "users",
    "their accounts are not in the snapshot: no finding about them, and none concluded "
    "resolved or removed",
)
GROUPS = Kind(
    "groups",
    "groups",
    "membership of the unknown groups, and access held through them, is not concluded",
)
MEMBERS = Kind(
    "members",
    "members",
    "access held through this group or role is not concluded",
    keyed=True,
)
ROLE_ASSIGNMENTS = Kind(
    "role-assignments",
    "directory role holders",
    "privileged-access findings for entra directory roles are not concluded",
)
ROLE_DEFINITIONS = Kind(
    "role-definitions",
    "directory role names",
    "privileged-access findings for entra roles are not concluded (a policy names roles)",
)
ROLE_ELIGIBILITIES = Kind(
    "role-eligibilities",
    "eligible directory role holders (PIM)",
    "privileged-access findings for entra directory roles are not concluded: an eligible "
    "administrator is an administrator",
)
GROUP_ELIGIBILITIES = Kind(
    "group-eligibilities",
    "eligible members (PIM for Groups)",
    "access that eligible members of this group can activate is not concluded",
    keyed=True,
)
DIRECTORY_ROLES = Kind(
    "directory-roles",
    "activated directory roles",
    "privileged-access findings for entra directory roles are not concluded",
)
SERVICE_PRINCIPALS = Kind(
    "service-principals",
    "applications",
    "app roles are named by their ids: findings that name an application are not concluded",
)
APP_ROLE_ASSIGNMENTS = Kind(
    "app-role-assignments",
    "app role holders",
    "excess and leaver findings for entra app roles are not concluded",
    keyed=True,
)
REGISTRATIONS = Kind(
    "user-registration-details",
    "MFA registrations",
    "MFA findings for entra are not concluded for the users it leaves out",
)
DOMAINS = Kind(
    "domains",
    "domains",
    "which users sign in through federation is unknown: password findings for entra are "
    "not concluded",
)
ORGANIZATION = Kind(
    "organization",
    "the organization",
    "which users sign in through federation is unknown: password findings for entra are "
    "not concluded",
)

# @odata.context after "$metadata#", parenthesised parts removed.
_CONTEXTS: dict[str, Kind] = {
    "users": USERS,
    "groups": GROUPS,
    "directoryObjects": MEMBERS,
    "groups/members": MEMBERS,
    "directoryRoles/members": MEMBERS,
    "roleManagement/directory/roleAssignments": ROLE_ASSIGNMENTS,
    "roleManagement/directory/roleDefinitions": ROLE_DEFINITIONS,
    "roleManagement/directory/roleEligibilityScheduleInstances": ROLE_ELIGIBILITIES,
    "identityGovernance/privilegedAccess/group/eligibilityScheduleInstances": GROUP_ELIGIBILITIES,
    "directoryRoles": DIRECTORY_ROLES,
    "servicePrincipals": SERVICE_PRINCIPALS,
    "servicePrincipals/appRoleAssignedTo": APP_ROLE_ASSIGNMENTS,
    "users/appRoleAssignments": APP_ROLE_ASSIGNMENTS,
    "groups/appRoleAssignments": APP_ROLE_ASSIGNMENTS,
    "reports/authenticationMethods/userRegistrationDetails": REGISTRATIONS,
    "domains": DOMAINS,
    "organization": ORGANIZATION,
}

# File names as scripts write them: lower case, without - _ . and spaces, "{id}" for a GUID.
_NAMES: dict[str, Kind] = {
    "users": USERS,
    "groups": GROUPS,
    "roleassignments": ROLE_ASSIGNMENTS,
    "directoryroleassignments": ROLE_ASSIGNMENTS,
    "rolemanagementdirectoryroleassignments": ROLE_ASSIGNMENTS,
    "roledefinitions": ROLE_DEFINITIONS,
    "directoryroledefinitions": ROLE_DEFINITIONS,
    "rolemanagementdirectoryroledefinitions": ROLE_DEFINITIONS,
    "directoryroles": DIRECTORY_ROLES,
    "roleeligibilities": ROLE_ELIGIBILITIES,
    "roleeligibilityscheduleinstances": ROLE_ELIGIBILITIES,
    "rolemanagementdirectoryroleeligibilityscheduleinstances": ROLE_ELIGIBILITIES,
    "serviceprincipals": SERVICE_PRINCIPALS,
    "userregistrationdetails": REGISTRATIONS,
    "registrationdetails": REGISTRATIONS,
    "authenticationmethodsuserregistrationdetails": REGISTRATIONS,
    "reportsauthenticationmethodsuserregistrationdetails": REGISTRATIONS,
    "domains": DOMAINS,
    "organization": ORGANIZATION,
    # one list per object
    "groupmembers/{id}": MEMBERS,
    "members/{id}": MEMBERS,
    "directoryrolemembers/{id}": MEMBERS,
    "groups/{id}/members": MEMBERS,
    "directoryroles/{id}/members": MEMBERS,
    "{id}members": MEMBERS,
    "members{id}": MEMBERS,
    "groupmembers{id}": MEMBERS,
    "groups{id}members": MEMBERS,
    "directoryroles{id}members": MEMBERS,
    "groupeligibilities/{id}": GROUP_ELIGIBILITIES,
    "{id}eligibilityscheduleinstances": GROUP_ELIGIBILITIES,
    "eligibilityscheduleinstances{id}": GROUP_ELIGIBILITIES,
    "groupeligibilities{id}": GROUP_ELIGIBILITIES,
    "identitygovernanceprivilegedaccessgroupeligibilityscheduleinstances{id}": GROUP_ELIGIBILITIES,
    "{id}approleassignedto": APP_ROLE_ASSIGNMENTS,
    "approleassignedto{id}": APP_ROLE_ASSIGNMENTS,
    "serviceprincipals{id}approleassignedto": APP_ROLE_ASSIGNMENTS,
    "serviceprincipals/{id}/approleassignedto": APP_ROLE_ASSIGNMENTS,
    "{id}approleassignments": APP_ROLE_ASSIGNMENTS,
    "users{id}approleassignments": APP_ROLE_ASSIGNMENTS,
    "groups{id}approleassignments": APP_ROLE_ASSIGNMENTS,
}
# Folders whose every file is of one kind, whatever its name.
_FOLDERS: dict[str, Kind] = {
    "groupeligibilities": GROUP_ELIGIBILITIES,
    "approleassignments": APP_ROLE_ASSIGNMENTS,
    "approleassignedto": APP_ROLE_ASSIGNMENTS,
}

_SEPARATORS = re.compile(r"[-_. ]+")
_PAGE_SUFFIX = re.compile(
    r"^(?P<base>.*?)(?:[-_. ]*(?:page|p)?[-_ ]*(?P<n>\d{1,5})|\s*\((?P<c>\d{1,5})\))$"
)
_ONLY_PAGE = re.compile(r"^(?:page|p)?[-_ ]*(?P<n>\d{1,5})$", re.IGNORECASE)


class NotAList(BadFile):
    """Valid JSON, but no Graph list: an object of another kind, or a list of non-objects."""


@dataclass(frozen=True)
class Page:
    """One Graph answer body, or a list saved without one."""

    records: list[dict[str, Any]]
    next_link: str | None
    context: str | None


@dataclass
class SavedFile:
    path: Path
    relative: str
    pages: list[Page]
    kind: Kind | None = None
    key: str | None = None
    """The object a keyed list is about (a group's id for its members)."""
    series: str = ""
    """The name its pages share with the other files of the same list."""
    number: int | None = None
    """The page number its name carries (``users-2.json``), None for none."""


@dataclass
class GraphList:
    """Every saved page of one list, in order, and what is wrong with them."""

    kind: Kind
    key: str | None
    files: list[SavedFile]
    pages: list[Page]
    problems: list[tuple[str, str, str]] = field(default_factory=list)
    """(source, message, consequence) of each way it may be incomplete."""
    notes: list[tuple[str, str]] = field(default_factory=list)

    @property
    def records(self) -> list[dict[str, Any]]:
        return [record for page in self.pages for record in page.records]

    @property
    def source(self) -> str:
        return str(self.files[0].path)


def read_pages(path: Path) -> list[Page]:
    """A file's pages: one body, several bodies one after the other, a JSON array of bodies,
    or a plain list of records. ``BadFile`` when it is none of these."""
    text = _text(path)
    try:
        documents = json_documents(text, path)
    except BadFile as exc:
        raise BadFile(path, exc.message.replace("not valid JSON", "not JSON"), exc.line) from None
    if not documents:
        raise BadFile(path, "empty: expected Graph records")
    pages: list[Page] = []
    for document in documents:
        if _is_body(document):
            pages.append(_page(document, path))
        elif isinstance(document, list) and document and all(_is_body(d) for d in document):
            pages.extend(_page(body, path) for body in document)
        elif isinstance(document, list):
            pages.append(Page(_objects(document, path), None, None))
        else:
            raise NotAList(
                path,
                "expected Graph records: a list, or a saved page with a value list "
                '({"value": [...]})',
            )
    return pages


def _text(path: Path) -> str:
    raw = read_source(path, "Microsoft Graph JSON")
    # Windows PowerShell's > and Out-File write UTF-16 with a byte order mark.
    encoding = "utf-16" if raw[:2] in {b"\xff\xfe", b"\xfe\xff"} else "utf-8-sig"
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        raise BadFile(path, f"not {encoding.upper()} text (byte {exc.start})") from None


def _is_body(value: Any) -> bool:
    # Graph Explorer adds "@microsoft.graph.tips"; Graph itself "@odata.*" annotations.
    return (
        isinstance(value, dict)
        and isinstance(value.get("value"), list)
        and all(key == "value" or key.startswith("@") for key in value)
    )


def _page(body: dict[str, Any], path: Path) -> Page:
    link, context = body.get("@odata.nextLink"), body.get("@odata.context")
    return Page(
        _objects(body["value"], path),
        link if isinstance(link, str) and link else None,
        context if isinstance(context, str) else None,
    )


def _objects(items: Sequence[Any], path: Path) -> list[dict[str, Any]]:
    bad = next((i for i, item in enumerate(items) if not isinstance(item, dict)), None)
    if bad is not None:
        raise NotAList(path, f"item {bad + 1} is not a JSON object")
    return list(items)


# --- which list a file holds -------------------------------------------------------------------


def context_kind(context: str | None) -> tuple[Kind | None, str | None]:
    """The kind an ``@odata.context`` names, and the object id it names (``servicePrincipals
    ('id')/appRoleAssignedTo``)."""
    if not context or "$metadata#" not in context:
        return None, None
    fragment = context.split("$metadata#", 1)[1]
    key = next(iter(_GUID.findall(fragment)), None)
    path = _without_parentheses(fragment).removesuffix("/$entity")
    return _CONTEXTS.get(path), key


def _without_parentheses(text: str) -> str:
    out, depth = [], 0
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth = max(depth - 1, 0)
        elif depth == 0:
            out.append(char)
    return "".join(out)


def name_kind(relative: str) -> tuple[Kind | None, str | None, str, int | None]:
    """What a file's path says: its kind, the object id in it, its series (the path without
    the page number) and the page number (``users-2.json``, ``users/page-003.json``)."""
    stem = relative.removesuffix(".json").removesuffix(".JSON")
    keys = _GUID.findall(stem)
    parts = _GUID.sub("{id}", stem).split("/")
    number: int | None = None
    only = _ONLY_PAGE.match(parts[-1])
    if only and len(parts) > 1:
        number = int(only["n"])
        parts = parts[:-1]
    else:
        suffix = _PAGE_SUFFIX.match(parts[-1])
        if suffix and suffix["base"]:
            number = int(suffix["n"] or suffix["c"])
            parts[-1] = suffix["base"]
    normal = "/".join(_SEPARATORS.sub("", p).lower() for p in parts)
    series = normal
    kind = _NAMES.get(normal) or _NAMES.get(normal.rpartition("/")[2])
    if kind is None and len(parts) > 1:
        kind = _FOLDERS.get(normal.split("/")[-2])
    key = keys[-1] if keys else None
    return kind, key, series, number


def content_kind(records: Iterable[dict[str, Any]]) -> Kind | None:
    """The kind a list's records show, for files saved without a context or a usual name."""
    sample = list(records)[:20]
    if not sample:
        return None
    keys = set().union(*(record.keys() for record in sample))
    if all("@odata.type" in record for record in sample):
        return MEMBERS  # a list of several types: the members of a group or role
    for wanted, kind in (
        # Before role assignments, whose properties eligibilities share: an eligible role
        # must never be read as an active one.
        ({"roleEligibilityScheduleId"}, ROLE_ELIGIBILITIES),
        ({"eligibilityScheduleId", "groupId"}, GROUP_ELIGIBILITIES),
        ({"accessId", "groupId"}, GROUP_ELIGIBILITIES),
        ({"roleDefinitionId", "principalId"}, ROLE_ASSIGNMENTS),
        ({"appRoleId", "resourceId"}, APP_ROLE_ASSIGNMENTS),
        ({"roleTemplateId"}, DIRECTORY_ROLES),
        ({"rolePermissions"}, ROLE_DEFINITIONS),
        ({"isBuiltIn", "templateId"}, ROLE_DEFINITIONS),
        ({"isMfaRegistered"}, REGISTRATIONS),
        ({"methodsRegistered"}, REGISTRATIONS),
        ({"verifiedDomains"}, ORGANIZATION),
        ({"authenticationType"}, DOMAINS),
        ({"servicePrincipalType"}, SERVICE_PRINCIPALS),
        ({"appRoles", "appId"}, SERVICE_PRINCIPALS),
        ({"groupTypes"}, GROUPS),
        ({"securityEnabled"}, GROUPS),
        ({"membershipRule"}, GROUPS),
        ({"userPrincipalName"}, USERS),
    ):
        if wanted <= keys:
            return kind
    return None


def _link_key(pages: Sequence[Page]) -> str | None:
    for page in pages:
        if page.next_link:
            found = re.search(
                rf"/(?:groups|directoryRoles|servicePrincipals|users)/({GUID})/", page.next_link
            )
            if found:
                return found.group(1)
    return None


def classify(saved: SavedFile) -> None:
    """Sets ``kind``, ``key``, ``series`` and ``number``: the context says best what a file
    holds, then its name, then its records."""
    by_context, context_key = None, None
    for page in saved.pages:
        by_context, context_key = context_kind(page.context)
        if by_context is not None:
            break
    by_name, name_key, saved.series, saved.number = name_kind(saved.relative)
    kind = by_context or by_name or content_kind(r for p in saved.pages for r in p.records)
    saved.kind = kind
    if kind is not None and kind.keyed:
        saved.key = context_key or name_key or _link_key(saved.pages) or _record_key(saved)


def _record_key(saved: SavedFile) -> str | None:
    """The group a list of PIM group eligibilities is about, when all its records say it."""
    if saved.kind is not GROUP_ELIGIBILITIES:
        return None
    groups = {r.get("groupId") for p in saved.pages for r in p.records}
    only = next(iter(groups)) if len(groups) == 1 else None
    return only if isinstance(only, str) and _GUID.fullmatch(only) else None


# --- one list from its files -------------------------------------------------------------------


def gather(files: Sequence[SavedFile]) -> list[GraphList]:
    """The lists the classified files hold: pages of one list in order, the same list saved
    twice, and pages that are missing."""
    groups: dict[tuple[str, str | None], list[SavedFile]] = {}
    for saved in files:
        assert saved.kind is not None
        groups.setdefault((saved.kind.name, saved.key), []).append(saved)
    return [_one_list(members) for members in groups.values()]


def _one_list(files: list[SavedFile]) -> GraphList:
    kind, key = files[0].kind, files[0].key
    assert kind is not None
    listed = GraphList(kind, key, [], [])
    series: dict[str, list[SavedFile]] = {}
    for saved in files:
        series.setdefault(saved.series, []).append(saved)
    chains = [
        sorted(s, key=lambda f: -1 if f.number is None else f.number) for s in series.values()
    ]
    # The same list saved twice under two names: identical copies are read once; copies that
    # differ may be from different times, and which is current cannot be told.
    kept: list[list[SavedFile]] = []
    for chain in chains:
        numbers = [f.number for f in chain]
        if len(set(numbers)) < len(numbers):
            # users.json and Users.json, or two files both numbered 2: not one list's pages.
            for saved in chain:
                kept.append([saved])
        else:
            kept.append(chain)
    first, *others = kept
    for other in others:
        if _same(first, other):
            listed.notes.append(
                (str(other[0].path), f"the same records as {first[0].path}: read once")
            )
            continue
        names = " and ".join(sorted({str(first[0].path), str(other[0].path)}))
        listed.problems.append(
            (
                str(other[0].path),
                f"{names} both hold the {kind.what}{_about(key)} and differ: both are read, "
                "but they may be from different times",
                f"which of them is current is unknown: {kind.consequence}",
            )
        )
    for chain in kept:
        if chain is not first and _same(first, chain):
            continue
        listed.files.extend(chain)
        listed.pages.extend(page for saved in chain for page in saved.pages)
        _check_chain(listed, chain)
    return listed


def _same(one: list[SavedFile], other: list[SavedFile]) -> bool:
    def content(chain: list[SavedFile]) -> list[list[dict[str, Any]]]:
        return [page.records for saved in chain for page in saved.pages]

    return content(one) == content(other)


def _about(key: str | None) -> str:
    return f" of {key}" if key else ""


def _check_chain(listed: GraphList, chain: list[SavedFile]) -> None:
    """Pages missing from a list saved as numbered files, or after its last saved page."""
    kind, key = listed.kind, listed.key
    numbers = [f.number for f in chain if f.number is not None]
    unnumbered = len(numbers) < len(chain)
    # users.json is page 1 and users-2.json page 2; numbered alone, pages count from 0 or 1.
    if numbers and numbers[0] > (2 if unnumbered else 1):
        first = 2 if unnumbered else 1
        _gap(listed, chain, first, numbers[0])
    for previous, current in zip(numbers, numbers[1:], strict=False):
        if current != previous + 1:
            _gap(listed, chain, previous + 1, current)
    pages = [page for saved in chain for page in saved.pages]
    if pages and pages[-1].next_link:
        listed.problems.append(
            (
                str(chain[-1].path),
                f"page {len(pages)} says more pages follow (@odata.nextLink) and no saved file "
                "holds the next: the export is cut short; save every page",
                f"{kind.what}{_about(key)} after page {len(pages)} unknown: {kind.consequence}",
            )
        )


def _gap(listed: GraphList, chain: list[SavedFile], first: int, after: int) -> None:
    kind, key = listed.kind, listed.key
    pages = f"page {first}" if first == after - 1 else f"pages {first} to {after - 1}"
    listed.problems.append(
        (
            str(next(f.path for f in chain if f.number == after)),
            f"{pages} of the {kind.what}{_about(key)} missing: no saved file holds "
            f"{'it' if first == after - 1 else 'them'}",
            f"{kind.what}{_about(key)} on {pages} unknown: {kind.consequence}",
        )
    )
