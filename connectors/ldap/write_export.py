"""Writing a live directory as the LDIF the export mode reads back: the searches a collect
makes, each written as ``ldapsearch`` prints its results (comments naming the search, folded
lines, base64 for values that are not plain text, ``result:`` when a search failed)."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from iam_gov.connectors.ldap.ad import (
    DOMAIN_FILTER,
    DOMAIN_POLICY_ATTRIBUTES,
    PSO_ATTRIBUTES,
    PSO_FILTER,
    domain_dn,
    pso_container_dn,
)
from iam_gov.connectors.ldap.client import NO_SUCH_OBJECT, Directory, SearchFailed
from iam_gov.connectors.ldap.entry import Entry, Scope, all_of, dn_key
from iam_gov.connectors.ldap.openldap import PPOLICY_ATTRIBUTES, PPOLICY_FILTER

LDIF_NAME = "directory.ldif"

_WIDTH = 78
"""ldapsearch folds lines longer than this (OpenLDAP's LDIF_LINE_WIDTH)."""

# Never written, whatever the credential may read: the bind needs none of them, and a
# collect only asks whether userPassword is there.
SECRET_ATTRIBUTES = frozenset(
    {
        "userpassword",
        "authpassword",
        "unicodepwd",
        "dbcspwd",
        "ntpwdhistory",
        "lmpwdhistory",
        "supplementalcredentials",
        "sambantpassword",
        "sambalmpassword",
        "ms-mcs-admpwd",
    }
)
# Binary by syntax: base64 always, as ldifde writes them, even when the bytes happen to be
# printable.
_BINARY = frozenset({"objectguid", "objectsid"})


@dataclass
class Search:
    """One search as the export made it, and what it found."""

    what: str
    base: str
    scope: str
    search_filter: str
    attributes: tuple[str, ...]
    entries: list[Entry] = field(default_factory=list)
    failure: SearchFailed | None = None
    written: bool = True
    """False for the presence search for passwords: its answer marks the users instead."""


@dataclass
class DirectoryExport:
    """What was read for an export, and what could not be."""

    searches: list[Search] = field(default_factory=list)
    password_holders: set[str] | None = None
    policy_dn: str | None = None
    problems: list[str] = field(default_factory=list)

    def ldif(self, *, source: str, read_at: datetime) -> str:
        """The whole file: every search in the order it was made."""
        lines = [
            "# extended LDIF",
            "#",
            "# LDAPv3",
            f"# read from {_comment(source)} at {read_at.isoformat()} by iam-gov export",
            "#",
        ]
        for search in self.searches:
            lines += _search_lines(search, self.password_holders)
        return "\n".join(lines) + "\n"


def read_for_export(
    directory: Directory,
    scope: Scope,
    *,
    base_dn: str,
    policy_dn: str | None,
    page_size: int,
) -> DirectoryExport:
    """The searches a live collect makes (``live.read_directory``), with ``objectClass`` as
    well: the export reader tells users, groups and policies apart by their classes."""
    flavor = scope.flavor
    reader = _Reader(directory, page_size)
    export = reader.export
    users = reader.search(
        "users", scope.user_base, scope.user_filter, ("objectClass", *flavor.user_attributes())
    )
    groups = reader.search(
        "groups",
        scope.group_base,
        scope.group_filter,
        ("objectClass", *flavor.group_attributes()),
    )
    for found in (users, groups):
        if found.failure is not None:
            export.problems.append(
                f"the search for {found.what} under {found.base} stopped after "
                f"{len(found.entries)} entries: {found.failure}; the export says so "
                "(result:) and reads back incomplete"
            )
    if flavor.name == "openldap":
        holders = reader.search(
            "users with a password",
            scope.user_base,
            all_of(scope.user_filter, "(userPassword=*)"),
            (),
            written=False,
        )
        export.password_holders = {dn_key(entry.dn) for entry in holders.entries}
        if holders.failure is not None:
            export.problems.append(
                f"the search for users with a password stopped after "
                f"{len(holders.entries)} entries: {holders.failure}; who else has one is "
                "unknown, and the export reads back incomplete"
            )
    reader.password_policy(flavor.name, base_dn, policy_dn)
    if flavor.name == "ad":
        reader.password_settings(base_dn)
    _check_classes(export, scope, users, groups)
    return export


class _Reader:
    def __init__(self, directory: Directory, page_size: int) -> None:
        self.directory = directory
        self.page_size = page_size
        self.export = DirectoryExport()

    def search(
        self,
        what: str,
        base: str,
        search_filter: str,
        attributes: Sequence[str],
        *,
        scope: str = "SUBTREE",
        paged: bool = True,
        written: bool = True,
    ) -> Search:
        """Every entry; a failure is kept with what came before it."""
        found = Search(what, base, scope.lower(), search_filter, tuple(attributes), written=written)
        try:
            for entry in self.directory.search(
                base,
                search_filter,
                attributes,
                page_size=self.page_size if paged else None,
                scope=scope,
            ):
                found.entries.append(entry)
        except SearchFailed as exc:
            found.failure = exc
        self.export.searches.append(found)
        return found

    def password_policy(self, flavor: str, base: str, wanted: str | None) -> None:
        """As the live collect reads it: AD's domain object by DN, OpenLDAP's ppolicy entries
        under the base (or the one named)."""
        if flavor == "ad":
            wanted = wanted or domain_dn(base)
            where, search_filter = wanted, DOMAIN_FILTER
            attributes: tuple[str, ...] = ("objectClass", *DOMAIN_POLICY_ATTRIBUTES)
        else:
            where, search_filter = wanted or base, PPOLICY_FILTER
            attributes = ("objectClass", *PPOLICY_ATTRIBUTES)
        found = self.search(
            "the password policy",
            where,
            search_filter,
            attributes,
            scope="BASE" if wanted else "SUBTREE",
            paged=False,
        )
        self.export.policy_dn = wanted
        failure = found.failure
        if failure is not None and failure.code == NO_SUCH_OBJECT:
            # Nothing there: the reader says so from the missing entry, as a collect does.
            found.failure = None
        elif failure is not None:
            self.export.problems.append(
                f"the password policy could not be read ({failure}); the export says so "
                "(result:) and reads back incomplete"
            )

    def password_settings(self, base: str) -> None:
        """AD's PSOs with their container: the container in the export is what tells the
        reader that the PSOs were read (and that there may be none)."""
        where = pso_container_dn(base)
        found = self.search(
            "the fine-grained password policies",
            where,
            f"(|(objectClass=msDS-PasswordSettingsContainer){PSO_FILTER})",
            ("objectClass", *PSO_ATTRIBUTES),
            paged=False,
        )
        if found.failure is not None:
            self.export.problems.append(
                f"the fine-grained password policies under {where} could not be read "
                f"({found.failure}); the export says so (result:) and reads back incomplete"
            )


def _check_classes(export: DirectoryExport, scope: Scope, users: Search, groups: Search) -> None:
    """What the export reader would take differently from the collect: it sorts entries by
    their object classes, where a collect trusts the searches' filters."""
    flavor = scope.flavor
    seen_as_user = {dn_key(entry.dn) for entry in users.entries}
    for found, kind, fits in ((users, "user", flavor.is_user), (groups, "group", flavor.is_group)):
        for entry in found.entries:
            classes = {value.casefold() for value in entry.texts("objectClass")}
            if not fits(classes):
                export.problems.append(
                    f"{entry.dn}: found by the {kind} filter, but its object classes "
                    f"({', '.join(sorted(classes)) or 'none readable'}) are not a {flavor.name} "
                    f"{kind}'s: the export leaves it out"
                )
            elif kind == "group" and dn_key(entry.dn) in seen_as_user:
                export.problems.append(
                    f"{entry.dn}: found by both the user and the group filter: the export "
                    "reads it back as a group only"
                )
            if not entry.has(flavor.id_attribute):
                export.problems.append(
                    f"{entry.dn}: its {flavor.id_attribute} could not be read: the export "
                    "identifies it by its DN"
                )


# --- LDIF -----------------------------------------------------------------------------------


def _search_lines(search: Search, holders: set[str] | None) -> list[str]:
    lines = [
        "",
        "#",
        f"# {search.what}",
        f"# base <{_comment(search.base)}> with scope {search.scope}",
        f"# filter: {_comment(search.search_filter)}",
        f"# requesting: {' '.join(search.attributes) or '1.1'}",
        "#",
    ]
    if not search.written:
        lines.append("# each user found shows userPassword without its value (as ldapsearch -A)")
    else:
        spelling = {name.lower(): name for name in search.attributes}
        for entry in search.entries:
            password = holders is not None and dn_key(entry.dn) in holders
            lines += ["", *_entry_lines(entry, spelling, password=password)]
    if search.failure is not None:
        # What plain ldapsearch prints after the entries; anything but 0 makes the reader
        # take the export as cut short.
        code = search.failure.code if search.failure.code is not None else -1
        lines += [
            "",
            "# search result",
            "search: 2",
            f"result: {code} {_comment(str(search.failure))}",
        ]
    return lines


def _entry_lines(entry: Entry, spelling: dict[str, str], *, password: bool) -> list[str]:
    lines = [_attribute_line("dn", entry.dn.encode("utf-8"))]
    names = sorted(entry.attributes, key=lambda name: name != "objectclass")
    for name in names:
        if name in SECRET_ATTRIBUTES:
            continue
        for value in entry.attributes[name]:
            lines.append(_attribute_line(spelling.get(name, name), value, binary=name in _BINARY))
    if password:
        # That the user has a password, never what it is: a name without a value, as
        # ``ldapsearch -A`` prints it. The reader only asks whether userPassword is there.
        lines.append("userPassword:")
    return lines


def _attribute_line(name: str, value: bytes, *, binary: bool = False) -> str:
    if not value:
        return f"{name}:"
    if not binary and _safe(value):
        return _fold(f"{name}: {value.decode('ascii')}")
    return _fold(f"{name}:: {base64.b64encode(value).decode('ascii')}")


def _safe(value: bytes) -> bool:
    """Whether ldapsearch writes the value as it is (RFC 2849 SAFE-STRING, printable ASCII
    only): otherwise it is base64."""
    if value[:1] in (b" ", b":", b"<") or value.endswith(b" "):
        return False
    return all(0x20 <= byte <= 0x7E for byte in value)


def _fold(line: str) -> str:
    if len(line) <= _WIDTH:
        return line
    parts = [line[:_WIDTH]]
    rest = line[_WIDTH:]
    while rest:
        parts.append(" " + rest[: _WIDTH - 1])
        rest = rest[_WIDTH - 1 :]
    return "\n".join(parts)


def _comment(text: str) -> str:
    """Text for a comment line: one line, printable ASCII."""
    return "".join(char if " " <= char <= "~" else "?" for char in text)
