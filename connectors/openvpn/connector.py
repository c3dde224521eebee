"""The OpenVPN connector: certificate identities, who connects, how, and revocation.

Identities come from an easy-rsa PKI, connections from the server's status file, management
interface and logs, how clients authenticate from server.conf."""

from __future__ import annotations

from datetime import datetime, tzinfo
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from iam_gov.configtypes import RelPath, SecretRef
from iam_gov.connectors.openvpn.actions import Server, apply_action
from iam_gov.connectors.openvpn.client import parse_address
from iam_gov.connectors.openvpn.conf import read_server_conf
from iam_gov.connectors.openvpn.live import management_status, read_management
from iam_gov.connectors.openvpn.log import LogHistory, read_logs
from iam_gov.connectors.openvpn.pki import (
    INDEX,
    read_certificates,
    read_index,
    read_server_crl,
)
from iam_gov.connectors.openvpn.status import StatusReport, read_status_file
from iam_gov.connectors.openvpn.to_model import ServerRecords, SnapshotBuilder
from iam_gov.connectors.openvpn.write_export import ServerFiles, write_openvpn_export
from iam_gov.connectors.shared.protocol import (
    Connector,
    ConnectorOptions,
    ExportNotSupported,
    ExportWritten,
    Permissions,
)
from iam_gov.connectors.shared.registry import connector
from iam_gov.connectors.shared.vpn import Vpn
from iam_gov.connectors.shared.vpn_identities import read_identities
from iam_gov.gcpause import collector_paused
from iam_gov.model import (
    Action,
    ActionKind,
    ActionResult,
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
    status_file: RelPath | list[RelPath] | None = None
    """The server's --status file, version 1, 2 or 3 (detected); or several (an export of a
    server read through its management interface and a status file has both)."""
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
    mfa_from: str | None = Field(default=None, min_length=1)
    """The iam-gov system (an identity provider, e.g. "okta" or "entra") whose enrolled MFA
    factors are each VPN user's second factor: where server.conf hands the password to
    RADIUS or LDAP (the radiusplugin, openvpn-auth-ldap, Okta's RADIUS agent, Entra's NPS
    extension), that provider asks for a second factor only of users who have one.
    vpn-without-mfa then reports each VPN user with no factor enrolled there."""
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

    def status_files(self) -> list[Path]:
        if self.status_file is None:
            return []
        return self.status_file if isinstance(self.status_file, list) else [self.status_file]

    def zone(self) -> tzinfo:
        if self.timezone is not None:
            return ZoneInfo(self.timezone)
        local = datetime.now().astimezone().tzinfo
        assert local is not None
        return local


# Options that say what the server is rather than where its files are: an export carries them.
_DESCRIBED = ("network_name", "cn_is", "second_factor", "relies_on", "mfa_from", "crl_warning_days")

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


@connector
class OpenVPNConnector(Connector[OpenVPNOptions]):
    """Certificate common names as accounts; the VPN itself as one entitlement."""

    options_model = OpenVPNOptions
    permissions = Permissions(collect=COLLECT_PERMISSIONS, apply=APPLY_PERMISSIONS)
    capabilities = frozenset({ActionKind.DISABLE_ACCOUNT, ActionKind.DEACTIVATE_CREDENTIAL})

    def __repr__(self) -> str:
        return f"OpenVPNConnector(system={self.system!r}, pki_dir={str(self.options.pki_dir)!r})"

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
        with collector_paused():
            collected_at = options.exported_at or self.clock()
            index = read_index(options.pki_dir)
            certificate_errors: list[SnapshotError] = []
            certificates = read_certificates(options.pki_dir, certificate_errors)
            conf = (
                read_server_conf(options.server_conf) if options.server_conf is not None else None
            )
            identities = read_identities(options.mapping) if options.mapping is not None else {}
            crl = read_server_crl(options.crl_path, options.pki_dir, conf)
            for status_file in options.status_files():
                reports.append(read_status_file(status_file, zone))
            history = (
                read_logs(options.log_files, zone, collected_at) if options.log_files else None
            )
            records = ServerRecords(
                index=index,
                certificates=certificates,
                certificate_errors=certificate_errors,
                conf=conf,
                identities=identities,
                crl=crl,
                reports=reports,
                history=history,
            )
            vpn = Vpn.named(
                self.system,
                self.type_name,
                options.network_name,
                "can connect to the OpenVPN server",
            )
            builder = SnapshotBuilder(
                vpn,
                records,
                collected_at=collected_at,
                cn_is=options.cn_is,
                crl_warning_days=options.crl_warning_days,
                second_factor=options.second_factor,
                relies_on=options.relies_on,
                mfa_from=options.mfa_from,
            )
            return builder.snapshot(source=self._source(history))

    def write_export(self, out: Path) -> ExportWritten:
        """The server's files (PKI certificates and index.txt, the CRL it checks, server.conf,
        status files, logs, the mapping) and the management interface's ``status 3`` answer,
        in the layout these options read offline; private keys never."""
        options = self.options
        if options.exported_at is not None:
            raise ExportNotSupported(
                f"{self.system}: these options read files already copied from the server "
                "(exported_at): export from the server's own files or its management interface"
            )
        lines = None
        if options.management is not None:
            password = (
                options.management_password.resolve("management_password")
                if options.management_password is not None
                else None
            )
            lines = management_status(options.management, password, self.system)
        server = ServerFiles(
            pki_dir=options.pki_dir,
            server_conf=options.server_conf,
            crl_path=options.crl_path,
            status_files=options.status_files(),
            log_files=options.log_files or [],
            mapping=options.mapping,
            timezone=options.timezone,
        )
        described = options.model_dump(include=set(_DESCRIBED))
        return write_openvpn_export(
            out, server, described=described, management_lines=lines, taken_at=self.clock()
        )

    def _source(self, history: LogHistory | None) -> str:
        options = self.options
        if options.management is not None:
            return "live"
        files = [INDEX]
        for path in (options.crl_path, options.server_conf, *options.status_files()):
            if path is not None:
                files.append(path.name)
        if options.mapping is not None:
            files.append(options.mapping.name)
        if history is not None:
            files.append(f"{len(history.files)} log files")
        return "export:" + ",".join(files)

    def carry_out(self, action: Action) -> ActionResult:
        options = self.options
        server = Server(
            system=self.system,
            pki_dir=options.pki_dir,
            crl_path=options.crl_path,
            server_conf=options.server_conf,
            easyrsa=options.easyrsa,
            ca_passphrase=options.ca_passphrase,
            management=options.management,
            management_password=options.management_password,
            zone=options.zone(),
            clock=self.clock,
        )
        return apply_action(server, action)
