"""The WireGuard connector: one account per peer of a wg-quick configuration, with the
handshakes of the running interface (``wg show <interface> dump``) or of a saved dump."""

from __future__ import annotations

import stat
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from iam_gov.configtypes import RelPath
from iam_gov.connectors.shared.protocol import Connector, ConnectorOptions, Permissions
from iam_gov.connectors.shared.registry import connector
from iam_gov.connectors.wireguard.actions import disable_peer
from iam_gov.connectors.wireguard.conf import ConfProblem, Peer, WgConfig, read_config, short_key
from iam_gov.connectors.wireguard.dump import (
    Dump,
    DumpPeer,
    InterfaceAbsent,
    WgError,
    live_dump,
    read_dump,
    userspace_started_at,
)
from iam_gov.connectors.wireguard.identities import (
    CommentConvention,
    Identity,
    comment_identity,
    load_mapping,
)
from iam_gov.errors import ConnectorError
from iam_gov.model import (
    Account,
    AccountKind,
    AccountStatus,
    Action,
    ActionKind,
    ActionOutcome,
    ActionResult,
    Credential,
    CredentialKind,
    Entitlement,
    Grant,
    SnapshotError,
    SystemSnapshot,
    UTCDateTime,
)
from iam_gov.timeutil import as_utc, utcnow

# wg-quick's own rule for interface names (and Linux's 15-character limit).
INTERFACE_NAME = r"^[a-zA-Z0-9_=+.-]{1,15}$"


class WireGuardOptions(ConnectorOptions):
    """One WireGuard server interface. With ``dump_file``, everything is read from files (an
    export); otherwise the configuration is the server's own, and with ``interface`` the
    running interface is read and changed too."""

    type: Literal["wireguard"]
    config: RelPath
    """The interface's wg-quick configuration, e.g. /etc/wireguard/wg0.conf."""
    interface: str | None = Field(default=None, pattern=INTERFACE_NAME)
    """The running interface (e.g. ``wg0``): its handshakes are read with ``wg show <if>
    dump`` and actions remove peers from it too. With ``dump_file``: which interface of a
    ``wg show all dump`` to read (default: the configuration file's name, as wg-quick)."""
    dump_file: RelPath | None = None
    """Offline: the saved output of ``wg show <if> dump`` (or ``wg show all dump``)."""
    network_name: str | None = Field(default=None, min_length=1)
    """Names the VPN entitlement, ``vpn:<network_name>``. Default: the system's name."""
    mapping: RelPath | None = None
    """YAML identities file: public key -> login, email, employee_id, kind."""
    comment_convention: CommentConvention = "auto"
    """Which comments name a peer: ``auto`` (``# iam-gov: …``, ``# Name = …``, ``# e-mail``,
    PiVPN's ``### begin name ###``), ``iam-gov`` (only ``# iam-gov: …``) or ``off``."""
    second_factor: str | None = Field(default=None, min_length=1)
    """Declared only: what else the VPN demands (WireGuard itself checks the key alone)."""
    relies_on: str | None = Field(default=None, min_length=1)
    """Declared only: the iam-gov system whose sign-in hands out or gates the keys."""
    interface_up_since: UTCDateTime | None = None
    """When the interface last came up, if known (``systemctl show wg-quick@wg0 -p
    ActiveEnterTimestamp``): handshakes are only known since then. Found by itself for a
    userspace interface (wireguard-go); otherwise the time of collection is assumed."""
    wg_command: tuple[str, ...] = Field(default=("wg",), min_length=1)
    """How to run wg, e.g. ``["sudo", "-n", "wg"]`` with a sudoers rule (see the README)."""
    exported_at: UTCDateTime | None = None
    """With ``dump_file``: when the dump was taken. Default: the dump file's mtime."""

    @model_validator(mode="after")
    def _fits_mode(self) -> WireGuardOptions:
        if self.dump_file is None:
            if self.exported_at is not None:
                raise ValueError("exported_at only applies with dump_file")
        elif "wg_command" in self.model_fields_set:
            raise ValueError("wg_command does not apply with dump_file: nothing is run")
        return self


COLLECT_PERMISSIONS = (
    "read: the configuration file (config)",
    "read: the mapping file (mapping)",
    "read: the saved dump (dump_file)",
    "run: wg show <interface> dump",
)
APPLY_PERMISSIONS = (
    "read: the configuration file (config)",
    "replace: the configuration file (a new file in its folder, given the old one's mode and "
    "owner, renamed over it)",
    "run: wg show <interface> peers",
    "run: wg set <interface> peer <public key> remove",
)


