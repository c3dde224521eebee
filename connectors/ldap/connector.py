"""The LDAP connector: Active Directory or OpenLDAP users and groups, live through ldap3 or
from an LDIF export (``ldapsearch -LLL``, ``ldifde``)."""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from iam_gov.configtypes import RelPath, SecretRef
from iam_gov.connectors.ldap.access import check_directory, kinds_of, permissions_to_check
from iam_gov.connectors.ldap.actions import apply_action
from iam_gov.connectors.ldap.ad import DOMAIN_POLICY_ATTRIBUTES, PSO_ATTRIBUTES, ActiveDirectory
from iam_gov.connectors.ldap.client import Directory, Settings, connect, is_loopback
from iam_gov.connectors.ldap.entry import Collected, Flavor, Scope, is_under
from iam_gov.connectors.ldap.export import read_export
from iam_gov.connectors.ldap.live import read_directory
from iam_gov.connectors.ldap.openldap import PPOLICY_ATTRIBUTES, OpenLDAP
from iam_gov.connectors.ldap.to_model import build_snapshot
from iam_gov.connectors.ldap.write_export import LDIF_NAME, read_for_export
from iam_gov.connectors.shared.export_time import export_time
from iam_gov.connectors.shared.incremental import IncrementalOptions
from iam_gov.connectors.shared.options import LiveOrExportOptions
from iam_gov.connectors.shared.protocol import (
    AccessCheck,
    Connector,
    ExportNotSupported,
    ExportWritten,
    Permissions,
)
from iam_gov.connectors.shared.registry import connector
from iam_gov.files import write_atomically
from iam_gov.model import (
    Action,
    ActionKind,
    ActionResult,
    SnapshotError,
    SystemSnapshot,
    UTCDateTime,
)
from iam_gov.timeutil import utcnow

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


def _in_clear(url: str) -> bool:
    """A plain ldap:// URL to another machine: a simple bind there is readable on the way."""
    return url.lower().startswith("ldap:") and not is_loopback(url)


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


class LDAPOptions(LiveOrExportOptions, IncrementalOptions):
    """One directory. The bind password comes from the environment or the OS keyring."""

    type: Literal["ldap"]
    flavor: Literal["ad", "openldap"]
    # live
    url: Annotated[tuple[str, ...], BeforeValidator(_one_or_many)] = ()
    """``ldaps://dc1.corp.example.com`` or several, tried in order (failover)."""
    start_tls: bool = False
    allow_plaintext: bool = False
    """``true`` allows a simple bind over plain ``ldap://`` (no StartTLS) to another host,
    which sends the bind password in clear text to anyone on the network path; without it
    such a URL is refused. A loopback URL (``127.0.0.1``, ``::1``, ``localhost``) is always
    allowed: the password does not leave the machine."""
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

    live_only: ClassVar[tuple[str, ...]] = (
        "url",
        "start_tls",
        "allow_plaintext",
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
        "incremental",
        "full_every_days",
        "state_folder",
    )
    export_only: ClassVar[tuple[str, ...]] = ("path", "exported_at")

    @model_validator(mode="after")
    def _fits_mode(self) -> LDAPOptions:
        if self.mode == "export":
            if self.path is None:
                raise ValueError('mode = "export" needs path, an LDIF file of users and groups')
        else:
            missing = [
                n for n in ("url", "bind_dn", "bind_password", "base_dn") if not getattr(self, n)
            ]
            if missing:
                raise ValueError(f'mode = "live" needs {", ".join(missing)}')
            if self.start_tls and any(u.lower().startswith("ldaps:") for u in self.url):
                raise ValueError("start_tls applies to ldap:// URLs; ldaps:// is TLS already")
            plain = [u for u in self.url if _in_clear(u)] if not self.start_tls else []
            if plain and not self.allow_plaintext:
                raise ValueError(
                    f"{plain[0]} would send the bind password in clear text: use ldaps://, "
                    "start_tls = true, or allow_plaintext = true to accept that"
                )
        self.check_mode()
        return self


