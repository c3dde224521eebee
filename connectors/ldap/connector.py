"""The LDAP connector: Active Directory or OpenLDAP users and groups, live through ldap3 or
from an LDIF export (``ldapsearch -LLL``, ``ldifde``)."""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from iam_gov.configtypes import RelPath, SecretRef
from iam_gov.connectors.ldap.actions import Scope, apply_action
from iam_gov.connectors.ldap.ad import (
    DOMAIN_FILTER,
    DOMAIN_POLICY_ATTRIBUTES,
    ActiveDirectory,
    domain_dn,
)
from iam_gov.connectors.ldap.client import (
    NO_SUCH_OBJECT,
    Directory,
    SearchFailed,
    Settings,
    connect,
)
from iam_gov.connectors.ldap.entry import Entry, Flavor, all_of, dn_key, is_under
from iam_gov.connectors.ldap.export import read_ldif
from iam_gov.connectors.ldap.openldap import OpenLDAP
from iam_gov.connectors.ldap.to_model import (
    POLICY_CLASS,
    PPOLICY_ATTRIBUTES,
    PPOLICY_FILTER,
    Collected,
    build_snapshot,
)
from iam_gov.connectors.shared.protocol import Connector, ConnectorOptions, Permissions
from iam_gov.connectors.shared.registry import connector
from iam_gov.errors import ConfigError, ConnectorError, SourceError
from iam_gov.model import (
    Action,
    ActionKind,
    ActionOutcome,
    ActionResult,
    SnapshotError,
    SystemSnapshot,
    UTCDateTime,
)
from iam_gov.timeutil import as_utc, utcnow

_ATTRIBUTE = r"^[A-Za-z][A-Za-z0-9-]*$"


def _one_or_many(value: Any) -> Any:
    return (value,) if isinstance(value, str) else value


def _check_url(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme.lower() not in ("ldap", "ldaps") or not parts.hostname:
        raise ValueError(f"{url!r} is not an ldap:// or ldaps:// URL with a host")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"{url!r}: give the server only; the bases and filters are options")
    try:
        parts.port  # noqa: B018 - a bad port raises here
    except ValueError:
        raise ValueError(f"{url!r} has an invalid port") from None
    return url


def _check_filter(value: str | None) -> str | None:
    if value is None:
        return None
    from ldap3.core.exceptions import LDAPException
    from ldap3.operation.search import parse_filter

    text = value.strip()
    try:
        if not (text.startswith("(") and text.endswith(")")):
            raise ValueError
        parse_filter(text, None, False, False, None, False)
    except (LDAPException, ValueError):
        raise ValueError(f"{value!r} is not an LDAP filter, e.g. (objectClass=user)") from None
    return text


class LDAPOptions(ConnectorOptions):
    """One directory. The bind password comes from the environment or the OS keyring."""

    type: Literal["ldap"]
    flavor: Literal["ad", "openldap"]
    mode: Literal["live", "export"]
    # live
    url: Annotated[tuple[str, ...], BeforeValidator(_one_or_many)] = ()
    """``ldaps://dc1.corp.example.com`` or several, tried in order (failover)."""
    start_tls: bool = False
    ca_file: RelPath | None = None
    """The CA certificates (PEM) to verify the server with; default: the system's."""
    tls_verify: bool = True
    """``false`` turns certificate checks off (a loud warning on every connection)."""
    bind_dn: str | None = None
    """A DN, or for AD a user principal name (``iam-gov@corp.example.com``)."""
    bind_password: SecretRef | None = None
    base_dn: str | None = None
    user_base: str | None = None
    """Where users are: relative to base_dn (``ou=people``) or a DN under it; default base_dn."""
    group_base: str | None = None
    user_filter: str | None = None
    """Default: AD ``(&(objectCategory=person)(objectClass=user))``, OpenLDAP
    ``(|(objectClass=person)(objectClass=posixAccount))``."""
    group_filter: str | None = None
    page_size: int = Field(default=500, ge=1, le=1000)
    """Entries per page; AD never returns more than its MaxPageSize (1000)."""
    timeout: float = Field(default=30.0, gt=0, le=600)
    """Seconds to connect, and to wait for each answer."""
    # export
    path: RelPath | None = None
    """An LDIF file of the users and groups (``ldapsearch -LLL`` or ``ldifde`` output)."""
    exported_at: UTCDateTime | None = None
    """When the export was taken. Default: the file's modification time."""
    # both
    employee_id_attribute: str | None = Field(default=None, pattern=_ATTRIBUTE)
    """Default: AD ``employeeID``, OpenLDAP ``employeeNumber``."""
    login_attribute: str | None = Field(default=None, pattern=_ATTRIBUTE)
    """Default: AD ``sAMAccountName``, OpenLDAP ``uid``."""
    privileged_groups: tuple[str, ...] = ()
    """Groups privileged beyond the built-in ones: names (``Helpdesk*``) or DN patterns."""
    password_policy_dn: str | None = None
    """The entry holding the password policy. AD: the domain object, by default the ``DC=``
    part of base_dn (in an export, its domainDNS object). OpenLDAP: the default ppolicy that
    slapd's ``ppolicy_default`` names, by default the only pwdPolicy entry under base_dn."""

    @field_validator("url")
    @classmethod
    def _urls(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_check_url(url) for url in value)

    @field_validator("user_filter", "group_filter")
    @classmethod
    def _filters(cls, value: str | None) -> str | None:
        return _check_filter(value)

    @model_validator(mode="after")
    def _fits_mode(self) -> LDAPOptions:
        if self.mode == "export":
            if self.path is None:
                raise ValueError('mode = "export" needs path, an LDIF file of users and groups')
            misplaced = [n for n in _LIVE_ONLY if n in self.model_fields_set]
            wanted = "live"
        else:
            missing = [
                n for n in ("url", "bind_dn", "bind_password", "base_dn") if not getattr(self, n)
            ]
            if missing:
                raise ValueError(f'mode = "live" needs {", ".join(missing)}')
            if self.start_tls and any(u.lower().startswith("ldaps:") for u in self.url):
                raise ValueError("start_tls applies to ldap:// URLs; ldaps:// is TLS already")
            misplaced = [n for n in _EXPORT_ONLY if getattr(self, n) is not None]
            wanted = "export"
        if misplaced:
            raise ValueError(f'{", ".join(misplaced)} only apply to mode = "{wanted}"')
        return self