@connector
class WireGuardConnector(Connector[WireGuardOptions]):
    """Peers as accounts, each holding the one VPN entitlement; keys as credentials."""

    options_model: ClassVar[type[ConnectorOptions]] = WireGuardOptions
    permissions: ClassVar[Permissions] = Permissions(
        collect=COLLECT_PERMISSIONS, apply=APPLY_PERMISSIONS
    )
    capabilities: ClassVar[frozenset[ActionKind]] = frozenset({ActionKind.DISABLE_ACCOUNT})

    def __init__(
        self, system: str, options: WireGuardOptions, *, clock: Callable[[], datetime] = utcnow
    ) -> None:
        super().__init__(system, options, clock=clock)

    @property
    def network_name(self) -> str:
        return self.options.network_name or self.system

    # --- collect ------------------------------------------------------------------------

    def collect(self) -> SystemSnapshot:
        options = self.options
        errors: list[SnapshotError] = []
        if options.dump_file is not None:
            config = read_config(options.config)
            dump: Dump | None = read_dump(options.dump_file, options.interface or _stem(options))
            collected_at = options.exported_at
            if collected_at is None:
                collected_at = datetime.fromtimestamp(options.dump_file.stat().st_mtime, UTC)
                errors.append(
                    SnapshotError(
                        source=str(options.dump_file),
                        message="exported_at not given: taken to be the file's modification "
                        f"time, {collected_at:%Y-%m-%d %H:%M} UTC",
                    )
                )
            source = f"export:{options.config.name},{options.dump_file.name}"
            started = options.interface_up_since
        else:
            collected_at = self.clock()
            config = read_config(options.config)
            dump = self._live_dump(errors) if options.interface is not None else None
            source = "live"
            started = options.interface_up_since
            if started is None and options.interface is not None:
                started = userspace_started_at(options.interface)
        mapping = load_mapping(options.mapping) if options.mapping is not None else {}
        settings = self._settings(config, dump)
        if dump is not None:
            # Only handshakes since the interface came up are known; when that time is not
            # known, all that is certain is that nobody unseen now was seen since now. The
            # store adds up what each collection saw.
            since = collected_at if started is None else min(started, collected_at)
            settings["observation"] = {"observed_since": as_utc(since).isoformat()}
        return _Mapper(self.system, self.network_name, options).snapshot(
            config=config,
            dump=dump,
            mapping=mapping,
            source=source,
            collected_at=collected_at,
            settings=settings,
            errors=errors,
        )

    def _live_dump(self, errors: list[SnapshotError]) -> Dump | None:
        interface = self.options.interface
        assert interface is not None
        try:
            return live_dump(self.options.wg_command, interface)
        except InterfaceAbsent as exc:
            # Nobody can connect through an interface that is down; the configuration still
            # says who will when it comes up.
            errors.append(
                SnapshotError(
                    source=f"wg show {interface} dump",
                    message=f"interface {interface} is not up: no handshakes read ({exc})",
                )
            )
            return None
        except WgError as exc:
            raise ConnectorError(f"{self.system}: {exc}") from None

    def _settings(self, config: WgConfig, dump: Dump | None) -> dict[str, Any]:
        options = self.options
        settings: dict[str, Any] = {
            "vpn": {
                "kind": "wireguard",
                "authentication": {
                    "certificate": False,
                    "key": True,
                    "password": None,
                    "second_factor": options.second_factor,
                    "relies_on": options.relies_on,
                },
                "crl": None,
            },
            "wireguard": {
                "interface": options.interface or (dump.interface if dump else None),
                "listen_port": config.listen_port
                if config.listen_port is not None
                else (dump.listen_port if dump else None),
                "save_config": config.save_config,
                "handshakes": None if dump is None else ("dump" if options.dump_file else "live"),
            },
        }
        if options.dump_file is None:
            # The file holds the interface's private key: anyone who can read it can pose as
            # the server. (A copy handed to an auditor says nothing about the server's.)
            mode = stat.S_IMODE(options.config.stat().st_mode)
            settings["wireguard"]["config_mode"] = f"{mode:04o}"
        return settings

    # --- apply --------------------------------------------------------------------------

    def apply(self, action: Action) -> ActionResult:
        if action.kind not in self.capabilities:
            return super().apply(action)
        if action.system != self.system:
            return _failed(action, f"this connector serves system {self.system!r}")
        if self.options.dump_file is not None:
            return _failed(
                action,
                "a saved dump cannot be changed: actions need the server's own configuration "
                "(no dump_file)",
            )
        return disable_peer(
            action, self.options.config, self.options.interface, self.options.wg_command
        )


def _stem(options: WireGuardOptions) -> str:
    return options.config.name.removesuffix(".conf")


def _failed(action: Action, message: str) -> ActionResult:
    return ActionResult(action=action, outcome=ActionOutcome.FAILED, message=message)


