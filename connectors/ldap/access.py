"""``config check --connect`` for a directory: after the bind, one sizeLimit=1 search per
permission a collect needs, telling an attribute the ACLs hide from one that is not set."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from iam_gov.connectors.ldap.ad import (
    DOMAIN_FILTER,
    DOMAIN_POLICY_ATTRIBUTES,
    PSO_ATTRIBUTES,
    PSO_FILTER,
    domain_dn,
    pso_container_dn,
)
from iam_gov.connectors.ldap.client import (
    NO_SUCH_OBJECT,
    Directory,
    SearchFailed,
    describe_exception,
    describe_result,
)
from iam_gov.connectors.ldap.entry import Entry, Scope, all_of, merge_ranges
from iam_gov.connectors.ldap.openldap import PPOLICY_ATTRIBUTES, PPOLICY_FILTER
from iam_gov.connectors.shared.protocol import AccessCheck

SIZE_LIMIT_EXCEEDED = 4
INSUFFICIENT_ACCESS = 50
# Refusals: the credential may not search there (slapd answers noSuchObject for a base the
# ACLs do not disclose, as AD does for a container the credential may not list).
_REFUSED = {INSUFFICIENT_ACCESS, NO_SUCH_OBJECT}
_Every = Callable[[bool | None, str], dict[str, AccessCheck]]
_NAMES = re.compile(r"NAME\s+(?:'([^']+)'|\(([^)]*)\))")


@dataclass(frozen=True)
class Kind:
    """One kind of entry a collect reads: where, with which filter, which attributes."""

    name: str
    """As in the permission strings: user, group, domain, pso, policy."""
    what: str
    base: str
    search_filter: str
    scope: str
    attributes: tuple[str, ...]


def kinds_of(scope: Scope, *, base_dn: str, policy_dn: str | None) -> list[Kind]:
    """What a collect with ``scope`` searches, as ``read_directory`` searches it."""
    flavor = scope.flavor
    kinds = [
        Kind(
            "user",
            "users",
            scope.user_base,
            scope.user_filter,
            "SUBTREE",
            flavor.user_attributes(),
        ),
        Kind(
            "group",
            "groups",
            scope.group_base,
            scope.group_filter,
            "SUBTREE",
            flavor.group_attributes(),
        ),
    ]
    if flavor.name == "ad":
        kinds.append(
            Kind(
                "domain",
                "domain objects",
                policy_dn or domain_dn(base_dn),
                DOMAIN_FILTER,
                "BASE",
                DOMAIN_POLICY_ATTRIBUTES,
            )
        )
        kinds.append(
            Kind(
                "pso",
                "fine-grained password policies",
                pso_container_dn(base_dn),
                PSO_FILTER,
                "SUBTREE",
                PSO_ATTRIBUTES,
            )
        )
    else:
        kinds.append(
            Kind(
                "policy",
                "password policies",
                policy_dn or base_dn,
                PPOLICY_FILTER,
                "BASE" if policy_dn else "SUBTREE",
                PPOLICY_ATTRIBUTES,
            )
        )
    return kinds


def permissions_to_check(declared: Sequence[str], flavor: str, kinds: list[Kind]) -> list[str]:
    """The declared permissions of this flavor (the other flavor's name another kind of
    directory), with the attributes these options read: a ``login_attribute`` or
    ``employee_id_attribute`` other than the default is checked under its own name."""
    reads = {(kind.name, a.lower()) for kind in kinds for a in kind.attributes}
    wanted: list[str] = []
    for permission in declared:
        if permission.startswith("ldap:"):
            wanted.append(permission)
            continue
        owner, operation, kind_name, attribute = _parse(permission)
        if owner != flavor:
            continue
        if operation == "read" and (kind_name, attribute.lower()) not in reads:
            continue  # renamed by the options: added below under the name they give
        wanted.append(permission)
    seen = {p.lower() for p in wanted}
    for kind in kinds:
        for attribute in kind.attributes:
            permission = f"{flavor}:read:{kind.name}/{attribute}"
            if permission.lower() not in seen:
                wanted.append(permission)
                seen.add(permission.lower())
    return wanted


def _parse(permission: str) -> tuple[str, str, str, str]:
    owner, operation, rest = permission.split(":", 2)
    kind, _, attribute = rest.partition("/")
    return owner, operation, kind, attribute


def check_directory(
    directory: Directory, flavor: str, bind_dn: str, kinds: list[Kind], permissions: list[str]
) -> list[AccessCheck]:
    """One check per permission, in the order given."""
    probe = _Probe(directory, flavor)
    found: dict[str, AccessCheck] = {
        "ldap:bind": AccessCheck("ldap:bind", True, f"bound to {directory.url} as {bind_dn}")
    }
    for kind in kinds:
        found.update(probe.kind(kind))
    users = found.get(f"{flavor}:search:user/objectClass")
    if users is not None:
        found["ldap:search"] = AccessCheck("ldap:search", users.ok, users.detail)
    checks = []
    for permission in permissions:
        check = found.get(permission)
        if check is None:
            check = AccessCheck(permission, None, "not tried: no search of this kind")
        checks.append(AccessCheck(permission, check.ok, check.detail))
    return checks


class _Probe:
    def __init__(self, directory: Directory, flavor: str) -> None:
        self.directory = directory
        self.flavor = flavor
        self._schema: set[str] | None = None
        self._schema_read = False

    def first(
        self, base: str, search_filter: str, attributes: Iterable[str], scope: str
    ) -> Entry | None:
        """The first entry of a search with sizeLimit=1 (more entries than one is no error
        here), or None; ``SearchFailed`` with the result code when the search fails."""
        from ldap3.core.exceptions import LDAPException

        conn = self.directory.connection
        try:
            conn.search(
                base,
                search_filter,
                search_scope=scope,
                dereference_aliases="NEVER",
                attributes=list(attributes) or ["1.1"],
                size_limit=1,
            )
        except LDAPException as exc:
            raise SearchFailed(describe_exception(exc)) from None
        result = conn.result
        code = (result or {}).get("result")
        if code not in (0, SIZE_LIMIT_EXCEEDED):
            raise SearchFailed(describe_result(result), code=code)
        for item in conn.response or []:
            if item.get("type") == "searchResEntry":
                raw = {
                    name: list(values)
                    for name, values in (item.get("raw_attributes") or {}).items()
                }
                return Entry(dn=item["dn"], attributes=merge_ranges(raw)[0])
        return None

    def kind(self, kind: Kind) -> dict[str, AccessCheck]:
        prefix = f"{self.flavor}:%s:{kind.name}/%s"
        searched = prefix % ("search", "objectClass")
        reads = [(prefix % ("read", a), a) for a in kind.attributes]
        where = f"{kind.search_filter} under {kind.base}"
        out: dict[str, AccessCheck] = {}

        def every(ok: bool | None, detail: str) -> dict[str, AccessCheck]:
            for permission in (searched, *(p for p, _ in reads)):
                out[permission] = AccessCheck(permission, ok, detail)
            return out

        try:
            entry = self.first(kind.base, kind.search_filter, kind.attributes, kind.scope)
        except SearchFailed as exc:
            refused = exc.code in _REFUSED
            why = (
                f"{kind.base} is not there or the credential may not see it"
                if exc.code == NO_SUCH_OBJECT
                else str(exc)
            )
            return every(False if refused else None, f"{where}: {why}")
        if entry is None:
            if kind.name == "pso":
                return self._empty_container(kind, every)
            return every(
                None,
                f"nothing matched {where}: no {kind.what} there, or the credential may not "
                "see them",
            )
        out[searched] = AccessCheck(searched, True, f"{where} found {entry.dn}")
        if kind.name == "user" and self.flavor == "ad":
            category = "ad:search:user/objectCategory"
            out[category] = AccessCheck(category, True, f"{where} found {entry.dn}")
        if kind.name == "user" and self.flavor == "openldap":
            permission = "openldap:search:user/userPassword"
            out[permission] = self._password_search(kind, permission)
        for permission, attribute in reads:
            out[permission] = self._read(kind, entry, permission, attribute)
        return out

    def _empty_container(self, kind: Kind, every: _Every) -> dict[str, AccessCheck]:
        """No PSO: an empty container the credential sees, or one it may not see into."""
        try:
            container = self.first(kind.base, "(objectClass=*)", (), "BASE")
        except SearchFailed as exc:
            return every(None, f"{kind.base}: {exc}")
        if container is None:
            return every(False, f"{kind.base} is not there or the credential may not see it")
        out = every(None, f"{kind.base} holds no {kind.what}: nothing to read")
        searched = f"{self.flavor}:search:{kind.name}/objectClass"
        out[searched] = AccessCheck(
            searched, True, f"{kind.base} is visible and holds no {kind.what}"
        )
        return out

    def _password_search(self, kind: Kind, permission: str) -> AccessCheck:
        """Whether a presence filter on userPassword works, without reading a hash: slapd
        evaluates a filter on an attribute the credential may not search as undefined, so
        that neither ``(userPassword=*)`` nor its negation matches anything."""
        tautology = "(|(userPassword=*)(!(userPassword=*)))"
        try:
            entry = self.first(kind.base, all_of(kind.search_filter, tautology), (), kind.scope)
        except SearchFailed as exc:
            return AccessCheck(permission, None, f"the search with {tautology} failed: {exc}")
        if entry is None:
            return AccessCheck(
                permission,
                False,
                f"no user matched {tautology}, which every user matches when userPassword "
                "may be searched: who has a password cannot be told",
            )
        return AccessCheck(
            permission, True, f"{tautology} matched {entry.dn}: presence can be told"
        )

    def _read(self, kind: Kind, entry: Entry, permission: str, attribute: str) -> AccessCheck:
        if entry.has(attribute):
            return AccessCheck(permission, True, f"{attribute} read on {entry.dn}")
        try:
            holder = self.first(
                kind.base, all_of(kind.search_filter, f"({attribute}=*)"), (attribute,), kind.scope
            )
        except SearchFailed as exc:
            return AccessCheck(permission, None, f"the search for ({attribute}=*) failed: {exc}")
        if holder is not None:
            if holder.has(attribute):
                return AccessCheck(permission, True, f"{attribute} read on {holder.dn}")
            return AccessCheck(
                permission,
                False,
                f"{holder.dn} matches ({attribute}=*) but came back without {attribute}: "
                "the ACLs let the credential search it, not read it",
            )
        if self.flavor != "openldap":
            return AccessCheck(
                permission,
                None,
                f"none of the {kind.what} came back with {attribute}: none has it, or the "
                "credential may not read it (Active Directory shows the two alike)",
            )
        return self._hidden_or_unset(kind, permission, attribute)

    def _hidden_or_unset(self, kind: Kind, permission: str, attribute: str) -> AccessCheck:
        """slapd: a filter on an attribute the credential may not search is undefined, so
        that ``(|(a=*)(!(a=*)))`` matches no entry; when it may, every entry. An attribute
        the schema does not know is undefined too, hence the schema is asked first."""
        schema = self.schema()
        if schema is not None and attribute.lower() not in schema:
            return AccessCheck(
                permission, None, f"the server's schema has no {attribute}: nothing to read"
            )
        tautology = f"(|({attribute}=*)(!({attribute}=*)))"
        try:
            entry = self.first(kind.base, all_of(kind.search_filter, tautology), (), kind.scope)
        except SearchFailed as exc:
            return AccessCheck(permission, None, f"the search with {tautology} failed: {exc}")
        if entry is not None:
            return AccessCheck(
                permission,
                None,
                f"none of the {kind.what} has {attribute} (the ACLs do not hide it from "
                "filters); whether it may be read shows once one has it",
            )
        if schema is None:
            return AccessCheck(
                permission,
                None,
                f"no {kind.what} matched {tautology}: {attribute} is hidden, or unknown to "
                "the server's schema, which the credential may not read",
            )
        return AccessCheck(
            permission,
            False,
            f"hidden: no {kind.what} matched {tautology}, which each matches when "
            f"{attribute} may be searched; the credential may neither search nor read it",
        )

    def schema(self) -> set[str] | None:
        """The attribute names the server's subschema declares; None when not readable."""
        if self._schema_read:
            return self._schema
        self._schema_read = True
        try:
            root = self.first("", "(objectClass=*)", ("subschemaSubentry",), "BASE")
            where = root.text("subschemaSubentry") if root is not None else None
            if where is None:
                return None
            entry = self.first(where, "(objectClass=subschema)", ("attributeTypes",), "BASE")
        except SearchFailed:
            return None
        if entry is None or not entry.has("attributeTypes"):
            return None
        names: set[str] = set()
        for definition in entry.texts("attributeTypes"):
            for single, several in _NAMES.findall(definition):
                for name in (single,) if single else re.findall(r"'([^']+)'", several):
                    names.add(name.lower())
        self._schema = names
        return names
