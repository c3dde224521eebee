"""``iam-gov export`` for OpenVPN: the server's files, gathered into one folder without keys.

The folder holds what the connector reads offline, under fixed names::

    pki/index.txt  pki/ca.crt  pki/issued/… (every certificate folder easy-rsa keeps)
    crl.pem (or crl/, for ``crl-verify DIR dir``)   server.conf (includes put in place)
    management-status.log (``status 3``)  status.log, status-2.log …  logs/1/…  vpn-identities.yaml

Private keys never leave the server: pki/private/ and the other key folders are not read,
inline secrets of server.conf are left out, and a key pasted into a certificate file is
replaced by a note (``shared.vpn.without_private_keys``)."""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from iam_gov.connectors.openvpn.conf import server_conf_for_export
from iam_gov.connectors.openvpn.pki import CA_CERT, INDEX, certificate_files, crl_location
from iam_gov.connectors.shared.files import read_source
from iam_gov.connectors.shared.protocol import ExportWritten
from iam_gov.connectors.shared.vpn import ExportFiles
from iam_gov.files import make_private_folders

PKI = "pki"
SERVER_CONF = "server.conf"
MANAGEMENT_STATUS = "management-status.log"
MAPPING = "vpn-identities.yaml"


@dataclass(frozen=True)
class ServerFiles:
    """Where the live server's files are (the connector's options of the same names)."""

    pki_dir: Path
    server_conf: Path | None
    crl_path: Path | None
    status_files: Sequence[Path]
    log_files: Sequence[Path]
    mapping: Path | None
    timezone: str | None


def write_openvpn_export(
    out: Path,
    server: ServerFiles,
    *,
    described: dict[str, Any],
    management_lines: Sequence[str] | None,
    taken_at: datetime,
) -> ExportWritten:
    """Write the export of ``server`` into ``out``: ``described`` are the options that say
    what the server is rather than where its files are (carried over as they are),
    ``management_lines`` the management interface's ``status 3`` answer (when it was asked),
    ``taken_at`` when the server was read (the export's ``exported_at``)."""
    files = ExportFiles(out)
    table: dict[str, Any] = {"type": "openvpn", "pki_dir": PKI}
    _pki(files, server.pki_dir)
    conf = None
    if server.server_conf is not None:
        conf, text = server_conf_for_export(server.server_conf)
        files.write(SERVER_CONF, text.encode("utf-8"))
        table["server_conf"] = SERVER_CONF
    location = crl_location(server.crl_path, server.pki_dir, conf)
    if location is not None:
        table["crl_path"] = _crl(files, *location)
    statuses: list[str] = []
    if management_lines is not None:
        text = "\n".join(management_lines) + "\n"
        files.write(MANAGEMENT_STATUS, text.encode("utf-8"))
        statuses.append(MANAGEMENT_STATUS)
    for number, path in enumerate(server.status_files, start=1):
        name = "status.log" if number == 1 else f"status-{number}.log"
        # A file that cannot be read stops the live collect too (read_status_file).
        data = read_source(path, "the OpenVPN status file")
        files.write(name, data, mtime_ns=path.stat().st_mtime_ns)
        statuses.append(name)
    if statuses:
        table["status_file"] = statuses[0] if len(statuses) == 1 else statuses
    if server.log_files:
        table["log_files"] = _logs(files, server.log_files)
    if server.mapping is not None:
        # The live collect stops on a mapping file it cannot read; so does the export.
        data = read_source(server.mapping, "the VPN identity mapping file")
        files.write(MAPPING, data)
        table["mapping"] = MAPPING
    table.update({name: value for name, value in described.items() if value is not None})
    zone = server.timezone or local_zone_name()
    if zone is not None:
        table["timezone"] = zone
    else:
        files.problems.append(
            "this machine's time zone has no IANA name: the times of status files of version "
            "1 and of logs, which are local, are read in the reader's own zone; set timezone "
            "in the exported options"
        )
    table["exported_at"] = taken_at
    return ExportWritten(files=tuple(files.files), options=table, problems=tuple(files.problems))


def _pki(files: ExportFiles, pki_dir: Path) -> None:
    # index.txt is the one file the connector cannot do without (read_index raises the same).
    index = pki_dir / INDEX
    data = read_source(index, "the PKI's certificate database")
    files.write(f"{PKI}/{INDEX}", data, mtime_ns=index.stat().st_mtime_ns)
    ca = pki_dir / CA_CERT
    if ca.exists():
        files.copy(ca, f"{PKI}/{CA_CERT}", "the CA certificate (to check the CRL's signature)")
    for path in certificate_files(pki_dir):
        relative = path.relative_to(pki_dir).as_posix()
        files.copy(path, f"{PKI}/{relative}", f"certificate {relative}")


def _crl(files: ExportFiles, path: Path, is_dir: bool) -> str:
    """The CRL the server checks, copied; the ``crl_path`` that reads it back."""
    if not is_dir:
        # A missing CRL is missing from the export too: read back, it is reported the same.
        if path.is_file():
            files.copy(path, "crl.pem", "the CRL the server checks")
        return "crl.pem"
    if path.is_dir():
        make_private_folders(files.folder / "crl")
        for entry in sorted(path.iterdir()):
            if entry.is_file():
                files.copy(entry, f"crl/{entry.name}", f"revoked serial {entry.name}")
    return "crl"


def _logs(files: ExportFiles, patterns: Sequence[Path]) -> list[str]:
    """Each pattern's files in a folder of their own, so that a pattern that matched nothing
    matches nothing when read back (and is reported the same)."""
    exported = []
    for number, pattern in enumerate(patterns, start=1):
        folder = f"logs/{number}"
        make_private_folders(files.folder / folder)
        for path in sorted(Path(p) for p in glob.glob(str(pattern))):
            if path.is_file():
                files.copy(path, f"{folder}/{path.name}", f"log file {path.name}")
        exported.append(f"{folder}/*")
    return exported


def local_zone_name() -> str | None:
    """This machine's time zone as an IANA name (``TZ``, /etc/localtime, /etc/timezone), or
    None when it has none; UTC where none is set at all, as the C library assumes."""
    candidates: list[str] = []
    tz = os.environ.get("TZ")
    if tz:
        candidates.append(tz.removeprefix(":"))
    localtime = Path("/etc/localtime")
    if not tz and not localtime.exists() and not Path("/etc/timezone").exists():
        return "UTC"
    try:
        target = os.path.realpath(localtime)
        if "/zoneinfo/" in target:
            candidates.append(target.split("/zoneinfo/", 1)[1])
        candidates.append(Path("/etc/timezone").read_text(encoding="utf-8").strip())
    except OSError:
        pass
    for name in candidates:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            continue
        return name
    return None
