"""The OpenVPN connector: certificate identities, who connects, how, and revocation.

Identities come from an easy-rsa PKI, connections from the server's status file, management
interface and logs, how clients authenticate from server.conf."""

from __future__ import annotations

import re
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any, ClassVar, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from iam_gov.configtypes import RelPath, SecretRef
from iam_gov.connectors.openvpn.actions import apply_action
from iam_gov.connectors.openvpn.conf import ServerConf, authentication, read_server_conf
from iam_gov.connectors.openvpn.log import LogHistory, read_logs
from iam_gov.connectors.openvpn.pki import (
    CA_CERT,
    INDEX,
    PKI_CRL,
    CertificateFile,
    CrlInfo,
    Index,
    IndexEntry,
    read_certificates,
    read_crl,
    read_index,
)
from iam_gov.connectors.openvpn.status import (
    Session,
    StatusReport,
    connected,
    parse_address,
    read_management,
    read_status_file,
)
from iam_gov.connectors.shared.protocol import Connector, ConnectorOptions, Permissions
from iam_gov.connectors.shared.registry import connector
from iam_gov.connectors.shared.vpn_identities import MappedIdentity, read_mapping
from iam_gov.model import (
    Account,
    AccountKind,
    AccountStatus,
    Action,
    ActionKind,
    ActionResult,
    Credential,
    CredentialKind,
    Entitlement,
    Grant,
    SnapshotError,
    SystemSnapshot,
    UTCDateTime,
)


class OpenVPNOptions(ConnectorOptions):
    """One OpenVPN server and the easy-rsa PKI that issues its client certificates."""

    type: Literal["openvpn"]
    pki_dir: RelPath
    """The easy-rsa PKI: index.txt, ca.crt, issued/, crl.pem. Private keys are read only by
    easy-rsa, during actions."""
    crl_path: RelPath | None = None
    """The CRL the server checks. Default: server_conf's crl-verify, else pki_dir/crl.pem."""
    server_conf: RelPath | None = None
    status_file: RelPath | None = None
    """The server's --status file, version 1, 2 or 3 (detected)."""
    management: str | None = None
    """The management interface, ``host:port`` or ``unix:/path``: who is connected now
    (``status 3``), and where the actions end sessions."""
    management_password: SecretRef | None = None
    log_files: list[RelPath] | None = None
    """Glob patterns of the server's logs (rotated and .gz ones too): connection history."""
    network_name: str | None = Field(default=None, min_length=1)
    """The entitlement's name, ``vpn:<network_name>``. Default: the system name."""
    cn_is: Literal["login", "email"] = "login"
    mapping: RelPath | None = None
    """YAML ``identities: [{cn, login, email, employee_id, kind, note}]``."""
    second_factor: str | None = Field(default=None, min_length=1)
    """What the PAM or plugin stack asks for beyond the password, where iam-gov cannot see
    it, e.g. "Duo via RADIUS"."""
    relies_on: str | None = Field(default=None, min_length=1)
    """The iam-gov system whose sign-in checks the VPN password, e.g. "okta"."""
    easyrsa: RelPath | None = None
    """The easyrsa program for actions. Default: on PATH, else /usr/share/easy-rsa/easyrsa."""
    ca_passphrase: SecretRef | None = None
    """The CA key's passphrase, if it has one (easy-rsa reads it from its environment)."""
    timezone: str | None = None
    """The server's time zone, for the local times in status files and logs (an IANA name).
    Default: this machine's."""
    crl_warning_days: int = Field(default=14, ge=0)
    exported_at: UTCDateTime | None = None
    """When the files were copied from the server. Default: now."""

    @field_validator("management")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        if value is not None:
            parse_address(value)
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone {value!r} (an IANA name)") from None
        return value

    @model_validator(mode="after")
    def _consistent(self) -> OpenVPNOptions:
        if self.management_password is not None and self.management is None:
            raise ValueError("management_password needs management")
        if self.management is not None and self.exported_at is not None:
            raise ValueError("exported_at is for files copied from a server, not management")
        return self

    def zone(self) -> tzinfo:
        if self.timezone is not None:
            return ZoneInfo(self.timezone)
        local = datetime.now().astimezone().tzinfo
        assert local is not None
        return local