_LIVE_ONLY = (
    "url",
    "start_tls",
    "ca_file",
    "tls_verify",
    "bind_dn",
    "bind_password",
    "base_dn",
    "user_base",
    "group_base",
    "user_filter",
    "group_filter",
    "page_size",
    "timeout",
)
_EXPORT_ONLY = ("path", "exported_at")


def _ops(flavor: str, operation: str, kind: str, *attributes: str) -> tuple[str, ...]:
    return tuple(f"{flavor}:{operation}:{kind}/{attribute}" for attribute in attributes)


# What the bind DN must be allowed, as "<flavor>:<read|search|write>:<user|group>/<attribute>":
# read = the attribute is returned, search = it is used in a filter, write = it is modified.
# A test reads slapd's log and checks the code uses exactly these (default attribute names).
COLLECT_PERMISSIONS = (
    "ldap:bind",
    "ldap:search",
    *_ops("ad", "search", "user", "objectCategory", "objectClass"),
    *_ops(
        "ad",
        "read",
        "user",
        "objectGUID",
        "objectSid",
        "sAMAccountName",
        "userPrincipalName",
        "mail",
        "displayName",
        "cn",
        "employeeID",
        "userAccountControl",
        "lockoutTime",
        "lastLogonTimestamp",
        "pwdLastSet",
        "accountExpires",
        "whenCreated",
        "adminCount",
        "primaryGroupID",
    ),
    *_ops("ad", "search", "group", "objectClass"),
    *_ops(
        "ad",
        "read",
        "group",
        "objectGUID",
        "objectSid",
        "sAMAccountName",
        "cn",
        "member",
        "groupType",
        "description",
        "managedBy",
    ),
    # The domain's password policy, from its domain object.
    *_ops("ad", "search", "domain", "objectClass"),
    *_ops("ad", "read", "domain", *DOMAIN_POLICY_ATTRIBUTES),
    # userPassword is only tested for presence, never read.
    *_ops("openldap", "search", "user", "objectClass", "userPassword"),
    *_ops(
        "openldap",
        "read",
        "user",
        "entryUUID",
        "uid",
        "mail",
        "displayName",
        "cn",
        "employeeNumber",
        "createTimestamp",
        "pwdAccountLockedTime",
        "pwdLastSuccess",
        "pwdChangedTime",
        "pwdReset",
    ),
    *_ops("openldap", "search", "group", "objectClass"),
    *_ops(
        "openldap",
        "read",
        "group",
        "entryUUID",
        "cn",
        "member",
        "uniqueMember",
        "memberUid",
        "description",
        "owner",
    ),
    # The default password policy (ppolicy overlay), when the credential may read it.
    *_ops("openldap", "search", "policy", "objectClass"),
    *_ops("openldap", "read", "policy", *PPOLICY_ATTRIBUTES),
)
# Actions find entries by id and read their state before changing it (that is what makes
# them idempotent), so the reads they use are listed with the writes.
APPLY_PERMISSIONS = (
    "ldap:bind",
    "ldap:search",
    "ldap:modify",
    *_ops("ad", "search", "user", "objectCategory", "objectClass", "objectGUID"),
    *_ops(
        "ad", "read", "user", "sAMAccountName", "userAccountControl", "objectSid", "primaryGroupID"
    ),
    *_ops("ad", "write", "user", "userAccountControl"),
    *_ops("ad", "search", "group", "objectClass", "objectGUID", "member"),
    *_ops("ad", "read", "group", "objectGUID", "sAMAccountName", "cn", "member", "objectSid"),
    *_ops("ad", "write", "group", "member"),
    *_ops("openldap", "search", "user", "objectClass", "entryUUID"),
    *_ops("openldap", "read", "user", "uid", "pwdAccountLockedTime"),
    *_ops("openldap", "write", "user", "pwdAccountLockedTime"),
    *_ops(
        "openldap",
        "search",
        "group",
        "objectClass",
        "entryUUID",
        "member",
        "uniqueMember",
        "memberUid",
    ),
    *_ops("openldap", "read", "group", "entryUUID", "cn", "member", "uniqueMember", "memberUid"),
    *_ops("openldap", "write", "group", "member", "uniqueMember", "memberUid"),
)