class _Mapper:
    """Config blocks, dump lines and identities -> the shared model."""

    def __init__(self, system: str, network: str, options: WireGuardOptions) -> None:
        self.system, self.options = system, options
        self.entitlement = Entitlement(
            system=system,
            entitlement_id=f"vpn:{network}",
            name=network,
            kind="vpn",
            description=f"WireGuard interface {options.interface or _stem(options)}",
        )

    def snapshot(
        self,
        *,
        config: WgConfig,
        dump: Dump | None,
        mapping: dict[str, Identity],
        source: str,
        collected_at: datetime,
        settings: dict[str, Any],
        errors: list[SnapshotError],
    ) -> SystemSnapshot:
        config_source = str(self.options.config)
        errors = list(errors)
        complete = True
        for problem in config.problems:
            complete = complete and not problem.incomplete
            errors.append(
                SnapshotError(
                    source=config_source,
                    line=problem.line,
                    record=problem.record,
                    message=problem.message,
                )
            )
        blocks: dict[str, list[Peer]] = {}
        for peer in (*config.peers, *config.disabled):
            blocks.setdefault(peer.public_key, []).append(peer)
        live: dict[str, DumpPeer] = {}
        if dump is not None:
            errors.extend(dump.problems)
            complete = complete and not dump.problems
            live = {peer.public_key: peer for peer in dump.peers}
            if config.peers and live and not set(live) & {p.public_key for p in config.peers}:
                complete = False
                errors.append(
                    SnapshotError(
                        source=dump.source,
                        message=f"shares no peer with {config_source}: are they of the same "
                        "interface?",
                    )
                )
        accounts, credentials, grants = [], [], []
        for key in sorted(set(blocks) | set(live)):
            identity, problems = self._identity(key, blocks.get(key, []), mapping)
            errors.extend(
                SnapshotError(source=config_source, line=p.line, record=key, message=p.message)
                for p in problems
            )
            account, credential = self._peer(key, blocks.get(key, []), live.get(key), identity)
            accounts.append(account)
            credentials.append(credential)
            if account.status is AccountStatus.ACTIVE:
                grants.append(
                    Grant(
                        system=self.system,
                        account_id=key,
                        entitlement_id=self.entitlement.entitlement_id,
                    )
                )
        errors.sort(key=lambda e: (e.source, e.line or 0, e.message))
        return SystemSnapshot(
            system=self.system,
            connector=WireGuardConnector.type_name,
            source=source,
            collected_at=collected_at,
            complete=complete,
            errors=tuple(errors),
            accounts=tuple(accounts),
            credentials=tuple(credentials),
            entitlements=(self.entitlement,),
            grants=tuple(grants),
            settings=settings,
        )

    def _identity(
        self, key: str, blocks: Sequence[Peer], mapping: dict[str, Identity]
    ) -> tuple[Identity, list[ConfProblem]]:
        found, problems = Identity(), []
        for block in blocks:
            said, said_problems = comment_identity(block.comments, self.options.comment_convention)
            found = found.over(said)
            problems.extend(said_problems)
        mapped = mapping.get(key)
        return (mapped.over(found) if mapped is not None else found), problems

    def _peer(
        self, key: str, blocks: Sequence[Peer], seen: DumpPeer | None, identity: Identity
    ) -> tuple[Account, Credential]:
        configured = [block for block in blocks if not block.disabled]
        # In the configuration, or in the running interface (added there by hand, or removed
        # from the file but not yet from the interface): either way it can connect.
        usable = bool(configured) or seen is not None
        attributes = {
            "config": "peer" if configured else "disabled" if blocks else "absent",
            "identity_from": identity.source,
        }
        if blocks:
            attributes["config_line"] = ",".join(str(block.line) for block in blocks)
        if self.options.interface is not None or self.options.dump_file is not None:
            attributes["interface"] = "peer" if seen is not None else "absent"
        allowed = [ip for block in (configured or blocks) for ip in block.allowed_ips]
        if not allowed and seen is not None:
            allowed = list(seen.allowed_ips)
        endpoint = seen.endpoint if seen is not None and seen.endpoint else None
        endpoint = endpoint or next((b.endpoint for b in configured if b.endpoint), None)
        key_attributes = {
            "allowed_ips": ",".join(dict.fromkeys(allowed)),
            "preshared_key": "yes"
            if any(b.preshared_key for b in blocks) or (seen is not None and seen.preshared_key)
            else "no",
        }
        if endpoint:
            key_attributes["endpoint"] = endpoint
        if identity.note:
            attributes["note"] = identity.note
        handshake = seen.latest_handshake if seen is not None else None
        account = Account(
            system=self.system,
            native_id=key,
            login=identity.login or identity.email or short_key(key),
            email=identity.email,
            display_name=identity.display_name,
            employee_id=identity.employee_id,
            status=AccountStatus.ACTIVE if usable else AccountStatus.DISABLED,
            kind=AccountKind.SERVICE if identity.kind == "service" else AccountKind.HUMAN,
            last_login_at=handshake,
            mfa_factors=None,
            attributes={**attributes, **key_attributes},
        )
        credential = Credential(
            system=self.system,
            account_id=key,
            credential_id=f"{key}#key",
            kind=CredentialKind.PUBLIC_KEY,
            active=usable,
            last_used_at=handshake,
            attributes=key_attributes,
        )
        return account, credential