# What the connector touches, by the option that names it. Collect reads files and asks the
# management interface who is connected; it never reads a private key.
_CERTIFICATES = (
    "file:read:pki_dir certificates (issued/, certs_by_serial/, revoked/, renewed/, expired/)"
)
COLLECT_PERMISSIONS = (
    "file:read:pki_dir/index.txt",
    "file:read:pki_dir/ca.crt",
    _CERTIFICATES,
    "file:read:crl_path",
    "file:read:server_conf",
    "file:read:status_file",
    "file:read:log_files",
    "file:read:mapping",
    "management:status",
)
# Actions read the state first (that is what makes them idempotent). easy-rsa, run as a
# program, reads the CA key and writes the PKI (index.txt, revoked/, crl.pem); the CRL is then
# installed where the server reads it, and sessions are ended on the management interface.
APPLY_PERMISSIONS = (
    "file:lock:pki_dir",
    "file:read:pki_dir/index.txt",
    "file:read:pki_dir/crl.pem",
    _CERTIFICATES,
    "file:read:crl_path",
    "file:read:server_conf",
    "exec:easyrsa revoke* (revoke, revoke-renewed, revoke-expired)",
    "exec:easyrsa gen-crl",
    # gen-crl writes a new file only its owner can read: its former mode is put back
    "file:write:pki_dir/crl.pem",
    "file:write:crl_path",
    "management:status",
    "management:kill",
)

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@connector
class OpenVPNConnector(Connector[OpenVPNOptions]):
    """Certificate common names as accounts; the VPN itself as one entitlement."""

    options_model: ClassVar[type[ConnectorOptions]] = OpenVPNOptions
    permissions: ClassVar[Permissions] = Permissions(
        collect=COLLECT_PERMISSIONS, apply=APPLY_PERMISSIONS
    )
    capabilities: ClassVar[frozenset[ActionKind]] = frozenset(
        {ActionKind.DISABLE_ACCOUNT, ActionKind.DEACTIVATE_CREDENTIAL}
    )

    def __repr__(self) -> str:
        return f"OpenVPNConnector(system={self.system!r}, pki_dir={str(self.options.pki_dir)!r})"

    @property
    def network_name(self) -> str:
        return self.options.network_name or self.system

    def server_conf(self) -> ServerConf | None:
        path = self.options.server_conf
        return read_server_conf(path) if path is not None else None

    def crl_location(self, conf: ServerConf | None) -> tuple[Path, bool] | None:
        """Where the server reads its CRL (and whether it is a folder of serials); None when
        its configuration says it checks none."""
        if self.options.crl_path is not None:
            return self.options.crl_path, self.options.crl_path.is_dir()
        if conf is not None:
            return conf.crl()
        return self.options.pki_dir / PKI_CRL, False

    # --- collect ------------------------------------------------------------------------

    def collect(self) -> SystemSnapshot:
        options = self.options
        zone = options.zone()
        reports: list[StatusReport] = []
        if options.management is not None:
            # First: an unreachable server or a refused password stops here, before any data.
            password = (
                options.management_password.resolve("management_password")
                if options.management_password is not None
                else None
            )
            reports.append(read_management(options.management, password, zone, self.system))
        collected_at = options.exported_at or self.clock()
        index = read_index(options.pki_dir)
        errors = list(index.errors)
        complete = index.bad_lines == 0
        certificates = read_certificates(options.pki_dir, errors)
        conf = self.server_conf()
        mapping = read_mapping(options.mapping) if options.mapping is not None else {}
        crl = self._crl(conf, errors, collected_at)
        if options.status_file is not None:
            reports.append(read_status_file(options.status_file, zone))
        for report in reports:
            errors.extend(report.errors)
            complete = complete and not report.errors
        history = None
        if options.log_files:
            history = read_logs(options.log_files, zone, collected_at)
            errors.extend(history.errors)
        mapper = _Mapper(self, index, certificates, crl, conf, mapping, collected_at, errors)
        mapper.identities()
        mapper.activity(reports, history)
        settings: dict[str, Any] = {
            "vpn": {
                "kind": "openvpn",
                "authentication": authentication(
                    conf, second_factor=options.second_factor, relies_on=options.relies_on
                ),
                "crl": crl.settings(index) if crl is not None else None,
            },
            "observation": {
                "observed_since": _observed_since(reports, history, collected_at).isoformat()
            },
        }
        if mapper.server_certificates:
            settings["vpn"]["server_certificates"] = sorted(mapper.server_certificates)
        if not reports and history is None:
            errors.append(
                SnapshotError(
                    source=self.system,
                    message="no status_file, management or log_files given: when identities "
                    "last connected is unknown",
                )
            )
        return mapper.snapshot(self._source(history), settings, complete)

    def _crl(
        self, conf: ServerConf | None, errors: list[SnapshotError], now: datetime
    ) -> CrlInfo | None:
        location = self.crl_location(conf)
        if location is None:
            errors.append(
                SnapshotError(
                    source=str(self.options.server_conf),
                    message="no crl-verify: the server does not check whether a certificate "
                    "was revoked, so every revoked certificate can still connect",
                )
            )
            return None
        path, is_dir = location
        crl = read_crl(path, [self.options.pki_dir / CA_CERT], directory=is_dir)
        errors.extend(SnapshotError(source=str(path), message=p) for p in crl.problems)
        if crl.next_update is not None:
            left = crl.next_update - now
            if left.total_seconds() <= 0:
                errors.append(
                    SnapshotError(
                        source=str(path),
                        message=f"the CRL expired on {crl.next_update:%Y-%m-%d %H:%M} UTC: "
                        "OpenVPN refuses every client until a new one is installed",
                    )
                )
            elif left.days < self.options.crl_warning_days:
                errors.append(
                    SnapshotError(
                        source=str(path),
                        message=f"the CRL's next update is {crl.next_update:%Y-%m-%d %H:%M} "
                        f"UTC, in {left.days} days: regenerate it before it expires",
                    )
                )
        return crl

    def _source(self, history: LogHistory | None) -> str:
        options = self.options
        if options.management is not None:
            return "live"
        files = [INDEX]
        for path in (options.crl_path, options.server_conf, options.status_file, options.mapping):
            if path is not None:
                files.append(path.name)
        if history is not None:
            files.append(f"{len(history.files)} log files")
        return "export:" + ",".join(files)

    # --- apply --------------------------------------------------------------------------

    def apply(self, action: Action) -> ActionResult:
        if action.kind not in self.capabilities:
            return super().apply(action)
        return apply_action(self, action)