def make_flavor(options: LDAPOptions) -> Flavor:
    kind = ActiveDirectory if options.flavor == "ad" else OpenLDAP
    return kind(
        login_attribute=options.login_attribute,
        employee_id_attribute=options.employee_id_attribute,
        privileged_groups=options.privileged_groups,
    )


@connector
class LDAPConnector(Connector[LDAPOptions]):
    """Users as accounts with a password credential; groups, nested ones resolved, as
    entitlements. Active Directory or OpenLDAP semantics by ``flavor``."""

    options_model: ClassVar[type[ConnectorOptions]] = LDAPOptions
    permissions: ClassVar[Permissions] = Permissions(
        collect=COLLECT_PERMISSIONS, apply=APPLY_PERMISSIONS
    )
    capabilities: ClassVar[frozenset[ActionKind]] = frozenset(
        {ActionKind.DISABLE_ACCOUNT, ActionKind.REMOVE_GRANT}
    )

    def __init__(
        self, system: str, options: LDAPOptions, *, clock: Callable[[], datetime] = utcnow
    ) -> None:
        super().__init__(system, options, clock=clock)
        self.flavor = make_flavor(options)

    def __repr__(self) -> str:
        return f"LDAPConnector(system={self.system!r}, flavor={self.options.flavor!r})"

    # --- collect ------------------------------------------------------------------------

    def collect(self) -> SystemSnapshot:
        if self.options.mode == "export":
            return self._collect_export()
        return self._collect_live()

    def _collect_export(self) -> SystemSnapshot:
        path = self.options.path
        assert path is not None
        ldif = read_ldif(path)
        collected = Collected(
            errors=ldif.errors,
            complete=ldif.complete,
            policy_dn=self.options.password_policy_dn,
        )
        for entry in ldif.entries:
            classes = {c.casefold() for c in entry.texts("objectClass")}
            if POLICY_CLASS[self.flavor.name] in classes:
                collected.policy_entries.append(entry)
            if self.flavor.is_group(classes):
                collected.groups.append(entry)
            elif self.flavor.is_user(classes):
                collected.users.append(entry)
        if not collected.users and not collected.groups:
            raise SourceError(
                f"{path}: holds no {self.options.flavor} users or groups (each entry needs its "
                "objectClass values)"
            )
        exported_at = self.options.exported_at
        if exported_at is None:
            exported_at = as_utc(datetime.fromtimestamp(path.stat().st_mtime))
            collected.errors.append(
                SnapshotError(
                    source=str(path),
                    message=f"exported_at not given: taken to be the file's modification "
                    f"time, {exported_at:%Y-%m-%d %H:%M} UTC",
                )
            )
        return build_snapshot(
            system=self.system,
            flavor=self.flavor,
            collected=collected,
            source=f"export:{path.name}",
            origin=str(path),
            collected_at=exported_at,
            settings={"flavor": self.options.flavor},
        )

    def _collect_live(self) -> SystemSnapshot:
        collected_at = self.clock()
        scope = self.scope()
        directory = self._connect(read_only=True)
        collected = Collected()
        try:
            collected.users = self._search(
                directory,
                collected,
                "users",
                scope.user_base,
                scope.user_filter,
                self.flavor.user_attributes(),
            )
            collected.groups = self._search(
                directory,
                collected,
                "groups",
                scope.group_base,
                scope.group_filter,
                self.flavor.group_attributes(),
            )
            if self.flavor.name == "openldap":
                # Whether a user has a password, without reading it: a presence filter needs
                # only search access to userPassword, never read access to the hashes.
                holders = self._search(
                    directory,
                    collected,
                    "users with a password",
                    scope.user_base,
                    all_of(scope.user_filter, "(userPassword=*)"),
                    (),
                )
                collected.password_holders = {dn_key(entry.dn) for entry in holders}
            self._read_password_policy(directory, collected)
        finally:
            directory.close()
        if not self.options.tls_verify:
            collected.errors.append(
                SnapshotError(
                    source=directory.url,
                    message="tls_verify = false: the server's certificate was not verified",
                )
            )
        return build_snapshot(
            system=self.system,
            flavor=self.flavor,
            collected=collected,
            source="live",
            origin=directory.url,
            collected_at=collected_at,
            settings={"flavor": self.options.flavor},
        )

    def _search(
        self,
        directory: Directory,
        collected: Collected,
        what: str,
        base: str,
        search_filter: str,
        attributes: tuple[str, ...],
    ) -> list[Entry]:
        entries: list[Entry] = []
        try:
            for entry in directory.search(
                base, search_filter, attributes, page_size=self.options.page_size
            ):
                entries.append(entry)
        except SearchFailed as exc:
            collected.complete = False
            collected.errors.append(
                SnapshotError(
                    source=directory.url,
                    record=base,
                    message=f"the search for {what} under {base} stopped after "
                    f"{len(entries)} entries: {exc}",
                )
            )
        return entries

    def _read_password_policy(self, directory: Directory, collected: Collected) -> None:
        """AD: the domain object, read by its DN. OpenLDAP: the pwdPolicy entries under the
        base (or the one named). Failing to read it leaves the policy unknown, not the data
        incomplete: no access is concluded from a password policy."""
        options = self.options
        base = options.base_dn or ""
        wanted: str | None
        attributes: tuple[str, ...]
        if self.flavor.name == "ad":
            wanted = options.password_policy_dn or domain_dn(base)
            where, search_filter, attributes = wanted, DOMAIN_FILTER, DOMAIN_POLICY_ATTRIBUTES
            scope = "BASE"
        else:
            wanted = options.password_policy_dn
            where, search_filter, attributes = wanted or base, PPOLICY_FILTER, PPOLICY_ATTRIBUTES
            scope = "BASE" if wanted else "SUBTREE"
        collected.policy_dn = wanted
        try:
            collected.policy_entries = list(
                directory.search(where, search_filter, attributes, scope=scope)
            )
        except SearchFailed as exc:
            if exc.code == NO_SUCH_OBJECT:
                return  # nothing there: said by build_snapshot
            collected.policy_read = False
            collected.errors.append(
                SnapshotError(
                    source=directory.url,
                    record=where,
                    message=f"the password policy could not be read ({exc}); it is not judged",
                )
            )

    # --- apply --------------------------------------------------------------------------

    def apply(self, action: Action) -> ActionResult:
        if action.kind not in self.capabilities:
            return super().apply(action)

        def failed(message: str) -> ActionResult:
            return ActionResult(action=action, outcome=ActionOutcome.FAILED, message=message)

        if action.system != self.system:
            return failed(f"this connector serves system {self.system!r}")
        if self.options.mode != "live":
            return failed('an export cannot be changed: actions need mode = "live"')
        try:
            directory = self._connect(read_only=False)
        except (ConnectorError, ConfigError) as exc:  # unreachable, refused, no secret
            return failed(str(exc))
        try:
            return apply_action(directory, self.scope(), action)
        finally:
            directory.close()

    # --- connection ---------------------------------------------------------------------

    def scope(self) -> Scope:
        """Where users and groups are searched, with which filters."""
        options = self.options
        base = options.base_dn or ""
        return Scope(
            flavor=self.flavor,
            user_base=_under(base, options.user_base),
            group_base=_under(base, options.group_base),
            user_filter=options.user_filter or self.flavor.user_filter,
            group_filter=options.group_filter or self.flavor.group_filter,
        )

    def _connect(self, *, read_only: bool) -> Directory:
        options = self.options
        assert options.bind_password is not None and options.bind_dn is not None
        password = options.bind_password.resolve("bind_password")
        settings = Settings(
            urls=options.url,
            bind_dn=options.bind_dn,
            start_tls=options.start_tls,
            ca_file=options.ca_file,
            tls_verify=options.tls_verify,
            timeout=options.timeout,
        )
        return connect(settings, password, system=self.system, read_only=read_only)


def _under(base: str, sub: str | None) -> str:
    if not sub:
        return base
    return sub if is_under(sub, base) else f"{sub},{base}"
