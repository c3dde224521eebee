"""The WireGuard connector: one account per peer of a wg-quick configuration.

Handshakes come from the running interface (``wg show <interface> dump``) or a saved dump."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from iam_gov.configtypes import RelPath
from iam_gov.connectors.shared.export_time import export_time
from iam_gov.connectors.shared.files import read_source
from iam_gov.connectors.shared.protocol import (
    Connector,
    ConnectorOptions,
    ExportNotSupported,
    ExportWritten,
    Permissions,
)
from iam_gov.connectors.shared.registry import connector
from iam_gov.connectors.shared.vpn import Vpn
from iam_gov.connectors.wireguard.actions import disable_peer
from iam_gov.connectors.wireguard.client import InterfaceAbsent, WgError
from iam_gov.connectors.wireguard.conf import parse_config, read_config
from iam_gov.connectors.wireguard.dump import Dump, read_dump
from iam_gov.connectors.wireguard.identities import CommentConvention, load_identities
from iam_gov.connectors.wireguard.live import (
    dump_of,
    live_dump,
    live_dump_text,
    userspace_started_at,
)
from iam_gov.connectors.wireguard.to_model import InterfaceRecords, SnapshotBuilder
from iam_gov.connectors.wireguard.write_export import InterfaceRead, write_wireguard_export
from iam_gov.errors import ConnectorError
from iam_gov.model import (
    Action,
    ActionKind,
    ActionResult,
    SnapshotError,
    SystemSnapshot,
    UTCDateTime,
)

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
    """Which comments name a peer: ``auto`` (``# iam-gov: …``; ``# Name = …`` / ``Name:`` /
    ``user:`` / ``Email:`` as hand-written files and WireGuard UI write them; a name or an
    e-mail in a comment just above ``[Peer]`` or at the top of its block; PiVPN's
    ``### begin name ###``), ``iam-gov`` (only ``# iam-gov: …``) or ``off``."""
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
    server_config_mode: str | None = Field(default=None, pattern=r"^0[0-7]{3}$")
    """With ``dump_file``: the mode of the server's own configuration file when it was
    copied (``iam-gov export`` records it, e.g. "0600"); a copy's own mode says nothing."""

    def why_read_only(self) -> str | None:
        if self.dump_file is not None:
            return (
                "a saved dump cannot be changed: actions need the server's own configuration "
                "(no dump_file)"
            )
        return None

    @model_validator(mode="after")
    def _fits_mode(self) -> WireGuardOptions:
        if self.dump_file is None:
            if self.exported_at is not None:
                raise ValueError("exported_at only applies with dump_file")
            if self.server_config_mode is not None:
                raise ValueError("server_config_mode only applies with dump_file")
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

    options_model = WireGuardOptions
    permissions = Permissions(collect=COLLECT_PERMISSIONS, apply=APPLY_PERMISSIONS)
    capabilities = frozenset({ActionKind.DISABLE_ACCOUNT})

    def collect(self) -> SystemSnapshot:
        options = self.options
        errors: list[SnapshotError] = []
        if options.dump_file is not None:
            config = read_config(options.config)
            dump: Dump | None = read_dump(options.dump_file, options.interface or _stem(options))
            taken = export_time(options.exported_at, [options.dump_file])
            collected_at = taken.at
            if taken.guessed is not None:
                errors.append(SnapshotError(source=str(options.dump_file), message=taken.guessed))
            source = f"export:{options.config.name},{options.dump_file.name}"
            started = options.interface_up_since
            # A copy handed to an auditor says nothing about the server's own file's mode;
            # the export that made it may have said what that was.
            mode = options.server_config_mode
            config_mode = int(mode, 8) if mode is not None else None
        else:
            collected_at = self.clock()
            config = read_config(options.config)
            dump = self._live_dump(errors) if options.interface is not None else None
            source = "live"
            started = options.interface_up_since
            if started is None and options.interface is not None:
                started = userspace_started_at(options.interface)
            config_mode = stat.S_IMODE(options.config.stat().st_mode)
        records = InterfaceRecords(
            config=config,
            dump=dump,
            identities=load_identities(options.mapping) if options.mapping is not None else {},
            up_since=started,
            config_mode=config_mode,
        )
        vpn = Vpn.named(
            self.system,
            self.type_name,
            options.network_name,
            f"WireGuard interface {options.interface or _stem(options)}",
        )
        builder = SnapshotBuilder(
            vpn,
            interface=options.interface,
            from_dump=options.dump_file is not None,
            comment_convention=options.comment_convention,
            second_factor=options.second_factor,
            relies_on=options.relies_on,
        )
        return builder.snapshot(records, source=source, collected_at=collected_at, errors=errors)

    def write_export(self, out: Path) -> ExportWritten:
        """The configuration (its keys left out) and what ``wg show <interface> dump`` says
        now (its keys left out), in the layout ``dump_file`` reads."""
        options = self.options
        interface = options.interface
        if options.dump_file is not None:
            raise ExportNotSupported(
                f"{self.system}: these options read a saved dump already: export the running "
                "interface (interface, no dump_file)"
            )
        if interface is None:
            raise ExportNotSupported(
                f"{self.system}: no interface: nothing but the configuration file is read, "
                "and an export is read back from a dump; set interface to export the running one"
            )
        taken_at = self.clock()
        data = read_source(options.config, "a WireGuard configuration")
        parse_config(data, str(options.config))  # a file the live collect refuses, refused
        config_mode = stat.S_IMODE(options.config.stat().st_mode)
        try:
            text = live_dump_text(options.wg_command, interface)
            dump_of(text, interface)
        except InterfaceAbsent as exc:
            # The live collect still reads the configuration; a dump-less export could not
            # be read back as one.
            raise ConnectorError(
                f"{self.system}: interface {interface} is not up: nothing to export until it "
                f"is ({exc})"
            ) from None
        except WgError as exc:
            raise ConnectorError(f"{self.system}: {exc}") from None
        read = InterfaceRead(
            config=options.config,
            config_data=data,
            config_mode=config_mode,
            interface=interface,
            dump_text=text,
            up_since=options.interface_up_since or userspace_started_at(interface),
            mapping=options.mapping,
        )
        described = options.model_dump(
            include={"network_name", "comment_convention", "second_factor", "relies_on"}
        )
        return write_wireguard_export(out, read, described=described, taken_at=taken_at)

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

    def carry_out(self, action: Action) -> ActionResult:
        return disable_peer(
            action, self.options.config, self.options.interface, self.options.wg_command
        )


def _stem(options: WireGuardOptions) -> str:
    return options.config.name.removesuffix(".conf")
