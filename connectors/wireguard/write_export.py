"""``iam-gov export`` for WireGuard: the configuration and ``wg show <if> dump``, keys left out.

The folder holds ``<name>.conf`` (the server's configuration, each private and preshared key
replaced by ``(redacted)``, every line where it was), ``<interface>.dump`` (the output of ``wg
show <interface> dump``, its keys replaced the same way) and ``vpn-identities.yaml`` (the
mapping, when there is one)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from iam_gov.connectors.shared.files import read_source
from iam_gov.connectors.shared.protocol import ExportWritten
from iam_gov.connectors.shared.vpn import ExportFiles
from iam_gov.connectors.wireguard.conf import redacted_config
from iam_gov.connectors.wireguard.dump import redacted_dump

MAPPING = "vpn-identities.yaml"


@dataclass(frozen=True)
class InterfaceRead:
    """What the live collect reads of one interface, as ``iam-gov export`` writes it."""

    config: Path
    config_data: bytes
    config_mode: int
    """The server's own file's mode: the export says it (``server_config_mode``)."""
    interface: str
    dump_text: str
    up_since: datetime | None
    mapping: Path | None


def write_wireguard_export(
    out: Path, read: InterfaceRead, *, described: dict[str, Any], taken_at: datetime
) -> ExportWritten:
    """Write ``read`` into ``out``; ``described``: the options that say what the interface is
    rather than where its files are (carried over as they are), ``taken_at`` when it was
    read (the export's ``exported_at``)."""
    files = ExportFiles(out)
    config_name = read.config.name
    dump_name = f"{read.interface}.dump"
    files.write(config_name, redacted_config(read.config_data))
    files.write(dump_name, redacted_dump(read.dump_text).encode("utf-8"))
    table: dict[str, Any] = {
        "type": "wireguard",
        "config": config_name,
        "dump_file": dump_name,
        "interface": read.interface,
    }
    if read.mapping is not None:
        # The live collect stops on a mapping file it cannot read; so does the export.
        files.write(MAPPING, read_source(read.mapping, "the VPN identity mapping file"))
        table["mapping"] = MAPPING
    table.update({name: value for name, value in described.items() if value is not None})
    if read.up_since is not None:
        table["interface_up_since"] = read.up_since
    table["server_config_mode"] = f"{read.config_mode:04o}"
    table["exported_at"] = taken_at
    return ExportWritten(files=tuple(files.files), options=table, problems=tuple(files.problems))
