"""Who is connected to an OpenVPN server now: status files (versions 1-3), the management port.

The management client also serves the actions (``kill``)."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from pathlib import Path

from pydantic import SecretStr

from iam_gov.connectors.shared.files import read_source
from iam_gov.errors import ConnectorError, SourceError
from iam_gov.model import SnapshotError

_TIMEOUT_SECONDS = 10.0
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
        except ValueError:
            continue
    raise ValueError(f"time {text[:40]!r} is not in a format OpenVPN writes")


def read_status_file(path: Path, zone: tzinfo) -> StatusReport:
    raw = read_source(path, "the OpenVPN status file")
    lines = raw.decode("utf-8", errors="replace").splitlines()
    report = parse_status(lines, str(path), zone)
    if report.updated_at is None:
        report.updated_at = datetime.fromtimestamp(path.stat().st_mtime, UTC)
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
        _session(
            report,
            dict(zip(header, fields, strict=False)),
            len(fields) == len(header),
            number,
            zone,
        )
    return report


def _parse_v2(
    lines: Sequence[str], source: str, separator: str, version: int, zone: tzinfo
) -> StatusReport:
    report = StatusReport(source=source, version=version)
    headers: dict[str, list[str]] = {}
    for number, raw in enumerate(lines, start=1):
        line = raw.rstrip("\r")
        if not line.strip():
            continue
        fields = line.split(separator)
        tag = fields[0]
        if tag == "END":
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
            values = fields[1:]
            _session(
                report,
                dict(zip(header, values, strict=False)),
                len(values) == len(header),
                number,
                zone,
            )
        elif tag not in ("TITLE", "ROUTING_TABLE", "GLOBAL_STATS"):
            report.errors.append(_line_error(source, number, f"unknown line type {tag[:30]!r}"))
    return report


def _time(fields: Sequence[str], zone: tzinfo) -> datetime:
    """A local time string, followed (from OpenVPN 2.4) by the same moment as a time_t."""
    if len(fields) > 1 and fields[1].strip().isdigit():
        return datetime.fromtimestamp(int(fields[1]), UTC)
    return local_time(fields[0], zone)


def _session(
    report: StatusReport, row: dict[str, str], whole: bool, number: int, zone: tzinfo
) -> None:
    source = report.source
    common_name = row.get("Common Name", "")
    if not whole or not common_name:
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


# --- the management interface -----------------------------------------------------------------


class ManagementError(Exception):
    """The management interface could not be reached, refused us, or answered oddly. The
    message never holds the password."""


def parse_address(address: str) -> tuple[str, int] | str:
    """``host:port`` (``[v6]:port``) as a TCP address, or ``unix:/path`` as a socket path."""
    if address.startswith("unix:"):
        return address[len("unix:") :]
    host, _, port = address.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError('give "host:port" (e.g. "127.0.0.1:7505") or "unix:/path/to/socket"')
    return host, int(port)


class ManagementClient:
    """One connection to OpenVPN's management interface (a line protocol over TCP or a Unix
    socket): authenticate if asked, send commands, read their answers."""

    def __init__(
        self, address: str, password: SecretStr | None, *, timeout: float = _TIMEOUT_SECONDS
    ) -> None:
        self.address = address
        self._password = password
        self._timeout = timeout
        self._sock: socket.socket | None = None
        self._buffer = b""

    def __repr__(self) -> str:
        return f"ManagementClient({self.address!r})"

    def __enter__(self) -> ManagementClient:
        self.connect()
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def connect(self) -> None:
        target = parse_address(self.address)
        try:
            if isinstance(target, str):
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.settimeout(self._timeout)
                sock.connect(target)
            else:
                sock = socket.create_connection(target, timeout=self._timeout)
        except OSError as exc:
            raise ManagementError(f"cannot connect: {exc.strerror or exc}") from None
        self._sock = sock
        prompt = b"ENTER PASSWORD:"
        self._read_until(lambda data: prompt in data or b"\n" in data)
        if prompt not in self._buffer:
            return  # no password asked; the greeting is a ">INFO:" line, skipped later
        if self._password is None:
            self.close()
            raise ManagementError(
                "the management interface asks for a password; set management_password"
            )
        self._buffer = self._buffer.split(prompt, 1)[1]
        self._send(self._password.get_secret_value())
        # A wrong password is answered by the same prompt again, without a newline.
        self._read_until(lambda data: prompt in data or _has_line(data, b"SUCCESS:"))
        if not _has_line(self._buffer, b"SUCCESS:"):
            self.close()
            raise ManagementError("the management interface refused the password")
        self._buffer = self._buffer.split(b"SUCCESS:", 1)[1].split(b"\n", 1)[1]

    def status(self) -> list[str]:
        """``status 3``: the server's client list, tab-separated, up to ``END``."""
        self._send("status 3")
        lines = []
        while True:
            line = self._line()
            if line.startswith(">"):
                continue  # a real-time notification, not part of the answer
            if line.startswith("ERROR:"):
                raise ManagementError(f"status 3: {line}")
            lines.append(line)
            if line == "END":
                return lines

    def kill(self, common_name: str) -> tuple[bool, str]:
        """``kill <cn>``: end every session of that common name. (True, what the server
        said) when some were, (False, …) when none was connected."""
        self._send(f"kill {quote(common_name)}")
        while True:
            line = self._line()
            if line.startswith(">"):
                continue
            if line.startswith("SUCCESS:"):
                return True, line
            if line.startswith("ERROR:"):
                return False, line

    def close(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.sendall(b"quit\n")
            self._sock.close()
            self._sock = None

    def _send(self, command: str) -> None:
        assert self._sock is not None
        try:
            self._sock.sendall(command.encode("utf-8") + b"\n")
        except OSError as exc:
            raise ManagementError(f"connection lost: {exc.strerror or exc}") from None

    def _line(self) -> str:
        data = self._read_until(lambda buffered: b"\n" in buffered)
        line, _, self._buffer = data.partition(b"\n")
        return line.rstrip(b"\r").decode("utf-8", errors="replace")

    def _read_until(self, done: Callable[[bytes], bool]) -> bytes:
        assert self._sock is not None
        while not done(self._buffer):
            try:
                chunk = self._sock.recv(65536)
            except TimeoutError:
                raise ManagementError(f"no answer within {self._timeout:.0f} s") from None
            except OSError as exc:
                raise ManagementError(f"connection lost: {exc.strerror or exc}") from None
            if not chunk:
                raise ManagementError("the server closed the connection")
            self._buffer += chunk
        return self._buffer


def _has_line(data: bytes, start: bytes) -> bool:
    """A whole line starting with ``start`` has arrived."""
    _, found, rest = data.partition(start)
    return bool(found) and b"\n" in rest


def quote(value: str) -> str:
    """A management-command argument: double-quoted, backslash-escaped."""
    if any(ord(c) < 32 or c == "\x7f" for c in value):
        raise ValueError("a control character cannot be sent on the management interface")
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def read_management(
    address: str, password: SecretStr | None, zone: tzinfo, system: str
) -> StatusReport:
    """``status 3`` over the management interface; ``ConnectorError`` if it cannot be had."""
    try:
        with ManagementClient(address, password) as client:
            lines = client.status()
    except ManagementError as exc:
        raise ConnectorError(f"{system}: OpenVPN management interface {address}: {exc}") from None
    return parse_status(lines, f"management {address}", zone)


def connected(reports: Iterable[StatusReport]) -> dict[str, list[Session]]:
    by_name: dict[str, list[Session]] = {}
    for report in reports:
        for session in report.sessions:
            by_name.setdefault(session.common_name, []).append(session)
    return by_name