def _ops(flavor: str, operation: str, kind: str, *attributes: str) -> tuple[str, ...]:
    return tuple(f"{flavor}:{operation}:{kind}/{attribute}" for attribute in attributes)


# What the bind DN must be allowed, as "<flavor>:<read|search|write>:<user|group>/<attribute>":
# read = the attribute is returned, search = it is used in a filter, write = it is modified.
# A test reads slapd's log and checks the code uses exactly these (default attribute names).
_AD, _OPENLDAP = ActiveDirectory(), OpenLDAP()
COLLECT_PERMISSIONS = (
    "ldap:bind",
    "ldap:search",
    *_ops("ad", "search", "user", "objectCategory", "objectClass"),
    *_ops("ad", "read", "user", *_AD.user_attributes()),
    *_ops("ad", "search", "group", "objectClass"),
    *_ops("ad", "read", "group", *_AD.group_attributes()),
    # The domain's password policy, from its domain object.
    *_ops("ad", "search", "domain", "objectClass"),
    *_ops("ad", "read", "domain", *DOMAIN_POLICY_ATTRIBUTES),
    # Fine-grained password policies, under CN=Password Settings Container,CN=System (AD's
    # default lets only Domain Admins see it: grant the credential read on it).
    *_ops("ad", "search", "pso", "objectClass"),
    *_ops("ad", "read", "pso", *PSO_ATTRIBUTES),
    # userPassword is only tested for presence, never read.
    *_ops("openldap", "search", "user", "objectClass", "userPassword"),
    *_ops("openldap", "read", "user", *_OPENLDAP.user_attributes()),
    *_ops("openldap", "search", "group", "objectClass"),
    *_ops("openldap", "read", "group", *_OPENLDAP.group_attributes()),
    # The default password policy (ppolicy overlay), when the credential may read it.
    *_ops("openldap", "search", "policy", "objectClass"),
    *_ops("openldap", "read", "policy", *PPOLICY_ATTRIBUTES),
)
# ``iam-gov export`` reads what a collect reads, and the object classes too: the export
# reader tells users, groups and policies apart by them.
EXPORT_PERMISSIONS = (
    *COLLECT_PERMISSIONS,
    *(
        f"{flavor}:read:{kind}/objectClass"
        for flavor, kinds in (
            ("ad", ("user", "group", "domain", "pso")),
            ("openldap", ("user", "group", "policy")),
        )
        for kind in kinds
    ),
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

    options_model = LDAPOptions
    permissions = Permissions(collect=COLLECT_PERMISSIONS, apply=APPLY_PERMISSIONS)
    capabilities = frozenset({ActionKind.DISABLE_ACCOUNT, ActionKind.REMOVE_GRANT})

    def __init__(
        self, system: str, options: LDAPOptions, *, clock: Callable[[], datetime] = utcnow
    ) -> None:
        super().__init__(system, options, clock=clock)
        self.flavor = make_flavor(options)

    def __repr__(self) -> str:
        return f"LDAPConnector(system={self.system!r}, flavor={self.options.flavor!r})"

    def collect(self) -> SystemSnapshot:
        options = self.options
        if options.mode == "export":
            path = options.path
            assert path is not None
            collected = read_export(path, self.flavor, options.password_policy_dn)
            taken = export_time(options.exported_at, [path])
            if taken.guessed:
                collected.errors.append(SnapshotError(source=str(path), message=taken.guessed))
            return self._snapshot(collected, f"export:{path.name}", str(path), taken.at)
        collected_at = self.clock()
        how: dict[str, Any] = {}
        with self._connect(read_only=True) as directory:
            if options.incremental:
                # Changes since the baseline kept on disk, or a full read saying why.
                from iam_gov.connectors.ldap.incremental import collect_incrementally

                outcome = collect_incrementally(
                    directory, self.scope(), options, system=self.system, clock=self.clock
                )
                collected, how = outcome.data, {"collect": outcome.settings()}
            else:
                collected = read_directory(
                    directory,
                    self.scope(),
                    base_dn=options.base_dn or "",
                    policy_dn=options.password_policy_dn,
                    page_size=options.page_size,
                )
        if not options.tls_verify:
            collected.errors.append(
                SnapshotError(
                    source=directory.url,
                    message="tls_verify = false: the server's certificate was not verified",
                )
            )
        return self._snapshot(collected, "live", directory.url, collected_at, how)

    def write_export(self, out: Path) -> ExportWritten:
        """The users, groups, password holders and password policy a collect reads, as one
        LDIF file that ``mode = "export"`` reads back into the same snapshot."""
        options = self.options
        if options.mode == "export":
            raise ExportNotSupported(
                f"{self.system}: the ldap connector already reads an export ({options.path}); "
                "export with the live options"
            )
        read_at = self.clock()
        with self._connect(read_only=True) as directory:
            export = read_for_export(
                directory,
                self.scope(),
                base_dn=options.base_dn or "",
                policy_dn=options.password_policy_dn,
                page_size=options.page_size,
            )
        write_atomically(
            out / LDIF_NAME, export.ldif(source=directory.url, read_at=read_at), "LDIF export"
        )
        table: dict[str, object] = {
            "type": self.type_name,
            "flavor": options.flavor,
            "mode": "export",
            "path": LDIF_NAME,
            "exported_at": read_at.isoformat(),
        }
        for name in ("login_attribute", "employee_id_attribute"):
            if getattr(options, name) is not None:
                table[name] = getattr(options, name)
        if options.privileged_groups:
            table["privileged_groups"] = list(options.privileged_groups)
        # AD's policy is the domain object the collect read by DN: naming it keeps the
        # export reader to that one, and its absence is said the same way.
        if export.policy_dn is not None:
            table["password_policy_dn"] = export.policy_dn
        return ExportWritten(
            files=(Path(LDIF_NAME),), options=table, problems=tuple(export.problems)
        )

    def check_access(self) -> list[AccessCheck]:
        """Bind as a collect does (``ConnectorError`` when no server answers or the bind is
        refused), then one sizeLimit=1 search per permission of this flavor: the user and
        group bases with the attributes a collect reads, the password policy (AD: the domain
        object and the PSO container) and, for OpenLDAP, whether userPassword may be searched.
        An attribute missing from the first entry is looked for with a presence filter, so
        that "hidden by the ACLs" is told from "not set" where the server allows it (see
        ``connectors.ldap.access``); what cannot be told is None, saying why."""
        options = self.options
        if options.mode == "export":
            return []
        kinds = kinds_of(
            self.scope(), base_dn=options.base_dn or "", policy_dn=options.password_policy_dn
        )
        wanted = permissions_to_check(self.permissions.collect, options.flavor, kinds)
        with self._connect(read_only=True) as directory:
            return check_directory(directory, options.flavor, options.bind_dn or "", kinds, wanted)

    def _snapshot(
        self,
        collected: Collected,
        source: str,
        origin: str,
        collected_at: datetime,
        how: dict[str, Any] | None = None,
    ) -> SystemSnapshot:
        return build_snapshot(
            type_name=self.type_name,
            system=self.system,
            flavor=self.flavor,
            collected=collected,
            source=source,
            origin=origin,
            collected_at=collected_at,
            settings={"flavor": self.options.flavor, **(how or {})},
        )

    def carry_out(self, action: Action) -> ActionResult:
        with self._connect(read_only=False) as directory:
            return apply_action(directory, self.scope(), action)

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
            allow_plaintext=options.allow_plaintext,
        )
        return connect(settings, password, system=self.system, read_only=read_only)


def _under(base: str, sub: str | None) -> str:
    if not sub:
        return base
    return sub if is_under(sub, base) else f"{sub},{base}"