def _observed_since(
    reports: list[StatusReport], history: LogHistory | None, now: datetime
) -> datetime:
    """Since when a connection would have been seen: the oldest log line, else the status."""
    moments = [r.updated_at or now for r in reports]
    if history is not None and history.oldest is not None:
        moments.append(history.oldest)
    # Nothing watched: the window is empty, so nobody counts as long unseen.
    return min(moments) if moments else now


class _Mapper:
    """Turns index.txt, the certificates, the CRL and who was seen into the shared model."""

    def __init__(
        self,
        connector: OpenVPNConnector,
        index: Index,
        certificates: dict[str, list[CertificateFile]],
        crl: CrlInfo | None,
        conf: ServerConf | None,
        mapping: dict[str, MappedIdentity],
        collected_at: datetime,
        errors: list[SnapshotError],
    ) -> None:
        self.connector = connector
        self.system = connector.system
        self.options = connector.options
        self.index = index
        self.certificates = certificates
        self.crl = crl
        self.conf = conf
        self.mapping = mapping
        self.collected_at = collected_at
        self.errors = errors
        self.accounts: dict[str, Account] = {}
        self.credentials: list[Credential] = []
        self.server_certificates: set[str] = set()
        self.entitlement = Entitlement(
            system=self.system,
            entitlement_id=f"vpn:{connector.network_name}",
            name=connector.network_name,
            kind="vpn",
            description="can connect to the OpenVPN server",
        )

    # identities

    def identities(self) -> None:
        by_name: dict[str, list[IndexEntry]] = {}
        for entry in self.index.entries:
            assert entry.common_name is not None  # read_index leaves out those without
            by_name.setdefault(entry.common_name, []).append(entry)
        for name, entries in by_name.items():
            self._identity(name, entries)

    def _identity(self, name: str, entries: list[IndexEntry]) -> None:
        files = [f for e in entries for f in self.certificates.get(e.serial, [])[:1]]
        server_only = bool(files) and all(f.server_only for f in files)
        if server_only and self.conf is not None and self.conf.requires_client_eku():
            # remote-cert-tls client: the server's own certificate cannot connect as a client.
            self.server_certificates.add(name)
            return
        mapped = self.mapping.get(name)
        credentials = [self._credential(name, e) for e in entries]
        self.credentials.extend(credentials)
        valid = [c for c in credentials if c.active]
        created = [c.created_at for c in credentials if c.created_at is not None]
        attributes = {"common_name": name, "valid_certificates": str(len(valid))}
        if valid:
            attributes["certificate_status"] = "valid"
        else:
            # Revoked in index.txt, or listed by the CRL the server checks.
            revoked = any(
                e.status == "R" or (self.crl is not None and e.serial in self.crl.serials)
                for e in entries
            )
            attributes["certificate_status"] = "revoked" if revoked else "expired"
        kind = AccountKind.HUMAN
        if server_only:
            kind = AccountKind.SERVICE
            attributes["certificate_type"] = "server"
            if self.conf is not None:
                self.errors.append(
                    SnapshotError(
                        source=str(self.conf.path),
                        record=name,
                        message=f"{name} holds a server certificate, and without "
                        "`remote-cert-tls client` the server accepts it from a client",
                    )
                )
        if mapped is not None and mapped.kind is not None:
            kind = AccountKind.SERVICE if mapped.kind == "service" else AccountKind.HUMAN
        if mapped is not None and mapped.note:
            attributes["note"] = mapped.note
        self.accounts[name] = Account(
            system=self.system,
            native_id=name,
            login=(mapped.login if mapped and mapped.login else name),
            email=self._email(name, entries, files, mapped),
            employee_id=mapped.employee_id if mapped else None,
            status=AccountStatus.ACTIVE if valid else AccountStatus.DISABLED,
            kind=kind,
            created_at=min(created) if created else None,
            # The VPN enrols no factor per user; MFA is judged per server (settings).
            mfa_factors=None,
            attributes=attributes,
        )

    def _email(
        self,
        name: str,
        entries: list[IndexEntry],
        files: list[CertificateFile],
        mapped: MappedIdentity | None,
    ) -> str | None:
        if mapped is not None and mapped.email:
            return mapped.email
        if _EMAIL.match(name):
            return name
        if self.options.cn_is == "email":
            self.errors.append(
                SnapshotError(
                    source=str(self.index.path),
                    line=entries[0].line,
                    record=name,
                    message=f"cn_is = email, but the common name {name!r} is not an e-mail address",
                )
            )
        found = [e.email for e in entries if e.email] + [f.email for f in files if f.email]
        return found[0] if found else None

    def _credential(self, name: str, entry: IndexEntry) -> Credential:
        files = self.certificates.get(entry.serial, [])
        listed = self.crl is not None and self.crl.readable and entry.serial in self.crl.serials
        active = entry.status == "V" and entry.expires_at > self.collected_at and not listed
        if listed and entry.status == "V":
            self.errors.append(
                SnapshotError(
                    source=str(self.index.path),
                    line=entry.line,
                    record=entry.serial,
                    message=f"the CRL lists {name}'s certificate {entry.serial}, which "
                    "index.txt says is valid: the server refuses it",
                )
            )
        attributes = {"serial": entry.serial, "status": entry.status, "subject": entry.subject}
        if entry.revoked_at is not None:
            attributes["revoked_at"] = entry.revoked_at.isoformat()
        if entry.revocation_reason:
            attributes["revocation_reason"] = entry.revocation_reason
        if files:
            attributes["file"] = files[0].path.name
        return Credential(
            system=self.system,
            account_id=name,
            credential_id=f"{name}#cert-{entry.serial}",
            kind=CredentialKind.CERTIFICATE,
            active=active,
            created_at=files[0].not_before if files else None,
            expires_at=entry.expires_at,
            attributes=attributes,
        )

    # activity

    def activity(self, reports: list[StatusReport], history: LogHistory | None) -> None:
        aliases = {name: name for name in self.accounts}
        for name, account in self.accounts.items():
            # username-as-common-name: the status and logs name the user, not the CN.
            aliases.setdefault(account.login, name)
        seen: dict[str, datetime] = {}
        sessions: dict[str, list[Session]] = {}
        for report in reports:
            moment = report.updated_at or self.collected_at
            for name, found in connected([report]).items():
                key = aliases.get(name)
                if key is None:
                    key = self._connected_stranger(name, report)
                    aliases[name] = key
                sessions.setdefault(key, []).extend(found)
                seen[key] = max(seen.get(key, moment), moment)
        strangers: set[str] = set()
        if history is not None:
            for name, moment in history.last_seen.items():
                key = aliases.get(name)
                if key is None:
                    strangers.add(name)
                    continue
                seen[key] = max(seen.get(key, moment), moment)
        if strangers:
            listed = ", ".join(sorted(strangers)[:10]) + (" …" if len(strangers) > 10 else "")
            self.errors.append(
                SnapshotError(
                    source="log_files",
                    message=f"{len(strangers)} names connected in the past have no certificate "
                    f"in index.txt: {listed}",
                )
            )
        positions: dict[str, list[int]] = {}
        for index, credential in enumerate(self.credentials):
            positions.setdefault(credential.account_id, []).append(index)
        for key, moment in seen.items():
            self._seen(key, moment, sessions.get(key, []), positions.get(key, []))

    def _connected_stranger(self, name: str, report: StatusReport) -> str:
        # Connected now, so it can connect: kept as an identity rather than left out.
        self.errors.append(
            SnapshotError(
                source=report.source,
                record=name,
                message=f"{name} is connected but no certificate in index.txt has that common "
                "name (another PKI, or usernames as common names?)",
            )
        )
        mapped = self.mapping.get(name)
        self.accounts[name] = Account(
            system=self.system,
            native_id=name,
            login=(mapped.login if mapped and mapped.login else name),
            email=(mapped.email if mapped else None) or (name if _EMAIL.match(name) else None),
            employee_id=mapped.employee_id if mapped else None,
            status=AccountStatus.ACTIVE,
            kind=AccountKind.SERVICE if mapped and mapped.kind == "service" else AccountKind.HUMAN,
            attributes={"common_name": name, "certificate_status": "unknown"},
        )
        return name

    def _seen(
        self, name: str, moment: datetime, sessions: list[Session], positions: list[int]
    ) -> None:
        """``positions``: where this identity's certificates are in ``self.credentials``."""
        account = self.accounts[name]
        attributes = dict(account.attributes)
        starts = [s.connected_since for s in sessions if s.connected_since is not None]
        if sessions:
            attributes["connected"] = "true"
            attributes["sessions"] = str(len(sessions))
        if starts:
            attributes["connected_since"] = min(starts).isoformat()
        if sessions and account.status is not AccountStatus.ACTIVE:
            self.errors.append(
                SnapshotError(
                    source=self.system,
                    record=name,
                    message=f"{name} is connected although no certificate of theirs is valid: "
                    "the session lasts until its next TLS renegotiation unless it is ended "
                    "(the disable action does that through the management interface)",
                )
            )
        self.accounts[name] = account.model_copy(
            update={"last_login_at": moment, "attributes": attributes}
        )
        if len(positions) == 1:
            # With one certificate, the connection was made with it; with several, which one
            # is not recorded anywhere OpenVPN writes.
            [index] = positions
            mine = self.credentials[index]
            if mine.created_at is None or mine.created_at <= moment:
                self.credentials[index] = mine.model_copy(update={"last_used_at": moment})

    # the snapshot

    def snapshot(self, source: str, settings: dict[str, Any], complete: bool) -> SystemSnapshot:
        accounts = sorted(self.accounts.values(), key=lambda a: a.native_id)
        grants = [
            Grant(
                system=self.system,
                account_id=account.native_id,
                entitlement_id=self.entitlement.entitlement_id,
            )
            for account in accounts
            if account.status is AccountStatus.ACTIVE
        ]
        return SystemSnapshot(
            system=self.system,
            connector=OpenVPNConnector.type_name,
            source=source,
            collected_at=self.collected_at,
            complete=complete,
            errors=tuple(self.errors),
            accounts=tuple(accounts),
            credentials=tuple(sorted(self.credentials, key=lambda c: c.credential_id)),
            entitlements=(self.entitlement,),
            grants=tuple(grants),
            settings=settings,
        )
