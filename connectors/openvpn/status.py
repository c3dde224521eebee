"""Who is connected to an OpenVPN server: its status file, version 1, 2 or 3 (detected).

The management interface's ``status 3`` answers in the same format (version 3)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from pathlib import Path

from iam_gov.connectors.shared.export_time import modified_at
from iam_gov.connectors.shared.files import read_source
from iam_gov.errors import SourceError
from iam_gov.model import SnapshotError

_NOT_YET_AUTHENTICATED = "UNDEF"
_LOCAL_FORMATS = ("%Y-%m-%d %H:%M:%S", "%a %b %d %H:%M:%S %Y")
"""OpenVPN 2.4+ and 2.3 and older write local times like these."""


@dataclass(frozen=True)
class Session:
    common_name: str
    connected_since: datetime | None
    real_address: str | None = None
    virtual_address: str | None = None
    username: str | None = None


@dataclass
class StatusReport:
    source: str
    version: int
    updated_at: datetime | None = None
    sessions: list[Session] = field(default_factory=list)
    errors: list[SnapshotError] = field(default_factory=list)


def local_time(text: str, zone: tzinfo) -> datetime:
    text = " ".join(text.split())
    for layout in _LOCAL_FORMATS:
        try:
            return datetime.strptime(text, layout).replace(tzinfo=zone).astimezone(UTC)
        except (ValueError, OverflowError):  # OverflowError: year 1 or 9999 moved to UTC
            continue
    raise ValueError(f"time {text[:40]!r} is not in a format OpenVPN writes")


def read_status_file(path: Path, zone: tzinfo) -> StatusReport:
    raw = read_source(path, "the OpenVPN status file")
    lines = raw.decode("utf-8", errors="replace").splitlines()
    report = parse_status(lines, str(path), zone)
    if report.updated_at is None:
        report.updated_at = modified_at(path)
    return report


def parse_status(lines: Sequence[str], source: str, zone: tzinfo) -> StatusReport:
    """A status file of any version; raises ``SourceError`` when it is not one at all."""
    first = next((line.strip() for line in lines if line.strip()), "")
    if first == "OpenVPN CLIENT LIST":
        return _parse_v1(lines, source, zone)
    for separator, version in (("\t", 3), (",", 2)):
        tag = first.split(separator, 1)[0]
        if tag in ("TITLE", "TIME", "HEADER", "CLIENT_LIST") and separator in first:
            return _parse_v2(lines, source, separator, version, zone)
    if first == "OpenVPN STATISTICS":
        raise SourceError(f"{source}: the status file of an OpenVPN client, not of a server")
    raise SourceError(
        f"{source}: not an OpenVPN server status file (status-version 1, 2 or 3): it starts "
        f"with {first[:40]!r}"
    )


def _parse_v1(lines: Sequence[str], source: str, zone: tzinfo) -> StatusReport:
    report = StatusReport(source=source, version=1)
    section = "start"
    header: list[str] | None = None
    for number, raw in enumerate(lines, start=1):
        line = raw.rstrip("\r")
        if not line.strip():
            continue
        if line in ("OpenVPN CLIENT LIST", "ROUTING TABLE", "GLOBAL STATS", "END"):
            section, header = line, None
            if line == "END":
                break
            continue
        if section != "OpenVPN CLIENT LIST":
            continue
        fields = line.split(",")
        if fields[0] == "Updated":
            try:
                report.updated_at = local_time(",".join(fields[1:]), zone)
            except ValueError as exc:
                report.errors.append(_line_error(source, number, str(exc)))
            continue
        if header is None:
            header = fields
            continue
        _session(report, header, fields, number, zone)
    if section != "END":
        report.errors.append(_cut_off(source, len(lines)))
    return report


def _parse_v2(
    lines: Sequence[str], source: str, separator: str, version: int, zone: tzinfo
) -> StatusReport:
    report = StatusReport(source=source, version=version)
    headers: dict[str, list[str]] = {}
    ended = False
    for number, raw in enumerate(lines, start=1):
        line = raw.rstrip("\r")
        if not line.strip():
            continue
        fields = line.split(separator)
        tag = fields[0]
        if tag == "END":
            ended = True
            break
        if tag == "HEADER" and len(fields) > 2:
            headers[fields[1]] = fields[2:]
        elif tag == "TIME":
            try:
                report.updated_at = _time(fields[1:], zone)
            except (ValueError, IndexError, OverflowError):
                report.errors.append(_line_error(source, number, "unreadable TIME line"))
        elif tag == "CLIENT_LIST":
            header = headers.get("CLIENT_LIST")
            if header is None:
                report.errors.append(
                    _line_error(source, number, "CLIENT_LIST before its HEADER line")
                )
                continue
            _session(report, header, fields[1:], number, zone)
        elif tag not in ("TITLE", "ROUTING_TABLE", "GLOBAL_STATS"):
            report.errors.append(_line_error(source, number, f"unknown line type {tag[:30]!r}"))
    if not ended:
        report.errors.append(_cut_off(source, len(lines)))
    return report


def _cut_off(source: str, lines: int) -> SnapshotError:
    # OpenVPN ends every status it writes with END: without it, the file was read while
    # being rewritten or copied in part, and sessions may be missing.
    return _line_error(source, lines, "no END line: the status is cut off, sessions may be missing")


def _time(fields: Sequence[str], zone: tzinfo) -> datetime:
    """A local time string, followed (from OpenVPN 2.4) by the same moment as a time_t."""
    if len(fields) > 1 and fields[1].strip().isdigit():
        return datetime.fromtimestamp(int(fields[1]), UTC)
    return local_time(fields[0], zone)


def _session(
    report: StatusReport,
    header: Sequence[str],
    values: Sequence[str],
    number: int,
    zone: tzinfo,
) -> None:
    """One client line, its ``values`` named by the ``header`` line of its section."""
    source = report.source
    row = dict(zip(header, values, strict=False))
    common_name = row.get("Common Name", "")
    if len(values) != len(header) or not common_name:
        report.errors.append(
            _line_error(source, number, "a client line whose fields do not match its header")
        )
        return
    if common_name == _NOT_YET_AUTHENTICATED:
        return  # still in the TLS handshake: not connected as anyone yet
    try:
        since_fields = [row.get("Connected Since", "")]
        if row.get("Connected Since (time_t)"):
            since_fields.append(row["Connected Since (time_t)"])
        since: datetime | None = _time(since_fields, zone)
    except (ValueError, OverflowError) as exc:
        report.errors.append(_line_error(source, number, f"Connected Since: {exc}"))
        return
    username = row.get("Username") or None
    report.sessions.append(
        Session(
            common_name=common_name,
            connected_since=since,
            real_address=row.get("Real Address") or None,
            virtual_address=row.get("Virtual Address") or None,
            username=None if username == _NOT_YET_AUTHENTICATED else username,
        )
    )


def _line_error(source: str, line: int, message: str) -> SnapshotError:
    return SnapshotError(source=source, line=line, message=message)


def connected(reports: Iterable[StatusReport]) -> dict[str, list[Session]]:
    by_name: dict[str, list[Session]] = {}
    for report in reports:
        for session in report.sessions:
            by_name.setdefault(session.common_name, []).append(session)
    return by_name
